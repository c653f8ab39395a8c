import PacketRewrite
import PropertyBased
import Testing

@Suite("PacketView parsing")
struct PacketViewTests {
    @Test func parsedFlowTupleIsTheBuiltOneForAnyPacket() async throws {
        await propertyCheck(count: 300, input: PacketGen.packet) { packet in
            let (view, _) = try withPacket(packet.bytes()) { view in
                (view.flowTuple, view.transportOffset)
            }
            #expect(view.0 == packet.flow)
            #expect(view.1 == packet.transportOffset)
        }
    }

    @Test func bytesAfterTheDeclaredLengthAreNotPartOfThePacket() throws {
        var packet = TestPacket()
        packet.payload = [1, 2, 3]
        packet.trailer = [0xEE, 0xEE, 0xEE, 0xEE]
        let count = try withPacket(packet.bytes()) { $0.bytes.count }.result
        #expect(count == 20 + 20 + 3)
        var v6 = packet
        v6.source = .v6(IPv6Address("fd00::1")!)
        v6.destination = .v6(IPv6Address("fd00::2")!)
        #expect(try withPacket(v6.bytes()) { $0.bytes.count }.result == 40 + 20 + 3)
    }

    @Test func synWithoutAckIsAFirstSYNAndSynAckIsNot() throws {
        var packet = TestPacket()
        #expect(try withPacket(packet.bytes()) { $0.isTCPSYN }.result)
        packet.tcpFlags = [.syn, .ack]
        #expect(try !withPacket(packet.bytes()) { $0.isTCPSYN }.result)
        packet.tcpFlags = [.ack]
        #expect(try !withPacket(packet.bytes()) { $0.isTCPSYN }.result)
        packet.proto = .udp
        #expect(try !withPacket(packet.bytes()) { $0.isTCPSYN }.result)
    }

    @Test func viewsMatchTheTransportProtocol() throws {
        var packet = TestPacket()
        try withPacket(packet.bytes()) { view in
            #expect(view.tcp != nil && view.udp == nil)
            #expect(view.ipv4 != nil && view.ipv6 == nil)
        }
        packet.proto = .udp
        packet.source = .v6(IPv6Address("fd00::1")!)
        packet.destination = .v6(IPv6Address("fd00::2")!)
        try withPacket(packet.bytes()) { view in
            #expect(view.tcp == nil && view.udp != nil)
            #expect(view.ipv4 == nil && view.ipv6 != nil)
        }
    }

    @Test func ipv6ExtensionHeadersAreWalkedToTheTransportHeader() throws {
        var packet = TestPacket()
        packet.source = .v6(IPv6Address("fd00::1")!)
        packet.destination = .v6(IPv6Address("fd00::2")!)
        packet.extensionHeaders = [.hopByHop(extraUnits: 1), .routing(segments: 2, segmentsLeft: 0),
                                   .fragment(offset: 0, more: false), .destinationOptions(extraUnits: 0)]
        let (offset, fragment) = try withPacket(packet.bytes()) { ($0.transportOffset, $0.isFragment) }.result
        #expect(offset == 40 + 16 + 40 + 8 + 8)
        #expect(!fragment, "an atomic fragment (offset 0, M clear) is a whole datagram")
    }

    @Test func eightExtensionHeadersAreStillAccepted() throws {
        var packet = TestPacket()
        packet.source = .v6(IPv6Address("fd00::1")!)
        packet.destination = .v6(IPv6Address("fd00::2")!)
        packet.extensionHeaders = Array(repeating: .destinationOptions(extraUnits: 0), count: PacketView.maximumExtensionHeaders)
        #expect(validationError(packet.bytes()) == nil)
    }

    @Test func firstIPv4FragmentWithTheWholeTransportHeaderIsParsed() throws {
        var packet = TestPacket()
        packet.ipv4MoreFragments = true
        let segment = Array(packet.segment().prefix(24))
        let (fragment, flow) = try withPacket(packet.bytes(segment: segment)) { ($0.isFragment, $0.flowTuple) }.result
        #expect(fragment)
        #expect(flow == packet.flow)
    }

    @Test func firstIPv6FragmentWithTheWholeTransportHeaderIsParsed() throws {
        var packet = TestPacket()
        packet.proto = .udp
        packet.payload = Array(repeating: 7, count: 100)
        packet.source = .v6(IPv6Address("fd00::1")!)
        packet.destination = .v6(IPv6Address("fd00::2")!)
        packet.extensionHeaders = [.fragment(offset: 0, more: true)]
        let segment = Array(packet.segment().prefix(56))
        let (fragment, flow) = try withPacket(packet.bytes(segment: segment)) { ($0.isFragment, $0.flowTuple) }.result
        #expect(fragment, "UDP length 108 beyond a 56-byte fragment is fine: later fragments hold the rest")
        #expect(flow == packet.flow)
    }

    @Test func routingHeaderWithSegmentsLeftIsParsedAndRecorded() throws {
        var packet = TestPacket()
        packet.source = .v6(IPv6Address("fd00::1")!)
        packet.destination = .v6(IPv6Address("fd00::2")!)
        packet.extensionHeaders = [.routing(segments: 2, segmentsLeft: 1)]
        #expect(try withPacket(packet.bytes()) { $0.routingSegmentsLeft }.result == 1)
    }

    @Test func validationDoesNotWriteToThePacket() async throws {
        await propertyCheck(input: PacketGen.packet) { packet in
            let bytes = packet.bytes()
            let after = try withPacket(bytes) { $0.flowTuple }.bytes
            #expect(after == bytes)
        }
    }
}
