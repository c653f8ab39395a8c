/// Why a Service, or one of its ports or addresses, is not balanced by nfq-lb: each is
/// counted (`nfqlb_kubernetes_skipped_total{reason}`), none is an error.
public enum SkipReason: String, Sendable, CaseIterable, Comparable {
    /// `clusterIP: None`: DNS only, nothing to balance (kube-proxy skips it too).
    case headless
    /// `type: ExternalName`: a DNS alias, nothing to balance.
    case externalName = "external-name"
    /// No cluster IP (yet), or one that does not parse.
    case noClusterIP = "no-cluster-ip"
    /// An IPv6 cluster IP: nfq-lb balances IPv4 services only today.
    case ipv6
    /// A port of protocol SCTP (or anything but TCP and UDP).
    case unsupportedProtocol = "unsupported-protocol"

    public static func < (lhs: SkipReason, rhs: SkipReason) -> Bool { lhs.rawValue < rhs.rawValue }
}
