/// The packet-mark bits nfq-lb owns, and what it writes into them.
///
/// A verdict mark replaces the whole skb mark, and other software (kube-proxy's 0x4000 and
/// 0x8000, CNIs) uses bits of its own: we write only inside `mask` and keep every other bit
/// of the packet's mark. Inside the field (the mask's contiguous bits) the top bit flags
/// masquerade (mode mark), and the rest holds a value: 1 reject, 2 notrack (mode rewrite's
/// reinjection), 3 reinjected (a masqueraded UDP datagram sent again from the node), 4–7 reserved, 8 and up an endpoint id. `deploy/iptables-hooks.sh` uses the
/// same layout.
public struct MarkLayout: Sendable, Equatable, CustomStringConvertible {
    public let mask: UInt32
    public let shift: UInt32
    public let width: UInt32

    public static let `default` = MarkLayout(validMask: 0xFFFF_0000)

    /// Reserved values below this are not endpoint ids.
    public static let firstEndpointID: UInt32 = 8

    /// nil unless `mask` is one contiguous run of at least 8 bits.
    public init?(mask: UInt32) {
        guard mask != 0 else { return nil }
        let shift = UInt32(mask.trailingZeroBitCount)
        let width = UInt32(mask.nonzeroBitCount)
        guard width >= 8, (mask >> shift) == (width == 32 ? UInt32.max : (1 << width) - 1) else { return nil }
        self.init(validMask: mask)
    }

    private init(validMask mask: UInt32) {
        self.mask = mask
        shift = UInt32(mask.trailingZeroBitCount)
        width = UInt32(mask.nonzeroBitCount)
    }

    /// The masquerade flag: the field's top bit.
    public var masquerade: UInt32 { 1 << (shift + width - 1) }
    /// The field without the masquerade flag: what holds a value.
    public var valueMask: UInt32 { mask & ~masquerade }
    public var reject: UInt32 { 1 << shift }
    public var notrack: UInt32 { 2 << shift }
    /// The largest endpoint id the field can hold.
    public var maximumEndpointID: UInt32 { valueMask >> shift }

    @inlinable
    public func value(endpointID: UInt32) -> UInt32 { (endpointID << shift) & valueMask }

    @inlinable
    public func endpointID(ofMark mark: UInt32) -> UInt32 { (mark & valueMask) >> shift }

    /// `packetMark` with our field replaced by `field`: every other bit survives.
    @inlinable
    public func merging(_ field: UInt32, into packetMark: UInt32) -> UInt32 { (packetMark & ~mask) | (field & mask) }

    public var description: String { "0x" + String(mask, radix: 16) }
}
