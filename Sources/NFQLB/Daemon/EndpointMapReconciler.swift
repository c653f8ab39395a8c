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
/// changed, a read and a transaction of the difference when something did. A missing table is
/// reported loudly and retried at each look; the map is refilled the moment it is back.
public final class EndpointMapReconciler: Service, Sendable {
    let map: NFTablesEndpointMap
    let logger: Logger
    let intervalMilliseconds: Int
    private let stopping = Atomic<Bool>(false)

    public init(map: NFTablesEndpointMap, logger: Logger, intervalMilliseconds: Int = 250) {
        self.map = map
        self.logger = logger
        self.intervalMilliseconds = intervalMilliseconds
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
        var reportedSince: ContinuousClock.Instant?
        var lastReminder: UInt64 = 0
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
                    if try watching.wait() == .changed { due = true }
                } catch {
                    logger.error("nftables notifications: \(error); subscribing again")
                    monitor = nil
                }
            } else {
                usleep(UInt32(intervalMilliseconds) * 1000)
            }
            guard due, !stopping.load(ordering: .relaxed) else { continue }
            lastLook = MonotonicClock.milliseconds()
            do throws(NetlinkError) {
                if try map.verify() {
                    logger.warning("nftables map ip \(NFTablesEndpointMap.table) \(NFTablesEndpointMap.map) differed from the endpoints in force (flushed, or the hooks re-installed?): repaired")
                }
            } catch {
                // Reported below through syncProblem; retried at the next look.
            }
            let since = map.outOfSyncSince
            if let since, since != reportedSince || lastLook &- lastReminder >= 10_000 {
                logger.error("\(map.syncProblem ?? "nftables map out of sync"); retrying every \(intervalMilliseconds) ms")
                reportedSince = since
                lastReminder = lastLook
            } else if since == nil, let was = reportedSince {
                logger.notice("nftables map ip \(NFTablesEndpointMap.table) \(NFTablesEndpointMap.map) back in sync after \(ContinuousClock.now - was)")
                reportedSince = nil
            }
        }
    }
}
