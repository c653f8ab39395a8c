import Balancer

/// A file-config service's `internalTrafficPolicy` and topology (`trafficDistribution`, the
/// endpoints' `zone` and `forZones`), with kube-proxy's names and meaning.
///
/// It stays on the service's entry as read; once the whole config is read, the top-level
/// `nodeName` and `zone` turn it into the service's endpoints (`EndpointCategories`, the rule
/// the Kubernetes source uses too).
public struct TrafficPolicySettings: Sendable, Equatable {
    public enum InternalPolicy: String, Sendable, CaseIterable {
        /// Every endpoint (narrowed by topology hints when they are in force).
        case Cluster
        /// This node's endpoints only; with none here but some elsewhere, flows are dropped.
        case Local
    }

    /// `trafficDistribution`: what Kubernetes' EndpointSlice controller does with it is give
    /// each endpoint its own zone as hint; the file does the same for endpoints with a `zone`
    /// and no `forZones`. `PreferSameZone` is the newer name of `PreferClose`.
    public enum Distribution: String, Sendable, CaseIterable {
        case PreferClose
        case PreferSameZone
    }

    public var internalPolicy: InternalPolicy = .Cluster
    public var distribution: Distribution?
    public var nodes = EndpointNodes()
    /// The zone each endpoint runs in (EndpointSlice `zone`).
    public var zones: [EndpointKey: String] = [:]
    /// The zones each endpoint serves (EndpointSlice `hints.forZones`).
    public var forZones: [EndpointKey: Set<String>] = [:]
    /// Lines of the fields, for errors found once the whole config is read.
    public var internalPolicyLine = 0
    public var distributionLine = 0
    public var forZonesLine = 0

    public init() {}

    /// Whether the service asks for zone hints to be used (and so needs this node's zone).
    public var usesZones: Bool { distribution != nil || !forZones.isEmpty }

    /// The endpoints with their locality and zone hints: `forZones` where given, else, with a
    /// `trafficDistribution`, the endpoint's own `zone`.
    public func placed(_ endpoints: [Endpoint], nodeName: String?) -> [PlacedEndpoint] {
        endpoints.map { endpoint in
            let key = endpoint.key
            var hints = forZones[key] ?? []
            if hints.isEmpty, distribution != nil, let zone = zones[key] { hints = [zone] }
            return PlacedEndpoint(endpoint, isLocal: nodes.isLocal(key, nodeName: nodeName), zoneHints: hints)
        }
    }
}
