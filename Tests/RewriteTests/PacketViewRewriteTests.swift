import PacketRewrite
import PropertyBased
import Testing

/// The laws of the in-place rewrite. The oracle throughout is `TestPacket`: build the packet,
/// rewrite it, and compare with the bytes built directly from the rewritten description, whose
/// checksums `ReferenceChecksum` computed from scratch.
@Suite("PacketView rewrite")
struct PacketViewRewriteTests {
    @Test func incrementalDestinationRewriteEqualsFullRecomputationForAnyPacket() async throws {
        await propertyCheck(count: 500, input: PacketGen.packet, PacketGen.endpoint) { packet, target in
            var expected = packet
            expected.destination = PacketGen.address(target, ipv6: packet.isIPv6)
            expected.destinationPort = target.2
            let outcome = try withPacket(packet.bytes()) { view in
                try view.rewriteDestination(address: expected.destination, port: expected.destinationPort)
                return view.checksumsAreValid
            }
            #expect(outcome.result)
            #expect(outcome.bytes == expected.bytes())
        }
    }

    @Test func incrementalSourceAndDestinationRewritesEqualFullRecomputationForAnyPacket() async throws {
        await propertyCheck(count: 500, input: PacketGen.packet, PacketGen.endpoint, PacketGen.endpoint) { packet, from, to in
            var expected = packet
            expected.source = PacketGen.address(from, ipv6: packet.isIPv6)
            expected.sourcePort = from.2
            expected.destination = PacketGen.address(to, ipv6: packet.isIPv6)
            expected.destinationPort = to.2
            let outcome = try withPacket(packet.bytes()) { view in
                try view.rewriteSource(address: expected.source, port: expected.sourcePort)
                try view.rewriteDestination(address: expected.destination, port: expected.destinationPort)
                return view.checksumsAreValid
            }
            #expect(outcome.result)
            #expect(outcome.bytes == expected.bytes())
        }
    }

    @Test func incrementalRewriteEqualsRecomputeChecksumsOfTheSameBytes() async throws {
        await propertyCheck(count: 300, input: PacketGen.packet, PacketGen.endpoint) { packet, target in
            let incremental = try withPacket(packet.bytes()) { view in
                try view.rewriteDestination(address: PacketGen.address(target, ipv6: packet.isIPv6), port: target.2)
            }.bytes
            let recomputed = try withPacket(incremental) { try $0.recomputeChecksums() }.bytes
            #expect(recomputed == incremental)
        }
    }

    /// The NFQA_SKB_CSUMNOTREADY case: the field holds the pseudo-header sum (or anything else);
    /// `.full` must still produce the right checksum.
    @Test func fullModeRepairsAPartialChecksum() async throws {
        await propertyCheck(count: 300, input: PacketGen.packet, PacketGen.endpoint, Gen.uint16()) { packet, target, garbage in
            var bytes = packet.bytes()
            let checksumAt = packet.transportOffset + (packet.proto == .tcp ? 16 : 6)
            let hadChecksum = bytes.field16(at: checksumAt) != 0
            if hadChecksum { bytes.setField16(garbage == 0 ? 1 : garbage, at: checksumAt) }
            var expected = packet
            expected.destination = PacketGen.address(target, ipv6: packet.isIPv6)
            expected.destinationPort = target.2
            let outcome = try withPacket(bytes) { view in
                try view.rewriteDestination(address: expected.destination, port: expected.destinationPort, checksum: .full)
                return view.checksumsAreValid
            }
            #expect(outcome.result)
            #expect(outcome.bytes == expected.bytes())
        }
    }

    @Test func ipv4UDPChecksumZeroStaysZeroInBothModes() async throws {
        await propertyCheck(input: PacketGen.packet, PacketGen.endpoint, Gen.bool) { packet, target, full in
            var packet = packet
            packet.source = PacketGen.address((0, 0x0A00_0001, 0), ipv6: false)
            packet.destination = PacketGen.address((0, 0x0A60_000A, 0), ipv6: false)
            packet.extensionHeaders = []
            packet.proto = .udp
            packet.udpWithoutChecksum = true
            let outcome = try withPacket(packet.bytes()) { view in
                try view.rewriteDestination(address: PacketGen.address(target, ipv6: false), port: target.2,
                                            checksum: full ? .full : .incremental)
                return (view.udp?.checksum, view.checksumsAreValid)
            }
            #expect(outcome.result.0 == 0)
            #expect(outcome.result.1)
        }
    }

    @Test func ipv6UDPChecksumZeroIsComputedSinceIPv6RequiresOne() throws {
        var packet = TestPacket()
        packet.proto = .udp
        packet.payload = Array("query".utf8)
        packet.source = .v6(IPv6Address("fd00::1")!)
        packet.destination = .v6(IPv6Address("fd00::2")!)
        var bytes = packet.bytes()
        bytes.setField16(0, at: 46)
        var expected = packet
        expected.destination = .v6(IPv6Address("fd00::99")!)
        let outcome = try withPacket(bytes) { view in
            try view.rewriteDestination(address: expected.destination, port: expected.destinationPort)
            return view.checksumsAreValid
        }
        #expect(outcome.result)
        #expect(outcome.bytes == expected.bytes())
    }

