/// A TCP header (RFC 9293 §3.1) in place, options included.
///
/// Non-owning. The data offset defines the layout and is read-only. Setting a port or an
/// address elsewhere does not fix the checksum: `PacketView`'s rewrites do.
@frozen
public struct TCPHeaderView {
    /// The segment: header, options and payload.
    public let bytes: UnsafeMutableRawBufferPointer

    @inlinable
    public init(validating bytes: UnsafeMutableRawBufferPointer) throws(PacketError) {
        guard bytes.count >= 20 else { throw .truncatedTransportHeader }
        // Safe: count >= 20.
        let headerLength = Int(bytes.wireUInt8(at: 12) >> 4) &* 4
        guard headerLength >= 20, headerLength <= bytes.count else { throw .badTCPDataOffset }
        self.bytes = bytes
    }

    /// For callers that have validated the 20-byte fixed header and the data offset.
    @inlinable
    init(unchecked bytes: UnsafeMutableRawBufferPointer) {
        self.bytes = bytes
    }

    // Safe, every accessor: the fixed header is 20 bytes (checked at validation).

    @inlinable public var sourcePort: UInt16 {
        get { bytes.wireUInt16(at: 0) }
        nonmutating set { bytes.setWireUInt16(newValue, at: 0) }
    }

    @inlinable public var destinationPort: UInt16 {
        get { bytes.wireUInt16(at: 2) }
        nonmutating set { bytes.setWireUInt16(newValue, at: 2) }
    }

    @inlinable public var sequenceNumber: UInt32 {
        get { bytes.wireUInt32(at: 4) }
        nonmutating set { bytes.setWireUInt32(newValue, at: 4) }
    }

    @inlinable public var acknowledgmentNumber: UInt32 {
        get { bytes.wireUInt32(at: 8) }
        nonmutating set { bytes.setWireUInt32(newValue, at: 8) }
    }

    /// Header length in 32-bit words, as on the wire.
    @inlinable public var dataOffset: UInt8 { bytes.wireUInt8(at: 12) >> 4 }

    /// Header length in bytes, options included.
    @inlinable public var headerLength: Int { Int(dataOffset) &* 4 }

    @inlinable public var flags: TCPFlags {
        get { TCPFlags(rawValue: bytes.wireUInt8(at: 13)) }
        nonmutating set { bytes.setWireUInt8(newValue.rawValue, at: 13) }
    }

    @inlinable public var window: UInt16 {
        get { bytes.wireUInt16(at: 14) }
        nonmutating set { bytes.setWireUInt16(newValue, at: 14) }
    }

    @inlinable public var checksum: UInt16 {
        get { bytes.wireUInt16(at: 16) }
        nonmutating set { bytes.setWireUInt16(newValue, at: 16) }
    }

    @inlinable public var urgentPointer: UInt16 {
        get { bytes.wireUInt16(at: 18) }
        nonmutating set { bytes.setWireUInt16(newValue, at: 18) }
    }

    /// A first SYN: SYN without ACK, what opens a connection and what the balancer picks for.
    @inlinable public var isSYN: Bool {
        bytes.wireUInt8(at: 13) & (TCPFlags.syn.rawValue | TCPFlags.ack.rawValue) == TCPFlags.syn.rawValue
    }
}
