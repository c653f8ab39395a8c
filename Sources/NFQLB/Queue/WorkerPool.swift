import Dispatch
import Foundation
import Logging
import Synchronization

/// One worker thread per queue number, started together and stopped together.
///
/// `start` returns once every queue has been tried once. With `retryUnbound` false it throws
/// the first bind failure, having stopped the rest. With `retryUnbound` true (the daemon) a
/// queue that cannot be bound (another process holds it) is tried again every second, and
/// `states` says why it is not bound, for `/readyz` and `/healthz`.
public final class WorkerPool: Sendable {
    public let queues: ClosedRange<UInt16>
    private let environment: WorkerEnvironment
    private let finished: [DispatchSemaphore]
    private let queueStates: QueueStates

    /// The queues' states, shared by the worker threads and the health endpoints.
    private final class QueueStates: Sendable {
        let value: Mutex<[DaemonHealth.QueueState]>
        init(count: Int) { value = Mutex(Array(repeating: .unbound(problem: nil), count: count)) }
        func withLock<R>(_ body: (inout [DaemonHealth.QueueState]) -> R) -> R { value.withLock { body(&$0) } }
    }

    private init(queues: ClosedRange<UInt16>, environment: WorkerEnvironment, finished: [DispatchSemaphore],
                 queueStates: QueueStates) {
        self.queues = queues
        self.environment = environment
        self.finished = finished
        self.queueStates = queueStates
    }

    /// Each queue and its state now (bound, not bound and why, or its worker stopped).
    public var states: [(queue: UInt16, state: DaemonHealth.QueueState)] {
        let states = queueStates.withLock { $0 }
        return zip(queues, states).map { ($0, $1) }
    }

    public static func start(queues: ClosedRange<UInt16>, environment: WorkerEnvironment,
                             retryUnbound: Bool = false) throws(NetlinkError) -> WorkerPool {
        let ready = DispatchSemaphore(value: 0)
        let failures = Mutex<[NetlinkError]>([])
        let states = QueueStates(count: queues.count)
        var finished: [DispatchSemaphore] = []
        for (index, queue) in queues.enumerated() {
            let done = DispatchSemaphore(value: 0)
            finished.append(done)
            let thread = Thread {
                defer { done.signal() }
                var signalled = false
                var lastProblem: String?
                while true {
                    do throws(NetlinkError) {
                        try runWorker(queue: queue, environment: environment) {
                            states.withLock { $0[index] = .bound }
                            if lastProblem != nil { environment.logger.notice("queue bound after all", metadata: ["queue": "\(queue)"]) }
                            if !signalled { ready.signal() }
                            signalled = true
                        }
                        states.withLock { $0[index] = environment.isStopping ? .unbound(problem: "stopping") : .stopped(reason: "returned") }
                        return
                    } catch {
                        let problem = "\(error)"
                        states.withLock { $0[index] = .unbound(problem: problem) }
                        if !signalled {
                            if !retryUnbound { failures.withLock { $0.append(error) } }
                            ready.signal()
                            signalled = true
                        }
                        guard retryUnbound else { return }
                        if problem != lastProblem {
                            environment.logger.error("cannot bind queue; retrying every second",
                                                     metadata: ["queue": "\(queue)", "error": "\(problem)"])
                            lastProblem = problem
                        }
                        for _ in 0..<10 where !environment.isStopping { Thread.sleep(forTimeInterval: 0.1) }
                        if environment.isStopping { return }
                    }
                }
            }
            thread.name = "nfq-lb queue \(queue)"
            thread.stackSize = 1 << 20
            thread.start()
        }
        for _ in queues { ready.wait() }
        let pool = WorkerPool(queues: queues, environment: environment, finished: finished, queueStates: states)
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
        WorkerPriority.applyToCurrentThread(configured: environment.queue.workerNice, queue: queue, logger: environment.logger)
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