    @Test func ipv6UDPChecksumZeroDoesNotVerify() throws {
        var packet = TestPacket()
        packet.proto = .udp
        packet.source = .v6(IPv6Address("fd00::1")!)
        packet.destination = .v6(IPv6Address("fd00::2")!)
        var bytes = packet.bytes()
        bytes.setField16(0, at: 46)
        #expect(try !withPacket(bytes) { $0.checksumsAreValid }.result)
    }

    /// RFC 768: a computed UDP checksum of 0 is sent as 0xFFFF. The checksum with destination
    /// port 0 is exactly the port that makes the sum 0xFFFF (S + ~S), so the checksum 0.
    @Test func udpChecksumThatComputesToZeroIsSentAsAllOnes() throws {
        var packet = TestPacket()
        packet.proto = .udp
        packet.destinationPort = 0
        let original = packet.bytes()
        let target = original.field16(at: 26)
        var oracle = packet
        oracle.destinationPort = target
        #expect(oracle.bytes().field16(at: 26) == 0xFFFF)
        for mode in [ChecksumUpdate.incremental, .full] {
            let outcome = try withPacket(original) { view in
                try view.rewriteDestination(address: packet.destination, port: target, checksum: mode)
                return view.checksumsAreValid
            }
            #expect(outcome.bytes == oracle.bytes())
            #expect(outcome.result)
        }
    }

    @Test func corruptChecksumStaysDetectableAfterAnIncrementalRewrite() async throws {
        await propertyCheck(count: 200, input: PacketGen.packet, PacketGen.endpoint) { packet, target in
            guard !packet.udpWithoutChecksum else { return }
            var bytes = packet.bytes()
            let checksumAt = packet.transportOffset + (packet.proto == .tcp ? 16 : 6)
            bytes.setField16(bytes.field16(at: checksumAt) ^ 0x0101, at: checksumAt)
            let valid = try withPacket(bytes) { view in
                try view.rewriteDestination(address: PacketGen.address(target, ipv6: packet.isIPv6), port: target.2)
                return view.checksumsAreValid
            }.result
            #expect(!valid)
        }
    }

    @Test func recomputeChecksumsRepairsBothIPv4HeaderAndTransportChecksums() async throws {
        await propertyCheck(count: 200, input: PacketGen.packet) { packet in
            var bytes = packet.bytes()
            let checksumAt = packet.transportOffset + (packet.proto == .tcp ? 16 : 6)
            if !packet.udpWithoutChecksum { bytes.setField16(bytes.field16(at: checksumAt) ^ 0x0101, at: checksumAt) }
            if !packet.isIPv6 { bytes.setField16(bytes.field16(at: 10) ^ 0x0101, at: 10) }
            let repaired = try withPacket(bytes) { view in
                #expect(!view.checksumsAreValid)
                try view.recomputeChecksums()
                #expect(view.checksumsAreValid)
            }.bytes
            #expect(repaired == packet.bytes())
        }
    }

    /// A first fragment's checksum covers the whole datagram. The incremental update still
    /// works (it only moves the sum); compare with the checksum of the whole rewritten datagram.
    @Test func incrementalRewriteOfAFirstFragmentKeepsTheWholeDatagramChecksum() throws {
        for ipv6 in [false, true] {
            var packet = TestPacket()
            packet.proto = .udp
            packet.payload = Array(repeating: 0x5A, count: 200)
            if ipv6 {
                packet.source = .v6(IPv6Address("fd00::1")!)
                packet.destination = .v6(IPv6Address("fd00::2")!)
                packet.extensionHeaders = [.fragment(offset: 0, more: true)]
            } else {
                packet.ipv4MoreFragments = true
            }
            let firstFragment = packet.bytes(segment: Array(packet.segment().prefix(64)))
            var expected = packet
            expected.destination = ipv6 ? .v6(IPv6Address("fd00::99")!) : .v4(IPv4Address(10, 1, 2, 3))
            expected.destinationPort = 9090
            let rewritten = try withPacket(firstFragment) { view in
                try view.rewriteDestination(address: expected.destination, port: 9090)
            }.bytes
            #expect(rewritten == expected.bytes(segment: Array(expected.segment().prefix(64))))
        }
    }

    @Test func rewriteChangesOnlyTheAddressPortAndChecksumBytes() throws {
        let bytes = TestPacket().bytes()
        let after = try withPacket(bytes) { view in
            try view.rewriteDestination(address: .v4(IPv4Address(10, 244, 1, 5)), port: 8080)
        }.bytes
        let changed = Set(zip(bytes, after).enumerated().filter { $0.element.0 != $0.element.1 }.map(\.offset))
        #expect(changed.isSubset(of: [10, 11, 16, 17, 18, 19, 22, 23, 36, 37]))
    }
}
