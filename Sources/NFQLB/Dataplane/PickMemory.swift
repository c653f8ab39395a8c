import Balancer
import PacketRewrite
import Synchronization

/// The daemon's memory of recent picks, shared by every worker: a flow's retransmitted SYN, and
/// the next UDP datagrams of a flow queued before the kernel's entry exists or is confirmed,
/// get the backend its first packet got, and a retransmit costs the strategy no turn.
///
/// Shared, not per worker: the hooks queue with `--queue-cpu-fanout`, which chooses the queue by
/// CPU, so two packets of one flow can reach two workers at the same moment. They agree through
/// `claim`: the first to store a pick wins, and the other takes the winner's. A TCP key includes
/// the SYN's initial sequence number: a retransmit carries the same one, a new connection on a
/// reused client port does not, so it is balanced afresh. A remembered endpoint is used only
/// while it is still a candidate of the service (the caller turns fingerprints back into
/// candidates). Direct-mapped and lossy: a collision evicts, costing at worst one repick.
///
/// Each slot is two atomic words: the key (0 empty, 1 being written) and the value (endpoint
/// fingerprint and time stored). A writer takes the key word to 1 by compare-and-swap, stores
/// the value, then the key; a reader reads key, value, key and trusts the value only if both
/// key reads match.
final class PickMemory: @unchecked Sendable {
    // @unchecked: `words` is allocated in init, freed in deinit, and only accessed atomically.
    private let words: UnsafeMutablePointer<Atomic<UInt64>>
    private let mask: Int
    private let lifetimeSeconds: UInt32
    private static let busy: UInt64 = 1

    /// - Parameter lifetimeMilliseconds: how long a pick is remembered; 0 turns the memory off.
    init(lifetimeMilliseconds: UInt32, slots: Int = 1 << 18) {
        var count = 1
        while count < slots { count <<= 1 }
        mask = count - 1
        lifetimeSeconds = (lifetimeMilliseconds + 999) / 1000
        words = UnsafeMutableRawPointer.allocate(byteCount: 2 * count * MemoryLayout<Atomic<UInt64>>.stride,
                                                 alignment: 64).bindMemory(to: Atomic<UInt64>.self, capacity: 2 * count)
        for i in 0..<(2 * count) { (words + i).initialize(to: Atomic(0)) }
    }

    deinit {
        words.deinitialize(count: 2 * (mask + 1))
        UnsafeMutableRawPointer(words).deallocate()
    }

    var isEnabled: Bool { lifetimeSeconds > 0 }

    /// The memory key of a flow's first packet.
    static func key(_ tuple: FlowTuple, sequence: UInt32) -> UInt64 {
        let k = FlowHash.finalize(FlowHash.mix(tuple.stableHash, UInt64(sequence)))
        return k > busy ? k : k &+ 2
    }

    private static func value(_ fingerprint: UInt32, _ now: UInt32) -> UInt64 { UInt64(fingerprint) << 32 | UInt64(now) }

    private func isFresh(_ value: UInt64, now: UInt32) -> Bool {
        let age = Int32(bitPattern: now &- UInt32(truncatingIfNeeded: value))
        return age < Int32(lifetimeSeconds)
    }

    /// The fingerprint remembered for `key` and still fresh, if any.
    func recall(key: UInt64, now: UInt32) -> UInt32? {
        guard isEnabled else { return nil }
        let keyWord = words + 2 * (Int(truncatingIfNeeded: key) & mask)
        guard keyWord.pointee.load(ordering: .acquiring) == key else { return nil }
        let value = (keyWord + 1).pointee.load(ordering: .acquiring)
        guard keyWord.pointee.load(ordering: .acquiring) == key, isFresh(value, now: now) else { return nil }
        return UInt32(truncatingIfNeeded: value >> 32)
    }

    /// Stores `fingerprint` for `key` unless a fresh pick is there already; returns the pick
    /// in force: ours, or the one another worker stored first.
    func claim(key: UInt64, fingerprint: UInt32, now: UInt32) -> UInt32 {
        guard isEnabled else { return fingerprint }
        let keyWord = words + 2 * (Int(truncatingIfNeeded: key) & mask)
        for _ in 0..<10_000 {
            let current = keyWord.pointee.load(ordering: .acquiring)
            if current == Self.busy { continue }  // a writer is between its two stores
            if current == key {
                let value = (keyWord + 1).pointee.load(ordering: .acquiring)
                if keyWord.pointee.load(ordering: .acquiring) == key, isFresh(value, now: now) {
                    return UInt32(truncatingIfNeeded: value >> 32)
                }
            }
            // Empty, another flow's (evicted: the memory is lossy), or ours gone stale: take it.
            guard keyWord.pointee.compareExchange(expected: current, desired: Self.busy, ordering: .acquiringAndReleasing).exchanged else {
                continue
            }
            (keyWord + 1).pointee.store(Self.value(fingerprint, now), ordering: .releasing)
            keyWord.pointee.store(key, ordering: .releasing)
            return fingerprint
        }
        return fingerprint  // a writer stalled mid-store: go without the memory this once
    }
}
