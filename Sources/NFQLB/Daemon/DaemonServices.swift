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
