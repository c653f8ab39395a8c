import PacketRewrite

/// A test-only packet builder: describes a packet field by field and writes its bytes with
/// every checksum computed by `ReferenceChecksum`, independently of PacketRewrite. Rewriting a
/// built packet and building the rewritten description must give the same bytes.
struct TestPacket: Sendable, CustomStringConvertible {
    enum ExtensionHeader: Sendable, Equatable {
        /// Options padded with PadN to `8 * (extraUnits + 1)` bytes.
        case hopByHop(extraUnits: Int)
        case destinationOptions(extraUnits: Int)
        /// A Segment Routing header (type 4) with `segments` addresses.
        case routing(segments: Int, segmentsLeft: UInt8)
        /// Offset in 8-byte units; `more` is the M flag.
        case fragment(offset: UInt16, more: Bool)

        var protocolNumber: UInt8 {
            switch self {
            case .hopByHop: 0
            case .destinationOptions: 60
            case .routing: 43
            case .fragment: 44
            }
        }

        func bytes(next: UInt8) -> [UInt8] {
            switch self {
            case .hopByHop(let extra), .destinationOptions(let extra):
                return [next, UInt8(extra), 1, UInt8(4 + 8 * extra)] + [UInt8](repeating: 0, count: 4 + 8 * extra)
            case .routing(let segments, let left):
                var header: [UInt8] = [next, UInt8(2 * segments), 4, left, UInt8(max(segments - 1, 0)), 0, 0, 0]
                for k in 0..<segments { header += IPv6Address(high: 0x2001_0db8_0000_0000, low: UInt64(k + 1)).wireBytes }
                return header
            case .fragment(let offset, let more):
                let field = offset << 3 | (more ? 1 : 0)
                return [next, 0, UInt8(field >> 8), UInt8(field & 0xFF), 0x12, 0x34, 0x56, 0x78]
            }
        }
    }

    var proto: IPProtocolNumber = .tcp
    var source: IPAddress = .v4(IPv4Address(10, 0, 0, 1))
    var destination: IPAddress = .v4(IPv4Address(10, 96, 0, 10))
    var sourcePort: UInt16 = 40000
    var destinationPort: UInt16 = 80
    /// IPv4 options, a multiple of 4 bytes, at most 40.
    var ipv4Options: [UInt8] = []
    var ipv4MoreFragments = false
    var ipv4FragmentOffset: UInt16 = 0
    var extensionHeaders: [ExtensionHeader] = []
    /// TCP options, a multiple of 4 bytes, at most 40.
    var tcpOptions: [UInt8] = []
    var tcpFlags: TCPFlags = .syn
    var payload: [UInt8] = []
    /// IPv4 UDP only: send checksum 0 ("none").
    var udpWithoutChecksum = false
    /// Bytes after the packet's declared end, as a padded netlink attribute would have.
    var trailer: [UInt8] = []
    /// Extra bytes after the UDP datagram but inside the IP packet (IP-level padding).
    var udpPadding: [UInt8] = []

    var isIPv6: Bool { !source.isIPv4 }

    var transportOffset: Int {
        isIPv6 ? 40 + extensionHeaders.reduce(0) { $0 + $1.bytes(next: 0).count } : 20 + ipv4Options.count
    }

    var flow: FlowTuple {
        FlowTuple(proto: proto, source: source, sourcePort: sourcePort,
                  destination: destination, destinationPort: destinationPort)
    }

    var description: String {
        "\(flow) ipv4Options=\(ipv4Options.count) ext=\(extensionHeaders) tcpOptions=\(tcpOptions.count) "
            + "payload=\(payload.count) udpNoChecksum=\(udpWithoutChecksum) trailer=\(trailer.count)"
    }

    /// The segment with its checksum, over the pseudo-header of the header addresses.
    func segment() -> [UInt8] {
        var segment: [UInt8]
        let checksumOffset: Int
        if proto == .tcp {
            let headerLength = 20 + tcpOptions.count
            segment = [UInt8(sourcePort >> 8), UInt8(sourcePort & 0xFF), UInt8(destinationPort >> 8), UInt8(destinationPort & 0xFF),
                       0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0,
                       UInt8(headerLength / 4) << 4, tcpFlags.rawValue, 0xFA, 0xF0, 0, 0, 0, 0] + tcpOptions + payload
            checksumOffset = 16
        } else {
            let length = 8 + payload.count
            segment = [UInt8(sourcePort >> 8), UInt8(sourcePort & 0xFF), UInt8(destinationPort >> 8), UInt8(destinationPort & 0xFF),
                       UInt8(length >> 8), UInt8(length & 0xFF), 0, 0] + payload
            checksumOffset = 6
        }
        let covered = segment.count
        if !(proto == .udp && udpWithoutChecksum && !isIPv6) {
            let pseudo: [UInt8]
            switch (source, destination) {
            case (.v4(let s), .v4(let d)):
                pseudo = ReferenceChecksum.ipv4PseudoHeader(source: s, destination: d, proto: proto.rawValue, length: covered)
            case (.v6(let s), .v6(let d)):
                pseudo = ReferenceChecksum.ipv6PseudoHeader(source: s, destination: d, proto: proto.rawValue, length: covered)
            default:
                fatalError("mixed address families in a TestPacket")
            }
            var value = ReferenceChecksum.checksum(pseudo + segment)
            if proto == .udp && value == 0 { value = 0xFFFF }
            segment.setField16(value, at: checksumOffset)
        }
        return segment + (proto == .udp ? udpPadding : [])
    }

    /// The packet's bytes, trailer included.
    func bytes() -> [UInt8] { bytes(segment: segment()) }

    /// The packet around a given segment (for tests that cut or fragment the segment).
    func bytes(segment: [UInt8]) -> [UInt8] {
        switch (source, destination) {
        case (.v4(let s), .v4(let d)):
            let headerLength = 20 + ipv4Options.count
            let total = headerLength + segment.count
            let fragment = (ipv4MoreFragments ? 0x2000 : 0x4000) | ipv4FragmentOffset
            var header: [UInt8] = [0x40 | UInt8(headerLength / 4), 0, UInt8(total >> 8), UInt8(total & 0xFF),
                                   0xBE, 0xEF, UInt8(fragment >> 8), UInt8(fragment & 0xFF),
                                   64, proto.rawValue, 0, 0] + s.wireBytes + d.wireBytes + ipv4Options
            header.setField16(ReferenceChecksum.checksum(header), at: 10)
            return header + segment + trailer
        case (.v6(let s), .v6(let d)):
            var chain: [UInt8] = []
            let nexts = extensionHeaders.dropFirst().map(\.protocolNumber) + [proto.rawValue]
            for (header, next) in zip(extensionHeaders, nexts) { chain += header.bytes(next: next) }
            let payloadLength = chain.count + segment.count
            let first = extensionHeaders.first?.protocolNumber ?? proto.rawValue
            let header: [UInt8] = [0x6A, 0x0A, 0xBC, 0xDE, UInt8(payloadLength >> 8), UInt8(payloadLength & 0xFF), first, 64]
                + s.wireBytes + d.wireBytes
            return header + chain + segment + trailer
        default:
            fatalError("mixed address families in a TestPacket")
        }
    }
}
