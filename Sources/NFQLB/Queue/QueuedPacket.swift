/// One packet the kernel handed to a queue, pointing into the worker's receive buffer.
///
/// Valid only until the worker's next receive: it is a view, not a copy.
struct QueuedPacket {
    var id: UInt32
    /// The packet from its network header, as copied (up to the copy range).
    var bytes: UnsafeMutableRawBufferPointer
    /// The skb mark when queued (`NFQA_MARK`): bits outside our mask must survive the verdict.
    var mark: UInt32
    /// `NFQA_SKB_INFO` flags (partial checksum, GSO).
    var skbInfo: UInt32
    /// True when the copy is shorter than the packet (`NFQA_CAP_LEN`): such a packet can be
    /// inspected but never returned as a payload, or the kernel would truncate it.
    var isTruncated: Bool

    var hasPartialChecksum: Bool { skbInfo & NetlinkConstants.skbChecksumNotReady != 0 }

    init(id: UInt32, bytes: UnsafeMutableRawBufferPointer, mark: UInt32, skbInfo: UInt32, isTruncated: Bool) {
        self.id = id
        self.bytes = bytes
        self.mark = mark
        self.skbInfo = skbInfo
        self.isTruncated = isTruncated
    }

    /// Reads the packet attributes of an `NFQNL_MSG_PACKET` message; nil only without a
    /// packet id. A message without a payload still gives a packet (with no bytes), so that
    /// it is answered: by the malformed-packet policy, as its bytes do not parse.
    init?(message: NetlinkMessages.Message) {
        var id: UInt32?
        var payload = UnsafeRawBufferPointer(start: nil, count: 0)
        var mark: UInt32 = 0
        var skbInfo: UInt32 = 0
        var capturedLength: Int?
        for attribute in NetlinkAttributes(message: message.bytes) {
            switch Int(attribute.type) {
            case NetlinkConstants.nfqaPacketHeader: id = attribute.be32  // nfqnl_msg_packet_hdr.packet_id
            case NetlinkConstants.nfqaPayload: payload = attribute.payload
            case NetlinkConstants.nfqaMark: mark = attribute.be32 ?? 0
            case NetlinkConstants.nfqaSkbInfo: skbInfo = attribute.be32 ?? 0
            case NetlinkConstants.nfqaCapLen: capturedLength = attribute.be32.map(Int.init)
            default: break
            }
        }
        guard let id else { return nil }
        self.id = id
        // The receive buffer is ours and writable; the attribute view is read-only only by type.
        bytes = UnsafeMutableRawBufferPointer(mutating: payload)
        self.mark = mark
        self.skbInfo = skbInfo
        isTruncated = capturedLength.map { $0 > payload.count } ?? false
    }

    /// Makes a truncated copy parse as the headers it holds: the IP (and UDP) length fields of
    /// our copy are cut to the bytes we have. Only for packets whose verdict carries no payload
    /// (the queue socket never returns a truncated copy), so the kernel's packet is untouched;
    /// headers are all a verdict of mode mark or a conntrack entry needs.
    func clampLengthsToCopy() {
        guard isTruncated, bytes.count >= 1 else { return }
        let count = bytes.count
        var transport = 0
        var proto: UInt8 = 0
        switch bytes[0] >> 4 {
        case 4 where count >= 20:
            transport = Int(bytes[0] & 0x0F) * 4
            proto = bytes[9]
            bytes.storeBytes(of: UInt16(clamping: count).bigEndian, toByteOffset: 2, as: UInt16.self)
        case 6 where count >= 40:
            transport = 40
            proto = bytes[6]
            bytes.storeBytes(of: UInt16(clamping: count - 40).bigEndian, toByteOffset: 4, as: UInt16.self)
        default:
            return
        }
        if proto == 17, transport >= 20, transport + 8 <= count {
            bytes.storeBytes(of: UInt16(clamping: count - transport).bigEndian, toByteOffset: transport + 4, as: UInt16.self)
        }
    }
}
