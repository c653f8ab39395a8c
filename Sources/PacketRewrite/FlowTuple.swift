/// The 5-tuple of a flow as its first packet carries it: what a strategy picks for and what
/// a conntrack entry's original direction is made of.
@frozen
public struct FlowTuple: Hashable, Sendable, CustomStringConvertible {
    public var proto: IPProtocolNumber
    public var source: IPAddress
    public var sourcePort: UInt16
    public var destination: IPAddress
    public var destinationPort: UInt16

    @inlinable
    public init(proto: IPProtocolNumber, source: IPAddress, sourcePort: UInt16,
                destination: IPAddress, destinationPort: UInt16) {
        self.proto = proto
        self.source = source
        self.sourcePort = sourcePort
        self.destination = destination
        self.destinationPort = destinationPort
    }

    /// A hash of all five fields that is the same in every process and on every node, unlike
    /// `Hasher`, which is seeded per process: Maglev and source hashing must agree across
    /// restarts and across nodes.
    @inlinable @inline(__always)
    public var stableHash: UInt64 {
        var h = FlowHash.seed
        h = FlowHash.mix(h, FlowHash.hash(source))
        h = FlowHash.mix(h, FlowHash.hash(destination))
        h = FlowHash.mix(h, UInt64(sourcePort) << 24 | UInt64(destinationPort) << 8 | UInt64(proto.rawValue))
        return FlowHash.finalize(h)
    }

    public var description: String {
        func endpoint(_ a: IPAddress, _ p: UInt16) -> String {
            a.isIPv4 ? "\(a):\(p)" : "[\(a)]:\(p)"
        }
        return "\(proto) \(endpoint(source, sourcePort)) -> \(endpoint(destination, destinationPort))"
    }
}
