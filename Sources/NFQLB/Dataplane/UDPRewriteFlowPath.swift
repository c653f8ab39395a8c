/// UDP in modes `conntrack` and `rewrite`: the worker creates the entry and rewrites the
/// datagram in place. The datagram already carries its own unconfirmed, un-NATed entry; ours
/// wins and the datagram's is merged into it at confirm (clash resolution).
///
/// A second datagram of the flow queued before the first is confirmed (glibc's parallel A and
/// AAAA queries) meets EEXIST and is rewritten to the backend of the entry already there:
/// a different pick would be lost silently (ARCHITECTURE.md, the DNS 5 s stall).
struct UDPRewriteFlowPath: ConntrackEntryPath {
    let settings: FlowPathSettings

    mutating func settle(_ flow: inout FlowInFlight, packet: inout QueuedPacket, conntrack: ConntrackClient,
                         statistics: inout WorkerStatistics) -> QueueVerdict {
        guard installAndRewrite(&flow, packet: &packet, conntrack: conntrack, statistics: &statistics) else { return .drop }
        return QueueVerdict(kind: .accept, mark: nil, returnsPayload: true)
    }
}
