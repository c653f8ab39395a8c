import PacketRewrite

/// Remembers, per 5-tuple, the pick made for a flow's first packet for a short while, so that
/// its retransmits and its next datagrams (queued before the kernel's entry exists or is
/// confirmed) get the same backend: mode mark has no conntrack entry to read back.
///
/// Direct-mapped and owned by one worker: a 5-tuple always lands on one queue (the queue
/// balance hashes addresses), so no lock. A collision evicts: a lost memory costs at worst
/// one repick of a retransmit, which the flow's existing entry then overrides anyway (TCP).
struct PickCache {
    struct Entry {
        var tuple: FlowTuple
        var backendAddress: IPAddress
        var backendPort: UInt16
        var endpointID: UInt32
        var sourceNAT: IPAddress?
        var candidate: Int
        var storedAtMilliseconds: UInt64
    }

    private var slots: [Entry?]
    private let mask: Int
    let lifetimeMilliseconds: UInt64

    init(slots count: Int = 8192, lifetimeMilliseconds: UInt32) {
        var size = 1
        while size < count { size <<= 1 }
        slots = Array(repeating: nil, count: size)
        mask = size - 1
        self.lifetimeMilliseconds = UInt64(lifetimeMilliseconds)
    }

    mutating func recall(_ flow: inout FlowInFlight, hash: UInt64, now: UInt64) -> Bool {
        guard lifetimeMilliseconds > 0, let entry = slots[Int(truncatingIfNeeded: hash) & mask],
              entry.tuple == flow.tuple, now &- entry.storedAtMilliseconds < lifetimeMilliseconds else { return false }
        flow.backendAddress = entry.backendAddress
        flow.backendPort = entry.backendPort
        flow.endpointID = entry.endpointID
        flow.sourceNAT = entry.sourceNAT
        flow.candidate = entry.candidate
        return true
    }

    mutating func remember(_ flow: FlowInFlight, hash: UInt64, now: UInt64) {
        guard lifetimeMilliseconds > 0 else { return }
        slots[Int(truncatingIfNeeded: hash) & mask] = Entry(
            tuple: flow.tuple, backendAddress: flow.backendAddress, backendPort: flow.backendPort,
            endpointID: flow.endpointID, sourceNAT: flow.sourceNAT, candidate: flow.candidate, storedAtMilliseconds: now)
    }
}
