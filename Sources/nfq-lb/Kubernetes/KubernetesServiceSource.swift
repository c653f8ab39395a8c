import CoreMetrics
import Foundation
import KubernetesSource
import Logging
import NFQLB
import ServiceLifecycle
import Synchronization

/// Feeds the daemon from the API server, as kube-proxy's informers and proxier do: a
/// reflector per kind (Services, EndpointSlices, and this node's Node for its zone) fills a `ServiceChangeTracker`; after the first
/// event of a batch the source waits `coalesce` for the rest of it, then takes the change (only
/// the Services that moved, mapped) and hands it to the daemon as one snapshot change.
///
/// Nothing is programmed from a half-synced view: the tracker yields nothing until both kinds
/// have been listed once, and `/readyz` says so. An API server that goes away leaves the last
/// known state in force. A change the daemon rejects as a whole (the nftables map not writable)
/// is kept and retried with the next ones; while a change waits longer than `stalledBound`,
/// `/healthz` says so (kube-proxy's healthz rule).
final class KubernetesServiceSource: Service, Sendable {
    let daemon: NFQLBDaemon
    let client: KubernetesClient
    let coalesce: Duration
    let stalledBound: Duration
    let logger: Logger
    private let services: Reflector<KubernetesService>
    private let slices: Reflector<EndpointSlice>
    /// This node's Node only: its zone label is what topology hints are matched against.
    private let node: Reflector<Node>
    private let tracker: Mutex<ServiceChangeTracker>
    private let progress = Mutex(Progress())
    private let wake: AsyncStream<Void>
    private let wakeUp: AsyncStream<Void>.Continuation
    private let metrics = KubernetesSourceMetrics()

    private struct Progress: Sendable {
        /// When the oldest change not yet in force arrived; nil: none waits.
        var pendingSince: ContinuousClock.Instant?
        /// True once the first complete view is in force.
        var inForce = false
    }

