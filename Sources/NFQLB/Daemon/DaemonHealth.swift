import Foundation
import Synchronization

/// What `/healthz` and `/readyz` answer, judged from a few small sources the daemon wires in.
///
/// The sources are plain closures so that each part of the daemon reports its own state and
/// this type knows none of them: the worker pool (each queue's state), the conntrack event
/// monitor and the nftables map writer. A problem of the map is judged only once it has lasted
/// longer than `mapSyncBound`, because the writer repairs a lost map within about a second and
/// a liveness probe must not restart a daemon that is healing itself.
public final class DaemonHealth: Sendable {
    /// One queue as the health rules see it.
    public enum QueueState: Sendable, Equatable {
        /// Not bound yet (or no more); `problem` is the last bind error, if any.
        case unbound(problem: String?)
        case bound
        /// The worker returned while the daemon was not stopping.
        case stopped(reason: String)
    }

    /// The inputs, each a small question the daemon can answer at any time.
    public struct Sources: Sendable {
        public var configInForce: @Sendable () -> Bool
        public var queues: @Sendable () -> [(queue: UInt16, state: QueueState)]
        /// Nil while the conntrack event monitor follows events; why it stopped otherwise.
        public var eventMonitorProblem: @Sendable () -> String?
        /// Nil while the kernel's endpoint map matches the daemon's view; what is wrong otherwise.
        public var mapSyncProblem: @Sendable () -> String?
        /// Nil once an external source's services (the Kubernetes API's) are in force; why not otherwise.
        public var sourceNotReady: @Sendable () -> String?
        /// Nil while an external source's changes go in; what has waited too long otherwise.
        public var sourceStalled: @Sendable () -> String?

        public init(configInForce: @escaping @Sendable () -> Bool,
                    queues: @escaping @Sendable () -> [(queue: UInt16, state: QueueState)],
                    eventMonitorProblem: @escaping @Sendable () -> String? = { nil },
                    mapSyncProblem: @escaping @Sendable () -> String? = { nil },
                    sourceNotReady: @escaping @Sendable () -> String? = { nil },
                    sourceStalled: @escaping @Sendable () -> String? = { nil }) {
            self.configInForce = configInForce
            self.queues = queues
            self.eventMonitorProblem = eventMonitorProblem
            self.mapSyncProblem = mapSyncProblem
            self.sourceNotReady = sourceNotReady
            self.sourceStalled = sourceStalled
        }
    }

    /// An answer: healthy or not, and the reasons (one per line in the response body).
    public struct Verdict: Sendable, Equatable {
        public var problems: [String]
        public var isHealthy: Bool { problems.isEmpty }
        /// `ok` or one problem a line: what an operator reads with curl.
        public var body: String { isHealthy ? "ok\n" : problems.map { $0 + "\n" }.joined() }
    }

    public let mapSyncBound: Duration
    private let sources: Sources
    private let now: @Sendable () -> ContinuousClock.Instant
    /// When the map problem now reported was first seen.
    private let mapProblemSince = Mutex<ContinuousClock.Instant?>(nil)

    public init(sources: Sources, mapSyncBound: Duration = .seconds(5),
                now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }) {
        self.sources = sources
        self.mapSyncBound = mapSyncBound
        self.now = now
    }

    /// `/healthz`: is nfq-lb doing its job now? Every queue bound and answered by a live
    /// worker, conntrack events followed, the kernel map in sync (within the bound).
    public func liveness() -> Verdict {
        var problems: [String] = []
        for (queue, state) in sources.queues() {
            switch state {
            case .bound: break
            case .unbound(let problem):
                problems.append("queue \(queue) is not bound" + (problem.map { ": \($0)" } ?? ""))
            case .stopped(let reason):
                problems.append("queue \(queue): its worker stopped: \(reason)")
            }
        }
        if let problem = sources.eventMonitorProblem() {
            problems.append("conntrack event monitor stopped: \(problem)")
        }
        if let problem = mapProblem() { problems.append(problem) }
        if let problem = sources.sourceStalled() { problems.append(problem) }
        return Verdict(problems: problems)
    }

    /// `/readyz`: the first configuration is in force (with the Kubernetes API's services, when
    /// it has a `kubernetes:` block) and every queue is bound (and nothing
    /// `/healthz` reports is wrong).
    public func readiness() -> Verdict {
        var problems: [String] = []
        if !sources.configInForce() { problems.append("the first configuration is not in force yet") }
        if let problem = sources.sourceNotReady() { problems.append(problem) }
        problems += liveness().problems
        return Verdict(problems: problems)
    }

    private func mapProblem() -> String? {
        let problem = sources.mapSyncProblem()
        let current = now()
        return mapProblemSince.withLock { since -> String? in
            guard let problem else {
                since = nil
                return nil
            }
            let start = since ?? current
            since = start
            let lasted = current - start
            guard lasted > mapSyncBound else { return nil }
            return "nftables endpoint map out of sync for \(lasted.components.seconds) s (bound \(mapSyncBound.components.seconds) s): \(problem)"
        }
    }
}
