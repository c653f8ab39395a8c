/// What a destination is, for the first packet of a flow.
@frozen
public enum ServiceLookup: Sendable {
    /// A service: balance the flow with it.
    case service(ServiceBalancer)
    /// Inside a service CIDR but no service listens on this address, port and protocol:
    /// reject, as kube-proxy does, rather than let it leave the node un-NATed.
    case unallocated
    /// Outside every service CIDR and not a service: not ours, let it pass.
    case notService
}