    init(daemon: NFQLBDaemon, client: KubernetesClient, mapping: MappingSettings, coalesce: Duration,
         stalledBound: Duration = .seconds(60), reflectorOptions: Reflector<KubernetesService>.Options = .init(), logger: Logger) {
        self.daemon = daemon
        self.client = client
        self.coalesce = coalesce
        self.stalledBound = stalledBound
        self.logger = logger
        tracker = Mutex(ServiceChangeTracker(settings: mapping))
        services = Reflector(client: client, options: reflectorOptions, logger: logger)
        slices = Reflector(client: client, options: .init(pageSize: reflectorOptions.pageSize, watchTimeoutSeconds: reflectorOptions.watchTimeoutSeconds,
                                                          backoff: reflectorOptions.backoff, shortestNormalWatch: reflectorOptions.shortestNormalWatch),
                           logger: logger)
        node = Reflector.node(named: mapping.nodeName, client: client,
                              options: .init(pageSize: reflectorOptions.pageSize, watchTimeoutSeconds: reflectorOptions.watchTimeoutSeconds,
                                             backoff: reflectorOptions.backoff, shortestNormalWatch: reflectorOptions.shortestNormalWatch),
                              logger: logger)
        (wake, wakeUp) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// For `/readyz`: why the Kubernetes services are not in force yet; nil once they are.
    var readinessProblem: String? {
        if progress.withLock({ $0.inForce }) { return nil }
        return tracker.withLock { $0.syncProblem } ?? "the first view of the API server's Services is not in force yet"
    }

    /// For `/healthz`: a change from the API server that has waited too long to be put in force.
    var livenessProblem: String? {
        guard let since = progress.withLock({ $0.pendingSince }), tracker.withLock({ $0.syncProblem == nil }) else { return nil }
        let waited = ContinuousClock.now - since
        guard waited > stalledBound else { return nil }
        return "a change from the Kubernetes API has waited \(waited.components.seconds) s to be put in force (bound \(stalledBound.components.seconds) s)"
    }

    func run() async throws {
        let tasks = [
            Task { await self.services.run() },
            Task { await self.slices.run() },
            Task {
                for await change in self.services.changes {
                    self.tracker.withLock { $0.apply(change) }
                    self.noteChange()
                }
            },
            Task {
                for await change in self.slices.changes {
                    self.tracker.withLock { $0.apply(change) }
                    self.noteChange()
                }
            },
            Task { await self.node.run() },
            Task {
                for await change in self.node.changes {
                    // A new zone re-maps every service; only those whose endpoints change go in.
                    if self.tracker.withLock({ $0.apply(change) }) { self.noteChange() }
                }
            },
            Task { await self.applyChanges() },
        ]
        try? await gracefulShutdown()
        wakeUp.finish()
        for task in tasks { task.cancel() }
        // An open watch does not notice its task's cancellation (it waits on the socket), so
        // the shutdown does not wait for it: closing the client ends it in the background,
        // and the process exits when the other services are done.
        let client = self.client
        Task { try? await client.shutdown() }
    }

    private func noteChange() {
        let now = ContinuousClock.now
        progress.withLock { if $0.pendingSince == nil { $0.pendingSince = now } }
        metrics.lastQueued.record(Date().timeIntervalSince1970)
        wakeUp.yield()
    }

    /// One batch at a time: wait for the first change, let the rest of the batch come in, take
    /// it all, put it in force.
    private func applyChanges() async {
        // Changes taken from the tracker that the daemon has not accepted yet, by owner.
        var unapplied: [String: [ServiceConfig]] = [:]
        var triggers: [Date] = []
        for await _ in wake {
            do { try await Task.sleep(for: coalesce) } catch { return }
            // Changes arriving from here on wait for the next batch.
            let batchStart = progress.withLock { progress in
                defer { progress.pendingSince = nil }
                return progress.pendingSince ?? .now
            }
            let taken = tracker.withLock { tracker -> (TrackerChange?, Bool) in
                (tracker.takeChange(), tracker.syncProblem == nil)
            }
            guard taken.1 else {
                stillPending(since: batchStart)
                continue
            }
            if let change = taken.0 {
                note(change)
                for (owner, services) in change.services { unapplied[owner] = services.flatMap { ServiceConfig($0).expanded(nodeName: nil) } }
                triggers += change.triggerTimes
            }
            guard !unapplied.isEmpty else {
                settled()
                continue
            }
            metrics.pendingOwners.record(unapplied.count)
            switch daemon.applyExternalChange(unapplied) {
            case .success(let summary):
                // Latency up to the moment the state was in force, not up to the end of the
                // tidying after it (as kube-proxy observes it before its conntrack cleanup).
                let latencies = metrics.programmed(triggers: triggers, inForce: summary.inForce)
                metrics.syncDuration.recordNanoseconds(Int64((ContinuousClock.now - batchStart).nanoseconds))
                metrics.lastSync.record(Date().timeIntervalSince1970)
                metrics.pendingOwners.record(0)
                // The slowest trigger's latency to the microsecond: one change's own figure, where
                // the histogram has only buckets (and /metrics at 10,000 services is megabytes).
                let slowest = latencies.max().map { "; network programming latency \(($0 * 1e6).rounded() / 1e3) ms over \(latencies.count) trigger times" } ?? ""
                logger.info("Kubernetes change in force: \(summary)\(slowest)")
                unapplied = [:]
                triggers = []
                settled()
            case .failure:
                // Logged by the daemon; kept, and tried again with whatever comes next.
                metrics.syncFailures.increment()
                stillPending(since: batchStart)
                do { try await Task.sleep(for: .seconds(1)) } catch { return }
                wakeUp.yield()
            }
        }
    }

    /// Everything taken so far is in force.
    private func settled() {
        let first = progress.withLock { progress in
            defer { progress.inForce = true }
            return !progress.inForce
        }
        if first { logger.info("Kubernetes services in force: the API server's view is complete") }
    }

    /// A batch taken but not in force: it still counts as waiting since it first arrived.
    private func stillPending(since start: ContinuousClock.Instant) {
        progress.withLock { progress in progress.pendingSince = min(progress.pendingSince ?? start, start) }
    }

    private func note(_ change: TrackerChange) {
        for reason in change.skipped { metrics.skipped(reason) }
        for problem in change.problems {
            metrics.annotationErrors.increment()
            logger.warning("\(problem)")
        }
    }
}

extension Duration {
    var nanoseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1e9 + Double(attoseconds) / 1e9
    }
}
