/// Walker's alias method (Vose's construction, in integers): a weighted choice in O(1) per
/// pick from one random number, for `random` with unequal weights.
///
/// Built exactly in integer arithmetic, so the only error is the 32-bit threshold's rounding
/// (below 2^-32 per bucket) and the same weights always give the same table.
struct AliasTable {
    /// Per bucket: keep the bucket when the low 32 random bits are below this, else alias.
    var thresholds: [UInt32]
    var aliases: [UInt32]

    init(weights: [UInt64]) {
        let n = weights.count
        thresholds = Array(repeating: UInt32.max, count: n)
        aliases = (0..<n).map { UInt32(truncatingIfNeeded: $0) }
        guard n > 0 else { return }
        // Each bucket holds `total` units; endpoint i brings `weight * n` units.
        let total = weights.reduce(0, +)
        guard total > 0 else { return }
        var units = weights.map { $0 &* UInt64(n) }
        var small: [Int] = []
        var large: [Int] = []
        for i in 0..<n {
            if units[i] < total { small.append(i) } else { large.append(i) }
        }
        while let s = small.popLast() {
            guard let l = large.popLast() else { break }
            // Bucket s: its own `units[s]`, the rest from l.
            thresholds[s] = UInt32(truncatingIfNeeded: total.dividingFullWidth((high: units[s] >> 32, low: units[s] << 32)).quotient)
            aliases[s] = UInt32(truncatingIfNeeded: l)
            units[l] -= total - units[s]
            if units[l] < total { small.append(l) } else { large.append(l) }
        }
        // Whatever is left fills its bucket exactly (up to rounding): keep it, alias to self.
    }
}
