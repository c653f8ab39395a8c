/// TCP mode `rewrite`: the worker rewrites the SYN in place, creates the entry (with liberal
/// window tracking: conntrack never sees this SYN) and reinjects it untracked: `NF_REPEAT`
/// with our notrack mark, which the raw rule before the queue rule turns into `CT --notrack`.
/// A plain accept would let the rewritten SYN create a second entry that clashes with ours.
/// Masqueraded flows are the exception: they take mode conntrack's path (see `settle`).
struct RewriteFlowPath: ConntrackEntryPath {
    let settings: FlowPathSettings
    static var liberalTCPWindow: Bool { true }

    mutating func settle(_ flow: inout FlowInFlight, packet: inout QueuedPacket, conntrack: ConntrackClient,
                         statistics: inout WorkerStatistics) -> QueueVerdict {
        if flow.sourceNAT != nil {
            // A masqueraded SYN rewritten to the node's own source would be reinjected in
            // PREROUTING with a local source address and dropped as a martian: such a flow
            // goes the conntrack way instead (the SYN accepted as it is, the entry NATs both).
            if case .failed = install(&flow, conntrack: conntrack, statistics: &statistics) { return .drop }
            return .accept
        }
        guard installAndRewrite(&flow, packet: &packet, conntrack: conntrack, statistics: &statistics) else { return .drop }
        return QueueVerdict(kind: .repeat, mark: settings.marks.merging(settings.marks.notrack, into: packet.mark), returnsPayload: true)
    }
}
