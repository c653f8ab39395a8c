import Balancer
import CoreMetrics
import Logging

/// The daemon's side of `StaleEntryRetrier`: how the services in force use each endpoint,
/// the periodic pass, and what gets logged and counted.
extension NFQLBDaemon {
    /// How the snapshot in force (and our health checks) use each endpoint now.
    func staleEntryUses() -> [EndpointKey: StaleEntryPolicy.EndpointUse] {
        StaleEntryPolicy.use(of: state.current.services, unhealthy: unhealthy)
    }

    /// One periodic pass: retries failed deletions and sweeps recent ones, if any is due.
    /// Costs one lock and a scan of the pending set when nothing is due.
    @discardableResult
    public func retryStaleEntries() -> Int {
        let now = MonotonicClock.milliseconds()
        guard staleEntries.hasWork(now: now) else { return 0 }
        return reportStaleCleanup(staleEntries.tick(now: now, uses: staleEntryUses()), endpoints: nil)
    }

    func reportStaleCleanup(_ outcome: StaleEntryRetrier.Outcome, endpoints: Int?) -> Int {
        if outcome.deleted > 0 {
            metrics.staleEntriesDeleted.increment(by: outcome.deleted)
            if let endpoints {
                logger.info("deleted \(outcome.deleted) conntrack entries of \(endpoints) endpoints that stopped taking flows")
            } else {
                logger.info("deleted \(outcome.deleted) stale conntrack entries on a retry or sweep")
            }
        }
        if !outcome.failed.isEmpty {
            logger.error("deleting stale conntrack entries failed (retried every \(staleEntries.intervalMilliseconds) ms, with backoff)",
                         metadata: ["targets": .array(outcome.failed.map { .string($0) }), "pending": "\(staleEntries.pending)"])
        }
        if outcome.dropped > 0 {
            logger.warning("\(outcome.dropped) stale-entry targets dropped (more than \(staleEntries.capacity) pending): those already deleted once miss their later sweeps")
        }
        return outcome.deleted
    }
}
