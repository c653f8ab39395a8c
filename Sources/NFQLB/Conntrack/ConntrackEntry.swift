import PacketRewrite

/// A conntrack entry as the kernel reports it (GET answer, dump, or event).
public struct ConntrackEntry: Hashable, Sendable, CustomStringConvertible {
    public var original: FlowTuple
    public var reply: FlowTuple
    public var status: ConntrackStatus
    public var mark: UInt32
    public var tcpState: TCPConntrackState?
    public var timeoutSeconds: UInt32?

    public init(original: FlowTuple, reply: FlowTuple, status: ConntrackStatus = [], mark: UInt32 = 0,
                tcpState: TCPConntrackState? = nil, timeoutSeconds: UInt32? = nil) {
        self.original = original
        self.reply = reply
        self.status = status
        self.mark = mark
        self.tcpState = tcpState
        self.timeoutSeconds = timeoutSeconds
    }

    /// Where the flow really goes: the reply direction's source (the backend after DNAT).
    public var backendAddress: IPAddress { reply.source }
    public var backendPort: UInt16 { reply.sourcePort }

    /// True when the entry translates the destination: its reply does not come from the address
    /// the client dialled. An entry without it, for a service address, is a flow that slipped
    /// past the balancer un-NATed (bypass, or no worker) and must be replaced, not reused.
    public var hasDestinationNAT: Bool {
        reply.source != original.destination || reply.sourcePort != original.destinationPort
    }

    public var description: String {
        var text = "\(original) reply \(reply.source):\(reply.sourcePort)"
        if let tcpState { text += " \(tcpState)" }
        text += " status=0x\(String(status.rawValue, radix: 16)) mark=0x\(String(mark, radix: 16))"
        return text
    }
}
