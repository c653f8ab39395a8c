import PacketRewrite

/// What identifies a service on the wire: the destination a flow's first packet carries.
@frozen
public struct ServiceKey: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16
    public var proto: IPProtocolNumber

    @inlinable
    public init(address: IPAddress, port: UInt16, proto: IPProtocolNumber) {
        self.address = address
        self.port = port
        self.proto = proto
    }

    /// A hash that is the same in every process: affinity entries are keyed by it so that they
    /// survive a reload (and a restart, were the table ever persisted).
    @inlinable
    public var stableHash: UInt64 {
        FlowHash.finalize(FlowHash.mix(FlowHash.mix(FlowHash.seed, FlowHash.hash(address)),
                                       UInt64(port) << 8 | UInt64(proto.rawValue)))
    }

    public var description: String {
        address.isIPv4 ? "\(proto) \(address):\(port)" : "\(proto) [\(address)]:\(port)"
    }
}
