/// The Internet checksum (RFC 1071) and its incremental update (RFC 1624), as IPv4, TCP and UDP
/// use it.
///
/// Every value here is *numeric*: a 16-bit word is the number its two big-endian bytes spell,
/// the way the header views return fields. Internally the byte sum runs on native-order loads,
/// which is correct because the one's-complement sum commutes with byte swapping
/// (RFC 1071 §2(B)); the single swap happens after folding.
///
/// Sums are carried in a `UInt64` and folded at the end: adding up to 2^32 terms of at most
/// 32 bits cannot overflow it, so the hot path needs no end-around carry until the fold.
public enum InternetChecksum {
    /// The one's-complement sum (not complemented) of `bytes` read as big-endian 16-bit words;
    /// an odd last byte is padded with a zero byte, as RFC 1071 says.
    @inlinable
    public static func sum(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        guard let base = bytes.baseAddress else { return 0 }
        return UInt16(bigEndian: fold(nativeSum(base, count: bytes.count)))
    }

    /// The checksum to store in a header whose checksum field is zero in `bytes`.
    @inlinable
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        ~sum(bytes)
    }

    /// Folds a wide sum to 16 bits with end-around carry. It is 0 only when `sum` is 0, which is
    /// what keeps the 0x0000/0xFFFF distinction of one's complement right.
    @inlinable
    public static func fold(_ sum: UInt64) -> UInt16 {
        // Bounds: after the first step < 2^33, then < 2^18, then <= 0x10002, then <= 0xFFFF.
        var s = (sum & 0xFFFF_FFFF) &+ (sum >> 32)
        s = (s & 0xFFFF) &+ (s >> 16)
        s = (s & 0xFFFF) &+ (s >> 16)
        s = (s & 0xFFFF) &+ (s >> 16)
        return UInt16(truncatingIfNeeded: s)
    }

    /// One's-complement addition of two partial sums.
    @inlinable
    public static func add(_ a: UInt16, _ b: UInt16) -> UInt16 {
        fold(UInt64(a) &+ UInt64(b))
    }

    /// The sum over the IPv4 pseudo-header (RFC 9293 §3.1, RFC 768) that a TCP or UDP checksum
    /// covers besides the segment itself.
    @inlinable
    public static func pseudoHeaderSum(
        source: IPv4Address, destination: IPv4Address, protocol proto: IPProtocolNumber, length: UInt16
    ) -> UInt16 {
        fold(pseudoHeaderWideSum(source: source, destination: destination, protocol: proto, length: UInt32(length)))
    }

    /// The sum over the IPv6 pseudo-header (RFC 8200 §8.1). `destination` must be the final
    /// destination, which differs from the header's when a Routing header has segments left.
    @inlinable
    public static func pseudoHeaderSum(
        source: IPv6Address, destination: IPv6Address, protocol proto: IPProtocolNumber, length: UInt32
    ) -> UInt16 {
        fold(pseudoHeaderWideSum(source: source, destination: destination, protocol: proto, length: length))
    }

    /// RFC 1624 eqn. 3, `HC' = ~(~HC + ~m + m')`, for a changed 16-bit word (a port). Eqn. 3 and
    /// not eqn. 2: it never turns a checksum into the 0xFFFF that a full computation never gives.
    @inlinable
    public static func updated(_ checksum: UInt16, from old: UInt16, to new: UInt16) -> UInt16 {
        updated(checksum, difference: difference(from: old, to: new))
    }

    /// RFC 1624 eqn. 3 for a changed 32-bit field (an IPv4 address), as two 16-bit words.
    @inlinable
    public static func updated(_ checksum: UInt16, from old: UInt32, to new: UInt32) -> UInt16 {
        updated(checksum, difference: difference(from: old, to: new))
    }

    /// RFC 1624 eqn. 3 for a changed IPv4 address.
    @inlinable
    public static func updated(_ checksum: UInt16, from old: IPv4Address, to new: IPv4Address) -> UInt16 {
        updated(checksum, difference: difference(from: old.rawValue, to: new.rawValue))
    }

    /// RFC 1624 eqn. 3 for a changed IPv6 address, as eight 16-bit words.
    @inlinable
    public static func updated(_ checksum: UInt16, from old: IPv6Address, to new: IPv6Address) -> UInt16 {
        updated(checksum, difference: difference(from: old, to: new))
    }

    // MARK: - Internals shared with the rewrite

    /// `~HC + Σ(~m + m')` folded and complemented: one eqn. 3 update for any number of changed
    /// words, whose `~m + m'` terms the `difference` functions sum up.
    @inlinable @inline(__always)
    static func updated(_ checksum: UInt16, difference: UInt64) -> UInt16 {
        ~fold(UInt64(~checksum) &+ difference)
    }

    @inlinable @inline(__always)
    static func difference(from old: UInt16, to new: UInt16) -> UInt64 {
        UInt64(~old) &+ UInt64(new)
    }

    /// A 32-bit word stands for its two 16-bit halves: 2^16 ≡ 1 modulo 2^16 - 1, so the fold
    /// adds the halves, and `~` of the word is `~` of each half.
    @inlinable @inline(__always)
    static func difference(from old: UInt32, to new: UInt32) -> UInt64 {
        UInt64(~old) &+ UInt64(new)
    }

    @inlinable @inline(__always)
    static func difference(from old: IPv6Address, to new: IPv6Address) -> UInt64 {
        wideSum(~old.high) &+ wideSum(~old.low) &+ wideSum(new.high) &+ wideSum(new.low)
    }

    /// A 64-bit word as the sum of its 32-bit halves, so that several can be added without
    /// overflowing the accumulator.
    @inlinable @inline(__always)
    static func wideSum(_ word: UInt64) -> UInt64 {
        (word >> 32) &+ (word & 0xFFFF_FFFF)
    }

    @inlinable @inline(__always)
    static func pseudoHeaderWideSum(
        source: IPv4Address, destination: IPv4Address, protocol proto: IPProtocolNumber, length: UInt32
    ) -> UInt64 {
        UInt64(source.rawValue) &+ UInt64(destination.rawValue) &+ UInt64(proto.rawValue) &+ UInt64(length)
    }

    @inlinable @inline(__always)
    static func pseudoHeaderWideSum(
        source: IPv6Address, destination: IPv6Address, protocol proto: IPProtocolNumber, length: UInt32
    ) -> UInt64 {
        wideSum(source.high) &+ wideSum(source.low) &+ wideSum(destination.high) &+ wideSum(destination.low)
            &+ UInt64(length) &+ UInt64(proto.rawValue)
    }

    /// The sum of `count` bytes at `base` in native byte order, unfolded. Eight bytes per step
    /// with the carry added back at once (end-around carry keeps a 64-bit word sum congruent to
    /// the 16-bit one); two accumulators so that consecutive adds do not wait for each other.
    @inlinable
    static func nativeSum(_ base: UnsafeRawPointer, count: Int) -> UInt64 {
        var a: UInt64 = 0
        var b: UInt64 = 0
        var offset = 0
        // Safe: each load reads bytes [offset, offset + 8) with offset + 16 <= count here.
        while offset &+ 16 <= count {
            let (x, xCarry) = a.addingReportingOverflow(base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            a = x &+ (xCarry ? 1 : 0)
            let (y, yCarry) = b.addingReportingOverflow(base.loadUnaligned(fromByteOffset: offset &+ 8, as: UInt64.self))
            b = y &+ (yCarry ? 1 : 0)
            offset &+= 16
        }
        // Fold each accumulator to 32 bits so that the tail below cannot overflow.
        var s = UInt64(fold32(a)) &+ UInt64(fold32(b))
        // Safe: the tail loads stay below `count`, each guarded by its own length test.
        if offset &+ 8 <= count {
            s &+= wideSum(base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
            offset &+= 8
        }
        if offset &+ 4 <= count {
            s &+= UInt64(base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            offset &+= 4
        }
        if offset &+ 2 <= count {
            s &+= UInt64(base.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            offset &+= 2
        }
        if offset < count {
            // The odd byte is the high byte of a big-endian word padded with zero.
            s &+= UInt64((UInt16(base.load(fromByteOffset: offset, as: UInt8.self)) << 8).bigEndian)
        }
        return s
    }

    @inlinable @inline(__always)
    static func fold32(_ sum: UInt64) -> UInt32 {
        let s = (sum & 0xFFFF_FFFF) &+ (sum >> 32)
        return UInt32(truncatingIfNeeded: (s & 0xFFFF_FFFF) &+ (s >> 32))
    }
}
