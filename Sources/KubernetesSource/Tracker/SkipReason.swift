/// Why a Service, or one of its ports or addresses, is not balanced by nfq-lb: each is
/// counted (`nfqlb_kubernetes_skipped_total{reason}`), none is an error.
public enum SkipReason: String, Sendable, CaseIterable, Comparable {
    /// `clusterIP: None`: DNS only, nothing to balance (kube-proxy skips it too).
    case headless
    /// `type: ExternalName`: a DNS alias, nothing to balance.
    case externalName = "external-name"
    /// No cluster IP (yet), or one that does not parse.
    case noClusterIP = "no-cluster-ip"
    /// A cluster IP of an address family this node does not balance (no service CIDR of that
    /// family): the IPv6 half of a dual-stack Service on an IPv4-only node, or the reverse.
    case familyNotServed = "family-not-served"
    /// A port of protocol SCTP (or anything but TCP and UDP).
    case unsupportedProtocol = "unsupported-protocol"

    public static func < (lhs: SkipReason, rhs: SkipReason) -> Bool { lhs.rawValue < rhs.rawValue }
}
