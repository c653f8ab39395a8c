/// TCP mode `rewrite`: the worker rewrites the SYN in place, creates the entry (with liberal
/// window tracking: conntrack never sees this SYN) and reinjects it untracked: `NF_REPEAT`
/// with our notrack mark, which the raw rule before the queue rule turns into `CT --notrack`.
/// A plain accept would let the rewritten SYN create a second entry that clashes with ours.
/// Masqueraded flows are the exception: they take mode conntrack's path (see `settle`).
struct RewriteFlowPath: FlowPath {
    let settings: FlowPathSettings

    mutating func stage(_ flow: inout FlowInFlight, conntrack: ConntrackClient) {
        flow.createPosition = conntrack.stageCreate(settings.createRequest(for: flow, liberal: true)) ?? -1
    }

    mutating func settle(_ flow: inout FlowInFlight, packet: inout QueuedPacket, conntrack: ConntrackClient,
                         statistics: inout WorkerStatistics) -> QueueVerdict {
        let request = settings.createRequest(for: flow, liberal: true)
        let result = EntryInstallation.settle(&flow, request: request,
                                              conntrack: conntrack, statistics: &statistics)
        if case .failed = result { return .drop }
        if flow.sourceNAT != nil {
            // A masqueraded SYN rewritten to the node's own source would be reinjected in
            // PREROUTING with a local source address and dropped as a martian: such a flow
            // goes the conntrack way instead (the SYN accepted as it is, the entry NATs both).
            return .accept
        }
        let entry = PacketRewriting.entry(after: result, flow: flow, conntrack: conntrack)
        guard PacketRewriting.apply(to: &packet, flow: flow, entry: entry) else {
            statistics.malformed += 1
            return .drop  // the entry exists: the retransmit will be rewritten from it
        }
        return QueueVerdict(kind: .repeat, mark: settings.marks.merging(settings.marks.notrack, into: packet.mark), returnsPayload: true)
    }
}
