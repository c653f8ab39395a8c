import PacketRewrite
import Testing
@testable import NFQLB

/// `queue.copyRange` below a packet's length: mode mark balances from the headers; the modes
/// that return packets whole refuse a copy range that would truncate them.
@Suite struct TruncatedCopyTests {
    func issues(_ text: String) -> [String] {
        do {
            _ = try ConfigLoader().parse(text, file: "nfq-lb.yaml")
            return []
        } catch {
            return error.issues.map(\.description)
        }
    }

    func config(mode: String, copyRange: Int) -> String {
        """
        queues: 0
        serviceCIDRs: [10.96.0.0/12]
        tcpMode: \(mode)
        queue: {copyRange: \(copyRange)}
        services: []
        """
    }

    @Test(arguments: ["conntrack", "rewrite"])
    func aCopyRangeBelowFullPacketsIsRefusedInModesThatReturnPackets(mode: String) {
        let found = issues(config(mode: mode, copyRange: 128))
        #expect(found.count == 1 && found[0].contains("queue.copyRange: 128 truncates larger packets"), "\(found)")
        #expect(issues(config(mode: mode, copyRange: 65535)).isEmpty)
    }

    @Test func aShortCopyRangeIsAcceptedInModeMark() {
        #expect(issues(config(mode: "mark", copyRange: 128)).isEmpty)
    }

    @Test func aTruncatedUDPCopyParsesAsItsHeaders() throws {
        // 20-byte IPv4 header + 8-byte UDP header of a 1028-byte datagram, copied to 40 bytes.
        var bytes: [UInt8] = [0x45, 0, 0x04, 0x04, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 244, 1, 13, 10, 96, 0, 90,
                              0x9c, 0x40, 0x23, 0x28, 0x03, 0xf0, 0, 0]
        bytes += Array(repeating: 0x78, count: 12)
        try bytes.withUnsafeMutableBytes { raw in
            let packet = QueuedPacket(id: 1, bytes: raw, mark: 0, skbInfo: 0, isTruncated: true)
            #expect(throws: (any Error).self) { try PacketView(validating: raw) }
            packet.clampLengthsToCopy()
            let view = try PacketView(validating: raw)
            #expect(view.flowTuple.destinationPort == 9000)
            #expect(view.flowTuple.sourcePort == 40000)
        }
    }

    @Test func aCompleteCopyIsLeftAsItIs() {
        var bytes: [UInt8] = [0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 244, 1, 13, 10, 96, 0, 90,
                              0x9c, 0x40, 0x23, 0x28, 0, 8, 0, 0]
        let before = bytes
        bytes.withUnsafeMutableBytes { raw in
            QueuedPacket(id: 1, bytes: raw, mark: 0, skbInfo: 0, isTruncated: false).clampLengthsToCopy()
        }
        #expect(bytes == before)
    }
}
