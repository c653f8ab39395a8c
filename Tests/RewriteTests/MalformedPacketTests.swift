import PacketRewrite
import PropertyBased
import Testing

/// Every `PacketError` is reachable, and no input traps: a worker sees whatever the kernel
/// queues, including garbage a local process crafted.
@Suite("Malformed packets")
struct MalformedPacketTests {
    static let v4 = TestPacket()
    static var v6: TestPacket {
        var packet = TestPacket()
        packet.source = .v6(IPv6Address("fd00::1")!)
        packet.destination = .v6(IPv6Address("fd00::2")!)
        return packet
    }

    static func with(_ packet: TestPacket, _ change: (inout TestPacket) -> Void) -> TestPacket {
        var packet = packet
        change(&packet)
        return packet
    }

    // MARK: IP layer

    @Test func emptyBufferIsRejectedNotTrapped() {
        #expect(validationError([]) == .truncatedIPHeader)
    }

    @Test func truncatedIPv4HeaderIsRejectedNotTrapped() {
        #expect(validationError(Array(Self.v4.bytes().prefix(19))) == .truncatedIPHeader)
    }

    @Test func truncatedIPv6HeaderIsRejectedNotTrapped() {
        #expect(validationError(Array(Self.v6.bytes().prefix(39))) == .truncatedIPHeader)
    }

    @Test func ipv4OptionsCutByTheBufferAreATruncatedHeader() {
        var bytes = Self.v4.bytes()
        bytes[0] = 0x4F  // 60-byte header in a 40-byte buffer
        #expect(validationError(bytes) == .truncatedIPHeader)
    }

    @Test func unsupportedIPVersionIsReportedWithTheVersion() {
        var bytes = Self.v4.bytes()
        bytes[0] = 0x55
        #expect(validationError(bytes) == .unsupportedIPVersion(5))
        #expect(validationError([0x00]) == .unsupportedIPVersion(0))
    }

    @Test func ipv4HeaderLengthBelowFiveWordsIsRejected() {
        var bytes = Self.v4.bytes()
        bytes[0] = 0x44
        #expect(validationError(bytes) == .badIPv4HeaderLength)
    }

    @Test func ipv4TotalLengthBeyondTheBufferIsRejected() {
        var bytes = Self.v4.bytes()
        bytes.setField16(UInt16(bytes.count + 1), at: 2)
        #expect(validationError(bytes) == .ipv4TotalLengthBeyondBuffer)
    }

    @Test func ipv4TotalLengthShorterThanTheHeaderIsRejected() {
        var bytes = Self.with(Self.v4) { $0.ipv4Options = [1, 1, 1, 0] }.bytes()
        bytes.setField16(20, at: 2)
        #expect(validationError(bytes) == .ipv4TotalLengthShorterThanHeader)
    }

    @Test func ipv6PayloadLengthBeyondTheBufferIsRejected() {
        var bytes = Self.v6.bytes()
        bytes.setField16(UInt16(bytes.count - 40 + 1), at: 4)
        #expect(validationError(bytes) == .ipv6PayloadLengthBeyondBuffer)
    }

    // MARK: IPv6 extension headers and fragments

    @Test func extensionHeaderRunningPastThePayloadIsRejected() {
        var bytes = Self.with(Self.v6) { $0.extensionHeaders = [.destinationOptions(extraUnits: 0)] }.bytes()
        bytes[41] = 5  // claims 48 bytes where 8 + 20 are left
        #expect(validationError(bytes) == .truncatedExtensionHeader)
    }

    @Test func extensionHeaderCutBeforeItsFirstEightBytesIsRejected() {
        for header in [TestPacket.ExtensionHeader.fragment(offset: 0, more: false), .hopByHop(extraUnits: 0)] {
            let packet = Self.with(Self.v6) { $0.extensionHeaders = [header] }
            var bytes = Array(packet.bytes(segment: []).prefix(44))
            bytes.setField16(4, at: 4)
            #expect(validationError(bytes) == .truncatedExtensionHeader, "\(header)")
        }
    }

