/// One IPv4 or IPv6 packet carrying TCP or UDP, validated once and then read and rewritten in
/// place.
///
/// The worker's hot path is `PacketView(validating:)`, `flowTuple` (or the single fields), a
/// strategy pick, then `rewriteDestination`. Everything the later accesses need is proved here,
/// once: the IP header and the declared length fit the buffer, the IPv6 extension chain is
/// well formed and bounded, the transport header is whole. After that, every field access is an
/// unchecked load at a known offset, and nothing allocates.
///
/// Non-owning: valid only while the buffer it was made from is (the netlink receive buffer of
/// one batch). All stored properties are trivial values, so copying a view is a few registers.
@frozen
public struct PacketView {
    /// The packet, cut to the length its IP header declares (a netlink attribute may be padded
    /// beyond it). This is what to hand back to the kernel after a rewrite.
    public let bytes: UnsafeMutableRawBufferPointer
    public let ipVersion: IPVersion
    /// TCP or UDP: anything else is refused at validation.
    public let transportProtocol: IPProtocolNumber
    /// Where the TCP or UDP header starts: after the IPv4 options or IPv6 extension headers.
    public let transportOffset: Int
    /// A first fragment (IPv4 more-fragments set, or an IPv6 Fragment header with M set): the
    /// ports are here, but the transport checksum covers later fragments too, so only an
    /// incremental update is possible and the checksum cannot be verified.
    public let isFragment: Bool
    /// The largest "segments left" of any IPv6 Routing header, 0 when there is none. When not 0,
    /// the header's destination is an intermediate hop, not the one the checksum covers.
    public let routingSegmentsLeft: UInt8

    /// The most IPv6 extension headers the walk accepts before `.tooManyExtensionHeaders`.
    /// Real traffic has zero to three; the bound caps the work a crafted packet can cause.
    public static var maximumExtensionHeaders: Int { 8 }

    /// Validates `buffer` as an IP packet carrying a whole TCP or UDP header, or says why not.
    ///
    /// The buffer may be longer than the packet (the declared IP length wins); it may not be
    /// shorter. Validation reads the packet and never writes it.
    @inlinable @inline(__always)
    public init(validating buffer: UnsafeMutableRawBufferPointer) throws(PacketError) {
        guard buffer.count >= 1 else { throw .truncatedIPHeader }
        // Safe: count >= 1.
        let version = buffer.wireUInt8(at: 0) >> 4
        if version == 4 {
            try self.init(validatingIPv4: buffer)
        } else if version == 6 {
            try self.init(validatingIPv6: buffer)
        } else {
            throw .unsupportedIPVersion(version)
        }
    }

    @inlinable @inline(__always)
    init(validatingIPv4 buffer: UnsafeMutableRawBufferPointer) throws(PacketError) {
        guard buffer.count >= 20 else { throw .truncatedIPHeader }
        // Safe, the loads below: all within the 20 bytes just checked.
        let headerLength = Int(buffer.wireUInt8(at: 0) & 0x0F) &* 4
        guard headerLength >= 20 else { throw .badIPv4HeaderLength }
        guard headerLength <= buffer.count else { throw .truncatedIPHeader }
        let totalLength = Int(buffer.wireUInt16(at: 2))
        guard totalLength <= buffer.count else { throw .ipv4TotalLengthBeyondBuffer }
        guard totalLength >= headerLength else { throw .ipv4TotalLengthShorterThanHeader }
        let fragment = buffer.wireUInt16(at: 6)
        guard fragment & 0x1FFF == 0 else { throw .nonFirstFragment }
        let proto = IPProtocolNumber(rawValue: buffer.wireUInt8(at: 9))
        // Safe: totalLength <= buffer.count, and >= 20 so the base address is not nil.
        let packet = buffer.uncheckedSlice(from: 0, count: totalLength)
        let isFragment = fragment & 0x2000 != 0
        try Self.validateTransport(proto, in: packet, at: headerLength, isFragment: isFragment)
        self.bytes = packet
        self.ipVersion = .v4
        self.transportProtocol = proto
        self.transportOffset = headerLength
        self.isFragment = isFragment
        self.routingSegmentsLeft = 0
    }

