import Balancer
import CoreMetrics
import Logging
import PacketRewrite
import Synchronization

/// The daemon's state and its one way of changing it: a whole new config, validated, built
/// into a snapshot and published at once, or rejected with the old one left running.
///
/// Everything the workers read goes through `state` (lock-free for them). Reloads, health
/// changes and cleanups are serialised by `applied`'s lock; none of them is on a packet path.
public final class NFQLBDaemon: Sendable {
    public let configPath: String
    public let loader: ConfigLoader
    public let logger: Logger
    public let state: BalancerState
    public let flows: FlowTracker
    public let affinity: AffinityTable
    public let ids: EndpointIDAllocator
    public let metrics: NFQLBMetrics
    /// Keeps mode mark's nftables map in step with the endpoints; nil in other modes.
    public let endpointMap: (any EndpointMapWriter)?
    /// Stale conntrack entries whose deletion is retried or swept again (`StaleEntryRetryService`).
    public let staleEntries: StaleEntryRetrier
    let applied: Mutex<Applied>

    /// What is in force now.
    struct Applied: Sendable {
        /// The config in force: the file's, with the external owners' services merged in.
        var config: NFQLBConfig
        /// The config file as last put in force (its services only from the file).
        var fileConfig: NFQLBConfig
        /// Services of external owners (the Kubernetes source) and those left out.
        var sources = ServiceSources()
        var refused: [ServiceSources.Refusal] = []
        /// Bumped by every config put in force (not by health changes).
        var generation = 0
        var unhealthy: Set<EndpointKey>
        var health: [EndpointHealth] = []
        /// How many services of the published snapshot have each endpoint as a candidate.
        var candidates = CandidateCounts()
        /// What the published snapshot made of each parse of a service list (by
        /// `ServiceConfig.sourceVersion`): its services with their endpoint ids, and their
        /// balancers. An included file that did not change is taken over from here whole.
        var groups: [UInt64: SourceGroup] = [:]
    }

    struct SourceGroup: Sendable {
        var services: [Service]
        var balancers: [ServiceBalancer]
    }

    /// Loads the config; nothing touches the kernel yet.
    public init(configPath: String, loader: ConfigLoader = ConfigLoader(), logger: Logger,
                metrics: NFQLBMetrics = NFQLBMetrics()) throws(ConfigError) {
        let config = try loader.load(path: configPath)
        self.configPath = configPath
        self.loader = loader
        self.logger = logger
        self.metrics = metrics
        state = BalancerState()
        flows = FlowTracker()
        affinity = AffinityTable(capacity: 1 << 16)
        ids = EndpointIDAllocator(marks: config.marks)
        endpointMap = config.tcpMode == .mark ? DualStackEndpointMap(marks: config.marks, serviceCIDRs: config.serviceCIDRs) : nil
        staleEntries = StaleEntryRetrier(deleter: StaleEntryCleaner(marks: config.marks))
        applied = Mutex(Applied(config: config, fileConfig: config, unhealthy: []))
    }

    public var config: NFQLBConfig { applied.withLock { $0.config } }
    public var unhealthy: Set<EndpointKey> { applied.withLock { $0.unhealthy } }
    var configAndGeneration: (NFQLBConfig, Int) { applied.withLock { ($0.config, $0.generation) } }
    public var health: [EndpointHealth] { applied.withLock { $0.health } }

    /// Builds and publishes the loaded config; run once before the workers start.
    public func activate(adoptingIDs known: [(EndpointKey, UInt32)] = []) throws(DaemonError) {
        ids.adopt(known)
        try applied.withLock { (applied) throws(DaemonError) in
            // The map may hold anything a previous run left: it is made exactly ours before
            // the first snapshot is published (its ids are in force from then on).
            _ = try publish(applied.config, unhealthy: applied.unhealthy, into: &applied, beforePublishing: { () throws(DaemonError) in
                ids.releaseUnused()
                if let endpointMap {
                    do throws(NetlinkError) {
                        try endpointMap.apply(ids.assignments)
                    } catch {
                        throw .endpointMap(error)
                    }
                }
            })
        }
    }

