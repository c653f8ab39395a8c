import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Keeps mode mark's nftables map equal to the endpoints in force whatever happens to it
/// behind the daemon's back: a re-install of the hooks (the table recreated with an empty
/// map), `nft flush ruleset` by a firewall service, elements deleted by hand.
///
/// It looks when nftables says our table changed (`NFTablesEventMonitor`) and every
/// `interval` anyway (a lost notification, a failed repair): one GETGEN request when nothing
/// changed, a read and a transaction of the difference when something did. The map is read
/// only when the generation moved and something may have touched our table (a notification
/// about it, a lost one, or no subscription): the daemon's own commits carry the generation
/// forward, and commits to other tables leave the map alone. A missing table is reported
/// loudly and retried at each look; the map is refilled the moment it is back.
///
/// One reconciler serves the maps of both address families (`ip nfqlb` and `ip6 nfqlb`): the
/// notifications name the table only, and each map is verified and repaired on its own.
public final class EndpointMapReconciler: Service, Sendable {
    let maps: [NFTablesEndpointMap]
    let logger: Logger
    let intervalMilliseconds: Int
    private let stopping = Atomic<Bool>(false)

    public init(maps: [NFTablesEndpointMap], logger: Logger, intervalMilliseconds: Int = 250) {
        self.maps = maps
        self.logger = logger
        self.intervalMilliseconds = intervalMilliseconds
    }

    public convenience init(map: NFTablesEndpointMap, logger: Logger, intervalMilliseconds: Int = 250) {
        self.init(maps: [map], logger: logger, intervalMilliseconds: intervalMilliseconds)
    }

    public func run() async throws {
        async let following: Void = onDedicatedThread(name: "nfq-lb map reconciler") { self.follow() }
        try? await gracefulShutdown()
        stopping.store(true, ordering: .relaxed)
        await following
    }

    private func follow() {
        var monitor: NFTablesEventMonitor?
        var lastLook: UInt64 = 0
        // Whether a notification about our table (or a lost one) came since the last look; with
        // no subscription every look counts as one.
        var tableChanged = true
        var reportedSince = [ContinuousClock.Instant?](repeating: nil, count: maps.count)
        var lastReminder = [UInt64](repeating: 0, count: maps.count)
        while !stopping.load(ordering: .relaxed) {
            if monitor == nil {
                do throws(NetlinkError) {
                    monitor = try NFTablesEventMonitor(table: NFTablesEndpointMap.table, timeoutMilliseconds: intervalMilliseconds)
                } catch {
                    logger.error("nftables notifications unavailable (the map is checked every \(intervalMilliseconds) ms only): \(error)")
                }
            }
            var due = MonotonicClock.milliseconds() &- lastLook >= UInt64(intervalMilliseconds)
            if let watching = monitor {
                do throws(NetlinkError) {
                    if try watching.wait() == .changed { due = true; tableChanged = true }
                } catch {
                    logger.error("nftables notifications: \(error); subscribing again")
                    monitor = nil
                    tableChanged = true
                }
            } else {
                usleep(UInt32(intervalMilliseconds) * 1000)
                tableChanged = true
            }
            guard due, !stopping.load(ordering: .relaxed) else { continue }
            lastLook = MonotonicClock.milliseconds()
            let quiet = !tableChanged
            tableChanged = false
            for (index, map) in maps.enumerated() {
                look(at: map, tableQuiet: quiet, reportedSince: &reportedSince[index], lastReminder: &lastReminder[index], now: lastLook)
            }
        }
    }

    /// Verifies one family's map, repairs it, and logs a change of its sync state (and a
    /// reminder every 10 s while it stays out of sync).
    private func look(at map: NFTablesEndpointMap, tableQuiet: Bool, reportedSince: inout ContinuousClock.Instant?, lastReminder: inout UInt64, now: UInt64) {
        let name = "\(map.familyName) \(NFTablesEndpointMap.table) \(NFTablesEndpointMap.map)"
        do throws(NetlinkError) {
            if try map.verify(tableQuiet: tableQuiet) {
                logger.warning("nftables map \(name) differed from the endpoints in force (flushed, or the hooks re-installed?): repaired")
            }
        } catch {
            // Reported below through syncProblem; retried at the next look.
        }
        let since = map.outOfSyncSince
        if let since, since != reportedSince || now &- lastReminder >= 10_000 {
            logger.error("\(map.syncProblem ?? "nftables map \(name) out of sync"); retrying every \(intervalMilliseconds) ms")
            reportedSince = since
            lastReminder = now
        } else if since == nil, let was = reportedSince {
            logger.notice("nftables map \(name) back in sync after \(ContinuousClock.now - was)")
            reportedSince = nil
        }
    }
}
