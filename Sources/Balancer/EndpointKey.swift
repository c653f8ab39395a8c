import PacketRewrite

/// What identifies an endpoint across reloads: its address and port.
///
/// Flow counts, health state and affinity entries are keyed by it, so an endpoint that keeps
/// its address and port keeps its state even if its weight or conditions change.
@frozen
public struct EndpointKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16

    @inlinable
    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// One word into the hasher instead of the enum's case tag and fields: reloads look up
    /// every endpoint of every service in dictionaries, and at 10,000 services that adds up.
    @inlinable
    public func hash(into hasher: inout Hasher) {
        hasher.combine(FlowHash.hash(address) &+ UInt64(port) &* 0x9E37_79B9_7F4A_7C15)
    }

    /// The canonical text the stable hashes are computed over: `10.0.0.1:8080`, or
    /// `[fd00::1]:8080` for IPv6 (brackets keep the port apart from the address; addresses
    /// print in their canonical RFC 5952 form, so one endpoint has exactly one text).
    public var description: String {
        address.isIPv4 ? "\(address):\(port)" : "[\(address)]:\(port)"
    }

    /// A 64-bit hash of the canonical text that is the same in every process and on every
    /// node (FNV-1a, unlike the per-process seeded `Hasher`): Maglev tables and affinity
    /// fingerprints built from it agree across restarts and across nodes.
    ///
    /// Computing it formats a string, so it is for snapshot builds, never per packet.
    public var stableHash: UInt64 {
        FlowHash.hash(bytes: description.utf8)
    }

    /// A second stable hash, independent of `stableHash` (another salt on the same text), for
    /// algorithms that need two (Maglev's offset and skip).
    public var secondaryStableHash: UInt64 {
        FlowHash.hash(bytes: ("maglev-skip|" + description).utf8)
    }

    /// The 32-bit fingerprint an affinity entry stores to name this endpoint.
    public var fingerprint: UInt32 {
        let h = stableHash
        return UInt32(truncatingIfNeeded: h >> 32) ^ UInt32(truncatingIfNeeded: h)
    }

    public static func < (lhs: EndpointKey, rhs: EndpointKey) -> Bool {
        (lhs.address, lhs.port) < (rhs.address, rhs.port)
    }
}