    /// Reads the config file again and applies it. On any problem the running config stays
    /// and the error says why (and is counted).
    @discardableResult
    public func reload(reason: String) -> Result<ReloadSummary, DaemonError> {
        var result: Result<ReloadSummary, DaemonError>
        let started = MonotonicClock.nanoseconds()
        do {
            let file = try loader.load(path: configPath)
            let parsed = MonotonicClock.nanoseconds()
            let published: Result<Published, DaemonError> = applied.withLock { applied in
                do throws(DaemonError) {
                    try Self.checkRestartOnlySettings(old: applied.config, new: file, file: configPath)
                    let (merged, refused) = applied.sources.merged(with: file)
                    let done = try publish(merged, unhealthy: applied.unhealthy, into: &applied)
                    applied.fileConfig = file
                    if refused != applied.refused { report(refused) }
                    applied.refused = refused
                    return .success(done)
                } catch {
                    return .failure(error)
                }
            }
            switch published {
            case .success(let done):
                var summary = done.summary
                summary.parseMilliseconds = Double(parsed - started) / 1e6
                summary.applyMilliseconds = Double(MonotonicClock.nanoseconds() - parsed) / 1e6
                // In force; the kernel-side tidying runs outside the lock (status keeps answering).
                summary.entriesDeleted = done.cleanup.run(daemon: self)
                result = .success(summary)
            case .failure(let error):
                result = .failure(error)
            }
        } catch {
            result = .failure(.config(error))
        }
        switch result {
        case .success(let summary):
            metrics.reloadSucceeded()
            logger.info("reloaded config (\(reason)): \(summary)")
        case .failure(let error):
            metrics.reloadFailed()
            // One record: the errors are a field (a list), never extra lines a log shipper would split.
            logger.error("reload rejected, the previous config stays in force", metadata: [
                "reason": "\(reason)",
                "errors": .array("\(error)".split(separator: "\n").map { .string(String($0)) }),
            ])
        }
        return result
    }

    /// Marks endpoints healthy or not (from the health checker) and republishes.
    func setHealth(unhealthy: Set<EndpointKey>, records: [EndpointHealth]) {
        let cleanup: Cleanup? = applied.withLock { applied in
            applied.health = records
            guard applied.unhealthy != unhealthy else { return nil }
            do {
                return try publish(applied.config, unhealthy: unhealthy, into: &applied, configChanged: false).cleanup
            } catch {
                logger.error("applying health change failed: \(error)")
                return nil
            }
        }
        _ = cleanup?.run(daemon: self)
    }

    func updateHealthReport(_ records: [EndpointHealth]) {
        applied.withLock { $0.health = records }
    }

    /// A snapshot put in force, and what remains to tidy in the kernel once the lock is released.
    struct Published {
        var summary: ReloadSummary
        var cleanup: Cleanup
    }

