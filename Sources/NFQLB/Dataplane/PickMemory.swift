import Balancer
import PacketRewrite

/// Mode mark's memory of recent picks, shared by every worker: a flow's retransmitted SYN and
/// its next UDP datagrams, queued before the kernel's entry exists or is confirmed, must get
/// the backend its first packet got, and mode mark has no conntrack entry to read it back from.
///
/// Shared, not per worker: the hooks queue with `--queue-cpu-fanout`, which chooses the queue
/// by CPU, so two packets of one flow can reach two workers. Lock-free and lossy (Balancer's
/// `AffinityTable`: a collision evicts, costing at most one repick of a retransmit, which the
/// kernel's existing NAT overrides anyway). A TCP key includes the SYN's initial sequence
/// number: a retransmit carries the same one, a new connection on a reused client port does
/// not, so it is balanced afresh. A remembered endpoint is used only while it is still a
/// candidate of the service.
final class PickMemory: Sendable {
    private let table: AffinityTable
    private let lifetimeSeconds: UInt32

    init(lifetimeMilliseconds: UInt32, capacity: Int = 1 << 18) {
        table = AffinityTable(capacity: capacity)
        // 0 turns the memory off; anything else is rounded up to whole seconds.
        lifetimeSeconds = (lifetimeMilliseconds + 999) / 1000
    }

    @inline(__always)
    private static func key(_ flow: FlowInFlight) -> UInt64 {
        AffinityTable.key(service: flow.tuple.stableHash ^ (UInt64(flow.sequence) &* 0x9E37_79B9_7F4A_7C15), client: flow.tuple.source)
    }

    /// The remembered choice for this flow, if any and still a candidate of `balancer`.
    func recall(_ flow: FlowInFlight, balancer: ServiceBalancer, now: UInt32) -> EndpointChoice? {
        guard lifetimeSeconds > 0, let fingerprint = table.touch(key: Self.key(flow), now: now, timeout: lifetimeSeconds) else { return nil }
        return balancer.choice(forFingerprint: fingerprint)
    }

    func remember(_ flow: FlowInFlight, endpoint: EndpointKey, now: UInt32) {
        guard lifetimeSeconds > 0 else { return }
        table.record(key: Self.key(flow), fingerprint: endpoint.fingerprint, now: now)
    }
}
