import SystemPackage

/// One NFQUEUE queue bound on its own netlink socket: receives packets in batches and sends
/// verdicts in batches. Owned by its worker thread.
///
/// Every packet it reads gets exactly one verdict: a packet the kernel holds without one
/// waits in the queue for ever (until the queue fills and drops everything after it). Hence
/// the send path never gives up on a batch (see `flushVerdicts`), and the receive path answers
/// what it cannot hand to the worker (packets beyond the batch, packets that race in while a
/// queue setting waits for its acknowledgement).
final class QueueSocket {
    let queue: UInt16
    private let socket: NetlinkSocket
    private let configuration: QueueConfiguration
    private var sequence: UInt32 = 0
    private let receiveBuffer: UnsafeMutableRawBufferPointer
    private let slotSize: Int
    private let verdicts: NetlinkBatchBuffer
    /// Room for one verdict without payload, for the last resort of `sendAlone`.
    private let single: NetlinkBatchBuffer
    /// The largest datagram the kernel takes from this socket: its send buffer less the 32
    /// bytes `netlink_sendmsg` keeps back. A batch is sent before it grows past this.
    private var sendLimit = 0
    private var bound = false
    /// A receive error met after part of a batch was read: thrown at the next receive, once
    /// the packets read before it are answered.
    private var pendingError: NetlinkError?

