import Atomics
import Synchronization

/// A worker's view of the `BalancerState`: the snapshot it last loaded and that snapshot's
/// generation.
///
/// While nothing is published, a read costs one relaxed atomic load; the shared reference
/// (`BalancerState`'s `ManagedAtomic`) is loaded only when the generation moved. One per
/// worker thread, kept in the worker's own state (it is a `var` that reading mutates).
public struct SnapshotReader: Sendable {
    @usableFromInline let state: BalancerState
    @usableFromInline var cached: BalancerSnapshot
    @usableFromInline var cachedGeneration: UInt64

    public init(state: BalancerState) {
        self.state = state
        // Generation first, then the reference: see `refresh()`.
        cachedGeneration = state.generationCounter.load(ordering: .acquiring)
        cached = state.reference.load(ordering: .acquiring)
    }

    /// The current snapshot (as of this poll). The caller owns the result, so each call
    /// also retains it (and the caller releases it): fine once per batch; per packet, prefer
    /// `withSnapshot`.
    @inlinable
    public mutating func snapshot() -> BalancerSnapshot {
        if state.generationCounter.load(ordering: .relaxed) != cachedGeneration {
            refresh()
        }
        return cached
    }

    /// Calls `body` with the current snapshot, borrowed: unlike `snapshot()`, whose result
    /// the caller owns (one retain and one release of the shared snapshot object, i.e. two
    /// atomic operations on a cache line every worker touches), this costs nothing beyond the
    /// relaxed generation load while nothing is published. For per-packet use.
    @inlinable
    public mutating func withSnapshot<Result, Failure: Error>(
        _ body: (BalancerSnapshot) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        if state.generationCounter.load(ordering: .relaxed) != cachedGeneration {
            refresh()
        }
        return try body(cached)
    }

    /// The generation of the snapshot `snapshot()` returned last.
    @inlinable
    public var generation: UInt64 { cachedGeneration }

    /// Acquire the generation, then the reference: the reference is then of that generation
    /// or newer (`BalancerState.publish` stores the reference before bumping the generation).
    @usableFromInline @inline(never)
    mutating func refresh() {
        cachedGeneration = state.generationCounter.load(ordering: .acquiring)
        cached = state.reference.load(ordering: .acquiring)
    }
}
