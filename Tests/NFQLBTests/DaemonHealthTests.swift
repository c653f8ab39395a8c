import Synchronization
import Testing
@testable import NFQLB

@Suite struct DaemonHealthTests {
    static func health(inForce: Bool = true, queues: [DaemonHealth.QueueState] = [.bound, .bound],
                       monitor: String? = nil, map: (@Sendable () -> String?)? = nil,
                       now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) -> DaemonHealth {
        DaemonHealth(sources: .init(configInForce: { inForce },
                                    queues: { queues.enumerated().map { (UInt16($0.offset), $0.element) } },
                                    eventMonitorProblem: { monitor }, mapSyncProblem: map ?? { nil }),
                     mapSyncBound: .seconds(5), now: now)
    }

    @Test func everyQueueBoundAndConfigInForceIsHealthyAndReady() {
        let health = Self.health()
        #expect(health.liveness() == .init(problems: []))
        #expect(health.readiness().isHealthy)
        #expect(health.readiness().body == "ok\n")
    }

    @Test func aQueueNotBoundMakesBothAnswersFailAndNamesTheQueueAndTheError() {
        let health = Self.health(queues: [.bound, .unbound(problem: "Operation not permitted")])
        #expect(health.liveness().problems == ["queue 1 is not bound: Operation not permitted"])
        #expect(health.readiness().problems == ["queue 1 is not bound: Operation not permitted"])
    }

    @Test func aStoppedWorkerIsUnhealthy() {
        #expect(Self.health(queues: [.stopped(reason: "returned")]).liveness().problems == ["queue 0: its worker stopped: returned"])
    }

    @Test func aStoppedEventMonitorIsUnhealthy() {
        #expect(Self.health(monitor: "receive failed").liveness().problems == ["conntrack event monitor stopped: receive failed"])
    }

    @Test func noConfigInForceIsNotReadyButAlive() {
        let health = Self.health(inForce: false)
        #expect(health.liveness().isHealthy)
        #expect(health.readiness().problems == ["the first configuration is not in force yet"])
    }

    @Test func aMapOutOfSyncIsUnhealthyOnlyOnceItLastsLongerThanTheBound() {
        let start = ContinuousClock.now
        let offset = Mutex<Duration>(.zero)
        let problem = Mutex<String?>("3 elements missing")
        let health = Self.health(map: { problem.withLock { $0 } }, now: { start + offset.withLock { $0 } })
        #expect(health.liveness().isHealthy, "a fresh problem is within the bound")
        offset.withLock { $0 = .seconds(4) }
        #expect(health.liveness().isHealthy)
        offset.withLock { $0 = .seconds(6) }
        let verdict = health.liveness()
        #expect(verdict.problems.count == 1 && verdict.problems[0].contains("3 elements missing"), "\(verdict)")
        problem.withLock { $0 = nil }
        #expect(health.liveness().isHealthy, "a repaired map is healthy at once")
        problem.withLock { $0 = "again" }
        offset.withLock { $0 = .seconds(7) }
        #expect(health.liveness().isHealthy, "the bound counts from the new problem's start")
    }
}
