/// The lookup table of Maglev (Eisenbud et al., NSDI 2016, section 3.4): `size` entries (a
/// prime), each naming a candidate, filled so that every candidate owns a share of the
/// entries proportional to its weight and removing one candidate moves little more than its
/// own entries.
///
/// Each candidate walks its own permutation of the entries, `offset + j * skip (mod size)`,
/// with offset and skip from two independent stable hashes of its `EndpointKey`; candidates
/// take turns claiming the next free entry of their permutation. Weights: in round k a
/// candidate of weight w takes a turn when `k * w / maxWeight` steps up, so the heaviest
/// takes one every round and the others in proportion.
///
/// Deterministic across processes and nodes: permutations depend only on the keys' stable
/// hashes, and turns are taken in `EndpointKey` order, not config order, so the same set of
/// endpoints gives the same table (as endpoint keys) however the config lists them.
public final class MaglevTable: @unchecked Sendable {
    // @unchecked: `entries` is written only in init and freed only in deinit.

    /// The paper's table size, a prime well above 100 x a typical backend count: what a
    /// `tableSize` option usually names. The default is sized per service instead
    /// (`defaultSize(forCandidates:)`).
    public static let defaultSize = 65_537

    /// The table size a service gets without a `tableSize` option: the smallest prime of at
    /// least 100 x its candidate count rounded up to a power of two (at least 8).
    ///
    /// Why 100 x: Maglev's fill gives equal-weight candidates shares that differ by at most one
    /// entry, so 100 entries per candidate keeps every share within 1% of the others, and
    /// removing one of N candidates still moves about 1/N of the flow hashes (measured: 1.39/N,
    /// of which 2% of the other candidates' entries; 1.08/N and 0.3% at 65,537 entries, which
    /// a `tableSize` option still buys where that matters more than memory).
    /// Why a power of two: the size must not change when one endpoint comes or goes, or the
    /// whole table would be redrawn; with steps, it changes only when the count crosses a
    /// power of two. A fixed 65,537 entries cost 128 KiB per service (1.3 GB at 10,000
    /// services); 10 endpoints now take 1,601 entries (3 KiB).
    public static func defaultSize(forCandidates count: Int) -> Int {
        let step = count <= 8 ? 8 : 1 << (Int.bitWidth - (count - 1).leadingZeroBitCount)
        var size = min(100 * step, maximumSize)
        while !WeightMath.isPrime(size) { size += 1 }
        return min(size, maximumSize)
    }
    /// The largest size accepted: 16 Mi entries (32 MiB); a larger table buys nothing.
    public static let maximumSize = 16_777_213
    /// Entries are 16-bit candidate indexes, which bounds the candidates.
    public static let maximumCandidates = 1 << 16

    /// `entries[i]` is the candidate index of entry i; empty when there are no candidates.
    public let entries: UnsafeBufferPointer<UInt16>
    public let size: Int
    /// A stable hash of the table as endpoint keys: equal on two nodes (or two versions of
    /// this code) exactly when they would route every flow hash alike. For status output and
    /// the golden test.
    public let fingerprint: UInt64

    /// Builds the table; `endpoints.count` must be at most `min(size, maximumCandidates)`
    /// and `size` prime (callers validate: see `MaglevStrategy`). Primality is what makes
    /// every skip coprime with the size, so that each permutation reaches every entry and
    /// the fill terminates.
    /// The `tableSize` option of a strategy built on a Maglev table: a prime, `fallback` when
    /// absent.
    static func size(from options: StrategyOptions, default fallback: Int) throws(StrategyError) -> Int {
        let size = try options.integer("tableSize", default: fallback, in: 2...maximumSize)
        guard WeightMath.isPrime(size) else {
            throw StrategyError(option: "tableSize", problem: .invalidValue(
                options["tableSize"] ?? String(size), reason: "must be a prime number (e.g. 251, 4093, 65537)"))
        }
        return size
    }

    /// A table of `size` entries for `endpoints`, refusing more endpoints than entries.
    convenience init(endpoints: [Endpoint], checkedSize size: Int) throws(StrategyError) {
        guard endpoints.count <= min(size, Self.maximumCandidates) else {
            throw StrategyError(option: "tableSize", problem: .unsupportedEndpoints(
                reason: "\(size) must be at least the number of endpoints (\(endpoints.count))"))
        }
        self.init(endpoints: endpoints, size: size)
    }

    public init(endpoints: [Endpoint], size: Int) {
        precondition(WeightMath.isPrime(size) && endpoints.count <= min(size, Self.maximumCandidates),
                     "MaglevTable needs a prime size of at least the number of endpoints")
        self.size = size
        let n = endpoints.count
        let keys = endpoints.map(\.key)
        let keyHashes = keys.map(\.stableHash)
        guard n > 0 else {
            entries = UnsafeBufferPointer(start: nil, count: 0)
            fingerprint = 0
            return
        }
        let m = UInt64(size)
        var position = [UInt64](repeating: 0, count: n)
        var skip = [UInt64](repeating: 1, count: n)
        for i in 0..<n {
            position[i] = keyHashes[i] % m
            skip[i] = m > 1 ? keys[i].secondaryStableHash % (m - 1) + 1 : 1
        }
        let weights = WeightMath.weights(of: endpoints)
        let maxWeight = weights.max()!
        let order = (0..<n).sorted { keys[$0] < keys[$1] || (keys[$0] == keys[$1] && $0 < $1) }
            .filter { weights[$0] > 0 }

        let empty = Int32(-1)
        var table = [Int32](repeating: empty, count: size)
        var filled = 0
        var round: UInt64 = 1
        fill: while true {
            for i in order {
                let w = weights[i]
                if w != maxWeight && (round &* w) / maxWeight == ((round &- 1) &* w) / maxWeight {
                    continue
                }
                // Claim the next free entry of i's permutation.
                var p = position[i]
                while table[Int(p)] != empty {
                    p += skip[i]
                    if p >= m { p -= m }
                }
                table[Int(p)] = Int32(i)
                p += skip[i]
                if p >= m { p -= m }
                position[i] = p
                filled += 1
                if filled == size { break fill }
            }
            round += 1
        }

        let buffer = UnsafeMutableBufferPointer<UInt16>.allocate(capacity: size)
        var h = FlowHashFold()
        for (k, candidate) in table.enumerated() {
            buffer[k] = UInt16(truncatingIfNeeded: candidate)
            h.add(keyHashes[Int(candidate)])
        }
        entries = UnsafeBufferPointer(buffer)
        fingerprint = h.value
    }

    deinit {
        entries.deallocate()
    }

    /// The candidate for flow hash `hash`: the paper's `table[hash % size]`.
    @inlinable
    public func lookup(_ hash: UInt64) -> Int? {
        guard entries.count > 0 else { return nil }
        return Int(entries[Int(truncatingIfNeeded: hash % UInt64(truncatingIfNeeded: entries.count))])
    }

    /// How many entries each candidate owns.
    public func shares(candidates: Int) -> [Int] {
        var counts = [Int](repeating: 0, count: candidates)
        for e in entries { counts[Int(e)] += 1 }
        return counts
    }
}
