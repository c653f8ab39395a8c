import PacketRewrite

/// One backend of a service as the config describes it: where to send a flow, how large a
/// share of new flows it should get, and whether it may take new flows at all.
///
/// A plain value with no identity of its own: `key` (address and port) is what links it to
/// flow counters, health state and session affinity across reloads.
@frozen
public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16
    /// Relative share of new flows. 0 keeps the endpoint in the config (its existing flows
    /// are untouched) but gives it no new flows, like an IPVS real server of weight 0.
    public var weight: UInt32
    public var conditions: EndpointConditions
    /// An opaque number the daemon attaches (its endpoint id for marks and the nftables map)
    /// and gets back untouched in `EndpointChoice.endpoint`; the balancer never reads it.
    /// Part of equality, so a renumbered endpoint rebuilds its service's balancer and picks
    /// never carry a stale tag.
    public var tag: UInt32

    @inlinable
    public init(address: IPAddress, port: UInt16, weight: UInt32 = 1,
                conditions: EndpointConditions = EndpointConditions(), tag: UInt32 = 0) {
        self.address = address
        self.port = port
        self.weight = weight
        self.conditions = conditions
        self.tag = tag
    }

    @inlinable
    public var key: EndpointKey { EndpointKey(address: address, port: port) }

    public var description: String {
        "\(key) weight=\(weight) \(conditions)" + (tag == 0 ? "" : " tag=\(tag)")
    }
}
