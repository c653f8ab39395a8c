import PacketRewrite
import SystemPackage

/// Creates, reads and deletes conntrack entries over ctnetlink.
///
/// One per worker thread (not `Sendable`): its socket, sequence numbers and buffers are the
/// worker's own. Creates are staged and sent as one batch per packet batch; everything else
/// is a synchronous request, used only off the common path (EEXIST, cleanup, status).
public final class ConntrackClient {
    private let socket: NetlinkSocket
    private var sequence: UInt32
    private let batch: NetlinkBatchBuffer
    private let scratch: NetlinkBatchBuffer
    private let receiveBuffer: UnsafeMutableRawBufferPointer
    /// The sequence number of the first create staged in the current batch.
    private var batchFirstSequence: UInt32 = 0

    /// - Parameter batchCapacity: how many creates one batch can hold.
    public init(batchCapacity: Int = 128) throws(NetlinkError) {
        socket = try NetlinkSocket()
        // A bounded wait: an answer the kernel never sends must not hang a worker.
        try socket.setReceiveTimeout(milliseconds: 2000)
        try socket.setReceiveBuffer(bytes: 4 << 20)
        sequence = UInt32(truncatingIfNeeded: socket.portID &* 2_654_435_761)
        batch = NetlinkBatchBuffer(capacity: batchCapacity * ConntrackMessage.maximumLength)
        scratch = NetlinkBatchBuffer(capacity: ConntrackMessage.maximumLength)
        receiveBuffer = .allocate(byteCount: 1 << 17, alignment: 16)
    }

    deinit { receiveBuffer.deallocate() }

    /// Datagrams from processes rather than the kernel that this client's socket dropped.
    var foreignDatagrams: Int { socket.foreignDatagrams }

    private func nextSequence() -> UInt32 {
        sequence &+= 1
        return sequence
    }

    // MARK: Batched creates

    /// How many creates are staged.
    public var stagedCount: Int { batch.messageCount }

    /// Stages a CT_NEW; returns its position in the batch, or nil when the batch is full.
    public func stageCreate(_ request: ConntrackCreateRequest) -> Int? {
        guard let memory = batch.reserve(ConntrackMessage.maximumLength) else { return nil }
        let position = batch.messageCount
        let seq = nextSequence()
        if position == 0 { batchFirstSequence = seq }
        let writer = ConntrackMessage.create(request, sequence: seq, into: memory)
        batch.commit(length: writer.length)
        return position
    }

    /// Sends the staged creates in one `sendmsg` and collects one answer per create:
    /// `results[position]` becomes 0 or the negative errno (e.g. `-EEXIST`).
    public func sendStagedCreates(results: inout [Int32]) throws(NetlinkError) {
        let count = batch.messageCount
        guard count > 0 else { return }
        defer { batch.reset() }
        for i in 0..<count { results[i] = 1 }  // 1 = no answer yet
        try socket.send(batch.bytes, operation: "send ctnetlink CT_NEW batch of \(count)")
        var pending = count
        while pending > 0 {
            guard case .bytes(let length) = try socket.receive(into: receiveBuffer, blocking: true) else {
                throw NetlinkError(errno: .timedOut, operation: "wait for \(pending) ctnetlink CT_NEW answers")
            }
            for message in NetlinkMessages(bytes: UnsafeRawBufferPointer(rebasing: receiveBuffer[..<length])) {
                guard let code = message.errorCode else { continue }
                let position = Int(message.sequence &- batchFirstSequence)
                guard position >= 0, position < count, results[position] == 1 else { continue }
                results[position] = code
                pending -= 1
            }
        }
    }

    // MARK: Single requests

    /// Creates one entry now; throws the kernel's refusal (`EEXIST` among others).
    public func create(_ request: ConntrackCreateRequest) throws(NetlinkError) {
        scratch.reset()
        let writer = ConntrackMessage.create(request, sequence: nextSequence(), into: scratch.base)
        try transact(writer, operation: "ctnetlink CT_NEW \(request.original)") { _ in }
    }

    /// The entry whose original tuple is `original`, or nil when there is none.
    public func get(original: FlowTuple) throws(NetlinkError) -> ConntrackEntry? {
        scratch.reset()
        let writer = ConntrackMessage.lookup(NetlinkConstants.ctGet, original: original, sequence: nextSequence(), into: scratch.base)
        var entry: ConntrackEntry?
        do {
            try transact(writer, operation: "ctnetlink CT_GET \(original)") { message in
                entry = ConntrackMessage.parseEntry(NetlinkAttributes(message: message.bytes))
            }
        } catch where error.errno == .noSuchFileOrDirectory {
            return nil
        }
        return entry
    }

    /// Deletes the entry whose original tuple is `original`; false when there was none.
    @discardableResult
    public func delete(original: FlowTuple) throws(NetlinkError) -> Bool {
        scratch.reset()
        let writer = ConntrackMessage.lookup(NetlinkConstants.ctDelete, original: original, sequence: nextSequence(), into: scratch.base)
        do {
            try transact(writer, operation: "ctnetlink CT_DELETE \(original)") { _ in }
        } catch where error.errno == .noSuchFileOrDirectory {
            return false
        }
        return true
    }

    /// Visits every entry of the address family whose mark matches `markValue` under `markMask`
    /// (mask 0: every entry). The kernel filters by mark, so a large table costs little.
    public func dump(ipv6: Bool = false, markValue: UInt32, markMask: UInt32, _ visit: (ConntrackEntry) -> Void) throws(NetlinkError) {
        scratch.reset()
        let seq = nextSequence()
        let writer = ConntrackMessage.dump(family: ipv6 ? 10 : 2, markValue: markValue, markMask: markMask, sequence: seq, into: scratch.base)
        try socket.send(writer.bytes, operation: "send ctnetlink dump")
        while true {
            guard case .bytes(let length) = try socket.receive(into: receiveBuffer, blocking: true) else {
                throw NetlinkError(errno: .timedOut, operation: "ctnetlink dump")
            }
            for message in NetlinkMessages(bytes: UnsafeRawBufferPointer(rebasing: receiveBuffer[..<length])) where message.sequence == seq {
                if message.type == NetlinkConstants.messageDone { return }
                if let code = message.errorCode {
                    if code == 0 { return }
                    throw NetlinkError(kernelError: code, operation: "ctnetlink dump")
                }
                if let entry = ConntrackMessage.parseEntry(NetlinkAttributes(message: message.bytes)) {
                    visit(entry)
                }
            }
        }
    }

    /// Sends one request and reads until its acknowledgement, handing data messages to `body`.
    private func transact(_ writer: NetlinkMessageWriter, operation: @autoclosure () -> String,
                          _ body: (NetlinkMessages.Message) -> Void) throws(NetlinkError) {
        let seq = writer.bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
        try socket.send(writer.bytes, operation: operation())
        while true {
            guard case .bytes(let length) = try socket.receive(into: receiveBuffer, blocking: true) else {
                throw NetlinkError(errno: .timedOut, operation: operation())
            }
            for message in NetlinkMessages(bytes: UnsafeRawBufferPointer(rebasing: receiveBuffer[..<length])) where message.sequence == seq {
                if let code = message.errorCode {
                    if code == 0 { return }
                    throw NetlinkError(kernelError: code, operation: operation())
                }
                body(message)
            }
        }
    }
}
