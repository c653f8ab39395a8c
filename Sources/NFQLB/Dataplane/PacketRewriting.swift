import PacketRewrite

/// Rewrites a queued packet to the flow's final addresses: the backend an entry holds, and
/// for a source-NATed flow the translated source the kernel chose.
enum PacketRewriting {
    /// Where the packet must go. With an entry at hand its reply tuple is the truth (the
    /// kernel may have picked another source port for SNAT); without one, the pick.
    static func target(for flow: FlowInFlight, entry: ConntrackEntry?) -> (source: IPAddress, sourcePort: UInt16, destination: IPAddress, destinationPort: UInt16) {
        if let entry {
            return (entry.reply.destination, entry.reply.destinationPort, entry.reply.source, entry.reply.sourcePort)
        }
        return (flow.tuple.source, flow.tuple.sourcePort, flow.backendAddress, flow.backendPort)
    }

    /// Rewrites in place; false when the packet cannot be returned (truncated copy, or a
    /// header the rewrite refuses), which the caller counts.
    static func apply(to packet: inout QueuedPacket, flow: FlowInFlight, entry: ConntrackEntry?) -> Bool {
        guard !packet.isTruncated, let view = try? PacketView(validating: packet.bytes) else { return false }
        let target = target(for: flow, entry: entry)
        // A partial checksum (locally generated packet with GSO) must come back complete:
        // the kernel treats a returned payload as checksummed (docs/ARCHITECTURE.md).
        let mode: ChecksumUpdate = packet.hasPartialChecksum ? .full : .incremental
        do {
            try view.rewriteDestination(address: target.destination, port: target.destinationPort, checksum: mode)
            if target.source != flow.tuple.source || target.sourcePort != flow.tuple.sourcePort {
                try view.rewriteSource(address: target.source, port: target.sourcePort, checksum: mode)
            }
        } catch {
            return false
        }
        return true
    }

    /// The entry to rewrite from: the kept one, or, for a created source-NATed flow, the
    /// kernel's copy (only it knows the translated source port).
    static func entry(after result: EntryInstallation.Result, flow: FlowInFlight, conntrack: ConntrackClient) -> ConntrackEntry? {
        switch result {
        case .kept(let entry): return entry
        case .created where flow.sourceNAT != nil: return try? conntrack.get(original: flow.tuple)
        default: return nil
        }
    }
}
