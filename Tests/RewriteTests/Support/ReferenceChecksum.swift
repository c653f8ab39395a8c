import PacketRewrite

/// The plainest possible RFC 1071 sum, byte pair by byte pair: the oracle the tests measure
/// `InternetChecksum` against, so it shares no code with it.
enum ReferenceChecksum {
    static func sum(_ bytes: [UInt8]) -> UInt16 {
        var total: UInt32 = 0
        var i = 0
        while i < bytes.count {
            let high = UInt32(bytes[i]) << 8
            let low = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0
            total += high | low
            total = (total & 0xFFFF) + (total >> 16)
            i += 2
        }
        return UInt16(total)
    }

    static func checksum(_ bytes: [UInt8]) -> UInt16 { ~sum(bytes) }

    static func ipv4PseudoHeader(source: IPv4Address, destination: IPv4Address, proto: UInt8, length: Int) -> [UInt8] {
        source.wireBytes + destination.wireBytes + [0, proto, UInt8(length >> 8), UInt8(length & 0xFF)]
    }

    static func ipv6PseudoHeader(source: IPv6Address, destination: IPv6Address, proto: UInt8, length: Int) -> [UInt8] {
        source.wireBytes + destination.wireBytes
            + [UInt8(length >> 24 & 0xFF), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
            + [0, 0, 0, proto]
    }
}

extension IPv4Address {
    var wireBytes: [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: rawValue >> (24 - 8 * $0)) } }
}

extension IPv6Address {
    var wireBytes: [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * $0)) }
            + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * $0)) }
    }
}

extension Array where Element == UInt8 {
    /// Big-endian 16-bit field at `offset`.
    func field16(at offset: Int) -> UInt16 { UInt16(self[offset]) << 8 | UInt16(self[offset + 1]) }

    mutating func setField16(_ value: UInt16, at offset: Int) {
        self[offset] = UInt8(value >> 8)
        self[offset + 1] = UInt8(value & 0xFF)
    }

    var hex: String {
        let digits = Array<Character>("0123456789abcdef")
        return String(flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xF)]] })
    }
}