    func publish(_ config: NFQLBConfig, unhealthy: Set<EndpointKey>, into applied: inout Applied,
                         configChanged: Bool = true,
                         beforePublishing: () throws(DaemonError) -> Void = {}) throws(DaemonError) -> Published {
        let previousConfig = applied.config
        let previous = state.current
        let healthChanged = unhealthy != applied.unhealthy || applied.groups.isEmpty

        // 1. Endpoint ids, per parse of a service list: an unchanged one is taken over whole.
        var groups: [UInt64: SourceGroup] = [:]
        var fresh: [UInt64] = []
        var added: [(EndpointKey, UInt32)] = []
        let order = config.sourceGroups
        func undoFresh() { for version in fresh { ids.release(groups[version]!.services) } }
        for (version, range) in order {
            if let old = applied.groups[version] {
                groups[version] = old
                continue
            }
            do throws(EndpointIDExhausted) {
                let (tagged, newIDs) = try ids.retain(config.services[range].map(\.service))
                groups[version] = SourceGroup(services: tagged, balancers: [])
                fresh.append(version)
                added += newIDs
            } catch {
                undoFresh()
                throw .endpointIDs(error)
            }
        }

        // 2. Balancers: built for the fresh groups only, unless endpoint health changed, which
        //    may concern any service (each unchanged service still keeps its balancer).
        do throws(DaemonError) {
            if healthChanged {
                let all = order.flatMap { groups[$0.version]!.services }
                let built = try build(all, offset: 0, config: config, unhealthy: unhealthy, previous: previous)
                for (version, range) in order { groups[version]!.balancers = Array(built[range]) }
            } else {
                for (version, range) in order where fresh.contains(version) {
                    groups[version]!.balancers = try build(groups[version]!.services, offset: range.lowerBound, config: config,
                                                           unhealthy: unhealthy, previous: previous)
                }
            }
            try beforePublishing()
            // Mode mark: a worker must never mark an id the map does not have yet, so new
            // elements go in before the snapshot is published; freed ones leave after (`Cleanup`).
            if let endpointMap, !added.isEmpty {
                do throws(NetlinkError) {
                    try endpointMap.update(adding: added, removing: [])
                } catch {
                    throw .endpointMap(error)
                }
            }
        } catch {
            undoFresh()
            throw error
        }
        let snapshot = BalancerSnapshot(assembling: order.flatMap { groups[$0.version]!.balancers }, serviceCIDRs: config.serviceCIDRs,
                                        nodePortAddresses: config.nodePortAddresses)
        state.publish(snapshot)

        // In force from here on; what follows is bookkeeping, costing only what changed.
        var freed: [(EndpointKey, UInt32)] = []
        var retiredGroups: [SourceGroup] = []
        for (version, old) in applied.groups where groups[version] == nil {
            freed += ids.release(old.services)
            retiredGroups.append(old)
        }
        let change = healthChanged
            ? SnapshotChange(from: previous, to: snapshot)
            : SnapshotChange(candidates: fresh.flatMap { groups[$0]!.balancers }, retiring: retiredGroups.flatMap(\.balancers),
                             from: previous, to: snapshot)
        if configChanged { applied.generation += 1 }
        applied.config = config
        applied.unhealthy = unhealthy
        applied.groups = groups
        let removed = applied.candidates.apply(change)
        let summary = ReloadSummary(services: snapshot.services.count, reusedServices: snapshot.services.count - change.added.count,
                                    endpointsRemoved: removed.count)
        var cleanup = Cleanup(freedIDs: freed, removed: removed, marks: config.marks)
        if !removed.isEmpty {
            // An endpoint deleted from the config is only in the old one: a service of either
            // that names it with `reset` has its TCP flows cut.
            cleanup.resetting = Set([previousConfig, config].flatMap { config in
                config.services.filter { $0.endpointRemoval == .reset }.flatMap { $0.service.endpoints.map(\.key) }
            })
        }
        return Published(summary: summary, cleanup: cleanup)
    }

    /// Builds (or takes over from `previous`) the balancers of `services`, which start at
    /// `offset` in the config, so that an error names the right service and line.
    private func build(_ services: [Service], offset: Int, config: NFQLBConfig, unhealthy: Set<EndpointKey>,
                       previous: BalancerSnapshot) throws(DaemonError) -> [ServiceBalancer] {
        do {
            return try BalancerSnapshot.build(services: services, serviceCIDRs: config.serviceCIDRs, unhealthy: unhealthy,
                                              reusing: previous, flows: flows, affinity: affinity).services
        } catch {
            var located = error
            located.serviceIndex += offset
            throw .build(located, file: configPath, lines: config.services.map(\.line))
        }
    }

    /// What a publish leaves to do in the kernel, off the path to the new state being in force:
    /// freed ids out of the nftables map (an nftables commit that deletes waits for an RCU
    /// grace period, milliseconds), stale conntrack entries deleted, idle counters dropped.
    struct Cleanup: Sendable {
        var freedIDs: [(EndpointKey, UInt32)]
        var removed: [EndpointKey: Set<IPProtocolNumber>]
        var marks: MarkLayout
        var resetting: Set<EndpointKey> = []

        /// Returns how many conntrack entries were deleted.
        func run(daemon: NFQLBDaemon) -> Int {
            if let map = daemon.endpointMap, !freedIDs.isEmpty {
                do {
                    try map.update(adding: [], removing: freedIDs)
                } catch {
                    daemon.logger.error("removing freed endpoint ids from the nftables map failed (kept until the next change): \(error)")
                }
            }
            guard !removed.isEmpty else { return 0 }
            let freed = Dictionary(freedIDs, uniquingKeysWith: { a, _ in a })
            let deleted = daemon.cleanStale(removed, resetting: resetting, marks: marks, idsBefore: { freed[$0] ?? daemon.ids.id(of: $0) })
            daemon.flows.removeIdleCounters(removed.flatMap { key, protocols in protocols.map { (key, $0) } })
            return deleted
        }
    }