    @Test func extensionHeaderChainLongerThanEightIsRejected() {
        let bytes = Self.with(Self.v6) {
            $0.extensionHeaders = Array(repeating: .destinationOptions(extraUnits: 0), count: PacketView.maximumExtensionHeaders + 1)
        }.bytes()
        #expect(validationError(bytes) == .tooManyExtensionHeaders)
    }

    @Test func nonFirstIPv4FragmentIsReportedNotParsed() {
        let bytes = Self.with(Self.v4) { $0.ipv4FragmentOffset = 3 }.bytes()
        #expect(validationError(bytes) == .nonFirstFragment)
    }

    @Test func nonFirstIPv6FragmentIsReportedNotParsed() {
        let bytes = Self.with(Self.v6) { $0.extensionHeaders = [.fragment(offset: 185, more: true)] }.bytes()
        #expect(validationError(bytes) == .nonFirstFragment)
    }

    @Test func firstFragmentWithoutTheWholeTransportHeaderIsRejected() {
        let v4 = Self.with(Self.v4) { $0.ipv4MoreFragments = true }
        #expect(validationError(v4.bytes(segment: Array(v4.segment().prefix(12)))) == .truncatedTransportHeader)
        let v6 = Self.with(Self.v6) { $0.extensionHeaders = [.fragment(offset: 0, more: true)]; $0.tcpOptions = [1, 1, 1, 1] }
        #expect(validationError(v6.bytes(segment: Array(v6.segment().prefix(20)))) == .badTCPDataOffset)
    }

    @Test func icmpIsReportedAsUnsupportedProtocol() {
        var bytes = Self.v4.bytes()
        bytes[9] = 1
        #expect(validationError(bytes) == .unsupportedProtocol(.icmp))
        var v6 = Self.v6.bytes()
        v6[6] = 58
        #expect(validationError(v6) == .unsupportedProtocol(.icmpv6))
    }

    @Test func noNextHeaderAfterAnExtensionHeaderIsUnsupported() {
        let bytes = Self.with(Self.v6) { $0.extensionHeaders = [.destinationOptions(extraUnits: 0)] }.bytes()
        var changed = bytes
        changed[40] = 59
        #expect(validationError(changed) == .unsupportedProtocol(.ipv6NoNextHeader))
    }

    @Test func hopByHopHeaderAfterAnotherHeaderIsUnsupported() {
        let bytes = Self.with(Self.v6) {
            $0.extensionHeaders = [.destinationOptions(extraUnits: 0), .hopByHop(extraUnits: 0)]
        }.bytes()
        #expect(validationError(bytes) == .unsupportedProtocol(.ipv6HopByHop))
    }

    // MARK: Transport layer

    @Test func truncatedTCPHeaderIsRejectedNotTrapped() {
        #expect(validationError(Self.v4.bytes(segment: Array(Self.v4.segment().prefix(19)))) == .truncatedTransportHeader)
    }

    @Test func truncatedUDPHeaderIsRejectedNotTrapped() {
        let udp = Self.with(Self.v6) { $0.proto = .udp }
        #expect(validationError(udp.bytes(segment: Array(udp.segment().prefix(7)))) == .truncatedTransportHeader)
    }

    @Test func tcpDataOffsetBelowFiveIsRejected() {
        var bytes = Self.v4.bytes()
        bytes[32] = 0x40
        #expect(validationError(bytes) == .badTCPDataOffset)
    }

    @Test func tcpDataOffsetBeyondThePacketIsRejected() {
        var bytes = Self.v4.bytes()
        bytes[32] = 0x60
        #expect(validationError(bytes) == .badTCPDataOffset)
    }

    @Test func udpLengthBelowEightIsRejected() {
        var bytes = Self.with(Self.v4) { $0.proto = .udp }.bytes()
        bytes.setField16(7, at: 24)
        #expect(validationError(bytes) == .badUDPLength)
    }

