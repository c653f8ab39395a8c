/// A service port's endpoints sorted the way kube-proxy sorts them (pkg/proxy/topology.go,
/// `CategorizeEndpoints`): the list `Cluster` traffic policy uses, narrowed by topology hints,
/// and the list `Local` policy uses, this node's endpoints whatever the hints say.
///
/// One rule for both sources (the file config and the Kubernetes source), computed when a
/// service is read, never per packet: the balancer gets the chosen list as the service's
/// endpoints. Readiness stays with the balancer (`EndpointEligibility`), which falls back to
/// serving-terminating endpoints within whichever list it was given, as kube-proxy does for
/// each list independently.
public struct EndpointCategories: Sendable, Equatable {
    /// For `Cluster` policy: every endpoint, or, while hints are in force (`topology`), the
    /// ready endpoints hinted for this node's zone (or this node).
    public var cluster: [Endpoint]
    /// For `Local` policy: the endpoints on this node, hints ignored (kube-proxy ignores
    /// topology for Local policy).
    public var local: [Endpoint]
    /// Whether the service has a usable endpoint anywhere (ready, or serving and terminating).
    /// `Local` policy with no local endpoint drops a flow when it does (the service exists,
    /// elsewhere) and rejects it when it does not (the service has no endpoints at all).
    public var hasUsableEndpoints: Bool
    /// The hints in force for the `cluster` list.
    public var topology: TopologyMode

    public init(cluster: [Endpoint], local: [Endpoint], hasUsableEndpoints: Bool, topology: TopologyMode) {
        self.cluster = cluster
        self.local = local
        self.hasUsableEndpoints = hasUsableEndpoints
        self.topology = topology
    }

    /// Sorts `endpoints` (each once, in the order wanted) for a node named `nodeName` (nil:
    /// unknown, only `isLocal` says what is local) in `zone` (nil or empty: unknown, zone hints
    /// are never used).
    public init(_ endpoints: [PlacedEndpoint], nodeName: String?, zone: String?) {
        let mode = TopologyMode.from(endpoints, nodeName: nodeName, zone: zone)
        cluster = mode == .none ? endpoints.map(\.endpoint)
            : endpoints.filter { mode.admits($0, nodeName: nodeName, zone: zone) }.map(\.endpoint)
        local = endpoints.filter(\.isLocal).map(\.endpoint)
        hasUsableEndpoints = endpoints.contains { placed in
            let conditions = placed.endpoint.conditions
            return conditions.ready || (conditions.serving && conditions.terminating)
        }
        topology = mode
    }

    /// The endpoints for one address of the service: `local` for policy Local, else `cluster`.
    public func endpoints(localPolicy: Bool) -> [Endpoint] { localPolicy ? local : cluster }
}
