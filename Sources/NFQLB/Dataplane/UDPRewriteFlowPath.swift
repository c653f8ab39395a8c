/// UDP in modes `conntrack` and `rewrite`: the worker creates the entry and rewrites the
/// datagram in place. The datagram already carries its own unconfirmed, un-NATed entry; ours
/// wins and the datagram's is merged into it at confirm (clash resolution).
///
/// A second datagram of the flow queued before the first is confirmed (glibc's parallel A and
/// AAAA queries) meets EEXIST and is rewritten to the backend of the entry already there:
/// a different pick would be lost silently (ARCHITECTURE.md, the DNS 5 s stall).
struct UDPRewriteFlowPath: FlowPath {
    let settings: FlowPathSettings

    mutating func stage(_ flow: inout FlowInFlight, conntrack: ConntrackClient) {
        flow.createPosition = conntrack.stageCreate(settings.createRequest(for: flow)) ?? -1
    }

    mutating func settle(_ flow: inout FlowInFlight, packet: inout QueuedPacket, conntrack: ConntrackClient,
                         statistics: inout WorkerStatistics) -> QueueVerdict {
        let request = settings.createRequest(for: flow)
        let result = EntryInstallation.settle(&flow, request: request,
                                              conntrack: conntrack, statistics: &statistics)
        if case .failed = result { return .drop }
        let entry = PacketRewriting.entry(after: result, flow: flow, conntrack: conntrack)
        guard PacketRewriting.apply(to: &packet, flow: flow, entry: entry) else {
            statistics.malformed += 1
            return .drop
        }
        return QueueVerdict(kind: .accept, mark: nil, returnsPayload: true)
    }
}
