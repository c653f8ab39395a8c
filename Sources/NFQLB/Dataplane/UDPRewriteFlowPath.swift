import PacketRewrite

/// UDP in modes `conntrack` and `rewrite`: the worker creates the entry and rewrites the
/// datagram in place. The datagram already carries its own unconfirmed, un-NATed entry; ours
/// wins and the datagram's is merged into it at confirm (clash resolution).
///
/// A second datagram of the flow queued before the first is confirmed (glibc's parallel A and
/// AAAA queries) meets EEXIST and is rewritten to the backend of the entry already there:
/// a different pick would be lost silently (docs/ARCHITECTURE.md, the DNS 5 s stall).
///
/// Masqueraded datagrams (the service asks, or the client is the chosen endpoint: hairpin)
/// cannot be rewritten: a source rewritten to the node's own address is a martian on input,
/// and the datagram's own entry knows nothing of our source NAT. Such a datagram is dropped
/// and sent again, unchanged, from the node (`DatagramReinjector`), marked `reinjected`; it
/// meets our entry in OUTPUT, is queued once more (still `--ctstate NEW`) and accepted as it
/// is, and the kernel NATs it both ways.
struct UDPRewriteFlowPath: ConntrackEntryPath {
    let settings: FlowPathSettings
    private var reinjector = DatagramReinjector()

    init(settings: FlowPathSettings) {
        self.settings = settings
    }

    mutating func settle(_ flow: inout FlowInFlight, packet: inout QueuedPacket, conntrack: ConntrackClient,
                         statistics: inout WorkerStatistics) -> QueueVerdict {
        if flow.sourceNAT != nil {
            return settleMasqueraded(&flow, packet: &packet, conntrack: conntrack, statistics: &statistics)
        }
        guard installAndRewrite(&flow, packet: &packet, conntrack: conntrack, statistics: &statistics) else { return .drop }
        return QueueVerdict(kind: .accept, mark: nil, returnsPayload: true)
    }

    private mutating func settleMasqueraded(_ flow: inout FlowInFlight, packet: inout QueuedPacket, conntrack: ConntrackClient,
                                            statistics: inout WorkerStatistics) -> QueueVerdict {
        let marks = settings.marks
        let result = install(&flow, conntrack: conntrack, statistics: &statistics)
        if case .failed = result { return .drop }
        if packet.mark & marks.valueMask == marks.reinjected {
            // Our own copy, sent from the node: its packet already holds our entry.
            return .accept
        }
        guard !packet.isTruncated, let view = try? PacketView(validating: packet.bytes) else {
            statistics.malformed += 1
            return .drop
        }
        // A datagram of a pod on this node may carry a partial checksum: send a complete one.
        if packet.hasPartialChecksum {
            guard (try? view.recomputeChecksums()) != nil else {
                statistics.malformed += 1
                return .drop
            }
        }
        let sent = reinjector.send(UnsafeRawBufferPointer(view.bytes), route: flow.backendAddress,
                                   mark: marks.merging(marks.reinjected, into: packet.mark))
        if !sent { statistics.conntrackErrors += 1 }
        return .drop
    }
}

extension MarkLayout {
    /// Value 3 of our field: a datagram that `UDPRewriteFlowPath` sent again from the node.
    var reinjected: UInt32 { 3 << shift }
}
