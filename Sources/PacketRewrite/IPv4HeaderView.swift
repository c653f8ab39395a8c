/// An IPv4 header (RFC 791) in place: reads and writes go straight to the packet's bytes.
///
/// Non-owning: it is valid only while the buffer it was made from is. Fields that define the
/// packet's layout (version, IHL, total length, protocol, fragment fields) are read-only,
/// because the view's bounds were validated against them; the others can be set.
@frozen
public struct IPv4HeaderView {
    /// The header and everything after it, up to the end of the packet.
    public let bytes: UnsafeMutableRawBufferPointer

    /// Checks only what the view itself needs: version 4, IHL >= 5, the whole header present.
    @inlinable
    public init(validating bytes: UnsafeMutableRawBufferPointer) throws(PacketError) {
        guard bytes.count >= 20 else { throw .truncatedIPHeader }
        // Safe: count >= 20.
        let first = bytes.wireUInt8(at: 0)
        guard first >> 4 == 4 else { throw .unsupportedIPVersion(first >> 4) }
        guard first & 0x0F >= 5 else { throw .badIPv4HeaderLength }
        guard Int(first & 0x0F) &* 4 <= bytes.count else { throw .truncatedIPHeader }
        self.bytes = bytes
    }

    /// For callers that have validated at least the full header (IHL * 4 bytes).
    @inlinable
    init(unchecked bytes: UnsafeMutableRawBufferPointer) {
        self.bytes = bytes
    }

    // Safe, every accessor: the header is at least 20 bytes (checked at validation).

    @inlinable public var version: UInt8 { bytes.wireUInt8(at: 0) >> 4 }

    /// Header length in bytes (IHL * 4), options included.
    @inlinable public var headerLength: Int { Int(bytes.wireUInt8(at: 0) & 0x0F) &* 4 }

    /// DSCP and ECN.
    @inlinable public var typeOfService: UInt8 {
        get { bytes.wireUInt8(at: 1) }
        nonmutating set { bytes.setWireUInt8(newValue, at: 1) }
    }

    @inlinable public var totalLength: UInt16 { bytes.wireUInt16(at: 2) }

    @inlinable public var identification: UInt16 {
        get { bytes.wireUInt16(at: 4) }
        nonmutating set { bytes.setWireUInt16(newValue, at: 4) }
    }

    @inlinable public var dontFragment: Bool { bytes.wireUInt16(at: 6) & 0x4000 != 0 }

    @inlinable public var moreFragments: Bool { bytes.wireUInt16(at: 6) & 0x2000 != 0 }

    /// In units of 8 bytes, as on the wire.
    @inlinable public var fragmentOffset: UInt16 { bytes.wireUInt16(at: 6) & 0x1FFF }

    @inlinable public var timeToLive: UInt8 {
        get { bytes.wireUInt8(at: 8) }
        nonmutating set { bytes.setWireUInt8(newValue, at: 8) }
    }

    @inlinable public var protocolNumber: IPProtocolNumber {
        IPProtocolNumber(rawValue: bytes.wireUInt8(at: 9))
    }

    @inlinable public var headerChecksum: UInt16 {
        get { bytes.wireUInt16(at: 10) }
        nonmutating set { bytes.setWireUInt16(newValue, at: 10) }
    }

    @inlinable public var source: IPv4Address {
        get { IPv4Address(rawValue: bytes.wireUInt32(at: 12)) }
        nonmutating set { bytes.setWireUInt32(newValue.rawValue, at: 12) }
    }

    @inlinable public var destination: IPv4Address {
        get { IPv4Address(rawValue: bytes.wireUInt32(at: 16)) }
        nonmutating set { bytes.setWireUInt32(newValue.rawValue, at: 16) }
    }

    /// The header checksum this header should carry, whatever its checksum field now holds.
    @inlinable public var computedHeaderChecksum: UInt16 {
        // Subtracting the field in one's complement (adding its complement) equals summing
        // with the field zeroed, without writing to the packet.
        let sum = InternetChecksum.sum(UnsafeRawBufferPointer(headerBytes))
        return ~InternetChecksum.add(sum, ~headerChecksum)
    }

    /// As the kernel checks it (`ip_fast_csum`): the sum over the header, field included, is
    /// 0xFFFF.
    @inlinable public var headerChecksumIsValid: Bool {
        InternetChecksum.sum(UnsafeRawBufferPointer(headerBytes)) == 0xFFFF
    }

    /// Just the header, options included.
    @inlinable public var headerBytes: UnsafeMutableRawBufferPointer {
        // Safe: validation proved headerLength <= bytes.count.
        bytes.uncheckedSlice(from: 0, count: headerLength)
    }
}
