import PacketRewrite
import Synchronization

/// Client-IP session affinity for every service, shared by all workers and kept across
/// reloads: which endpoint a client last used for a service, and when.
///
/// Like kube-proxy's `recent` match (`--rcheck --seconds T --reap`, then `--set`): a new
/// flow from a client seen at most T seconds ago goes to the remembered endpoint and renews
/// the entry; an entry older than T is expired.
///
/// Layout: a fixed array of buckets, each one 64-byte cache line of 4 slots; a slot is two
/// atomic 64-bit words, `key` and `value`.
/// - `key` is a 64-bit hash of (service, client address), see `key(service:client:)`;
///   0 marks an empty slot and 1 a slot being written.
/// - `value` is `(fingerprint ^ high half of key) << 32 | lastUsed`. Folding the key into
///   the stored fingerprint makes a value torn from another key decode to a fingerprint
///   that (but for a 2^-32 chance) names no endpoint, i.e. a miss.
///
/// Lock-free and allocation-free per lookup. Lossy by design: a key lives only in its own
/// bucket, so a fifth client hashing to a full bucket evicts the least recently used entry
/// (expired ones first, being the oldest), and a write that races another write on the same
/// slot is dropped. Either way the client simply gets a fresh pick, as when affinity expires.
///
/// Memory ordering (a seqlock with the key as its sequence word):
/// - writer: claim the slot by CAS `key: old -> 1`, release fence, store `value`, store
///   `key` with release. Only the claimer writes the slot, so two writes never interleave.
/// - reader: load `key` (acquire), load `value`, acquire fence, load `key` again; accept
///   only if both key loads equal the key looked for. If the value was written by a later
///   writer, the fence pair makes the second key load see that writer's claim (1) or a later
///   key, so a value is only accepted under the key it was written with (or under an equal
///   key, for which it is just as valid).
/// - a hit renews `lastUsed` with a relaxed CAS on `value` from the exact word read, so it
///   can never overwrite a concurrent writer's value.
public final class AffinityTable: @unchecked Sendable {
    // @unchecked: `words` is a fixed allocation of atomics, touched only through them.

    public static let slotsPerBucket = 4
    public static let defaultCapacity = 65_536

    @usableFromInline static let emptyKey: UInt64 = 0
    @usableFromInline static let busyKey: UInt64 = 1

    /// Slots in the table.
    public let capacity: Int
    @usableFromInline let bucketMask: UInt64
    /// `2 * capacity` words: slot s is `words[2s]` (key) and `words[2s + 1]` (value).
    @usableFromInline let words: UnsafeMutablePointer<Atomic<UInt64>>

