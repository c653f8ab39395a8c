/// The three conditions Kubernetes reports for an endpoint (`EndpointConditions` in
/// discovery.k8s.io/v1), with the same defaults: a condition the config leaves out is the
/// one that lets the endpoint take traffic.
///
/// They are kept apart rather than folded into one state because eligibility needs all
/// three: `ready` decides the normal candidates, `serving && terminating` the fallback when
/// no endpoint is ready (kube-proxy's ProxyTerminatingEndpoints).
@frozen
public struct EndpointConditions: Hashable, Sendable, CustomStringConvertible {
    public var ready: Bool
    public var serving: Bool
    public var terminating: Bool

    @inlinable
    public init(ready: Bool = true, serving: Bool = true, terminating: Bool = false) {
        self.ready = ready
        self.serving = serving
        self.terminating = terminating
    }

    public var description: String {
        "ready=\(ready) serving=\(serving) terminating=\(terminating)"
    }
}
