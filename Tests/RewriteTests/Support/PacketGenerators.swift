import PacketRewrite
import PropertyBased

/// Generators of random, well-formed `TestPacket`s for the property tests.
enum PacketGen {
    /// 128 random bits and a port: an endpoint of either family (IPv4 takes the low 32 bits).
    static let endpoint = zip(Gen.uint64(), Gen.uint64(), Gen.uint16())

    static func address(_ bits: (UInt64, UInt64, UInt16), ipv6: Bool) -> IPAddress {
        ipv6 ? .v6(IPv6Address(high: bits.0, low: bits.1)) : .v4(IPv4Address(rawValue: UInt32(truncatingIfNeeded: bits.1)))
    }

    /// Up to four IPv6 extension headers of the kinds PacketView walks: Hop-by-Hop (first only),
    /// Destination Options, a Segment Routing header with no segments left, an atomic fragment.
    static let extensionHeaders = zip(Gen.int(in: 0...3), Gen.int(in: 0...2)).array(of: 0...4)

    static func extensionHeaders(_ raw: [(Int, Int)]) -> [TestPacket.ExtensionHeader] {
        raw.enumerated().map { index, element in
            let (kind, extra) = element
            switch kind {
            case 0 where index == 0: return .hopByHop(extraUnits: extra)
            case 0, 1: return .destinationOptions(extraUnits: extra)
            case 2: return .routing(segments: extra, segmentsLeft: 0)
            default: return .fragment(offset: 0, more: false)
            }
        }
    }

    static let payload = Gen.uint8().array(of: 0...300)

    /// Random TCP or UDP packets over IPv4 or IPv6, with IPv4 options, IPv6 extension headers,
    /// TCP options, odd and even payloads, IPv4 UDP without checksum, and trailing bytes after
    /// the declared length.
    static var packet: Generator<TestPacket, some SendableSequenceType> {
        zip(
            zip(Gen.bool, Gen.bool, endpoint, endpoint),
            zip(Gen.int(in: 0...10), extensionHeaders, Gen.int(in: 0...10), payload, Gen.bool(0.25), Gen.int(in: 0...7))
        ).map { addressing, shape in
            let (ipv6, udp, from, to) = addressing
            let (ipv4OptionWords, headers, tcpOptionWords, payload, noChecksum, trailer) = shape
            var packet = TestPacket()
            packet.proto = udp ? .udp : .tcp
            packet.source = address(from, ipv6: ipv6)
            packet.sourcePort = from.2
            packet.destination = address(to, ipv6: ipv6)
            packet.destinationPort = to.2
            if ipv6 {
                packet.extensionHeaders = extensionHeaders(headers)
            } else {
                // NOPs then End of Option List: options whose content no parser should care about.
                packet.ipv4Options = [UInt8](repeating: 1, count: max(ipv4OptionWords * 4 - 1, 0)) + (ipv4OptionWords > 0 ? [0] : [])
            }
            if !udp {
                packet.tcpOptions = [UInt8](repeating: 1, count: tcpOptionWords * 4)
            }
            packet.payload = payload
            packet.udpWithoutChecksum = udp && !ipv6 && noChecksum
            packet.trailer = [UInt8](repeating: 0xEE, count: trailer)
            return packet
        }
    }
}