    /// A table of `capacity` slots, a power of two and at least 4 (default 65,536: 1 MiB).
    public init(capacity: Int = AffinityTable.defaultCapacity) {
        precondition(capacity >= Self.slotsPerBucket && capacity & (capacity - 1) == 0,
                     "AffinityTable capacity must be a power of two of at least 4")
        self.capacity = capacity
        bucketMask = UInt64(capacity / Self.slotsPerBucket - 1)
        let count = 2 * capacity
        let raw = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<UInt64>.stride, alignment: 64)
        words = raw.bindMemory(to: Atomic<UInt64>.self, capacity: count)
        for i in 0..<count { (words + i).initialize(to: Atomic(0)) }
    }

    deinit {
        words.deinitialize(count: 2 * capacity)
        UnsafeMutableRawPointer(words).deallocate()
    }

    /// The entry key for a client of a service. `service` is the service's
    /// `ServiceKey.stableHash`, so different services never share an entry and an entry
    /// survives a reload that keeps the service's address, port and protocol.
    @inlinable
    public static func key(service: UInt64, client: IPAddress) -> UInt64 {
        let k = FlowHash.finalize(FlowHash.mix(service, FlowHash.hash(client)))
        return k > busyKey ? k : k &+ 2
    }

    @inlinable
    static func seal(_ fingerprint: UInt32, key: UInt64) -> UInt64 {
        UInt64(fingerprint ^ UInt32(truncatingIfNeeded: key >> 32)) << 32
    }

    /// Seconds from `then` to `now`; an entry stamped slightly ahead of this worker's clock
    /// (another worker's batch started later) counts as just used.
    @inlinable
    static func age(_ then: UInt32, now: UInt32) -> UInt32 {
        let delta = Int32(bitPattern: now &- then)
        return delta > 0 ? UInt32(delta) : 0
    }

    @inlinable
    func firstWord(ofBucketFor key: UInt64) -> UnsafeMutablePointer<Atomic<UInt64>> {
        words + Int(truncatingIfNeeded: key & bucketMask) &* (2 * Self.slotsPerBucket)
    }

    /// The fingerprint remembered for `key` if it was used at most `timeout` seconds before
    /// `now`, renewing it; `nil` if absent or expired.
    @inlinable
    public func touch(key: UInt64, now: UInt32, timeout: UInt32) -> UInt32? {
        let bucket = firstWord(ofBucketFor: key)
        for slot in 0..<Self.slotsPerBucket {
            let keyWord = bucket + 2 * slot
            guard keyWord.pointee.load(ordering: .acquiring) == key else { continue }
            let value = (keyWord + 1).pointee.load(ordering: .relaxed)
            atomicMemoryFence(ordering: .acquiring)
            guard keyWord.pointee.load(ordering: .relaxed) == key else { return nil }
            let lastUsed = UInt32(truncatingIfNeeded: value)
            guard Self.age(lastUsed, now: now) <= timeout else { return nil }
            if Int32(bitPattern: now &- lastUsed) > 0 {
                let renewed = value & 0xFFFF_FFFF_0000_0000 | UInt64(now)
                _ = (keyWord + 1).pointee.compareExchange(expected: value, desired: renewed, ordering: .relaxed)
            }
            return UInt32(truncatingIfNeeded: value >> 32) ^ UInt32(truncatingIfNeeded: key >> 32)
        }
        return nil
    }

    /// Remembers that `key` used the endpoint with `fingerprint` at `now`: in the slot that
    /// already has the key, else an empty one, else the least recently used one. Dropped
    /// (lossy) if another writer holds or takes that slot meanwhile.
    @inlinable
    public func record(key: UInt64, fingerprint: UInt32, now: UInt32) {
        let bucket = firstWord(ofBucketFor: key)
        var victim = -1
        var victimKey = Self.emptyKey
        var victimAge: Int64 = -1
        for slot in 0..<Self.slotsPerBucket {
            let keyWord = bucket + 2 * slot
            let k = keyWord.pointee.load(ordering: .relaxed)
            if k == key {
                victim = slot
                victimKey = k
                break
            }
            if k == Self.busyKey { continue }
            let age: Int64 = k == Self.emptyKey
                ? Int64.max
                : Int64(Self.age(UInt32(truncatingIfNeeded: (keyWord + 1).pointee.load(ordering: .relaxed)), now: now))
            if age > victimAge {
                victim = slot
                victimKey = k
                victimAge = age
            }
        }
        guard victim >= 0 else { return }
        let keyWord = bucket + 2 * victim
        guard keyWord.pointee.compareExchange(expected: victimKey, desired: Self.busyKey, ordering: .relaxed).exchanged
        else { return }
        atomicMemoryFence(ordering: .releasing)
        (keyWord + 1).pointee.store(Self.seal(fingerprint, key: key) | UInt64(now), ordering: .relaxed)
        keyWord.pointee.store(key, ordering: .releasing)
    }

    /// Forgets `key` (e.g. a test, or an operator clearing a client's affinity).
    public func remove(key: UInt64) {
        let bucket = firstWord(ofBucketFor: key)
        for slot in 0..<Self.slotsPerBucket {
            let keyWord = bucket + 2 * slot
            if keyWord.pointee.compareExchange(expected: key, desired: Self.emptyKey, ordering: .relaxed).exchanged {
                return
            }
        }
    }

    /// Entries used at most `timeout` seconds before `now`: for status and metrics. Scans the
    /// whole table.
    public func liveEntries(now: UInt32, timeout: UInt32) -> Int {
        var live = 0
        for slot in 0..<capacity {
            let k = words[2 * slot].load(ordering: .relaxed)
            guard k > Self.busyKey else { continue }
            let lastUsed = UInt32(truncatingIfNeeded: words[2 * slot + 1].load(ordering: .relaxed))
            if Self.age(lastUsed, now: now) <= timeout { live += 1 }
        }
        return live
    }
}
