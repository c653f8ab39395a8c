/// An IPv6 address as two host-order 64-bit halves (`high` holds the first eight bytes).
@frozen
public struct IPv6Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    @inlinable
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Parses RFC 4291 text form, with `::` compression and an embedded dotted IPv4 tail
    /// (`::ffff:10.0.0.1`); `nil` for anything else. Zone ids (`%eth0`) are not addresses here.
    public init?(_ text: some StringProtocol) {
        let utf8 = Array(text.utf8)
        guard utf8.count >= 2 else { return nil }
        var groups: [UInt16] = []
        var gapIndex: Int? = nil
        var i = 0
        if utf8.starts(with: [UInt8(ascii: ":"), UInt8(ascii: ":")]) {
            gapIndex = 0
            i = 2
            if i == utf8.count { self.init(high: 0, low: 0); return }
        } else if utf8[0] == UInt8(ascii: ":") {
            return nil
        }
        while i < utf8.count {
            // An embedded IPv4 address may close the text.
            var j = i
            while j < utf8.count, utf8[j] != UInt8(ascii: ":") { j += 1 }
            let field = utf8[i..<j]
            if field.contains(UInt8(ascii: ".")) {
                guard j == utf8.count, let v4 = IPv4Address(String(decoding: field, as: UTF8.self)) else { return nil }
                groups.append(UInt16(truncatingIfNeeded: v4.rawValue >> 16))
                groups.append(UInt16(truncatingIfNeeded: v4.rawValue))
                i = j
                break
            }
            guard (1...4).contains(field.count) else { return nil }
            var value: UInt16 = 0
            for byte in field {
                guard let nibble = Self.hexValue(byte) else { return nil }
                value = value << 4 | UInt16(nibble)
            }
            groups.append(value)
            i = j
            if i == utf8.count { break }
            // At a ':'; a second one marks the single allowed gap.
            i += 1
            if i < utf8.count, utf8[i] == UInt8(ascii: ":") {
                guard gapIndex == nil else { return nil }
                gapIndex = groups.count
                i += 1
                if i == utf8.count { break }
            } else if i == utf8.count {
                return nil  // trailing single ':'
            }
        }
        if let gapIndex {
            guard groups.count < 8 else { return nil }
            groups.insert(contentsOf: repeatElement(0, count: 8 - groups.count), at: gapIndex)
        }
        guard groups.count == 8 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for k in 0..<4 { high = high << 16 | UInt64(groups[k]) }
        for k in 4..<8 { low = low << 16 | UInt64(groups[k]) }
        self.init(high: high, low: low)
    }

    @inlinable
    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    public static func < (lhs: IPv6Address, rhs: IPv6Address) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }

    /// RFC 5952 canonical text: lower case, longest run of two or more zero groups as `::`.
    public var description: String {
        var groups = [UInt16](repeating: 0, count: 8)
        for k in 0..<4 {
            groups[k] = UInt16(truncatingIfNeeded: high >> (48 - 16 * k))
            groups[k + 4] = UInt16(truncatingIfNeeded: low >> (48 - 16 * k))
        }
        var bestStart = -1, bestLength = 1
        var k = 0
        while k < 8 {
            if groups[k] == 0 {
                var end = k
                while end < 8, groups[end] == 0 { end += 1 }
                if end - k > bestLength { bestStart = k; bestLength = end - k }
                k = end
            } else {
                k += 1
            }
        }
        func hex(_ range: Range<Int>) -> String {
            groups[range].map { String($0, radix: 16) }.joined(separator: ":")
        }
        if bestStart < 0 { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }
}
