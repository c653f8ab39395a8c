import PacketRewrite

/// An address block in CIDR notation (`10.96.0.0/12`, `fd00:10:96::/112`): a service CIDR.
///
/// Host bits are accepted and masked off (`10.96.0.1/12` is `10.96.0.0/12`), as Go's
/// `net.ParseCIDR` that Kubernetes uses for `--service-cluster-ip-range` does: the block
/// meant is unambiguous, and refusing it would only make copied configs fail.
@frozen
public struct IPPrefix: Hashable, Sendable, CustomStringConvertible {
    /// The network address (host bits zero).
    public let address: IPAddress
    public let length: Int
    /// The mask as two 64-bit halves (IPv4 uses the low 32 bits of `maskLow`).
    @usableFromInline let maskHigh: UInt64
    @usableFromInline let maskLow: UInt64

    /// `nil` if `length` is negative or longer than the address family allows.
    public init?(address: IPAddress, length: Int) {
        switch address {
        case .v4(let a):
            guard (0...32).contains(length) else { return nil }
            let mask: UInt32 = length == 0 ? 0 : UInt32.max << (32 - length)
            maskHigh = 0
            maskLow = UInt64(mask)
            self.address = .v4(IPv4Address(rawValue: a.rawValue & mask))
        case .v6(let a):
            guard (0...128).contains(length) else { return nil }
            maskHigh = length == 0 ? 0 : length >= 64 ? UInt64.max : UInt64.max << (64 - length)
            maskLow = length <= 64 ? 0 : length == 128 ? UInt64.max : UInt64.max << (128 - length)
            self.address = .v6(IPv6Address(high: a.high & maskHigh, low: a.low & maskLow))
        }
        self.length = length
    }

    /// Parses `address/length`; a bare address is not a prefix (`nil`), nor is a length with
    /// a sign, leading zeros or spaces.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPAddress(parts[0]) else { return nil }
        let digits = parts[1].utf8
        guard (1...3).contains(digits.count),
              digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              digits.count == 1 || digits.first != UInt8(ascii: "0"),
              let length = Int(parts[1]) else { return nil }
        self.init(address: address, length: length)
    }

    /// Whether `other` is inside this block (never across families).
    @inlinable
    public func contains(_ other: IPAddress) -> Bool {
        switch (address, other) {
        case (.v4(let network), .v4(let a)):
            return UInt64(a.rawValue) & maskLow == UInt64(network.rawValue)
        case (.v6(let network), .v6(let a)):
            return a.high & maskHigh == network.high && a.low & maskLow == network.low
        default:
            return false
        }
    }

    public var description: String { "\(address)/\(length)" }
}
