import PacketRewrite
import Testing

@Suite("Header views")
struct HeaderViewTests {
    @Test func ipv4HeaderFieldsReadWhatTheWireSays() throws {
        var packet = TestPacket()
        packet.ipv4Options = [1, 1, 1, 0]
        try withPacket(packet.bytes()) { view in
            let ip = try #require(view.ipv4)
            #expect(ip.version == 4)
            #expect(ip.headerLength == 24)
            #expect(ip.totalLength == 44)
            #expect(ip.identification == 0xBEEF)
            #expect(ip.dontFragment && !ip.moreFragments && ip.fragmentOffset == 0)
            #expect(ip.timeToLive == 64)
            #expect(ip.protocolNumber == .tcp)
            #expect(ip.source == IPv4Address(10, 0, 0, 1))
            #expect(ip.destination == IPv4Address(10, 96, 0, 10))
            #expect(ip.headerChecksumIsValid)
            #expect(ip.computedHeaderChecksum == ip.headerChecksum)
        }
    }

    @Test func settingAnIPv4FieldWritesOnlyItsBytes() throws {
        let bytes = TestPacket().bytes()
        let after = try withPacket(bytes) { view in
            let ip = try #require(view.ipv4)
            ip.timeToLive = 3
            ip.destination = IPv4Address(192, 0, 2, 7)
            #expect(!ip.headerChecksumIsValid, "a view's setter does not fix the checksum")
            ip.headerChecksum = ip.computedHeaderChecksum
            #expect(ip.headerChecksumIsValid)
        }.bytes
        var expected = bytes
        expected[8] = 3
        expected.replaceSubrange(16..<20, with: [192, 0, 2, 7])
        expected.setField16(0, at: 10)
        expected.setField16(ReferenceChecksum.checksum(Array(expected[0..<20])), at: 10)
        #expect(after == expected)
    }

    @Test func ipv6TrafficClassAndFlowLabelShareAWordWithoutClobbering() throws {
        var packet = TestPacket()
        packet.source = .v6(IPv6Address("fd00::1")!)
        packet.destination = .v6(IPv6Address("fd00::2")!)
        try withPacket(packet.bytes()) { view in
            let ip = try #require(view.ipv6)
            #expect(ip.version == 6)
            #expect(ip.trafficClass == 0xA0)
            #expect(ip.flowLabel == 0xABCDE)
            ip.trafficClass = 0x5B
            #expect(ip.flowLabel == 0xABCDE && ip.version == 6)
            ip.flowLabel = 0xFFF12345
            #expect(ip.flowLabel == 0x12345 && ip.trafficClass == 0x5B && ip.version == 6)
            #expect(ip.payloadLength == 20)
            #expect(ip.nextHeader == .tcp)
            #expect(ip.hopLimit == 64)
            #expect(ip.source == IPv6Address("fd00::1")!)
            ip.destination = IPv6Address("2001:db8::42")!
            #expect(view.destinationAddress == .v6(IPv6Address("2001:db8::42")!))
        }
    }

    @Test func tcpHeaderFieldsReadWhatTheWireSays() throws {
        var packet = TestPacket()
        packet.tcpOptions = [2, 4, 5, 0xB4]
        packet.tcpFlags = [.syn, .ece, .cwr]
        try withPacket(packet.bytes()) { view in
            let tcp = try #require(view.tcp)
            #expect(tcp.sourcePort == 40000 && tcp.destinationPort == 80)
            #expect(tcp.sequenceNumber == 0x1122_3344)
            #expect(tcp.acknowledgmentNumber == 0)
            #expect(tcp.dataOffset == 6 && tcp.headerLength == 24)
            #expect(tcp.flags == [.syn, .ece, .cwr])
            #expect(tcp.isSYN)
            #expect(tcp.window == 0xFAF0)
            #expect(tcp.urgentPointer == 0)
            tcp.flags.insert(.ack)
            #expect(!tcp.isSYN && !view.isTCPSYN)
        }
    }

    @Test func udpHeaderFieldsReadWhatTheWireSays() throws {
        var packet = TestPacket()
        packet.proto = .udp
        packet.destinationPort = 53
        packet.payload = [1, 2, 3, 4, 5]
        try withPacket(packet.bytes()) { view in
            let udp = try #require(view.udp)
            #expect(udp.sourcePort == 40000 && udp.destinationPort == 53)
            #expect(udp.length == 13)
            #expect(udp.checksum != 0)
        }
    }

    @Test func standaloneViewsValidateWhatTheyNeed() {
        var header = [UInt8](repeating: 0, count: 20)
        header[0] = 0x44
        #expect(throws: PacketError.badIPv4HeaderLength) { try mutating(header) { try IPv4HeaderView(validating: $0) } }
        header[0] = 0x46
        #expect(throws: PacketError.truncatedIPHeader) { try mutating(header) { try IPv4HeaderView(validating: $0) } }
        header[0] = 0x65
        #expect(throws: PacketError.unsupportedIPVersion(6)) { try mutating(header) { try IPv4HeaderView(validating: $0) } }
        #expect(throws: PacketError.truncatedIPHeader) { try mutating(header) { try IPv6HeaderView(validating: $0) } }
        #expect(throws: PacketError.badTCPDataOffset) { try mutating(header) { try TCPHeaderView(validating: $0) } }
        #expect(throws: PacketError.truncatedTransportHeader) { try mutating(Array(header.prefix(7))) { try UDPHeaderView(validating: $0) } }
        #expect(throws: PacketError.badUDPLength) { try mutating(header) { try UDPHeaderView(validating: $0) } }
    }
}
