/// An IP protocol number (IPv4 `protocol`, IPv6 `next header`), as IANA assigns them.
///
/// An open struct rather than an enum: a packet may carry any value, and an unknown one must
/// survive parsing so that it can be counted and reported, not trapped on.
@frozen
public struct IPProtocolNumber: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8

    @inlinable
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// IPv6 Hop-by-Hop Options (RFC 8200 §4.3).
    public static let ipv6HopByHop = IPProtocolNumber(rawValue: 0)
    /// ICMP (RFC 792).
    public static let icmp = IPProtocolNumber(rawValue: 1)
    /// TCP (RFC 9293).
    public static let tcp = IPProtocolNumber(rawValue: 6)
    /// UDP (RFC 768).
    public static let udp = IPProtocolNumber(rawValue: 17)
    /// IPv6 Routing header (RFC 8200 §4.4).
    public static let ipv6Routing = IPProtocolNumber(rawValue: 43)
    /// IPv6 Fragment header (RFC 8200 §4.5).
    public static let ipv6Fragment = IPProtocolNumber(rawValue: 44)
    /// ICMPv6 (RFC 4443).
    public static let icmpv6 = IPProtocolNumber(rawValue: 58)
    /// IPv6 No Next Header (RFC 8200 §4.7).
    public static let ipv6NoNextHeader = IPProtocolNumber(rawValue: 59)
    /// IPv6 Destination Options (RFC 8200 §4.6).
    public static let ipv6DestinationOptions = IPProtocolNumber(rawValue: 60)

    public var description: String {
        switch self {
        case .tcp: "tcp"
        case .udp: "udp"
        case .icmp: "icmp"
        case .icmpv6: "icmpv6"
        default: "proto-\(rawValue)"
        }
    }
}
