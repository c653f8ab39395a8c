import Balancer
import Logging
import PacketRewrite
import Synchronization

/// What every worker thread shares: read-only settings, the published balancer state, the
/// stop flag and the metrics. Everything here is `Sendable`; everything a worker mutates per
/// packet is its own.
public final class WorkerEnvironment: Sendable {
    public let tcpMode: NFQLBConfig.TCPMode
    public let queues: ClosedRange<UInt16>
    /// The CPUs this process may use, in order: queue `first + i` is fed from the i-th CPU
    /// (`--queue-cpu-fanout`), so its worker is pinned there.
    let cpus: [Int]
    public let queue: QueueConfiguration
    public let malformedPackets: NFQLBConfig.MalformedPacketPolicy
    let pathSettings: FlowPathSettings
    public let masqueradeAddress: IPAddress?
    public let state: BalancerState
    public let metrics: NFQLBMetrics
    /// The memory of recent picks, shared by every worker (see `PickMemory`).
    let pickMemory: PickMemory
    public let logger: Logger
    private let stopping = Atomic<Bool>(false)

    public init(config: NFQLBConfig, state: BalancerState, metrics: NFQLBMetrics, logger: Logger) {
        tcpMode = config.tcpMode
        queues = config.queues
        cpus = CPUAffinity.allowedCPUs()
        queue = config.queue
        malformedPackets = config.malformedPackets
        pathSettings = FlowPathSettings(marks: config.marks, tcpTimeoutSeconds: config.tcpTimeoutSeconds,
                                        udpTimeoutSeconds: config.udpTimeoutSeconds)
        masqueradeAddress = config.masqueradeAddress
        self.state = state
        self.metrics = metrics
        pickMemory = PickMemory(lifetimeMilliseconds: config.pickCacheMilliseconds)
        self.logger = logger
    }

    public var marks: MarkLayout { pathSettings.marks }

    /// The CPU whose packets `--queue-cpu-fanout` sends to `queue` (`cpu % count`), if this
    /// process may run there.
    func cpu(forQueue queue: UInt16) -> Int? {
        let count = queues.count
        guard count > 1 else { return nil }
        let index = Int(queue - queues.lowerBound)
        return cpus.first { $0 % count == index }
    }

    /// Asks every worker to finish its batch and return.
    public func stop() { stopping.store(true, ordering: .relaxed) }
    public var isStopping: Bool { stopping.load(ordering: .relaxed) }
}
