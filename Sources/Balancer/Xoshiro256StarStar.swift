/// xoshiro256** (Blackman and Vigna): the per-worker generator of the random strategies.
///
/// `SystemRandomNumberGenerator` reads from the kernel (a syscall or a shared lock-protected
/// state); this is four words in the worker's own `PickContext`, a few cycles per number, and
/// seedable so that tests are deterministic. Not cryptographic: nothing here needs it to be.
@frozen
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
    @usableFromInline var s0: UInt64
    @usableFromInline var s1: UInt64
    @usableFromInline var s2: UInt64
    @usableFromInline var s3: UInt64

    /// Expands `seed` with splitmix64, as the authors recommend, so that any seed (even 0)
    /// gives a valid, well-mixed state.
    @inlinable
    public init(seed: UInt64) {
        var x = seed
        @inline(__always) func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitmix()
        s1 = splitmix()
        s2 = splitmix()
        s3 = splitmix()
    }

    /// A seed from the system generator, for workers that need no reproducibility.
    public init() {
        var system = SystemRandomNumberGenerator()
        self.init(seed: system.next())
    }

    @inlinable @inline(__always)
    public mutating func next() -> UInt64 {
        let result = (s1 &* 5).rotatedLeft(by: 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3.rotatedLeft(by: 45)
        return result
    }

    /// A number in `0..<bound` by Lemire's multiply-shift: no division and no rejection loop.
    /// Its bias is at most `bound / 2^64`, far below anything a chi-square test of a load
    /// balancer could see.
    @inlinable @inline(__always)
    public mutating func next(below bound: Int) -> Int {
        Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(truncatingIfNeeded: bound)).high)
    }
}

extension UInt64 {
    @inlinable @inline(__always)
    func rotatedLeft(by k: UInt64) -> UInt64 {
        (self &<< k) | (self &>> (64 &- k))
    }
}
