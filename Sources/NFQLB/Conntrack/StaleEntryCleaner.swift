import Balancer
import PacketRewrite

/// Deletes our conntrack entries that point at an endpoint that no longer takes flows.
///
/// kube-proxy's stale-UDP problem (kubernetes/kubernetes#59368, #48370): a UDP flow keeps its
/// entry, and so its dead endpoint, for as long as the client keeps sending. Our entries carry
/// the endpoint's id in their mark, so the kernel finds them by mark; each is checked against
/// its reply tuple (the backend) before it is deleted.
public struct StaleEntryCleaner: StaleEntryDeleting {
    public let marks: MarkLayout

    public init(marks: MarkLayout) {
        self.marks = marks
    }

    /// One endpoint to clean up, and which of its flows go.
    public struct Target: Hashable, Sendable {
        public var endpoint: EndpointKey
        public var id: UInt32
        public var protocols: Set<IPProtocolNumber>

        public init(endpoint: EndpointKey, id: UInt32, protocols: Set<IPProtocolNumber>) {
            self.endpoint = endpoint
            self.id = id
            self.protocols = protocols
        }
    }

    /// Deletes every matching entry; returns how many went.
    @discardableResult
    public func clean(_ targets: [Target], conntrack: ConntrackClient) throws(NetlinkError) -> Int {
        var deleted = 0
        for target in targets where !target.protocols.isEmpty {
            var doomed: [FlowTuple] = []
            try conntrack.dump(ipv6: !target.endpoint.address.isIPv4, markValue: marks.value(endpointID: target.id), markMask: marks.valueMask) { entry in
                guard target.protocols.contains(entry.original.proto),
                      entry.backendAddress == target.endpoint.address, entry.backendPort == target.endpoint.port else { return }
                doomed.append(entry.original)
            }
            for tuple in doomed where try conntrack.delete(original: tuple) {
                deleted += 1
            }
        }
        return deleted
    }

    /// One target on a netlink socket of its own (opened per call: retries are rare, and a
    /// socket kept open between them would be one more thing to go stale).
    public func deleteEntries(of target: Target) throws -> Int {
        try clean([target], conntrack: ConntrackClient(batchCapacity: 1))
    }

    /// Our entries as they are now, for status and for adopting ids after a restart.
    public func ourEntries(conntrack: ConntrackClient) throws(NetlinkError) -> [ConntrackEntry] {
        var entries: [ConntrackEntry] = []
        try conntrack.dump(markValue: 0, markMask: 0) { entry in
            if marks.endpointID(ofMark: entry.mark) >= MarkLayout.firstEndpointID { entries.append(entry) }
        }
        return entries
    }
}
