/// How a queue is bound: the kernel-side settings docs/ARCHITECTURE.md lists under "Queue settings".
public struct QueueConfiguration: Sendable, Equatable {
    /// Bytes of each packet copied to us. Mode `conntrack` and `mark` need only the headers;
    /// a path that returns the packet (rewrite, UDP) needs all of it, or the kernel truncates it.
    public var copyRange: Int
    /// Packets the kernel holds for us before it drops (or, with `failOpen`, accepts) the rest.
    public var maxLength: UInt32
    /// `NFQA_CFG_F_FAIL_OPEN`: a full queue accepts packets un-balanced instead of dropping them.
    public var failOpen: Bool
    /// `NFQA_CFG_F_GSO`: take GSO packets whole; locally generated ones then come with a partial
    /// checksum (`NFQA_SKB_CSUMNOTREADY`) that a rewrite must complete.
    public var gso: Bool
    /// Socket receive buffer; sized to hold `maxLength` queued packets when nil.
    public var receiveBufferBytes: Int?
    /// Pin each worker to the CPU whose packets its queue gets (`--queue-cpu-fanout`).
    public var pinWorkers: Bool
    /// The workers' nice value (-20...19); nil: the one the daemon was started with. See
    /// `WorkerPriority` for why it is set at all.
    public var workerNice: Int32?

    public init(copyRange: Int = 0xFFFF, maxLength: UInt32 = 8192, failOpen: Bool = false, gso: Bool = true,
                receiveBufferBytes: Int? = nil, pinWorkers: Bool = true, workerNice: Int32? = nil) {
        self.copyRange = copyRange
        self.maxLength = maxLength
        self.failOpen = failOpen
        self.gso = gso
        self.receiveBufferBytes = receiveBufferBytes
        self.pinWorkers = pinWorkers
        self.workerNice = workerNice
    }

    /// The receive buffer actually requested: room for the whole queue at this copy range.
    public var effectiveReceiveBufferBytes: Int {
        receiveBufferBytes ?? min(Int(maxLength) * (min(copyRange, 2048) + 256), 256 << 20)
    }
}
