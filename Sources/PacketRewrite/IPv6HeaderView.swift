/// The fixed IPv6 header (RFC 8200 §3) in place. Extension headers are walked by `PacketView`.
///
/// Non-owning, like every view here. Payload length and next header define the layout and are
/// read-only; hop limit, traffic class, flow label and the addresses can be set.
@frozen
public struct IPv6HeaderView {
    /// The fixed header and everything after it, up to the end of the packet.
    public let bytes: UnsafeMutableRawBufferPointer

    @inlinable
    public init(validating bytes: UnsafeMutableRawBufferPointer) throws(PacketError) {
        guard bytes.count >= 40 else { throw .truncatedIPHeader }
        // Safe: count >= 40.
        let version = bytes.wireUInt8(at: 0) >> 4
        guard version == 6 else { throw .unsupportedIPVersion(version) }
        self.bytes = bytes
    }

    /// For callers that have validated the 40-byte fixed header.
    @inlinable
    init(unchecked bytes: UnsafeMutableRawBufferPointer) {
        self.bytes = bytes
    }

    // Safe, every accessor: the fixed header is 40 bytes (checked at validation).

    @inlinable public var version: UInt8 { bytes.wireUInt8(at: 0) >> 4 }

    @inlinable public var trafficClass: UInt8 {
        get { UInt8(truncatingIfNeeded: bytes.wireUInt32(at: 0) >> 20) }
        nonmutating set {
            let word = bytes.wireUInt32(at: 0) & 0xF00F_FFFF | UInt32(newValue) << 20
            bytes.setWireUInt32(word, at: 0)
        }
    }

    /// 20 bits; higher bits of a new value are dropped.
    @inlinable public var flowLabel: UInt32 {
        get { bytes.wireUInt32(at: 0) & 0x000F_FFFF }
        nonmutating set {
            let word = bytes.wireUInt32(at: 0) & 0xFFF0_0000 | newValue & 0x000F_FFFF
            bytes.setWireUInt32(word, at: 0)
        }
    }

    /// Bytes after the fixed header, extension headers included.
    @inlinable public var payloadLength: UInt16 { bytes.wireUInt16(at: 4) }

    @inlinable public var nextHeader: IPProtocolNumber { IPProtocolNumber(rawValue: bytes.wireUInt8(at: 6)) }

    @inlinable public var hopLimit: UInt8 {
        get { bytes.wireUInt8(at: 7) }
        nonmutating set { bytes.setWireUInt8(newValue, at: 7) }
    }

    @inlinable public var source: IPv6Address {
        get { bytes.wireIPv6Address(at: 8) }
        nonmutating set { bytes.setWireIPv6Address(newValue, at: 8) }
    }

    @inlinable public var destination: IPv6Address {
        get { bytes.wireIPv6Address(at: 24) }
        nonmutating set { bytes.setWireIPv6Address(newValue, at: 24) }
    }
}
