/// The IP version of a parsed packet. A payload-free enum: comparing it in the hot path is a
/// byte compare, and it never needs a retain.
@frozen
public enum IPVersion: UInt8, Hashable, Sendable, CustomStringConvertible {
    case v4 = 4
    case v6 = 6

    public var description: String {
        switch self {
        case .v4: "IPv4"
        case .v6: "IPv6"
        }
    }
}
