import Atomics
import Synchronization

/// The snapshot workers balance with, replaced whole by each reload.
///
/// Memory ordering:
/// - `publish` stores the snapshot with release ordering, then increments `generation` with
///   release ordering. Everything the builder wrote into the snapshot (tables, strategies)
///   happens-before any acquiring load that sees either store.
/// - `SnapshotReader` polls `generation` with a relaxed load (one plain load on x86 and
///   arm64) and, only when it differs from the one it saw last, loads `generation` again
///   with acquire and then the snapshot with acquire. The acquire on the generation makes
///   the snapshot load return the snapshot of that generation or a newer one, never an older
///   one; a newer one is harmless (the next poll sees another change and reloads).
/// - A relaxed poll may see a new generation a little late; a worker then balances a few
///   more flows with the previous snapshot, which is still complete and valid (it keeps it
///   alive by its own reference).
///
/// The strong reference is a swift-atomics `ManagedAtomic`, so loading it while `publish`
/// replaces it can never resurrect a released snapshot. Publishing is meant for one
/// reloader at a time; concurrent publishers are safe but the last store wins.
public final class BalancerState: Sendable {
    @usableFromInline let reference: ManagedAtomic<BalancerSnapshot>
    @usableFromInline let generationCounter: Atomic<UInt64>

    public init(_ initial: BalancerSnapshot = .empty) {
        reference = ManagedAtomic(initial)
        generationCounter = Atomic(0)
    }

    /// The snapshot published last (one atomic strong load: for the reloader and status,
    /// not for workers, which use a `SnapshotReader`).
    public var current: BalancerSnapshot { reference.load(ordering: .acquiring) }

    /// How many snapshots have been published (0 for the initial one).
    public var generation: UInt64 { generationCounter.load(ordering: .acquiring) }

    /// Makes `snapshot` the current one; returns its generation.
    @discardableResult
    public func publish(_ snapshot: BalancerSnapshot) -> UInt64 {
        reference.store(snapshot, ordering: .releasing)
        return generationCounter.wrappingAdd(1, ordering: .releasing).newValue
    }

    /// A reader for one worker thread.
    public func reader() -> SnapshotReader {
        SnapshotReader(state: self)
    }
}
