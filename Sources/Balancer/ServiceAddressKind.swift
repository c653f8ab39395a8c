/// Which of a Kubernetes Service's addresses a balanced address is. One service port is
/// reachable through several: its cluster IP, a node port on every node address, external
/// IPs and load-balancer ingress IPs. Each becomes a `Service` of its own (its own key in the
/// table), so the per-packet lookup stays one table probe; the kind says how it was made and
/// how `status` and `/metrics` count it.
public enum ServiceAddressKind: String, Hashable, Sendable, CaseIterable {
    case clusterIP
    /// Keyed by the unspecified address of its family (`0.0.0.0`, `::`): a node port is
    /// looked up by protocol and port whatever local address the packet is for.
    case nodePort
    case externalIP
    case loadBalancerIP

    /// True for the addresses reached from outside the cluster, which `externalTrafficPolicy`
    /// governs (kube-proxy: NodePort, externalIPs, load-balancer IPs).
    public var isExternal: Bool { self != .clusterIP }
}