    @Test func udpLengthBeyondTheIPPayloadIsRejected() {
        var bytes = Self.with(Self.v6) { $0.proto = .udp; $0.payload = [1, 2, 3] }.bytes()
        bytes.setField16(12, at: 44)
        #expect(validationError(bytes) == .badUDPLength)
    }

    @Test func udpLengthShorterThanTheIPPayloadIsPaddingAndCoveredCorrectly() throws {
        let packet = Self.with(Self.v4) { $0.proto = .udp; $0.payload = [1, 2, 3]; $0.udpPadding = [0xAA, 0xBB] }
        let valid = try withPacket(packet.bytes()) { view in
            try view.rewriteDestination(address: .v4(IPv4Address(10, 0, 0, 9)), port: 1, checksum: .full)
            return view.checksumsAreValid
        }.result
        #expect(valid)
    }

    // MARK: Rewrite refusals leave the packet unchanged

    @Test func rewritingWithTheOtherAddressFamilyIsAMismatch() throws {
        let v4 = Self.v4.bytes()
        let a = try rewriteError(v4) { view throws(PacketError) in
            try view.rewriteDestination(address: .v6(IPv6Address("fd00::9")!), port: 1)
        }
        #expect(a.error == .addressFamilyMismatch)
        #expect(a.bytes == v4)
        let v6 = Self.v6.bytes()
        let b = try rewriteError(v6) { view throws(PacketError) in
            try view.rewriteSource(address: .v4(IPv4Address(10, 0, 0, 9)), port: 1, checksum: .full)
        }
        #expect(b.error == .addressFamilyMismatch)
        #expect(b.bytes == v6)
    }

    @Test func destinationRewriteBehindARoutingHeaderWithSegmentsLeftIsRefused() throws {
        let bytes = Self.with(Self.v6) { $0.extensionHeaders = [.routing(segments: 2, segmentsLeft: 1)] }.bytes()
        for mode in [ChecksumUpdate.incremental, .full] {
            let outcome = try rewriteError(bytes) { view throws(PacketError) in
                try view.rewriteDestination(address: .v6(IPv6Address("fd00::9")!), port: 1, checksum: mode)
            }
            #expect(outcome.error == .routingHeaderSegmentsLeft)
            #expect(outcome.bytes == bytes)
        }
        let full = try rewriteError(bytes) { view throws(PacketError) in
            try view.rewriteSource(address: .v6(IPv6Address("fd00::9")!), port: 1, checksum: .full)
        }
        #expect(full.error == .routingHeaderSegmentsLeft)
        #expect(full.bytes == bytes)
        let recompute = try rewriteError(bytes) { view throws(PacketError) in try view.recomputeChecksums() }
        #expect(recompute.error == .routingHeaderSegmentsLeft)
    }

    @Test func incrementalSourceRewriteBehindARoutingHeaderIsAllowed() throws {
        let packet = Self.with(Self.v6) { $0.extensionHeaders = [.routing(segments: 2, segmentsLeft: 1)] }
        let outcome = try rewriteError(packet.bytes()) { view throws(PacketError) in
            try view.rewriteSource(address: .v6(IPv6Address("fd00::7")!), port: 7)
        }
        #expect(outcome.error == nil)
        let expected = Self.with(packet) { $0.source = .v6(IPv6Address("fd00::7")!); $0.sourcePort = 7 }
        #expect(outcome.bytes == expected.bytes())
    }

    @Test func fullChecksumOfAFirstFragmentIsRefused() throws {
        let packet = Self.with(Self.v4) { $0.ipv4MoreFragments = true; $0.payload = Array(repeating: 1, count: 40) }
        let bytes = packet.bytes(segment: Array(packet.segment().prefix(24)))
        let outcome = try rewriteError(bytes) { view throws(PacketError) in
            try view.rewriteDestination(address: .v4(IPv4Address(10, 0, 0, 9)), port: 1, checksum: .full)
        }
        #expect(outcome.error == .checksumNeedsWholeDatagram)
        #expect(outcome.bytes == bytes)
        #expect(try !withPacket(bytes) { $0.checksumsAreValid }.result, "a fragment's checksum cannot be verified alone")
    }

