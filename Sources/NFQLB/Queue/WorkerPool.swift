import Dispatch
import Foundation
import Logging
import Synchronization

/// One worker thread per queue number, started together and stopped together.
///
/// `start` returns only once every queue is bound (or throws the first bind failure, having
/// stopped the rest), so a daemon that cannot own its queues fails at once and says why.
public final class WorkerPool: Sendable {
    public let queues: ClosedRange<UInt16>
    private let environment: WorkerEnvironment
    private let finished: [DispatchSemaphore]

    private init(queues: ClosedRange<UInt16>, environment: WorkerEnvironment, finished: [DispatchSemaphore]) {
        self.queues = queues
        self.environment = environment
        self.finished = finished
    }

    public static func start(queues: ClosedRange<UInt16>, environment: WorkerEnvironment) throws(NetlinkError) -> WorkerPool {
        let ready = DispatchSemaphore(value: 0)
        let failures = Mutex<[NetlinkError]>([])
        var finished: [DispatchSemaphore] = []
        for queue in queues {
            let done = DispatchSemaphore(value: 0)
            finished.append(done)
            let thread = Thread {
                defer { done.signal() }
                do throws(NetlinkError) {
                    try runWorker(queue: queue, environment: environment) { ready.signal() }
                } catch {
                    failures.withLock { $0.append(error) }
                    ready.signal()
                }
            }
            thread.name = "nfq-lb queue \(queue)"
            thread.stackSize = 1 << 20
            thread.start()
        }
        for _ in queues { ready.wait() }
        let pool = WorkerPool(queues: queues, environment: environment, finished: finished)
        if let failure = failures.withLock({ $0.first }) {
            environment.stop()
            pool.join()
            throw failure
        }
        return pool
    }

    /// Asks every worker to answer its current batch and return.
    public func stop() { environment.stop() }

    /// Waits until every worker has returned (and unbound its queue).
    public func join() {
        for done in finished { done.wait() }
    }

    /// Builds the worker for the configured mode (each mode is a pair of path types, so the
    /// per-packet calls are static) and runs it on the calling thread.
    private static func runWorker(queue: UInt16, environment: WorkerEnvironment, bound: () -> Void) throws(NetlinkError) {
        let settings = environment.pathSettings
        if environment.queue.pinWorkers, let cpu = environment.cpu(forQueue: queue) {
            if !CPUAffinity.pinCurrentThread(to: cpu) {
                environment.logger.warning("queue \(queue): could not pin the worker to CPU \(cpu); it runs unpinned")
            }
        }
        switch environment.tcpMode {
        case .conntrack:
            let worker = try QueueWorker(queue: queue, environment: environment,
                                         tcp: ConntrackFlowPath(settings: settings), udp: UDPRewriteFlowPath(settings: settings))
            bound()
            worker.run()
        case .rewrite:
            let worker = try QueueWorker(queue: queue, environment: environment,
                                         tcp: RewriteFlowPath(settings: settings), udp: UDPRewriteFlowPath(settings: settings))
            bound()
            worker.run()
        case .mark:
            let path = MarkFlowPath(settings: settings)
            let worker = try QueueWorker(queue: queue, environment: environment, tcp: path, udp: path)
            bound()
            worker.run()
        }
    }
}