    /// Out of line: the extension-header walk is bigger than the IPv4 path it would crowd.
    @inlinable @inline(never)
    init(validatingIPv6 buffer: UnsafeMutableRawBufferPointer) throws(PacketError) {
        guard buffer.count >= 40 else { throw .truncatedIPHeader }
        // Safe: the fixed header's 40 bytes were just checked.
        let end = 40 &+ Int(buffer.wireUInt16(at: 4))
        guard end <= buffer.count else { throw .ipv6PayloadLengthBeyondBuffer }
        // Safe: end <= buffer.count, and >= 40 so the base address is not nil.
        let packet = buffer.uncheckedSlice(from: 0, count: end)
        var next = IPProtocolNumber(rawValue: packet.wireUInt8(at: 6))
        var offset = 40
        var headers = 0
        var isFragment = false
        var segmentsLeft: UInt8 = 0
        while next != .tcp && next != .udp {
            switch next {
            case .ipv6HopByHop where headers == 0, .ipv6Routing, .ipv6DestinationOptions, .ipv6Fragment:
                headers &+= 1
                guard headers <= Self.maximumExtensionHeaders else { throw .tooManyExtensionHeaders }
                // Every extension header is at least 8 bytes (RFC 8200 §4).
                guard offset &+ 8 <= end else { throw .truncatedExtensionHeader }
                // Safe, the loads in this case: within [offset, offset + 8), checked above.
                let following = IPProtocolNumber(rawValue: packet.wireUInt8(at: offset))
                let length: Int
                if next == .ipv6Fragment {
                    // RFC 8200 §4.5: fixed 8 bytes; offset in the top 13 bits, M in bit 0.
                    let field = packet.wireUInt16(at: offset &+ 2)
                    guard field >> 3 == 0 else { throw .nonFirstFragment }
                    // Offset 0 without M is an atomic fragment (RFC 6946): a whole datagram.
                    if field & 1 != 0 { isFragment = true }
                    length = 8
                } else {
                    length = (Int(packet.wireUInt8(at: offset &+ 1)) &+ 1) &* 8
                    guard offset &+ length <= end else { throw .truncatedExtensionHeader }
                    if next == .ipv6Routing {
                        segmentsLeft = max(segmentsLeft, packet.wireUInt8(at: offset &+ 3))
                    }
                }
                offset &+= length
                next = following
            default:
                // Includes a Hop-by-Hop header anywhere but first, which the kernel drops too.
                throw .unsupportedProtocol(next)
            }
        }
        try Self.validateTransport(next, in: packet, at: offset, isFragment: isFragment)
        self.bytes = packet
        self.ipVersion = .v6
        self.transportProtocol = next
        self.transportOffset = offset
        self.isFragment = isFragment
        self.routingSegmentsLeft = segmentsLeft
    }

    /// Proves the transport header whole, so that ports and checksum can be read unchecked.
    @inlinable @inline(__always)
    static func validateTransport(
        _ proto: IPProtocolNumber, in packet: UnsafeMutableRawBufferPointer, at offset: Int, isFragment: Bool
    ) throws(PacketError) {
        let available = packet.count &- offset
        if proto == .tcp {
            guard available >= 20 else { throw .truncatedTransportHeader }
            // Safe: offset + 20 <= packet.count.
            let headerLength = Int(packet.wireUInt8(at: offset &+ 12) >> 4) &* 4
            guard headerLength >= 20, headerLength <= available else { throw .badTCPDataOffset }
        } else if proto == .udp {
            guard available >= 8 else { throw .truncatedTransportHeader }
            // Safe: offset + 8 <= packet.count.
            let length = Int(packet.wireUInt16(at: offset &+ 4))
            // A first fragment's UDP length counts the later fragments too.
            guard length >= 8, isFragment || length <= available else { throw .badUDPLength }
        } else {
            throw .unsupportedProtocol(proto)
        }
    }

    // MARK: - Reading

    // Safe, every access below: validation proved the IP header and the transport header
    // (at least 20 bytes of TCP or 8 of UDP from `transportOffset`) inside `bytes`.

    /// The IPv4 header, or nil for an IPv6 packet.
    @inlinable public var ipv4: IPv4HeaderView? {
        ipVersion == .v4 ? IPv4HeaderView(unchecked: bytes) : nil
    }

    /// The fixed IPv6 header, or nil for an IPv4 packet.
    @inlinable public var ipv6: IPv6HeaderView? {
        ipVersion == .v6 ? IPv6HeaderView(unchecked: bytes) : nil
    }

    /// The TCP header, or nil for UDP.
    @inlinable public var tcp: TCPHeaderView? {
        transportProtocol == .tcp ? TCPHeaderView(unchecked: segment) : nil
    }

    /// The UDP header, or nil for TCP.
    @inlinable public var udp: UDPHeaderView? {
        transportProtocol == .udp ? UDPHeaderView(unchecked: segment) : nil
    }

    /// The transport header and payload, to the end of the packet.
    @inlinable @inline(__always) public var segment: UnsafeMutableRawBufferPointer {
        bytes.uncheckedSlice(from: transportOffset, count: bytes.count &- transportOffset)
    }

    @inlinable @inline(__always) public var sourceAddress: IPAddress {
        switch ipVersion {
        case .v4: .v4(IPv4Address(rawValue: bytes.wireUInt32(at: 12)))
        case .v6: .v6(bytes.wireIPv6Address(at: 8))
        }
    }

    @inlinable @inline(__always) public var destinationAddress: IPAddress {
        switch ipVersion {
        case .v4: .v4(IPv4Address(rawValue: bytes.wireUInt32(at: 16)))
        case .v6: .v6(bytes.wireIPv6Address(at: 24))
        }
    }

    /// TCP and UDP both keep the ports in the first four bytes.
    @inlinable @inline(__always) public var sourcePort: UInt16 { bytes.wireUInt16(at: transportOffset) }

    @inlinable @inline(__always) public var destinationPort: UInt16 { bytes.wireUInt16(at: transportOffset &+ 2) }

    /// The flow as this packet carries it: what to pick a backend for.
    @inlinable @inline(__always) public var flowTuple: FlowTuple {
        FlowTuple(
            proto: transportProtocol,
            source: sourceAddress, sourcePort: sourcePort,
            destination: destinationAddress, destinationPort: destinationPort)
    }

    /// SYN set and ACK clear: a connection's first packet (or its retransmit).
    @inlinable @inline(__always) public var isTCPSYN: Bool {
        transportProtocol == .tcp
            && bytes.wireUInt8(at: transportOffset &+ 13) & (TCPFlags.syn.rawValue | TCPFlags.ack.rawValue)
                == TCPFlags.syn.rawValue
    }
}
