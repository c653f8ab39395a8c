/// The status bits of a conntrack entry (`enum ip_conntrack_status`, `IPS_*`).
public struct ConntrackStatus: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let expected = ConntrackStatus(rawValue: 1 << 0)
    public static let seenReply = ConntrackStatus(rawValue: 1 << 1)
    public static let assured = ConntrackStatus(rawValue: 1 << 2)
    public static let confirmed = ConntrackStatus(rawValue: 1 << 3)
    public static let sourceNAT = ConntrackStatus(rawValue: 1 << 4)
    public static let destinationNAT = ConntrackStatus(rawValue: 1 << 5)
    public static let sourceNATDone = ConntrackStatus(rawValue: 1 << 7)
    public static let destinationNATDone = ConntrackStatus(rawValue: 1 << 8)
    public static let dying = ConntrackStatus(rawValue: 1 << 9)
}

/// A TCP connection's state as conntrack tracks it (`enum tcp_conntrack`).
public struct TCPConntrackState: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let none = TCPConntrackState(rawValue: 0)
    public static let synSent = TCPConntrackState(rawValue: 1)
    public static let synReceived = TCPConntrackState(rawValue: 2)
    public static let established = TCPConntrackState(rawValue: 3)
    public static let finWait = TCPConntrackState(rawValue: 4)
    public static let closeWait = TCPConntrackState(rawValue: 5)
    public static let lastAck = TCPConntrackState(rawValue: 6)
    public static let timeWait = TCPConntrackState(rawValue: 7)
    public static let close = TCPConntrackState(rawValue: 8)

    /// States from which the kernel itself lets a new SYN reopen the tuple: an entry in one of
    /// them, met on EEXIST, is a previous connection on a reused client port, not our flow.
    public var allowsReopen: Bool { self == .lastAck || self == .timeWait || self == .close }

    public var description: String {
        switch self {
        case .none: "NONE"
        case .synSent: "SYN_SENT"
        case .synReceived: "SYN_RECV"
        case .established: "ESTABLISHED"
        case .finWait: "FIN_WAIT"
        case .closeWait: "CLOSE_WAIT"
        case .lastAck: "LAST_ACK"
        case .timeWait: "TIME_WAIT"
        case .close: "CLOSE"
        default: "STATE_\(rawValue)"
        }
    }
}
