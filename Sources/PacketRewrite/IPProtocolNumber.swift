/// An IP protocol number (IPv4 `protocol`, IPv6 `next header`), as IANA assigns them.
///
/// An open struct rather than an enum: a packet may carry any value, and an unknown one must
/// survive parsing so that it can be counted and reported, not trapped on.
///
/// The named numbers are computed constants, not `static let`s: a `static let` of another
/// module is a lazily initialised global, read through an accessor call per use, which the
/// per-packet protocol compares cannot afford.
@frozen
public struct IPProtocolNumber: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8

    @inlinable
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// IPv6 Hop-by-Hop Options (RFC 8200 §4.3).
    @inlinable public static var ipv6HopByHop: IPProtocolNumber { IPProtocolNumber(rawValue: 0) }
    /// ICMP (RFC 792).
    @inlinable public static var icmp: IPProtocolNumber { IPProtocolNumber(rawValue: 1) }
    /// TCP (RFC 9293).
    @inlinable public static var tcp: IPProtocolNumber { IPProtocolNumber(rawValue: 6) }
    /// UDP (RFC 768).
    @inlinable public static var udp: IPProtocolNumber { IPProtocolNumber(rawValue: 17) }
    /// IPv6 Routing header (RFC 8200 §4.4).
    @inlinable public static var ipv6Routing: IPProtocolNumber { IPProtocolNumber(rawValue: 43) }
    /// IPv6 Fragment header (RFC 8200 §4.5).
    @inlinable public static var ipv6Fragment: IPProtocolNumber { IPProtocolNumber(rawValue: 44) }
    /// ICMPv6 (RFC 4443).
    @inlinable public static var icmpv6: IPProtocolNumber { IPProtocolNumber(rawValue: 58) }
    /// IPv6 No Next Header (RFC 8200 §4.7).
    @inlinable public static var ipv6NoNextHeader: IPProtocolNumber { IPProtocolNumber(rawValue: 59) }
    /// IPv6 Destination Options (RFC 8200 §4.6).
    @inlinable public static var ipv6DestinationOptions: IPProtocolNumber { IPProtocolNumber(rawValue: 60) }

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
