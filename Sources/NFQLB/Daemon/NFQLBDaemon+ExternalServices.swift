import Balancer
import CoreMetrics
import Foundation
import Logging
import Synchronization

extension NFQLBDaemon {
    /// Puts a change from an external source (the Kubernetes source) in force: each owner
    /// named gets the services given (none: it has none any more); every other owner, and the
    /// file's services, stay as they are and keep their balancers.
    ///
    /// One owner's problem never stops the others: an owner whose services cannot be built
    /// (a strategy that refuses its endpoints) keeps what it had before, or is left out when it
    /// had nothing, and the rest of the change goes in. Only a failure of the whole publish (the
    /// endpoint ids exhausted, the nftables map not writable) leaves everything as it was.
    @discardableResult
    public func applyExternalChange(_ change: [String: [ServiceConfig]]) -> Result<ExternalChangeSummary, DaemonError> {
        let started = MonotonicClock.nanoseconds()
        let outcome: Result<(Published, [String: String]), DaemonError> = applied.withLock { applied in
            var sources = applied.sources
            for (owner, services) in change {
                if services.isEmpty {
                    sources.owners[owner] = nil
                    continue
                }
                let version = ConfigReader.nextSourceVersion()
                sources.owners[owner] = services.map { entry in
                    var entry = entry
                    entry.file = ServiceSources.kubernetesFile
                    entry.path = owner
                    entry.sourceVersion = version
                    return entry
                }
            }
            var failed: [String: String] = [:]
            // Each round either succeeds or sets one owner back: bounded by the owners changed.
            for _ in 0...change.count {
                let (merged, refused) = sources.merged(with: applied.fileConfig)
                do throws(DaemonError) {
                    let done = try publish(merged, unhealthy: applied.unhealthy, into: &applied)
                    applied.sources = sources
                    if refused != applied.refused { report(refused) }
                    applied.refused = refused
                    return .success((done, failed))
                } catch {
                    guard case .build(let located, _, _) = error, merged.services.indices.contains(located.serviceIndex),
                          merged.services[located.serviceIndex].file == ServiceSources.kubernetesFile else { return .failure(error) }
                    let owner = merged.services[located.serviceIndex].path
                    failed[owner] = located.description
                    // Back to what was in force for this owner; if that is what failed, out.
                    let before = applied.sources.owners[owner]
                    sources.owners[owner] = before == sources.owners[owner] ? nil : before
                }
            }
            return .failure(.externalChangeUnbuildable(owners: failed.keys.sorted()))
        }
        switch outcome {
        case .success((let done, let failed)):
            for (owner, reason) in failed.sorted(by: { $0.key < $1.key }) {
                logger.error("Kubernetes Service \(owner) keeps its previous state: its new state cannot be built", metadata: ["error": "\(reason)"])
            }
            var summary = ExternalChangeSummary(owners: change.count, services: done.summary.services,
                                                endpointsRemoved: done.summary.endpointsRemoved, failedOwners: failed.keys.sorted())
            summary.applyMilliseconds = Double(MonotonicClock.nanoseconds() - started) / 1e6
            summary.inForce = Date()
            // In force; the kernel-side tidying runs outside the lock.
            summary.entriesDeleted = done.cleanup.run(daemon: self)
            return .success(summary)
        case .failure(let error):
            logger.error("a change from the Kubernetes source was rejected; the previous state stays in force", metadata: [
                "errors": .array("\(error)".split(separator: "\n").map { .string(String($0)) }),
            ])
            return .failure(error)
        }
    }

    /// The owners left out of the config in force now, and why.
    public var refusedOwners: [ServiceSources.Refusal] { applied.withLock { $0.refused } }

    /// Logs the owners now left out (once per change of that list) and sets the gauge.
    func report(_ refused: [ServiceSources.Refusal]) {
        metrics.refusedOwners.record(refused.count)
        for refusal in refused { logger.error("\(refusal)") }
    }
}

/// What a change from an external source did.
public struct ExternalChangeSummary: Sendable, CustomStringConvertible {
    /// Owners named by the change.
    public var owners: Int
    /// Services in force after it (every source).
    public var services: Int
    public var endpointsRemoved: Int
    /// Owners whose new state could not be built (they keep their previous one).
    public var failedOwners: [String]
    public var entriesDeleted = 0
    public var applyMilliseconds = 0.0
    /// When the new state was in force (published, the endpoint map written): before the
    /// tidying that follows (freed ids out of the map, stale conntrack entries), which takes
    /// milliseconds and must not count as network programming latency.
    public var inForce = Date.distantPast

    public var description: String {
        "\(owners) Kubernetes Services changed, \(services) services in force, \(endpointsRemoved) endpoints stopped taking flows, "
            + "\(entriesDeleted) stale entries deleted; applied in \(applyMilliseconds.formatted2) ms"
    }
}
