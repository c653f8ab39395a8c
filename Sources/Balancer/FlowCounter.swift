import Synchronization

/// The number of active flows of one endpoint (for one protocol), shared by every snapshot
/// that has the endpoint and by every worker: the load that least-connections and
/// power-of-two read.
///
/// A class so that all holders share one count and a reload hands the same object to the
/// new snapshot; the atomic is stored inline, so reading it is one load from the object.
/// Relaxed ordering throughout: the count is a load estimate that orders nothing else.
public final class FlowCounter: Sendable {
    @usableFromInline
    let count: Atomic<Int>
    @usableFromInline
    let total: Atomic<Int>

    public init(active: Int = 0) {
        count = Atomic(max(0, active))
        total = Atomic(0)
    }

    /// Active flows, as last seen by this thread.
    @inlinable
    public var active: Int { count.load(ordering: .relaxed) }

    /// Flows opened since this counter was created (a metrics counter: never decreases).
    @inlinable
    public var opened: Int { total.load(ordering: .relaxed) }

    /// One more active flow (and one more opened).
    @inlinable
    public func increment() {
        count.wrappingAdd(1, ordering: .relaxed)
        total.wrappingAdd(1, ordering: .relaxed)
    }

    /// One fewer active flow, never below zero: a close event for a flow opened before the
    /// daemon started (or counted by a counter since pruned) must not drive the count
    /// negative and make an endpoint look better than idle.
    @inlinable
    public func decrement() {
        var current = count.load(ordering: .relaxed)
        while current > 0 {
            let (exchanged, original) = count.weakCompareExchange(
                expected: current, desired: current - 1, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }

    /// Overwrites the count, e.g. after a resynchronisation with the conntrack table.
    public func reset(to active: Int) {
        count.store(max(0, active), ordering: .relaxed)
    }

    /// Sets the count to `kernel` (flows the conntrack table held when it was read) plus the
    /// flows opened since `openedBefore` (this counter's `opened` when that read began): those
    /// may be missing from the read. Returns the count it replaced and the one it set.
    ///
    /// A compare-and-exchange loop, so that a worker's increment racing the store is never
    /// lost: `increment` adds to `count` before `total`, so an increment whose `total` step is
    /// seen here has already changed `count`, and the exchange then fails and is retried.
    @discardableResult
    public func resynchronize(kernel: Int, openedBefore: Int) -> (replaced: Int, set: Int) {
        var current = count.load(ordering: .relaxed)
        while true {
            let desired = max(0, kernel) + max(0, total.load(ordering: .relaxed) &- openedBefore)
            let (exchanged, original) = count.weakCompareExchange(expected: current, desired: desired, ordering: .relaxed)
            if exchanged { return (current, desired) }
            current = original
        }
    }
}
