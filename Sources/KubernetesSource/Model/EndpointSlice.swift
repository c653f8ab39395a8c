/// A `discovery.k8s.io/v1` EndpointSlice, reduced to what nfq-lb reads: the endpoints of one
/// part of a service (label `kubernetes.io/service-name`) and the ports they listen on.
///
/// `endpoints` and `ports` are optional because a BOOKMARK carries them as `null` (and
/// `addressType` as `""`).
public struct EndpointSlice: KubernetesObject {
    public static let collectionPath = "/apis/discovery.k8s.io/v1/endpointslices"
    /// The label that names the slice's service in its namespace.
    public static let serviceNameLabel = "kubernetes.io/service-name"
    /// When the change this slice reflects was triggered (RFC 3339): where network
    /// programming latency is measured from.
    public static let lastChangeTriggerTimeAnnotation = "endpoints.kubernetes.io/last-change-trigger-time"

    public var metadata: ObjectMeta
    /// `IPv4`, `IPv6` or `FQDN`.
    public var addressType: String?
    public var endpoints: [Endpoint]?
    public var ports: [Port]?

    public init(metadata: ObjectMeta, addressType: String? = "IPv4", endpoints: [Endpoint]? = [], ports: [Port]? = []) {
        self.metadata = metadata
        self.addressType = addressType
        self.endpoints = endpoints
        self.ports = ports
    }

    /// The service this slice belongs to, `namespace/name`; nil for a slice without the label.
    public var serviceKey: String? {
        guard let name = metadata.labels?[Self.serviceNameLabel], !name.isEmpty else { return nil }
        return "\(metadata.namespace ?? "")/\(name)"
    }

    public struct Endpoint: Codable, Sendable, Equatable {
        /// Only `addresses[0]` is used, as kube-proxy does (the API defines no other use).
        public var addresses: [String]
        public var conditions: Conditions?
        public var nodeName: String?
        public var zone: String?
        public var hints: Hints?

        public init(addresses: [String], conditions: Conditions? = nil, nodeName: String? = nil, zone: String? = nil, hints: Hints? = nil) {
            self.addresses = addresses
            self.conditions = conditions
            self.nodeName = nodeName
            self.zone = zone
            self.hints = hints
        }
    }

    /// Each condition may be absent: `ready` and `serving` absent mean true, `terminating`
    /// absent means false (an endpoint created without conditions comes back as `{}`).
    public struct Conditions: Codable, Sendable, Equatable {
        public var ready: Bool?
        public var serving: Bool?
        public var terminating: Bool?

        public init(ready: Bool? = nil, serving: Bool? = nil, terminating: Bool? = nil) {
            self.ready = ready
            self.serving = serving
            self.terminating = terminating
        }
    }

    /// Where the EndpointSlice controller wants this endpoint used (topology-aware routing):
    /// the zones (`trafficDistribution: PreferClose`/`PreferSameZone`, or the
    /// `service.kubernetes.io/topology-mode: Auto` annotation) and nodes (`PreferSameNode`)
    /// it serves. See `TopologyMode` for how a proxy reads them.
    public struct Hints: Codable, Sendable, Equatable {
        public struct Zone: Codable, Sendable, Equatable {
            public var name: String
            public init(name: String) { self.name = name }
        }

        public struct ForNode: Codable, Sendable, Equatable {
            public var name: String
            public init(name: String) { self.name = name }
        }

        public var forZones: [Zone]?
        public var forNodes: [ForNode]?

        public init(forZones: [Zone]? = nil, forNodes: [ForNode]? = nil) {
            self.forZones = forZones
            self.forNodes = forNodes
        }
    }

    public struct Port: Codable, Sendable, Equatable {
        /// Matches the service port of the same name (`""` when both are unnamed).
        public var name: String?
        public var port: Int?
        public var `protocol`: String?

        public init(name: String? = nil, port: Int?, protocol: String? = "TCP") {
            self.name = name
            self.port = port
            self.protocol = `protocol`
        }
    }
}
