import Balancer
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Runs the health checks on a thread of their own and hands every change to the daemon,
/// which republishes the snapshot with the unhealthy endpoints left out.
public struct HealthCheckService: ServiceLifecycle.Service {
    let daemon: NFQLBDaemon

    public init(daemon: NFQLBDaemon) { self.daemon = daemon }

    public func run() async throws {
        let stopping = Atomic<Bool>(false)
        let daemon = self.daemon
        async let checking: Void = onDedicatedThread(name: "nfq-lb health") {
            var checker = HealthChecker()
            var configGeneration = -1
            while !stopping.load(ordering: .relaxed) {
                let now = MonotonicClock.milliseconds()
                let (config, generation) = daemon.configAndGeneration
                if generation != configGeneration {
                    checker.update(config: config, now: now)
                    configGeneration = generation
                    daemon.setHealth(unhealthy: checker.unhealthy, records: checker.report)
                }
                let step = checker.step(now: now, wait: 50)
                if step.changed {
                    let unhealthy = checker.unhealthy
                    daemon.logger.notice("endpoint health changed; unhealthy now: \(unhealthy.isEmpty ? "none" : unhealthy.map(\.description).sorted().joined(separator: ", "))")
                    daemon.setHealth(unhealthy: unhealthy, records: checker.report)
                } else if step.judged {
                    // Only when a check ended: the report is rebuilt (and sorted) from every record.
                    daemon.updateHealthReport(checker.report)
                }
            }
            checker.closeAll()
        }
        try? await gracefulShutdown()
        stopping.store(true, ordering: .relaxed)
        await checking
    }
}

extension HealthChecker {
    /// What status and metrics show: per endpoint, healthy or not and the last error.
    var report: [EndpointHealth] {
        records.map { EndpointHealth(endpoint: $0.key.endpoint, healthy: $0.value.healthy, lastError: $0.value.lastError) }
            .sorted { $0.endpoint < $1.endpoint }
    }
}

/// The health of one checked endpoint, as status and metrics show it.
public struct EndpointHealth: Sendable, Equatable {
    public var endpoint: EndpointKey
    public var healthy: Bool
    public var lastError: String?
}
