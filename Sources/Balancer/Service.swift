import PacketRewrite

/// One service as the config describes it: a virtual address, port and protocol, the way to
/// spread new flows over its endpoints, and the endpoints.
///
/// Equatable so that a reload can tell in one comparison whether a service changed and its
/// `ServiceBalancer` (and, say, its Maglev table) can be reused.
public struct Service: Hashable, Sendable, CustomStringConvertible {
    /// For people: errors, status and metrics name the service by it. Not part of the key.
    public var name: String
    public var vip: IPAddress
    public var port: UInt16
    /// `.tcp` or `.udp`; `BalancerSnapshot.build` rejects anything else.
    public var proto: IPProtocolNumber
    /// A `StrategyRegistry` config name; kube-proxy's behaviour (`random`) by default.
    public var strategy: String
    public var strategyOptions: StrategyOptions
    /// `nil` is kube-proxy's `sessionAffinity: None`.
    public var sessionAffinity: SessionAffinity?
    /// Whether flows also get source NAT to the node address (hairpin, host clients).
    /// The balancer only carries it for the daemon.
    public var masquerade: Bool
    /// Whether the node answers an ICMP echo to the service address (`answerPing`): one
    /// service of an address that says so makes the whole address pingable.
    public var answersPing: Bool
    public var endpoints: [Endpoint]
    /// Which address of the service this is; a cluster IP unless the config derived it from a
    /// `nodePort`, `externalIPs` or `loadBalancerIPs` entry.
    public var kind: ServiceAddressKind = .clusterIP
    /// kube-proxy's `loadBalancerSourceRanges`: clients outside every range are dropped.
    /// Empty admits every client.
    public var sourceRanges: [IPPrefix] = []
    /// `externalTrafficPolicy: Local`: the endpoints are this node's only, and a flow with no
    /// endpoint left is dropped (kube-proxy's "has no local endpoints" rule) rather than
    /// rejected, so a load balancer's health check, not a reset, takes the node out.
    public var dropsWithoutEndpoints = false
    /// `internalTrafficPolicy: Local` on a cluster IP: its endpoints are this node's only
    /// (`EndpointCategories.local`). Shown by `status`; the packet path never reads it.
    public var internalTrafficPolicyLocal = false
    /// The topology hints narrowing the endpoints (`EndpointCategories.topology`). Shown by
    /// `status`; the packet path never reads it.
    public var topology: TopologyMode = .none

    public init(name: String, vip: IPAddress, port: UInt16, proto: IPProtocolNumber = .tcp,
                strategy: String = "random", strategyOptions: StrategyOptions = [:],
                sessionAffinity: SessionAffinity? = nil, masquerade: Bool = false,
                answersPing: Bool = false, endpoints: [Endpoint] = []) {
        self.name = name
        self.vip = vip
        self.port = port
        self.proto = proto
        self.strategy = strategy
        self.strategyOptions = strategyOptions
        self.sessionAffinity = sessionAffinity
        self.masquerade = masquerade
        self.answersPing = answersPing
        self.endpoints = endpoints
    }

    @inlinable
    public var key: ServiceKey { ServiceKey(address: vip, port: port, proto: proto) }

    /// Whether `source` may open a flow: inside `sourceRanges`, or any when there are none.
    @inlinable
    public func admits(_ source: IPAddress) -> Bool {
        if sourceRanges.isEmpty { return true }
        for range in sourceRanges where range.contains(source) { return true }
        return false
    }

    public var description: String { kind == .clusterIP ? "\(name) (\(key))" : "\(name) (\(kind.rawValue) \(key))" }
}
