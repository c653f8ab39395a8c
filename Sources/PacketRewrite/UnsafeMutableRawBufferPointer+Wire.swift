// Big-endian field access for the header views.
//
// Every caller has already proved `offset + size <= count` (a view's bounds are checked once,
// when it is validated), so these use the unchecked `loadUnaligned`/`storeBytes`, whose bounds
// checks are debug-only. Headers sit at any alignment in a netlink buffer: hence *unaligned*
// loads, which compile to plain moves on x86-64 and arm64.

extension UnsafeMutableRawBufferPointer {
    @inlinable @inline(__always)
    func wireUInt8(at offset: Int) -> UInt8 {
        loadUnaligned(fromByteOffset: offset, as: UInt8.self)
    }

    @inlinable @inline(__always)
    func setWireUInt8(_ value: UInt8, at offset: Int) {
        storeBytes(of: value, toByteOffset: offset, as: UInt8.self)
    }

    @inlinable @inline(__always)
    func wireUInt16(at offset: Int) -> UInt16 {
        UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inlinable @inline(__always)
    func setWireUInt16(_ value: UInt16, at offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt16.self)
    }

    @inlinable @inline(__always)
    func wireUInt32(at offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inlinable @inline(__always)
    func setWireUInt32(_ value: UInt32, at offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
    }

    @inlinable @inline(__always)
    func wireIPv6Address(at offset: Int) -> IPv6Address {
        IPv6Address(
            high: UInt64(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self)),
            low: UInt64(bigEndian: loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self)))
    }

    @inlinable @inline(__always)
    func setWireIPv6Address(_ value: IPv6Address, at offset: Int) {
        storeBytes(of: value.high.bigEndian, toByteOffset: offset, as: UInt64.self)
        storeBytes(of: value.low.bigEndian, toByteOffset: offset + 8, as: UInt64.self)
    }

    /// The bytes from `offset` for `count` bytes, without the range check that slicing does:
    /// the caller has proved `offset + count <= self.count` (and `self.count > 0`, so the base
    /// address is not nil).
    @inlinable @inline(__always)
    func uncheckedSlice(from offset: Int, count: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: baseAddress.unsafelyUnwrapped + offset, count: count)
    }
}
