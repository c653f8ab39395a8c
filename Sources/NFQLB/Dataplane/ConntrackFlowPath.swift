/// TCP mode `conntrack` (the default): the worker creates the entry with the NAT and accepts
/// the SYN unmodified; conntrack finds the entry and nat rewrites this SYN and the whole flow.
struct ConntrackFlowPath: ConntrackEntryPath {
    let settings: FlowPathSettings

    mutating func settle(_ flow: inout FlowInFlight, packet: inout QueuedPacket, conntrack: ConntrackClient,
                         statistics: inout WorkerStatistics) -> QueueVerdict {
        switch install(&flow, conntrack: conntrack, statistics: &statistics) {
        case .created, .kept:
            return .accept
        case .failed:
            // Dropped, not passed un-NATed: the client's retransmit gets a fresh try, where an
            // accepted SYN would leave toward the service range and be lost anyway.
            return .drop
        }
    }
}
