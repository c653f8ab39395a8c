import Balancer
import PacketRewrite

/// One port of one Kubernetes Service as nfq-lb runs it: the balancer's `Service`, plus the
/// daemon-only settings its annotations chose, plus where it came from.
///
/// Plain values (no NFQLB types): the executable turns it into a `ServiceConfig`, so the
/// daemon module never depends on this one.
public struct MappedService: Sendable, Equatable {
    /// What happens to the flows of an endpoint that leaves (`nfq-lb.io/endpoint-removal`).
    public enum EndpointRemoval: String, Sendable, CaseIterable {
        case drain
        case reset
    }

    /// A TCP connect check (`nfq-lb.io/health-check`); nil fields take the daemon's defaults.
    public struct HealthCheck: Sendable, Equatable {
        public var intervalMilliseconds: UInt32?
        public var timeoutMilliseconds: UInt32?
        public var rise: UInt32?
        public var fall: UInt32?
        public var port: UInt16?

        public init(intervalMilliseconds: UInt32? = nil, timeoutMilliseconds: UInt32? = nil, rise: UInt32? = nil,
                    fall: UInt32? = nil, port: UInt16? = nil) {
            self.intervalMilliseconds = intervalMilliseconds
            self.timeoutMilliseconds = timeoutMilliseconds
            self.rise = rise
            self.fall = fall
            self.port = port
        }
    }

    /// How the port is reached from outside the cluster (`type: NodePort | LoadBalancer`,
    /// `externalIPs`, `status.loadBalancer.ingress[].ip`), kube-proxy's way.
    public struct External: Sendable, Equatable {
        public var nodePort: UInt16?
        public var externalIPs: [IPAddress] = []
        public var loadBalancerIPs: [IPAddress] = []
        public var loadBalancerSourceRanges: [IPPrefix] = []
        /// `externalTrafficPolicy: Local`.
        public var trafficPolicyLocal = false
        public var healthCheckNodePort: UInt16?
        /// The endpoints on this node (EndpointSlice `nodeName`): with policy Local, the only ones.
        public var localEndpoints: [Endpoint] = []
        /// With `internalTrafficPolicy: Local` and `externalTrafficPolicy: Cluster`: the
        /// `Cluster`-policy endpoints (the cluster IP has this node's only), and their hints.
        public var clusterEndpoints: [Endpoint]?
        public var clusterTopology: TopologyMode = .none

        public init() {}
    }

    /// `namespace/name` of the Kubernetes Service.
    public var owner: String
    public var service: Service
    public var endpointRemoval: EndpointRemoval
    public var healthCheck: HealthCheck?
    /// nil: reached by its cluster IP only.
    public var external: External?

    public init(owner: String, service: Service, endpointRemoval: EndpointRemoval = .drain, healthCheck: HealthCheck? = nil) {
        self.owner = owner
        self.service = service
        self.endpointRemoval = endpointRemoval
        self.healthCheck = healthCheck
    }
}
