import SystemPackage

/// One NFQUEUE queue bound on its own netlink socket: receives packets in batches and sends
/// verdicts in batches. Owned by its worker thread.
final class QueueSocket {
    let queue: UInt16
    private let socket: NetlinkSocket
    private let configuration: QueueConfiguration
    private var sequence: UInt32 = 0
    private let receiveBuffer: UnsafeMutableRawBufferPointer
    private let slotSize: Int
    private let verdicts: NetlinkBatchBuffer
    private var bound = false

    /// Kernel-side drops this socket was told about (`ENOBUFS` on receive).
    private(set) var overruns = 0

    /// Binds `queue` and applies `configuration`; fails with the kernel's reason
    /// (EBUSY: another process holds the queue; EPERM: no CAP_NET_ADMIN).
    init(queue: UInt16, configuration: QueueConfiguration, batchCapacity: Int) throws(NetlinkError) {
        self.queue = queue
        self.configuration = configuration
        socket = try NetlinkSocket()
        // Room for one whole message per batch slot: the packet plus its attributes.
        slotSize = min(configuration.copyRange, 0xFFFF) + 1024
        receiveBuffer = .allocate(byteCount: slotSize * batchCapacity, alignment: 16)
        verdicts = NetlinkBatchBuffer(capacity: max(1 << 20, batchCapacity * (QueueMessages.verdictOverhead + slotSize)))
        // Every property is set: a failure from here on runs deinit, which frees the buffer.
        try configure()
    }

    deinit {
        if bound { try? command(.unbind) }
        receiveBuffer.deallocate()
    }

    private func configure() throws(NetlinkError) {
        try command(.bind)
        bound = true
        let flags = (configuration.failOpen ? NetlinkConstants.configFailOpen : 0) | (configuration.gso ? NetlinkConstants.configGSO : 0)
        sequence &+= 1
        let length = QueueMessages.parameters(
            queue: queue, copyRange: configuration.copyRange, maxLength: configuration.maxLength,
            flags: flags, flagMask: NetlinkConstants.configFailOpen | NetlinkConstants.configGSO,
            sequence: sequence, into: verdicts.base)
        try acknowledged(length: length, operation: "configure NFQUEUE \(queue)")
        try socket.setOption(level: NetlinkConstants.solNetlink, name: NetlinkConstants.netlinkNoENOBUFS, value: 1,
                             operation: "setsockopt(NETLINK_NO_ENOBUFS)")
        try socket.setReceiveBuffer(bytes: configuration.effectiveReceiveBufferBytes)
        // A bounded block, so that a worker notices shutdown within this time when idle.
        try socket.setReceiveTimeout(milliseconds: 100)
    }

    private func command(_ command: QueueMessages.Command) throws(NetlinkError) {
        sequence &+= 1
        let length = QueueMessages.command(command, queue: queue, sequence: sequence, into: verdicts.base)
        try acknowledged(length: length, operation: "\(command == .bind ? "bind" : "unbind") NFQUEUE \(queue)")
    }

    /// Sends the configuration message at the start of the verdict buffer and waits for its ack,
    /// skipping any packet that races in after a bind.
    private func acknowledged(length: Int, operation: String) throws(NetlinkError) {
        let seq = sequence
        try socket.send(UnsafeRawBufferPointer(start: verdicts.base, count: length), operation: operation)
        for _ in 0..<64 {
            guard case .bytes(let count) = try socket.receive(into: receiveBuffer, blocking: true) else {
                throw NetlinkError(errno: .timedOut, operation: operation)
            }
            for message in NetlinkMessages(bytes: UnsafeRawBufferPointer(rebasing: receiveBuffer[..<count])) where message.sequence == seq {
                if let code = message.errorCode {
                    if code == 0 { return }
                    throw NetlinkError(kernelError: code, operation: operation)
                }
            }
        }
        throw NetlinkError(errno: .timedOut, operation: operation)
    }

    /// Receives up to `capacity` packets: waits (bounded) for the first, then takes what is
    /// already queued without waiting. Calls `body` for each packet, in order.
    /// Returns the number of packets; 0 when the wait timed out.
    @inline(__always)
    func receiveBatch(capacity: Int, _ body: (QueuedPacket) -> Void) throws(NetlinkError) -> Int {
        var received = 0
        var slot = 0
        while slot < capacity {
            let region = UnsafeMutableRawBufferPointer(rebasing: receiveBuffer[(slot * slotSize)..<((slot + 1) * slotSize)])
            let outcome = try socket.receive(into: region, blocking: slot == 0)
            let length: Int
            switch outcome {
            case .bytes(let count): length = count
            case .wouldBlock: return received
            case .overrun:
                overruns += 1
                continue
            }
            slot += 1
            for message in NetlinkMessages(bytes: UnsafeRawBufferPointer(rebasing: region[..<length])) {
                if message.type == NetlinkConstants.messageError { continue }
                guard NetlinkConstants.message(ofType: message.type) == NetlinkConstants.queueMessagePacket,
                      let packet = QueuedPacket(message: message) else { continue }
                body(packet)
                received += 1
            }
        }
        return received
    }

    /// Adds a verdict to the outgoing batch, sending the batch first if it is full.
    @inline(__always)
    func stageVerdict(_ verdict: QueueVerdict, for packet: QueuedPacket) throws(NetlinkError) {
        let room = QueueMessages.verdictOverhead + (verdict.returnsPayload ? packet.bytes.count : 0)
        var memory = verdicts.reserve(room)
        if memory == nil {
            try flushVerdicts()
            memory = verdicts.reserve(room)
        }
        guard let memory else { return }
        let length = QueueMessages.verdict(
            queue: queue, packetID: packet.id, verdict: verdict.kind.kernelValue, mark: verdict.mark,
            payload: verdict.returnsPayload ? UnsafeRawBufferPointer(packet.bytes) : nil, into: memory)
        verdicts.commit(length: length)
    }

    /// Sends every staged verdict in one `sendmsg`.
    func flushVerdicts() throws(NetlinkError) {
        guard !verdicts.isEmpty else { return }
        defer { verdicts.reset() }
        try socket.send(verdicts.bytes, operation: "send \(verdicts.messageCount) verdicts to NFQUEUE \(queue)")
    }
}
