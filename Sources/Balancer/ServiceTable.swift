import PacketRewrite

/// (VIP, port, protocol) -> `ServiceBalancer`, looked up for the first packet of every flow.
///
/// Open addressing with linear probing over a power-of-two array kept at most half full, so
/// a lookup is a multiply, a shift and (almost always) one or two 32-byte slots, whatever
/// the number of services. Keys are packed into three words compared directly, and the hash
/// is a fixed multiply-xor: no `Hasher` (per-process seeded, and slower), no `Dictionary`
/// (whose lookup goes through generic hashing and retains its storage). Nothing is allocated
/// or retained per lookup beyond the returned reference.
public final class ServiceTable: @unchecked Sendable {
    // @unchecked: `slots` is written only in init and freed only in deinit; the balancers
    // its entries point to are kept alive by `balancers`.

    @frozen @usableFromInline
    struct PackedKey: Equatable {
        @usableFromInline var high: UInt64
        @usableFromInline var low: UInt64
        /// `1 << 63 | family << 32 | port << 8 | proto`; 0 marks an empty slot.
        @usableFromInline var tail: UInt64

        @inlinable
        init(address: IPAddress, port: UInt16, proto: IPProtocolNumber) {
            let portProto = 1 << 63 | UInt64(port) << 8 | UInt64(proto.rawValue)
            switch address {
            case .v4(let a):
                high = 0
                low = UInt64(a.rawValue)
                tail = portProto | 4 << 32
            case .v6(let a):
                high = a.high
                low = a.low
                tail = portProto | 6 << 32
            }
        }

        @inlinable
        init() {
            high = 0
            low = 0
            tail = 0
        }

        /// Multiply-xor-shift; the top bits are used, which a multiply mixes best.
        @inlinable
        func slot(shift: UInt64) -> Int {
            var h = (low ^ high &* 0x9E37_79B9_7F4A_7C15) &* 0xBF58_476D_1CE4_E5B9
            h = (h ^ tail ^ h >> 29) &* 0x94D0_49BB_1331_11EB
            return Int(truncatingIfNeeded: h &>> shift)
        }
    }

    @frozen @usableFromInline
    struct Slot {
        @usableFromInline var key: PackedKey
        @usableFromInline var balancer: Unmanaged<ServiceBalancer>?

        @inlinable
        init(key: PackedKey, balancer: Unmanaged<ServiceBalancer>?) {
            self.key = key
            self.balancer = balancer
        }
    }

    /// The services, in the order given.
    public let balancers: [ServiceBalancer]
    @usableFromInline let slots: UnsafeBufferPointer<Slot>
    @usableFromInline let mask: Int
    @usableFromInline let shift: UInt64

    /// A table of `balancers`; two with the same service key is a programming error
    /// (`BalancerSnapshot.build` reports it as a config error first).
    public init(_ balancers: [ServiceBalancer]) {
        self.balancers = balancers
        var bits = 1
        while 1 << bits < 2 * max(balancers.count, 1) { bits += 1 }
        let capacity = 1 << bits
        mask = capacity - 1
        shift = UInt64(64 - bits)
        let buffer = UnsafeMutableBufferPointer<Slot>.allocate(capacity: capacity)
        buffer.initialize(repeating: Slot(key: PackedKey(), balancer: nil))
        for balancer in balancers {
            let key = balancer.service.key
            let packed = PackedKey(address: key.address, port: key.port, proto: key.proto)
            var s = packed.slot(shift: shift)
            while buffer[s].key.tail != 0 {
                precondition(buffer[s].key != packed, "duplicate service \(key)")
                s = (s + 1) & mask
            }
            buffer[s] = Slot(key: packed, balancer: .passUnretained(balancer))
        }
        slots = UnsafeBufferPointer(buffer)
    }

    deinit {
        slots.deallocate()
    }

    public var count: Int { balancers.count }
    /// Slots in the table (a power of two, at least twice `count`).
    public var capacity: Int { slots.count }

    @inlinable
    public func lookup(address: IPAddress, port: UInt16, proto: IPProtocolNumber) -> ServiceBalancer? {
        unretainedLookup(address: address, port: port, proto: proto)?.takeUnretainedValue()
    }

    /// The balancer without retaining it: valid for as long as this table is alive. What
    /// `BalancerSnapshot.withLookup` builds its reference-counting-free path on.
    @inlinable
    public func unretainedLookup(address: IPAddress, port: UInt16, proto: IPProtocolNumber) -> Unmanaged<ServiceBalancer>? {
        let key = PackedKey(address: address, port: port, proto: proto)
        var s = key.slot(shift: shift)
        while true {
            let slot = slots[s]
            if slot.key == key { return slot.balancer }
            if slot.key.tail == 0 { return nil }
            s = (s &+ 1) & mask
        }
    }

    @inlinable
    public func lookup(_ key: ServiceKey) -> ServiceBalancer? {
        lookup(address: key.address, port: key.port, proto: key.proto)
    }
}
