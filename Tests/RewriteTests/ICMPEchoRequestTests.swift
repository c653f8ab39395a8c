import PacketRewrite
import PropertyBased
import Testing

/// `answerPing`: an echo request to a service address becomes its own reply in place.
@Suite struct ICMPEchoRequestTests {
    /// An echo request as `ping` sends it, with both checksums computed by the reference sum.
    static func echoRequest(ipv6: Bool, from source: (UInt64, UInt64, UInt16), to destination: (UInt64, UInt64, UInt16),
                            identifier: UInt16, sequence: UInt16, ttl: UInt8, data: [UInt8], ipv4OptionWords: Int = 0) -> [UInt8] {
        let echoType: UInt8 = ipv6 ? 128 : 8
        var icmp: [UInt8] = [echoType, 0, 0, 0, UInt8(identifier >> 8), UInt8(identifier & 0xFF), UInt8(sequence >> 8), UInt8(sequence & 0xFF)] + data
        if ipv6 {
            let from = IPv6Address(high: source.0, low: source.1), to = IPv6Address(high: destination.0, low: destination.1)
            icmp.setField16(ReferenceChecksum.checksum(
                ReferenceChecksum.ipv6PseudoHeader(source: from, destination: to, proto: 58, length: icmp.count) + icmp), at: 2)
            return [0x60, 0, 0, 0, UInt8(icmp.count >> 8), UInt8(icmp.count & 0xFF), 58, ttl] + from.wireBytes + to.wireBytes + icmp
        }
        icmp.setField16(ReferenceChecksum.checksum(icmp), at: 2)
        let options = [UInt8](repeating: 1, count: ipv4OptionWords * 4)
        let headerLength = 20 + options.count
        let total = headerLength + icmp.count
        let from = IPv4Address(rawValue: UInt32(truncatingIfNeeded: source.1)), to = IPv4Address(rawValue: UInt32(truncatingIfNeeded: destination.1))
        var header: [UInt8] = [0x40 | UInt8(headerLength / 4), 0, UInt8(total >> 8), UInt8(total & 0xFF), 0x12, 0x34, 0x40, 0, ttl, 1, 0, 0]
            + from.wireBytes + to.wireBytes + options
        header.setField16(ReferenceChecksum.checksum(header), at: 10)
        return header + icmp
    }

    static let request = zip(zip(Gen.bool, PacketGen.endpoint, PacketGen.endpoint, Gen.int(in: 0...10)),
                             zip(Gen.uint16(), Gen.uint16(), Gen.uint8(), Gen.uint8().array(of: 0...200)))

    @Test func aReplyCarriesSwappedAddressesTheReplyTypeTheSameIdentifierSequenceAndDataAndValidChecksums() async {
        await propertyCheck(count: 400, input: Self.request) { addressing, fields in
            let (ipv6, from, to, optionWords) = addressing
            let (identifier, sequence, ttl, data) = fields
            let bytes = Self.echoRequest(ipv6: ipv6, from: from, to: to, identifier: identifier, sequence: sequence, ttl: ttl,
                                         data: data, ipv4OptionWords: ipv6 ? 0 : optionWords)
            let (seen, reply) = mutating(bytes) { buffer -> (IPAddress?, IPAddress?) in
                guard let echo = ICMPEchoRequest(validating: buffer) else { return (nil, nil) }
                let seen = (echo.source, echo.destination)
                echo.turnIntoReply()
                return seen
            }
            #expect(seen.0 == PacketGen.address(from, ipv6: ipv6))
            #expect(seen.1 == PacketGen.address(to, ipv6: ipv6))
            let icmpOffset = ipv6 ? 40 : 20 + optionWords * 4
            #expect(reply[icmpOffset] == (ipv6 ? 129 : 0))
            #expect(Array(reply[(icmpOffset + 4)...]) == Array(bytes[(icmpOffset + 4)...]), "identifier, sequence and data stay")
            if ipv6 {
                #expect(Array(reply[8..<24]) == Array(bytes[24..<40]) && Array(reply[24..<40]) == Array(bytes[8..<24]))
                #expect(reply[7] == 64)
                let source = IPv6Address(high: to.0, low: to.1), destination = IPv6Address(high: from.0, low: from.1)
                #expect(ReferenceChecksum.sum(ReferenceChecksum.ipv6PseudoHeader(source: source, destination: destination, proto: 58,
                                                                                  length: reply.count - 40) + Array(reply[40...])) == 0xFFFF)
            } else {
                #expect(Array(reply[12..<16]) == Array(bytes[16..<20]) && Array(reply[16..<20]) == Array(bytes[12..<16]))
                #expect(reply[8] == 64)
                #expect(ReferenceChecksum.sum(Array(reply[0..<icmpOffset])) == 0xFFFF, "IPv4 header checksum valid")
                #expect(ReferenceChecksum.sum(Array(reply[icmpOffset...])) == 0xFFFF, "ICMP checksum valid")
            }
        }
    }

    @Test func onlyEchoRequestsAreTaken() {
        let request = Self.echoRequest(ipv6: false, from: (0, 0x0A00_0001, 0), to: (0, 0x0A60_0001, 0),
                                       identifier: 7, sequence: 1, ttl: 64, data: [1, 2, 3])
        var reply = request
        reply[20] = 0
        var fragment = request
        fragment[6] = 0x20   // more fragments
        var udp = request
        udp[9] = 17
        var truncated = request
        truncated.removeLast(4)
        #expect(mutating(request) { ICMPEchoRequest(validating: $0) != nil }.result)
        for other in [reply, fragment, udp, truncated, Array(request[0..<27])] {
            #expect(!mutating(other) { ICMPEchoRequest(validating: $0) != nil }.result)
        }
        var v6 = Self.echoRequest(ipv6: true, from: (1, 2, 0), to: (3, 4, 0), identifier: 1, sequence: 1, ttl: 64, data: [])
        #expect(mutating(v6) { ICMPEchoRequest(validating: $0) != nil }.result)
        v6[40] = 129
        #expect(!mutating(v6) { ICMPEchoRequest(validating: $0) != nil }.result)
    }

    @Test func theOneByteTestTellsICMPFromTCPAndUDP() {
        let ping = Self.echoRequest(ipv6: false, from: (0, 1, 0), to: (0, 2, 0), identifier: 1, sequence: 1, ttl: 64, data: [])
        #expect(mutating(ping) { ICMPEchoRequest.isICMP($0) }.result)
        var tcp = ping
        tcp[9] = 6
        #expect(!mutating(tcp) { ICMPEchoRequest.isICMP($0) }.result)
        #expect(!mutating([0x45, 0, 0]) { ICMPEchoRequest.isICMP($0) }.result)
    }
}
