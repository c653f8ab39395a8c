import PacketRewrite
import SystemPackage

/// What to do when CT_NEW meets an entry that already holds the flow's tuple (EEXIST).
///
/// docs/ARCHITECTURE.md, "Retransmits and port reuse": raw runs before conntrack, so every
/// retransmitted SYN is queued again and finds the entry its first copy made; a client that
/// reuses a port finds the entry of its previous connection. The first must keep the backend
/// already chosen; the second must be replaced, or the tuple is blackholed until it times out.
enum ExistingEntryPolicy {
    enum Outcome {
        /// The existing entry stays; the flow goes where it already goes.
        case kept(ConntrackEntry)
        /// A stale entry was deleted and ours created in its place.
        case replaced
        /// The kernel refused something on the way.
        case failed(NetlinkError)
    }

    /// Whether an existing entry belongs to a previous flow on the same tuple (or is an
    /// un-NATed leftover of a packet that passed without us) rather than to this one.
    static func isStale(_ entry: ConntrackEntry) -> Bool {
        if !entry.hasDestinationNAT { return true }
        if entry.original.proto == .tcp, let state = entry.tcpState, state.allowsReopen { return true }
        return false
    }

    static func resolve(_ request: ConntrackCreateRequest, conntrack: ConntrackClient) -> Outcome {
        do {
            if let existing = try conntrack.get(original: request.original), !isStale(existing) {
                return .kept(existing)
            }
            // Stale, or gone since the EEXIST: replace. A concurrent worker may win the race
            // to recreate it; then its entry is the flow's and we keep that.
            _ = try conntrack.delete(original: request.original)
            do {
                try conntrack.create(request)
                return .replaced
            } catch where error.errno == .fileExists {
                if let entry = try conntrack.get(original: request.original) { return .kept(entry) }
                return .failed(error)
            }
        } catch {
            return .failed(error)
        }
    }
}
