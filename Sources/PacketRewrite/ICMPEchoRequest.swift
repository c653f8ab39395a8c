/// An ICMP echo request (IPv4 type 8, or ICMPv6 type 128), validated, that can be turned into
/// its own echo reply in place.
///
/// Why in place: a service address is on no interface, so nothing on the node answers a ping to
/// it (a newcomer's first confusion). With `answerPing`, the worker hands the request back to
/// the kernel as the reply (addresses swapped, type changed, checksums updated), and the kernel
/// routes it to the client like any forwarded packet: no socket, no state, no table.
///
/// Only the plain shapes are taken: an IPv4 header (options allowed) that is not a fragment, or
/// an IPv6 header followed directly by ICMPv6. Anything else is not a ping we answer.
@frozen
public struct ICMPEchoRequest {
    /// The packet, cut to the length its IP header declares.
    public let bytes: UnsafeMutableRawBufferPointer
    public let ipVersion: IPVersion
    @usableFromInline let icmpOffset: Int

    /// The hop limit of a reply: the usual initial TTL of Linux.
    @inlinable static var replyHopLimit: UInt8 { 64 }

    /// Whether `buffer` holds an ICMP or ICMPv6 packet at all: the one-byte test the worker
    /// makes before anything else, so TCP and UDP pay nothing more.
    @inlinable @inline(__always)
    public static func isICMP(_ buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard buffer.count >= 20 else { return false }
        switch buffer.wireUInt8(at: 0) >> 4 {
        case 4: return buffer.wireUInt8(at: 9) == IPProtocolNumber.icmp.rawValue
        case 6: return buffer.count >= 40 && buffer.wireUInt8(at: 6) == IPProtocolNumber.icmpv6.rawValue
        default: return false
        }
    }

    /// Validates `buffer` as an echo request; nil for any other packet.
    @inlinable
    public init?(validating buffer: UnsafeMutableRawBufferPointer) {
        guard buffer.count >= 20 else { return nil }
        switch buffer.wireUInt8(at: 0) >> 4 {
        case 4:
            let headerLength = Int(buffer.wireUInt8(at: 0) & 0x0F) &* 4
            let totalLength = Int(buffer.wireUInt16(at: 2))
            guard headerLength >= 20, totalLength <= buffer.count, totalLength >= headerLength &+ 8,
                  buffer.wireUInt16(at: 6) & 0x3FFF == 0,   // neither a fragment nor the first of several
                  buffer.wireUInt8(at: 9) == IPProtocolNumber.icmp.rawValue,
                  buffer.wireUInt8(at: headerLength) == 8, buffer.wireUInt8(at: headerLength &+ 1) == 0
            else { return nil }
            self.bytes = buffer.uncheckedSlice(from: 0, count: totalLength)
            self.ipVersion = .v4
            self.icmpOffset = headerLength
        case 6:
            guard buffer.count >= 48 else { return nil }
            let totalLength = 40 &+ Int(buffer.wireUInt16(at: 4))
            guard totalLength <= buffer.count, totalLength >= 48,
                  buffer.wireUInt8(at: 6) == IPProtocolNumber.icmpv6.rawValue,
                  buffer.wireUInt8(at: 40) == 128, buffer.wireUInt8(at: 41) == 0
            else { return nil }
            self.bytes = buffer.uncheckedSlice(from: 0, count: totalLength)
            self.ipVersion = .v6
            self.icmpOffset = 40
        default:
            return nil
        }
    }

    /// Where the request is going: the address whose owner should answer.
    @inlinable
    public var destination: IPAddress {
        switch ipVersion {
        case .v4: .v4(IPv4Address(rawValue: bytes.wireUInt32(at: 16)))
        case .v6: .v6(bytes.wireIPv6Address(at: 24))
        }
    }

    /// Who asked.
    @inlinable
    public var source: IPAddress {
        switch ipVersion {
        case .v4: .v4(IPv4Address(rawValue: bytes.wireUInt32(at: 12)))
        case .v6: .v6(bytes.wireIPv6Address(at: 8))
        }
    }

    /// Makes the packet the echo reply from `destination` to `source`: the identifier,
    /// sequence number and data stay, as RFC 792 and RFC 4443 ask.
    ///
    /// Swapping the two addresses changes no checksum (a ones' complement sum does not depend
    /// on the order of its words), so only the type (and the IPv4 TTL) are patched, each with
    /// an RFC 1624 update.
    @inlinable
    public func turnIntoReply() {
        switch ipVersion {
        case .v4:
            let source = bytes.wireUInt32(at: 12)
            bytes.setWireUInt32(bytes.wireUInt32(at: 16), at: 12)
            bytes.setWireUInt32(source, at: 16)
            let oldTTLWord = bytes.wireUInt16(at: 8)
            let newTTLWord = UInt16(Self.replyHopLimit) << 8 | (oldTTLWord & 0x00FF)
            bytes.setWireUInt16(newTTLWord, at: 8)
            bytes.setWireUInt16(InternetChecksum.updated(bytes.wireUInt16(at: 10), from: oldTTLWord, to: newTTLWord), at: 10)
            patchType(to: 0)
        case .v6:
            let source = bytes.wireIPv6Address(at: 8)
            bytes.setWireIPv6Address(bytes.wireIPv6Address(at: 24), at: 8)
            bytes.setWireIPv6Address(source, at: 24)
            bytes.setWireUInt8(Self.replyHopLimit, at: 7)
            patchType(to: 129)
        }
    }

    @inlinable
    func patchType(to type: UInt8) {
        let oldWord = bytes.wireUInt16(at: icmpOffset)
        let newWord = UInt16(type) << 8 | (oldWord & 0x00FF)
        bytes.setWireUInt16(newWord, at: icmpOffset)
        let checksumOffset = icmpOffset &+ 2
        bytes.setWireUInt16(InternetChecksum.updated(bytes.wireUInt16(at: checksumOffset), from: oldWord, to: newWord), at: checksumOffset)
    }
}