    /// Deletes the UDP entries (and, for services that ask for `reset`, the TCP entries) of
    /// endpoints that stopped taking flows, as `StaleEntryPolicy` decides (a terminating but
    /// serving endpoint keeps its UDP entries); `staleEntries` retries what failed.
    fileprivate func cleanStale(_ removed: [EndpointKey: Set<IPProtocolNumber>], resetting: Set<EndpointKey>, marks: MarkLayout,
                            idsBefore: (EndpointKey) -> UInt32?) -> Int {
        var targets: [(target: StaleEntryCleaner.Target, resetting: Bool)] = []
        for (key, protocols) in removed {
            guard let id = idsBefore(key) else { continue }
            targets.append((.init(endpoint: key, id: id, protocols: protocols), resetting.contains(key)))
        }
        let outcome = staleEntries.clean(targets, uses: staleEntryUses(), now: MonotonicClock.milliseconds())
        return reportStaleCleanup(outcome, endpoints: removed.count)
    }

    /// Settings bound into the kernel or the workers at start: a reload that changes them is
    /// refused (restart the daemon to change them), rather than half applied.
    static func checkRestartOnlySettings(old: NFQLBConfig, new: NFQLBConfig, file: String) throws(DaemonError) {
        var changed: [String] = []
        if old.queues != new.queues { changed.append("queues") }
        if old.tcpMode != new.tcpMode { changed.append("tcpMode") }
        if old.queue != new.queue || old.queueBypass != new.queueBypass { changed.append("queue") }
        if old.marks != new.marks { changed.append("marks") }
        if old.serviceCIDRs != new.serviceCIDRs { changed.append("serviceCIDRs") }
        if old.malformedPackets != new.malformedPackets { changed.append("malformedPackets") }
        if old.tcpTimeoutSeconds != new.tcpTimeoutSeconds || old.udpTimeoutSeconds != new.udpTimeoutSeconds
            || old.activeFlowResyncMilliseconds != new.activeFlowResyncMilliseconds { changed.append("conntrack") }
        if old.masqueradeAddress != new.masqueradeAddress { changed.append("masqueradeAddress") }
        if old.pickCacheMilliseconds != new.pickCacheMilliseconds { changed.append("pickCacheMilliseconds") }
        if old.metrics != new.metrics { changed.append("metrics") }
        if old.kubernetes != new.kubernetes { changed.append("kubernetes") }
        if !changed.isEmpty {
            throw .restartRequired(file: file, fields: changed)
        }
    }
}

/// What a successful reload did.
public struct ReloadSummary: Sendable, CustomStringConvertible {
    public var services: Int
    public var reusedServices: Int
    public var endpointsRemoved: Int
    public var entriesDeleted = 0
    /// Reading and validating the config file(s).
    public var parseMilliseconds = 0.0
    /// Building, publishing and cleaning up after the new snapshot.
    public var applyMilliseconds = 0.0

    public var description: String {
        let timing = "parsed in \(parseMilliseconds.formatted2) ms, applied in \(applyMilliseconds.formatted2) ms"
        return "\(services) services (\(reusedServices) unchanged), \(endpointsRemoved) endpoints stopped taking flows, \(entriesDeleted) stale entries deleted; \(timing)"
    }
}

/// Why a config could not be put in force.
public enum DaemonError: Error, CustomStringConvertible {
    case config(ConfigError)
    case build(BalancerBuildError, file: String, lines: [Int])
    case endpointIDs(EndpointIDExhausted)
    case endpointMap(NetlinkError)
    case restartRequired(file: String, fields: [String])
    /// Every owner of an external change failed to build, and so did what they had before.
    case externalChangeUnbuildable(owners: [String])

    public var description: String {
        switch self {
        case .config(let error): return error.description
        case .build(let error, let file, let lines):
            let line = lines.indices.contains(error.serviceIndex) ? lines[error.serviceIndex] : 0
            return ConfigIssue(file: file, line: line, field: "", message: error.description).description
        case .endpointIDs(let error): return error.description
        case .endpointMap(let error): return "updating the nftables endpoint map failed: \(error)"
        case .restartRequired(let file, let fields):
            return "\(file): \(fields.joined(separator: ", ")) changed; these take effect only at a restart of nfq-lb"
        case .externalChangeUnbuildable(let owners):
            return "no state of Kubernetes Services \(owners.joined(separator: ", ")) can be built"
        }
    }
}

extension Double {
    /// Two decimals, without Foundation's formatters.
    var formatted2: String {
        let hundredths = Int((self * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
