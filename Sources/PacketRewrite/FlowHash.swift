/// A small, fast, seedless 64-bit hash for flow keys and endpoint names.
///
/// Deterministic across processes and machines by design (see `FlowTuple.stableHash`). The
/// mixing step is the multiply-xorshift of splitmix64/Murmur3's finaliser, good enough to spread
/// 5-tuples over a Maglev table; it is not a defence against an adversary choosing ports.
public enum FlowHash {
    public static let seed: UInt64 = 0x9E37_79B9_7F4A_7C15

    @inlinable @inline(__always)
    public static func mix(_ h: UInt64, _ v: UInt64) -> UInt64 {
        (h ^ v) &* 0xBF58_476D_1CE4_E5B9 &+ 0x94D0_49BB_1331_11EB
    }

    @inlinable @inline(__always)
    public static func finalize(_ h: UInt64) -> UInt64 {
        var z = h
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inlinable @inline(__always)
    public static func hash(_ address: IPAddress) -> UInt64 {
        switch address {
        case .v4(let a): return UInt64(a.rawValue) | 0x4_0000_0000
        case .v6(let a): return finalize(mix(a.high, a.low))
        }
    }

    /// FNV-1a over bytes, finalised: for names such as an endpoint's `address:port`.
    @inlinable
    public static func hash(bytes: some Sequence<UInt8>) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return finalize(h)
    }
}
