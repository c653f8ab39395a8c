import Foundation
import Logging
import ServiceLifecycle

/// Runs a blocking call on a thread of its own and awaits it, so that joins and serve loops
/// never hold a cooperative-pool thread.
func onDedicatedThread(name: String, _ body: @escaping @Sendable () -> Void) async {
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        let thread = Thread {
            body()
            continuation.resume()
        }
        thread.name = name
        thread.start()
    }
}

/// The queue workers as a lifecycle service: started with the group, and on shutdown each
/// answers the batch it holds, unbinds its queue and returns.
public struct WorkerService: Service {
    let pool: WorkerPool

    public init(pool: WorkerPool) { self.pool = pool }

    public func run() async throws {
        try? await gracefulShutdown()
        pool.stop()
        await onDedicatedThread(name: "nfq-lb join") { pool.join() }
    }
}

/// The Prometheus endpoint as a lifecycle service.
public struct MetricsService: Service {
    let server: MetricsServer
    let logger: Logger

    public init(server: MetricsServer, logger: Logger) {
        self.server = server
        self.logger = logger
    }

    public func run() async throws {
        let server = self.server
        let logger = self.logger
        async let serving: Void = onDedicatedThread(name: "nfq-lb metrics") { server.serve(logger: logger) }
        try? await gracefulShutdown()
        server.stop()
        await serving
    }
}

/// Follows conntrack destroy events for the flow counts, and resynchronises the counts with
/// the conntrack table, as a lifecycle service.
public struct ConntrackEventService: Service {
    let monitor: ConntrackEventMonitor
    let resynchronizer: ActiveFlowResynchronizer?

    public init(monitor: ConntrackEventMonitor, resynchronizer: ActiveFlowResynchronizer? = nil) {
        self.monitor = monitor
        self.resynchronizer = resynchronizer
    }

    public func run() async throws {
        try? await gracefulShutdown()
        await onDedicatedThread(name: "nfq-lb events stop") {
            monitor.stop()
            resynchronizer?.stop()
        }
    }
}

/// Retries failed stale-entry deletions and sweeps recent ones (`StaleEntryRetrier`) every
/// quarter of its interval, as a lifecycle service; idle, each look is one lock.
public struct StaleEntryRetryService: Service {
    let daemon: NFQLBDaemon

    public init(daemon: NFQLBDaemon) { self.daemon = daemon }

    public func run() async throws {
        let step = Duration.milliseconds(max(1, Int(daemon.staleEntries.intervalMilliseconds) / 4))
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await Task.sleep(for: step)
            } catch {
                return
            }
            guard !Task.isShuttingDownGracefully else { return }
            // Netlink calls block: they run on a thread of their own, only when something is due.
            guard daemon.staleEntries.hasWork(now: MonotonicClock.milliseconds()) else { continue }
            let daemon = self.daemon
            await onDedicatedThread(name: "nfq-lb stale entries") { daemon.retryStaleEntries() }
        }
    }
}
