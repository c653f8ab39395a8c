import Balancer
import PacketRewrite

/// How one service port is reached from outside the cluster: Kubernetes' `nodePort`,
/// `externalIPs`, `status.loadBalancer.ingress[].ip`, `loadBalancerSourceRanges`,
/// `externalTrafficPolicy` and `healthCheckNodePort`, as the file config or the Kubernetes
/// source gives them.
///
/// It stays on the service's cluster-IP entry; `expanded(nodeName:)` turns it into one more
/// `ServiceConfig` per address (`ServiceAddressKind`), each a table key of its own, so the
/// workers find a node port or a load-balancer IP with the same single probe as a cluster IP.
public struct ExternalAccess: Sendable, Equatable {
    public enum TrafficPolicy: String, Sendable, CaseIterable {
        /// Every endpoint; the client is masqueraded so that replies return through this node.
        case Cluster
        /// This node's endpoints only, the client's address kept; no local endpoint: dropped.
        case Local
    }

    public var nodePort: UInt16?
    public var externalIPs: [IPAddress] = []
    public var loadBalancerIPs: [IPAddress] = []
    public var loadBalancerSourceRanges: [IPPrefix] = []
    public var trafficPolicy: TrafficPolicy = .Cluster
    public var healthCheckNodePort: UInt16?
    /// Where the file says each endpoint runs (`node:`, `local: true`).
    public var endpointNodes = EndpointNodes()
    /// When set (the Kubernetes source), the endpoints of policy `Local` entries, taken as they
    /// are: the node's own, not narrowed by topology or internalTrafficPolicy.
    public var localEndpointList: [Endpoint]?
    /// When set (`internalTrafficPolicy: Local`, which gives the cluster IP this node's
    /// endpoints only), the endpoints of policy `Cluster` entries, and the hints in force.
    public var clusterEndpointList: [Endpoint]?
    public var clusterTopology: TopologyMode = .none
    /// Lines of the fields, for errors found once the whole config is read.
    public var nodePortLine = 0
    public var externalIPsLine = 0
    public var loadBalancerIPsLine = 0
    public var healthCheckNodePortLine = 0

    public init() {}

    /// Whether anything here makes the service reachable other than by its cluster IP.
    public var isEmpty: Bool {
        nodePort == nil && externalIPs.isEmpty && loadBalancerIPs.isEmpty && healthCheckNodePort == nil
    }

    /// Whether an endpoint runs on the node named `nodeName`.
    public func isLocal(_ endpoint: EndpointKey, nodeName: String?) -> Bool {
        endpointNodes.isLocal(endpoint, nodeName: nodeName)
    }
}

extension ServiceConfig {
    /// This entry and one derived entry per node port, external IP and load-balancer IP.
    ///
    /// A derived entry is masqueraded with policy `Cluster` (kube-proxy masquerades external
    /// traffic so that replies come back through this node, whichever node the endpoint is on),
    /// and with policy `Local` keeps the client's address, has this node's endpoints only and
    /// drops when none is left. Load-balancer IPs carry the source ranges.
    public func expanded(nodeName: String?) -> [ServiceConfig] {
        guard let access = external, !access.isEmpty else { return [self] }
        var result = [self]
        let local = access.trafficPolicy == .Local
        func derived(_ kind: ServiceAddressKind, address: IPAddress, port: UInt16, field: String, line: Int) -> ServiceConfig {
            var entry = self
            entry.external = nil
            entry.service.kind = kind
            entry.service.vip = address
            entry.service.port = port
            entry.keyField = field
            entry.vipLine = line
            // Pings are answered for the cluster IP only: the hooks queue echo requests to the
            // service CIDRs, and a node port's or external IP's address is not the service's own.
            entry.service.answersPing = false
            // External addresses follow externalTrafficPolicy, not internalTrafficPolicy.
            entry.service.internalTrafficPolicyLocal = false
            entry.service.dropsWithoutEndpoints = false
            if local {
                entry.service.masquerade = service.masquerade
                entry.service.dropsWithoutEndpoints = true
                entry.service.endpoints = access.localEndpointList ?? service.endpoints.filter { access.isLocal($0.key, nodeName: nodeName) }
                entry.service.topology = .none
            } else {
                entry.service.masquerade = true
                if let cluster = access.clusterEndpointList {
                    entry.service.endpoints = cluster
                    entry.service.topology = access.clusterTopology
                }
            }
            if kind == .loadBalancerIP { entry.service.sourceRanges = access.loadBalancerSourceRanges }
            return entry
        }
        if let nodePort = access.nodePort {
            result.append(derived(.nodePort, address: BalancerSnapshot.nodePortAddress(ofFamilyOf: service.vip), port: nodePort,
                                  field: "nodePort", line: access.nodePortLine))
        }
        for (i, address) in access.externalIPs.enumerated() {
            result.append(derived(.externalIP, address: address, port: service.port, field: "externalIPs[\(i)]", line: access.externalIPsLine))
        }
        for (i, address) in access.loadBalancerIPs.enumerated() {
            result.append(derived(.loadBalancerIP, address: address, port: service.port, field: "loadBalancerIPs[\(i)]",
                                  line: access.loadBalancerIPsLine))
        }
        return result
    }
}
