import Foundation
import PacketRewrite
import Testing
@testable import NFQLB

/// The receive-side parsers over datagrams the kernel really sent (Fixtures/README.md).
@Suite struct NetlinkFixtureTests {
    static func datagram(_ name: String) throws -> [UInt8] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name).hex")
        let text = try String(contentsOf: url, encoding: .utf8)
        let hex = text.split(separator: "\n").filter { !$0.hasPrefix("#") }.joined().filter { !$0.isWhitespace }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(try #require(UInt8(hex[index..<next], radix: 16)))
            index = next
        }
        return bytes
    }

    /// The one message of a captured datagram, in a buffer of exactly its size.
    func withMessage<R>(_ name: String, _ body: (NetlinkMessages.Message) throws -> R) throws -> R {
        var bytes = try Self.datagram(name)
        return try bytes.withUnsafeMutableBytes { raw in
            let messages = Array(NetlinkMessages(bytes: UnsafeRawBufferPointer(raw)))
            try #require(messages.count == 1)
            return try body(messages[0])
        }
    }

    @Test func aWholeQueuedUDPDatagramGivesItsIdMarkAndAllItsBytes() throws {
        try withMessage("queue-packet-udp-whole") { message in
            #expect(NetlinkConstants.message(ofType: message.type) == NetlinkConstants.queueMessagePacket)
            let packet = try #require(QueuedPacket(message: message))
            #expect(packet.id == 1)
            #expect(packet.bytes.count == 228)
            #expect(!packet.isTruncated)
            let view = try PacketView(validating: packet.bytes)
            #expect(view.flowTuple.proto == .udp)
            #expect(view.flowTuple.destinationPort == 9999)
        }
    }

    @Test func aTruncatedCopyIsMarkedTruncatedAndParsesAsHeadersOnceCut() throws {
        try withMessage("queue-packet-udp-truncated") { message in
            let packet = try #require(QueuedPacket(message: message))
            #expect(packet.bytes.count == 64)
            #expect(packet.isTruncated)
            #expect(throws: (any Error).self) { try PacketView(validating: packet.bytes) }
            packet.clampLengthsToCopy()
            let view = try PacketView(validating: packet.bytes)
            #expect(view.flowTuple.destinationPort == 9999)
        }
    }

    @Test func attributesOfAQueuedPacketEndExactlyAtTheMessageEnd() throws {
        try withMessage("queue-packet-udp-whole") { message in
            var types: [UInt16] = []
            var end = 0
            let attributes = NetlinkAttributes(message: message.bytes)
            for attribute in attributes {
                types.append(attribute.type)
                end = attribute.payload.baseAddress! - attributes.bytes.baseAddress! + attribute.payload.count
            }
            #expect(types.contains(UInt16(NetlinkConstants.nfqaPacketHeader)))
            #expect(types.contains(UInt16(NetlinkConstants.nfqaPayload)))
            #expect(NetlinkConstants.align(end) == attributes.bytes.count)
        }
    }

    @Test func aMessageWithoutItsPacketIdGivesNoPacket() throws {
        var bytes = try Self.datagram("queue-packet-udp-whole")
        // The first attribute after nlmsghdr + nfgenmsg is NFQA_PACKET_HDR: retype it.
        bytes[22] = 0x7F
        bytes.withUnsafeBytes { raw in
            let message = NetlinkMessages(bytes: raw).first { _ in true }!
            #expect(QueuedPacket(message: message) == nil)
        }
    }

    @Test func aDatagramCutShortYieldsNoMessageInsteadOfReadingPastIt() throws {
        let bytes = try Self.datagram("queue-packet-udp-whole")
        for cut in [1, 16, 40, bytes.count - 1] {
            Array(bytes.prefix(cut)).withUnsafeBytes { raw in
                #expect(Array(NetlinkMessages(bytes: raw)).isEmpty, "cut at \(cut)")
            }
        }
    }

    @Test func aConntrackDumpAnswerParsesToItsTuplesAndMark() throws {
        try withMessage("conntrack-entry-udp") { message in
            let entry = try #require(ConntrackMessage.parseEntry(NetlinkAttributes(message: message.bytes)))
            #expect(entry.original.source == IPAddress("10.244.1.13"))
            #expect(entry.original.destination == IPAddress("10.96.0.90"))
            #expect(entry.original.sourcePort == 40000)
            #expect(entry.original.destinationPort == 9000)
            #expect(entry.original.proto == .udp)
            #expect(entry.mark == 0x1002_0000)
        }
    }
}
