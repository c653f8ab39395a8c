import PacketRewrite

/// A conntrack entry to create: the flow's original tuple and the NAT the kernel must apply to it.
///
/// Shaped exactly as docs/ARCHITECTURE.md proves on this kernel: the reply tuple is the plain inverse
/// (the kernel fixes it up from the NAT), the timeout is mandatory, TCP starts in SYN_SENT.
public struct ConntrackCreateRequest: Sendable {
    public var original: FlowTuple
    public var backendAddress: IPAddress
    public var backendPort: UInt16
    /// SNAT (masquerade) source, for hairpin flows and services that ask for it.
    public var sourceNAT: IPAddress?
    public var timeoutSeconds: UInt32
    public var mark: UInt32
    /// `IP_CT_TCP_FLAG_BE_LIBERAL` on both directions: needed when the SYN bypasses conntrack
    /// (rewrite mode's untracked reinjection), so the window tracking never saw it.
    public var liberalTCPWindow: Bool

    public init(original: FlowTuple, backendAddress: IPAddress, backendPort: UInt16, sourceNAT: IPAddress? = nil,
                timeoutSeconds: UInt32, mark: UInt32, liberalTCPWindow: Bool = false) {
        self.original = original
        self.backendAddress = backendAddress
        self.backendPort = backendPort
        self.sourceNAT = sourceNAT
        self.timeoutSeconds = timeoutSeconds
        self.mark = mark
        self.liberalTCPWindow = liberalTCPWindow
    }
}
