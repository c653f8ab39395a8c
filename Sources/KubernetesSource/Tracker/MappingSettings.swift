/// What the mapping from Kubernetes objects to services depends on besides the objects: who
/// this node is and which services are this proxy's.
public struct MappingSettings: Sendable, Equatable {
    /// This node's name: `internalTrafficPolicy: Local` keeps only the endpoints on it, and
    /// `hints.forNodes` name it.
    public var nodeName: String
    /// kube-proxy's `--service-proxy-name` rule. Non-empty: only services labelled
    /// `service.kubernetes.io/service-proxy-name` with this value (side by side with kube-proxy,
    /// which leaves labelled services alone). Empty: every service without that label (instead
    /// of kube-proxy).
    public var serviceProxyName: String
    /// This node's `topology.kubernetes.io/zone` label (from its Node object); nil until it is
    /// known or when the node has none. Zone hints are honoured only for a known zone.
    public var zone: String?
    /// The address families this node balances (those of its `serviceCIDRs`): a cluster IP of
    /// another family is skipped (`SkipReason.familyNotServed`), as a single-stack kube-proxy
    /// ignores the other family's half of a dual-stack Service, so that the Service's other
    /// half still goes in.
    public var servesIPv4: Bool
    public var servesIPv6: Bool

    public init(nodeName: String, serviceProxyName: String = "nfq-lb", zone: String? = nil,
                servesIPv4: Bool = true, servesIPv6: Bool = true) {
        self.nodeName = nodeName
        self.serviceProxyName = serviceProxyName
        self.zone = zone
        self.servesIPv4 = servesIPv4
        self.servesIPv6 = servesIPv6
    }
}