    /// Kernel-side drops this socket was told about (`ENOBUFS` on receive).
    private(set) var overruns = 0
    /// What the send and receive paths survived, for the worker's metrics.
    private(set) var fallbacks = QueueFallbacks()

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
        single = NetlinkBatchBuffer(capacity: QueueMessages.verdictOverhead)
        // Every property is set: a failure from here on runs deinit, which frees the buffer.
        try configure()
    }

    deinit {
        if bound { try? command(.unbind) }
        receiveBuffer.deallocate()
    }

    private func configure() throws(NetlinkError) {
        // Before the bind: a verdict batch whose rewritten datagrams carry up to 64 KB each
        // must fit one send (the kernel refuses a datagram beyond the send buffer, EMSGSIZE).
        try socket.setSendBuffer(bytes: verdicts.capacity + 4096)
        sendLimit = min(max(socket.sendBufferBytes - 32, QueueMessages.verdictOverhead), verdicts.capacity)
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

    /// Sends the configuration message at the start of the verdict buffer and waits for its ack.
    /// A packet that races in meanwhile (after the bind) is handed back with `NF_REPEAT`: the
    /// hook runs again and queues it again, to be balanced like any other.
    private func acknowledged(length: Int, operation: String) throws(NetlinkError) {
        let seq = sequence
        try socket.send(UnsafeRawBufferPointer(start: verdicts.base, count: length), operation: operation)
        verdicts.reset()
        defer { flushVerdicts() }
        for _ in 0..<64 {
            guard case .bytes(let count) = try socket.receive(into: receiveBuffer, blocking: true) else {
                throw NetlinkError(errno: .timedOut, operation: operation)
            }
            for message in NetlinkMessages(bytes: UnsafeRawBufferPointer(rebasing: receiveBuffer[..<count])) {
                if message.sequence == seq, let code = message.errorCode {
                    if code == 0 { return }
                    throw NetlinkError(kernelError: code, operation: operation)
                }
                if Self.isPacket(message), let packet = QueuedPacket(message: message) {
                    fallbacks.requeuedWhileConfiguring += 1
                    stageVerdict(.requeue, for: packet)
                }
            }
            flushVerdicts()
        }
        throw NetlinkError(errno: .timedOut, operation: operation)
    }

    @inline(__always)
    private static func isPacket(_ message: NetlinkMessages.Message) -> Bool {
        NetlinkConstants.message(ofType: message.type) == NetlinkConstants.queueMessagePacket
    }

    /// Receives up to `capacity` packets: waits (bounded) for the first, then takes what is
    /// already queued without waiting. Calls `body` for each packet, in order, never more
    /// than `capacity` times: packets beyond it in one datagram are handed back at once with
    /// `NF_REPEAT` (queued again), so no datagram can write past the worker's batch.
    /// Returns the number of packets; 0 when the wait timed out.
    @inline(__always)
    func receiveBatch(capacity: Int, _ body: (QueuedPacket) -> Void) throws(NetlinkError) -> Int {
        if let error = pendingError {
            pendingError = nil
            throw error
        }
        var received = 0
        var slot = 0
        while slot < capacity, received < capacity {
            let region = UnsafeMutableRawBufferPointer(rebasing: receiveBuffer[(slot * slotSize)..<((slot + 1) * slotSize)])
            let outcome: NetlinkSocket.Receive
            do {
                outcome = try socket.receive(into: region, blocking: slot == 0)
            } catch {
                // The packets read so far are answered first; the error is the next call's.
                guard received == 0 else {
                    pendingError = error
                    return received
                }
                throw error
            }
            let length: Int
            switch outcome {
            case .bytes(let count): length = count
            case .wouldBlock: return received
            case .overrun:
                overruns += 1
                continue
            }
            slot += 1
            for message in NetlinkMessages(bytes: UnsafeRawBufferPointer(rebasing: region[..<length])) where Self.isPacket(message) {
                // Without a packet id there is nothing the kernel could match an answer to.
                guard let packet = QueuedPacket(message: message) else {
                    fallbacks.unanswerable += 1
                    continue
                }
                if received < capacity {
                    body(packet)
                    received += 1
                } else {
                    fallbacks.requeuedBeyondBatch += 1
                    stageVerdict(.requeue, for: packet)
                }
            }
        }
        return received
    }

    /// Adds a verdict to the outgoing batch, sending the batch first if the verdict would
    /// take it past what one send may carry.
    @inline(__always)
    func stageVerdict(_ verdict: QueueVerdict, for packet: QueuedPacket) {
        let returnsPayload = verdict.returnsPayload && !packet.isTruncated
        let room = QueueMessages.verdictOverhead + (returnsPayload ? packet.bytes.count : 0)
        if verdicts.used + room > sendLimit { flushVerdicts() }
        guard room <= sendLimit, let memory = verdicts.reserve(room) else {
            // Cannot happen with the buffers sized in init; if it did, the packet still gets
            // an answer: dropped (its sender retransmits) rather than kept for ever.
            fallbacks.droppedUnsendable += 1
            stageVerdict(.drop, for: packet)
            return
        }
        let length = QueueMessages.verdict(
            queue: queue, packetID: packet.id, verdict: verdict.kind.kernelValue, mark: verdict.mark,
            payload: returnsPayload ? UnsafeRawBufferPointer(packet.bytes) : nil, into: memory)
        verdicts.commit(length: length)
    }

    /// Sends every staged verdict, in one `sendmsg` when the kernel takes it. A send that
    /// fails is retried in halves, down to one verdict per send; a verdict that cannot be
    /// sent alone is replaced by a plain drop of its packet. Never throws: a packet without
    /// a verdict would wait in the kernel queue for ever. Each fallback is counted.
    func flushVerdicts() {
        guard !verdicts.isEmpty else { return }
        defer { verdicts.reset() }
        send(verdicts.bytes, messages: verdicts.messageCount)
    }

    private func send(_ bytes: UnsafeRawBufferPointer, messages: Int) {
        let failure: NetlinkError
        do {
            try socket.send(bytes, operation: "send \(messages) verdicts to NFQUEUE \(queue)")
            return
        } catch {
            failure = error
        }
        fallbacks.lastSendError = failure
        guard messages > 1 else {
            sendAlone(bytes, failure: failure)
            return
        }
        fallbacks.splitSends += 1
        let half = messages / 2
        var offset = 0
        var walked = 0
        for message in NetlinkMessages(bytes: bytes) {
            if walked == half { break }
            offset += NetlinkConstants.align(message.bytes.count)
            walked += 1
        }
        send(UnsafeRawBufferPointer(rebasing: bytes[..<offset]), messages: walked)
        send(UnsafeRawBufferPointer(rebasing: bytes[offset...]), messages: messages - walked)
    }

    /// The last resort for one verdict the kernel would not take: once more as it is, then as
    /// a drop without payload, which is as small as a verdict gets.
    private func sendAlone(_ bytes: UnsafeRawBufferPointer, failure: NetlinkError) {
        fallbacks.singleSends += 1
        if (try? socket.send(bytes, operation: "send a verdict to NFQUEUE \(queue)")) != nil { return }
        guard let id = QueueMessages.packetID(ofVerdict: bytes) else {
            fallbacks.lost += 1
            return
        }
        single.reset()
        let length = QueueMessages.verdict(queue: queue, packetID: id, verdict: QueueVerdict.Kind.drop.kernelValue,
                                           mark: nil, payload: nil, into: single.base)
        do {
            try socket.send(UnsafeRawBufferPointer(start: single.base, count: length), operation: "send a drop verdict to NFQUEUE \(queue)")
            fallbacks.droppedUnsendable += 1
        } catch {
            fallbacks.lost += 1
        }
    }

    /// Receive-side trust counters of the socket (datagrams from processes, truncated ones).
    var foreignDatagrams: Int { socket.foreignDatagrams }
}
