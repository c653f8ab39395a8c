/// One period of nginx's smooth weighted round robin, computed once so that picking is an
/// array read: each step every candidate's credit grows by its weight, the richest is
/// chosen (the first one on a tie) and pays the total. Weights 5,1,1 give a a b a c a a
/// rather than a a a a a b c.
enum SmoothWeightedSequence {
    /// The longest period kept. Weights whose reduced sum is larger are scaled down to fit
    /// (each nonzero weight stays at least 1), so ratios are honoured to about 1/65536, the
    /// sequence costs at most 256 KiB, and building it at most `maximumPeriod` x candidates
    /// steps.
    static let maximumPeriod = 1 << 16

    static func period(weights: [UInt64]) -> [UInt32] {
        var weights = weights
        let n = weights.count
        guard n > 0 else { return [] }
        reduce(&weights)
        var total = weights.reduce(0, +)
        if total > UInt64(maximumPeriod) {
            let scale = UInt64(maximumPeriod)
            // w * scale / total in 128 bits; the quotient fits since w <= total.
            weights = weights.map { w in
                w == 0 ? 0 : max(1, total.dividingFullWidth(w.multipliedFullWidth(by: scale)).quotient)
            }
            reduce(&weights)
            total = weights.reduce(0, +)
        }
        if weights.allSatisfy({ $0 == weights[0] }) {
            return (0..<n).map { UInt32(truncatingIfNeeded: $0) }
        }
        var credit = [Int64](repeating: 0, count: n)
        let signedWeights = weights.map { Int64($0) }
        let signedTotal = Int64(total)
        var sequence: [UInt32] = []
        sequence.reserveCapacity(Int(total))
        for _ in 0..<total {
            var best = -1
            for i in 0..<n where signedWeights[i] > 0 {
                credit[i] += signedWeights[i]
                if best < 0 || credit[i] > credit[best] { best = i }
            }
            credit[best] -= signedTotal
            sequence.append(UInt32(truncatingIfNeeded: best))
        }
        return sequence
    }

    /// Divides by the weights' greatest common divisor: 10,20,30 has the period of 1,2,3.
    private static func reduce(_ weights: inout [UInt64]) {
        let g = weights.reduce(0, WeightMath.gcd)
        if g > 1 { weights = weights.map { $0 / g } }
    }
}
