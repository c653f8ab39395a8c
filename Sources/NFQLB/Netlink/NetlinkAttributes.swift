/// Walks the attributes of a netlink message or nested attribute, in place, without allocating.
///
/// Pure Swift over the wire layout (`nlattr`: 16-bit length, 16-bit type, payload padded to 4),
/// so that parsing ctnetlink answers needs no C callbacks. Malformed lengths end the walk.
struct NetlinkAttributes: Sequence {
    let bytes: UnsafeRawBufferPointer

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// The attributes of the netlink message that starts at `message`, after its `nlmsghdr`
    /// and `extraHeaderLength` bytes (4 for nfnetlink's `nfgenmsg`).
    init(message: UnsafeRawBufferPointer, extraHeaderLength: Int = NetlinkConstants.nfgenmsgLength) {
        let start = NetlinkConstants.headerLength + NetlinkConstants.align(extraHeaderLength)
        bytes = start <= message.count ? UnsafeRawBufferPointer(rebasing: message[start...]) : UnsafeRawBufferPointer(start: nil, count: 0)
    }

    struct Attribute {
        /// The type without the NLA_F_NESTED / NLA_F_NET_BYTEORDER flag bits.
        let type: UInt16
        let payload: UnsafeRawBufferPointer

        var nested: NetlinkAttributes { NetlinkAttributes(payload) }
        var u8: UInt8? { payload.count >= 1 ? payload.load(as: UInt8.self) : nil }
        var be16: UInt16? { payload.count >= 2 ? UInt16(bigEndian: payload.loadUnaligned(as: UInt16.self)) : nil }
        var be32: UInt32? { payload.count >= 4 ? UInt32(bigEndian: payload.loadUnaligned(as: UInt32.self)) : nil }
    }

    struct Iterator: IteratorProtocol {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        mutating func next() -> Attribute? {
            guard offset + 4 <= bytes.count else { return nil }
            let length = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            let type = bytes.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self) & 0x3FFF
            guard length >= 4, offset + length <= bytes.count else { return nil }
            let payload = UnsafeRawBufferPointer(rebasing: bytes[(offset + 4)..<(offset + length)])
            offset += NetlinkConstants.align(length)
            return Attribute(type: type, payload: payload)
        }
    }

    func makeIterator() -> Iterator { Iterator(bytes: bytes) }

    func first(_ type: UInt16) -> Attribute? {
        for attribute in self where attribute.type == type { return attribute }
        return nil
    }
}

/// Walks the netlink messages in one received datagram.
struct NetlinkMessages: Sequence {
    let bytes: UnsafeRawBufferPointer

    struct Message {
        let type: UInt16
        let flags: UInt16
        let sequence: UInt32
        let portID: UInt32
        /// The whole message, header included.
        let bytes: UnsafeRawBufferPointer

        /// For `NLMSG_ERROR`: the (negative) errno, 0 for an acknowledgement.
        var errorCode: Int32? {
            guard type == NetlinkConstants.messageError, bytes.count >= NetlinkConstants.headerLength + 4 else { return nil }
            return bytes.loadUnaligned(fromByteOffset: NetlinkConstants.headerLength, as: Int32.self)
        }
    }

    struct Iterator: IteratorProtocol {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        mutating func next() -> Message? {
            guard offset + NetlinkConstants.headerLength <= bytes.count else { return nil }
            let length = Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            guard length >= NetlinkConstants.headerLength, offset + length <= bytes.count else { return nil }
            let message = Message(
                type: bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt16.self),
                flags: bytes.loadUnaligned(fromByteOffset: offset + 6, as: UInt16.self),
                sequence: bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self),
                portID: bytes.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self),
                bytes: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)]))
            offset += NetlinkConstants.align(length)
            return message
        }
    }

    func makeIterator() -> Iterator { Iterator(bytes: bytes) }
}
