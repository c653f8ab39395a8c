import Foundation
import PacketRewrite
import Testing

/// A packet captured from the kernel (see Fixtures/capture-fixtures.sh) and what it is known to
/// carry: what was sent, not what a parser says.
struct CapturedPacket: Sendable, CustomTestStringConvertible {
    let name: String
    let flow: FlowTuple
    let transportOffset: Int
    /// Captured with transmit checksum offload on: the transport checksum field holds only the
    /// pseudo-header sum, as with NFQA_SKB_CSUMNOTREADY.
    let checksumIsPartial: Bool

    var testDescription: String { name }

    var bytes: [UInt8] {
        get throws { try Fixtures.load("\(name).hex") }
    }

    /// The same packet with its destination rewritten to `backend`/`backendPort`, every checksum
    /// computed by Fixtures/expected-rewrites.py.
    var expectedRewrite: [UInt8] {
        get throws { try Fixtures.load("\(name).rewritten.hex") }
    }

    var backend: IPAddress { flow.source.isIPv4 ? Fixtures.backendV4 : Fixtures.backendV6 }

    static let all: [CapturedPacket] = [
        .init("ipv4-tcp-syn", .tcp, "10.123.0.1", 40000, "10.123.0.2", 8080, offset: 20),
        .init("ipv4-tcp-syn-ip-options", .tcp, "10.123.0.1", 40005, "10.123.0.2", 8080, offset: 32),
        .init("ipv4-tcp-syn-partial-checksum", .tcp, "10.123.0.1", 40008, "10.123.0.2", 8080, offset: 20, partial: true),
        .init("ipv4-udp-dns", .udp, "10.123.0.1", 40002, "10.123.0.2", 53, offset: 20),
        .init("ipv4-udp-zero-checksum", .udp, "10.123.0.1", 40004, "10.123.0.2", 5000, offset: 20),
        .init("ipv6-tcp-syn", .tcp, "fd00:123::1", 40001, "fd00:123::2", 8080, offset: 40),
        .init("ipv6-tcp-syn-dstopts", .tcp, "fd00:123::1", 40007, "fd00:123::2", 8080, offset: 48),
        .init("ipv6-udp-dns", .udp, "fd00:123::1", 40003, "fd00:123::2", 53, offset: 40),
        .init("ipv6-udp-hbh-dstopts", .udp, "fd00:123::1", 40006, "fd00:123::2", 5000, offset: 64),
        .init("ipv6-udp-partial-checksum", .udp, "fd00:123::1", 40009, "fd00:123::2", 53, offset: 40, partial: true),
    ]

    static var complete: [CapturedPacket] { all.filter { !$0.checksumIsPartial } }
    static var partial: [CapturedPacket] { all.filter(\.checksumIsPartial) }

    private init(
        _ name: String, _ proto: IPProtocolNumber, _ source: String, _ sourcePort: UInt16,
        _ destination: String, _ destinationPort: UInt16, offset: Int, partial: Bool = false
    ) {
        self.name = name
        self.flow = FlowTuple(proto: proto, source: IPAddress(source)!, sourcePort: sourcePort,
                              destination: IPAddress(destination)!, destinationPort: destinationPort)
        self.transportOffset = offset
        self.checksumIsPartial = partial
    }
}

enum Fixtures {
    /// The backend that expected-rewrites.py rewrote every captured destination to.
    static let backendV4 = IPAddress("10.123.0.99")!
    static let backendV6 = IPAddress("fd00:123::99")!
    static let backendPort: UInt16 = 9090

    struct Missing: Error, CustomStringConvertible {
        let file: String
        var description: String { "fixture \(file) is not in the test bundle" }
    }

    /// A hex fixture: `#` lines are comments, the rest is hex digits and whitespace.
    static func load(_ file: String) throws -> [UInt8] {
        guard let url = Bundle.module.url(forResource: file, withExtension: nil, subdirectory: "Fixtures") else {
            throw Missing(file: file)
        }
        let text = try String(contentsOf: url, encoding: .utf8)
        var bytes: [UInt8] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let digits = line.filter(\.isHexDigit)
            var index = digits.startIndex
            while index < digits.endIndex {
                let next = digits.index(index, offsetBy: 2)
                bytes.append(UInt8(digits[index..<next], radix: 16)!)
                index = next
            }
        }
        return bytes
    }
}
