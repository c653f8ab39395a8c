import Balancer
import CoreMetrics
import PacketRewrite
import Synchronization

/// Deletes the stale conntrack entries of endpoints that stopped taking flows, and keeps at it
/// until it has succeeded: kube-proxy's event-driven cleanup forgot a failed deletion, and a
/// stale UDP entry then blackholed its flow for as long as the client kept sending
/// (kubernetes/kubernetes#112604, #125467); it moved to a periodic reconciler for that
/// (kubernetes/kubernetes#126130).
///
/// Every target is tried at once (`clean`), then kept and looked at again on `tick`:
/// - one whose deletion failed is retried after `interval`, doubling up to `maxBackoff`;
/// - one that succeeded is looked at until `sweeps` attempts succeeded, `interval` apart: an entry created by a
///   worker that still held the previous snapshot, or a packet queued before the change,
///   appears after the first deletion and is caught by the next sweep.
/// Before each attempt the rule of `StaleEntryPolicy` is applied to the services in force
/// then: an endpoint that takes new flows again is forgotten, and one that still serves
/// (terminating) is watched, its UDP entries kept until it stops serving or leaves the config.
///
/// The set is bounded (`capacity`, 65,536 targets, a few MB); past it targets are dropped and
/// counted, those already deleted once first.
public final class StaleEntryRetrier: Sendable {
    public let deleter: any StaleEntryDeleting
    public let intervalMilliseconds: UInt64
    public let maxBackoffMilliseconds: UInt64
    public let sweeps: Int
    public let capacity: Int
    private let state = Mutex(State())
    private let failureCounter = Counter(label: "nfqlb_stale_entry_cleanup_failures_total")
    private let pendingGauge = Gauge(label: "nfqlb_stale_entry_cleanup_pending")

    struct Key: Hashable {
        var endpoint: EndpointKey
        var id: UInt32
    }

    struct Job {
        var protocols: Set<IPProtocolNumber>
        var resetting: Bool
        var due: UInt64
        var added: UInt64
        var failures = 0
        var sweepsLeft: Int
    }

    struct State {
        var jobs: [Key: Job] = [:]
        var failures = 0
        var dropped = 0
    }

    /// What one pass did.
    public struct Outcome: Sendable, Equatable {
        public var deleted = 0
        /// Targets whose deletion failed in this pass (kept for a retry), with why.
        public var failed: [String] = []
        /// Targets dropped because the set was full.
        public var dropped = 0
    }

    public init(deleter: any StaleEntryDeleting, intervalMilliseconds: UInt64 = 1000, maxBackoffMilliseconds: UInt64 = 30_000,
                sweeps: Int = 3, capacity: Int = 65_536) {
        self.deleter = deleter
        self.intervalMilliseconds = intervalMilliseconds
        self.maxBackoffMilliseconds = maxBackoffMilliseconds
        self.sweeps = sweeps
        self.capacity = capacity
    }

    /// Targets waiting for a retry or a sweep.
    public var pending: Int { state.withLock { $0.jobs.count } }
    /// Failed deletions so far.
    public var failures: Int { state.withLock { $0.failures } }

    /// First attempt for `targets` (their protocols: those on which the endpoint stopped
    /// taking new flows), each then kept for retries, sweeps, or, while the endpoint still
    /// serves, watching: its UDP entries go the moment it stops serving or leaves the config.
    func clean(_ targets: [(target: StaleEntryCleaner.Target, resetting: Bool)],
               uses: [EndpointKey: StaleEntryPolicy.EndpointUse], now: UInt64) -> Outcome {
        state.withLock { state in
            var outcome = Outcome()
            for (target, resetting) in targets where !target.protocols.isEmpty {
                let key = Key(endpoint: target.endpoint, id: target.id)
                var job = state.jobs[key] ?? Job(protocols: [], resetting: false, due: now, added: now, sweepsLeft: sweeps)
                job.protocols.formUnion(target.protocols)
                job.resetting = job.resetting || resetting
                job.sweepsLeft = sweeps
                guard visit(key, &job, use: uses[key.endpoint] ?? .init(), now: now, state: &state, outcome: &outcome) else {
                    state.jobs[key] = nil
                    continue
                }
                state.jobs[key] = job
            }
            if state.jobs.count > capacity { dropOverflow(&state, &outcome) }
            pendingGauge.record(state.jobs.count)
            return outcome
        }
    }

    /// Retries, sweeps and watches the targets that are due at `now`, against how the
    /// services in force use each endpoint now.
    func tick(now: UInt64, uses: [EndpointKey: StaleEntryPolicy.EndpointUse]) -> Outcome {
        state.withLock { state in
            var outcome = Outcome()
            for (key, var job) in state.jobs where job.due <= now {
                let keep = visit(key, &job, use: uses[key.endpoint] ?? .init(), now: now, state: &state, outcome: &outcome)
                state.jobs[key] = keep ? job : nil
            }
            pendingGauge.record(state.jobs.count)
            return outcome
        }
    }

    /// Deletes what the policy says goes now; returns whether the target is still wanted (not
    /// taking new flows again, and not done with its sweeps).
    private func visit(_ key: Key, _ job: inout Job, use: StaleEntryPolicy.EndpointUse, now: UInt64,
                       state: inout State, outcome: inout Outcome) -> Bool {
        guard !job.protocols.subtracting(use.candidate).isEmpty else { return false }
        let protocols = StaleEntryPolicy.protocolsToDelete(stopped: job.protocols, resetting: job.resetting, use: use)
        guard !protocols.isEmpty else {
            // Still serving (terminating): watched, nothing deleted.
            job.due = now + intervalMilliseconds
            return true
        }
        attempt(key, &job, protocols: protocols, now: now, state: &state, outcome: &outcome)
        return job.sweepsLeft > 0
    }

    /// Whether any target is due at `now` (the caller then computes the uses and ticks).
    func hasWork(now: UInt64) -> Bool {
        state.withLock { state in state.jobs.values.contains { $0.due <= now } }
    }

    private func attempt(_ key: Key, _ job: inout Job, protocols: Set<IPProtocolNumber>, now: UInt64,
                         state: inout State, outcome: inout Outcome) {
        do {
            outcome.deleted += try deleter.deleteEntries(of: .init(endpoint: key.endpoint, id: key.id, protocols: protocols))
            job.failures = 0
            job.sweepsLeft -= 1
            job.due = now + intervalMilliseconds
        } catch {
            job.failures += 1
            state.failures += 1
            failureCounter.increment()
            outcome.failed.append("\(key.endpoint) (id \(key.id)): \(error)")
            let shift = min(job.failures - 1, 16)
            job.due = now + min(intervalMilliseconds << UInt64(shift), max(maxBackoffMilliseconds, intervalMilliseconds))
        }
    }

    /// Brings the set back to `capacity` in one pass (a change of 1,000 services removes
    /// 10,000 endpoints at once): first the targets whose deletion succeeded (only a later
    /// sweep is lost), then failed ones, oldest first in each group.
    private func dropOverflow(_ state: inout State, _ outcome: inout Outcome) {
        let excess = state.jobs.count - capacity
        let victims = state.jobs.sorted { a, b in
            (a.value.failures > 0 ? 1 : 0, a.value.added) < (b.value.failures > 0 ? 1 : 0, b.value.added)
        }.prefix(excess)
        for (key, _) in victims { state.jobs[key] = nil }
        state.dropped += victims.count
        outcome.dropped += victims.count
    }
}
