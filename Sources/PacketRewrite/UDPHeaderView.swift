/// A UDP header (RFC 768) in place.
///
/// Non-owning. The length field defines the layout and is read-only.
@frozen
public struct UDPHeaderView {
    /// The datagram: header and payload (up to the end of the IP packet, which may be longer
    /// than `length`).
    public let bytes: UnsafeMutableRawBufferPointer

    @inlinable
    public init(validating bytes: UnsafeMutableRawBufferPointer) throws(PacketError) {
        guard bytes.count >= 8 else { throw .truncatedTransportHeader }
        // Safe: count >= 8.
        let length = Int(bytes.wireUInt16(at: 4))
        guard length >= 8, length <= bytes.count else { throw .badUDPLength }
        self.bytes = bytes
    }

    /// For callers that have validated the 8-byte header.
    @inlinable
    init(unchecked bytes: UnsafeMutableRawBufferPointer) {
        self.bytes = bytes
    }

    // Safe, every accessor: the header is 8 bytes (checked at validation).

    @inlinable public var sourcePort: UInt16 {
        get { bytes.wireUInt16(at: 0) }
        nonmutating set { bytes.setWireUInt16(newValue, at: 0) }
    }

    @inlinable public var destinationPort: UInt16 {
        get { bytes.wireUInt16(at: 2) }
        nonmutating set { bytes.setWireUInt16(newValue, at: 2) }
    }

    /// Header plus payload in bytes.
    @inlinable public var length: UInt16 { bytes.wireUInt16(at: 4) }

    /// 0 on IPv4 means "no checksum" (RFC 768); on IPv6 it is not allowed (RFC 8200 §8.1).
    @inlinable public var checksum: UInt16 {
        get { bytes.wireUInt16(at: 6) }
        nonmutating set { bytes.setWireUInt16(newValue, at: 6) }
    }
}
