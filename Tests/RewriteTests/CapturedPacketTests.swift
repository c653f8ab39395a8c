import PacketRewrite
import Testing

/// Known vectors: packets the kernel sent over a veth, captured with tcpdump
/// (Fixtures/capture-fixtures.sh), and their rewrites computed by an independent Python
/// implementation (Fixtures/expected-rewrites.py).
@Suite("Captured packets")
struct CapturedPacketTests {
    @Test(arguments: CapturedPacket.all)
    func parsesToTheFlowThatWasSent(_ captured: CapturedPacket) throws {
        let (_, _) = try withPacket(captured.bytes) { view in
            #expect(view.flowTuple == captured.flow)
            #expect(view.transportProtocol == captured.flow.proto)
            #expect(view.transportOffset == captured.transportOffset)
            #expect(view.ipVersion == (captured.flow.source.isIPv4 ? .v4 : .v6))
            #expect(view.isTCPSYN == (captured.flow.proto == .tcp))
            #expect(!view.isFragment)
        }
    }

    @Test(arguments: CapturedPacket.complete)
    func checksumsOfCapturedPacketsVerify(_ captured: CapturedPacket) throws {
        #expect(try withPacket(captured.bytes) { $0.checksumsAreValid }.result)
    }

    @Test(arguments: CapturedPacket.partial)
    func partialChecksumOfAnOffloadedPacketDoesNotVerify(_ captured: CapturedPacket) throws {
        #expect(try !withPacket(captured.bytes) { $0.checksumsAreValid }.result)
    }

    @Test(arguments: CapturedPacket.complete)
    func incrementalDestinationRewriteGivesTheIndependentlyComputedBytes(_ captured: CapturedPacket) throws {
        let rewritten = try withPacket(captured.bytes) { view in
            try view.rewriteDestination(address: captured.backend, port: Fixtures.backendPort)
            #expect(view.checksumsAreValid)
            #expect(view.flowTuple.destination == captured.backend)
            #expect(view.flowTuple.destinationPort == Fixtures.backendPort)
        }.bytes
        #expect(rewritten.hex == (try captured.expectedRewrite).hex)
    }

    @Test(arguments: CapturedPacket.all)
    func fullDestinationRewriteGivesTheIndependentlyComputedBytes(_ captured: CapturedPacket) throws {
        let rewritten = try withPacket(captured.bytes) { view in
            try view.rewriteDestination(address: captured.backend, port: Fixtures.backendPort, checksum: .full)
            #expect(view.checksumsAreValid)
        }.bytes
        #expect(rewritten.hex == (try captured.expectedRewrite).hex)
    }

    @Test(arguments: CapturedPacket.partial)
    func incrementalRewriteOfAPartialChecksumStaysInvalidSoFullModeIsNeeded(_ captured: CapturedPacket) throws {
        let valid = try withPacket(captured.bytes) { view in
            try view.rewriteDestination(address: captured.backend, port: Fixtures.backendPort, checksum: .incremental)
            return view.checksumsAreValid
        }.result
        #expect(!valid)
    }

    @Test func ipv4UDPWithoutChecksumKeepsNoneAfterRewrite() throws {
        let captured = try #require(CapturedPacket.all.first { $0.name == "ipv4-udp-zero-checksum" })
        for mode in [ChecksumUpdate.incremental, .full] {
            let checksum = try withPacket(captured.bytes) { view in
                try view.rewriteDestination(address: captured.backend, port: Fixtures.backendPort, checksum: mode)
                return view.udp?.checksum
            }.result
            #expect(checksum == 0)
        }
    }

    @Test(arguments: CapturedPacket.complete)
    func rewritingTheDestinationAndBackRestoresTheCapturedBytes(_ captured: CapturedPacket) throws {
        let original = try captured.bytes
        let roundTrip = try withPacket(original) { view in
            try view.rewriteDestination(address: captured.backend, port: Fixtures.backendPort)
            try view.rewriteDestination(address: captured.flow.destination, port: captured.flow.destinationPort)
        }.bytes
        #expect(roundTrip == original)
    }

    @Test(arguments: CapturedPacket.all)
    func everyTruncationOfACapturedPacketIsRejectedNotTrapped(_ captured: CapturedPacket) throws {
        let bytes = try captured.bytes
        for length in 0..<bytes.count {
            #expect(validationError(Array(bytes.prefix(length))) != nil, "accepted \(length) of \(bytes.count) bytes")
        }
    }
}