    /// Found by the fuzzer: a first fragment whose IPv4 UDP checksum is 0 ("none") has nothing
    /// that needs the later fragments, so a `.full` rewrite goes through and must verify.
    @Test func firstFragmentWithoutUDPChecksumTakesAFullRewriteAndVerifies() throws {
        let packet = Self.with(Self.v4) {
            $0.proto = .udp; $0.udpWithoutChecksum = true; $0.ipv4MoreFragments = true
            $0.payload = Array(repeating: 3, count: 40)
        }
        let bytes = packet.bytes(segment: Array(packet.segment().prefix(16)))
        let outcome = try withPacket(bytes) { view in
            #expect(view.isFragment && view.checksumsAreValid)
            try view.rewriteDestination(address: .v4(IPv4Address(10, 0, 0, 9)), port: 1, checksum: .full)
            return view.checksumsAreValid
        }
        #expect(outcome.result)
        #expect(outcome.bytes.field16(at: 26) == 0)
    }

    @Test func everyErrorHasAShortDistinctDescription() {
        let all: [PacketError] = [
            .truncatedIPHeader, .unsupportedIPVersion(5), .badIPv4HeaderLength, .ipv4TotalLengthBeyondBuffer,
            .ipv4TotalLengthShorterThanHeader, .ipv6PayloadLengthBeyondBuffer, .truncatedExtensionHeader,
            .tooManyExtensionHeaders, .nonFirstFragment, .unsupportedProtocol(.icmp), .truncatedTransportHeader,
            .badTCPDataOffset, .badUDPLength, .addressFamilyMismatch, .routingHeaderSegmentsLeft,
            .checksumNeedsWholeDatagram,
        ]
        #expect(Set(all.map(\.description)).count == all.count)
        #expect(all.allSatisfy { !$0.description.isEmpty && $0.description.count <= 60 })
        #expect(PacketError.unsupportedProtocol(.icmp).description == "unsupported transport protocol icmp")
    }

    // MARK: No input traps

    @Test func everyTruncationOfAnyValidPacketIsRejectedNotTrapped() async {
        await propertyCheck(count: 200, input: PacketGen.packet) { packet in
            var bytes = packet.bytes()
            bytes.removeLast(packet.trailer.count)
            for length in 0..<bytes.count {
                #expect(validationError(Array(bytes.prefix(length))) != nil)
            }
            #expect(validationError(bytes) == nil)
        }
    }

    /// Valid packets with a few random bytes overwritten: parse, and when they parse, every
    /// rewrite and check runs without trapping, and a full rewrite leaves valid checksums.
    @Test func mutatedPacketsNeverTrap() async {
        await propertyCheck(count: 1000, input: PacketGen.packet, zip(Gen.int(in: 0...120), Gen.uint8()).array(of: 1...4)) { packet, edits in
            var bytes = packet.bytes()
            for (at, value) in edits where at < bytes.count { bytes[at] = value }
            exerciseEverything(bytes)
        }
    }

    @Test func randomBytesNeverTrap() async {
        await propertyCheck(count: 1000, input: Gen.uint8().array(of: 0...120), Gen.int(in: 0...2)) { random, version in
            var bytes = random
            // Steer most inputs past the version check into the deeper paths.
            if !bytes.isEmpty && version > 0 { bytes[0] = version == 1 ? 0x45 : 0x60 }
            exerciseEverything(bytes)
        }
    }

    func exerciseEverything(_ bytes: [UInt8]) {
        mutating(bytes) { buffer in
            guard let view = try? PacketView(validating: buffer) else { return }
            _ = view.flowTuple
            _ = view.isTCPSYN
            _ = view.checksumsAreValid
            _ = try? view.rewriteSource(address: view.sourceAddress, port: 1)
            let full = Result { () throws(PacketError) in
                try view.rewriteDestination(address: view.destinationAddress, port: 2, checksum: .full)
            }
            if case .success = full { #expect(view.checksumsAreValid) }
            _ = try? view.recomputeChecksums()
        }
    }
}
