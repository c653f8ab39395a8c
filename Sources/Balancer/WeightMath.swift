/// Integer arithmetic the strategies share at build time.
@usableFromInline
enum WeightMath {
    /// The weights strategies work with: the endpoints' own, except that all-zero (possible
    /// only when a strategy is built directly, since eligibility drops weight 0) counts as
    /// all-equal rather than as "no endpoint".
    static func weights(of endpoints: [Endpoint]) -> [UInt64] {
        let weights = endpoints.map { UInt64($0.weight) }
        return weights.allSatisfy { $0 == 0 } ? weights.map { _ in 1 } : weights
    }

    static func gcd(_ a: UInt64, _ b: UInt64) -> UInt64 {
        var (a, b) = (a, b)
        while b != 0 { (a, b) = (b, a % b) }
        return a
    }

    static func isPrime(_ n: Int) -> Bool {
        if n < 2 { return false }
        if n < 4 { return true }
        if n % 2 == 0 || n % 3 == 0 { return false }
        var d = 5
        while d * d <= n {
            if n % d == 0 || n % (d + 2) == 0 { return false }
            d += 6
        }
        return true
    }

    /// Whether load `a1/w1` is strictly lower than `a2/w2`, by cross-multiplication (no
    /// division, exact for any counts and weights). Weight 0 means "takes no new flows", so
    /// it is never lower than anything.
    @inlinable
    static func isLessLoaded(active a1: Int, weight w1: UInt64, than a2: Int, weight w2: UInt64) -> Bool {
        if w1 == 0 { return false }
        if w2 == 0 { return true }
        let lhs = UInt64(clamping: a1).multipliedFullWidth(by: w2)
        let rhs = UInt64(clamping: a2).multipliedFullWidth(by: w1)
        return lhs.high < rhs.high || (lhs.high == rhs.high && lhs.low < rhs.low)
    }
}

extension UnsafeBufferPointer {
    /// A heap copy of `array` that a strategy owns and frees in its `deinit`: reading it
    /// costs no reference counting and no uniqueness check, unlike an `Array` property.
    static func allocate(copying array: [Element]) -> UnsafeBufferPointer<Element> {
        let buffer = UnsafeMutableBufferPointer<Element>.allocate(capacity: array.count)
        _ = buffer.initialize(from: array)
        return UnsafeBufferPointer(buffer)
    }
}
