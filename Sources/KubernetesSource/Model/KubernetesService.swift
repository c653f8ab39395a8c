/// A `v1` Service, reduced to what nfq-lb reads: which addresses and ports it serves and how
/// new flows are spread (`Service` in the Balancer module is what it becomes).
///
/// Every field is optional because a BOOKMARK event carries an object holding only
/// `metadata.resourceVersion`, and a server may leave defaulted fields out.
public struct KubernetesService: KubernetesObject {
    public static let collectionPath = "/api/v1/services"

    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?

    public init(metadata: ObjectMeta, spec: Spec? = nil, status: Status? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public struct Spec: Codable, Sendable, Equatable {
        /// `ClusterIP` (the default), `NodePort`, `LoadBalancer` or `ExternalName`.
        public var type: String?
        public var clusterIP: String?
        public var clusterIPs: [String]?
        public var ipFamilies: [String]?
        /// `SingleStack`, `PreferDualStack` or `RequireDualStack`: how many families the API
        /// server allocates `clusterIPs` for. The mapping follows `clusterIPs` alone, as kube-proxy does.
        public var ipFamilyPolicy: String?
        public var ports: [Port]?
        /// `None` (the default) or `ClientIP`.
        public var sessionAffinity: String?
        public var sessionAffinityConfig: SessionAffinityConfig?
        /// `Cluster` (the default) or `Local`.
        public var internalTrafficPolicy: String?
        public var externalTrafficPolicy: String?
        public var externalIPs: [String]?
        public var loadBalancerIP: String?
        public var trafficDistribution: String?
        /// With `type: LoadBalancer` and `externalTrafficPolicy: Local`: the port of the node's
        /// health server for the load balancer.
        public var healthCheckNodePort: Int?
        /// CIDRs allowed to reach the load-balancer IPs; empty: any.
        public var loadBalancerSourceRanges: [String]?

        public init(type: String? = nil, clusterIP: String? = nil, clusterIPs: [String]? = nil, ipFamilies: [String]? = nil,
                    ports: [Port]? = nil, sessionAffinity: String? = nil, sessionAffinityConfig: SessionAffinityConfig? = nil,
                    internalTrafficPolicy: String? = nil, externalTrafficPolicy: String? = nil, externalIPs: [String]? = nil,
                    loadBalancerIP: String? = nil, trafficDistribution: String? = nil) {
            self.type = type
            self.clusterIP = clusterIP
            self.clusterIPs = clusterIPs
            self.ipFamilies = ipFamilies
            self.ports = ports
            self.sessionAffinity = sessionAffinity
            self.sessionAffinityConfig = sessionAffinityConfig
            self.internalTrafficPolicy = internalTrafficPolicy
            self.externalTrafficPolicy = externalTrafficPolicy
            self.externalIPs = externalIPs
            self.loadBalancerIP = loadBalancerIP
            self.trafficDistribution = trafficDistribution
        }
    }

    public struct Port: Codable, Sendable, Equatable {
        /// Required when a Service has more than one port; it is what EndpointSlice ports match.
        public var name: String?
        /// `TCP` (the default), `UDP` or `SCTP`.
        public var `protocol`: String?
        public var port: Int
        public var targetPort: IntOrString?
        public var nodePort: Int?

        public init(name: String? = nil, protocol: String? = nil, port: Int, targetPort: IntOrString? = nil, nodePort: Int? = nil) {
            self.name = name
            self.protocol = `protocol`
            self.port = port
            self.targetPort = targetPort
            self.nodePort = nodePort
        }
    }

    public struct SessionAffinityConfig: Codable, Sendable, Equatable {
        public struct ClientIP: Codable, Sendable, Equatable {
            public var timeoutSeconds: Int?
            public init(timeoutSeconds: Int? = nil) { self.timeoutSeconds = timeoutSeconds }
        }

        public var clientIP: ClientIP?
        public init(clientIP: ClientIP? = nil) { self.clientIP = clientIP }
    }

    public struct Status: Codable, Sendable, Equatable {
        public struct LoadBalancer: Codable, Sendable, Equatable {
            public struct Ingress: Codable, Sendable, Equatable {
                public var ip: String?
                public var hostname: String?
            }

            public var ingress: [Ingress]?
        }

        public var loadBalancer: LoadBalancer?
    }
}
