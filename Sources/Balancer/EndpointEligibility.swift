/// Which endpoints may take new flows: kube-proxy's rule, including the terminating
/// fallback of ProxyTerminatingEndpoints (KEP-1669).
///
/// 1. Candidates are the endpoints that are `ready`, have a nonzero weight and are not
///    marked unhealthy by our own health checks.
/// 2. If there are none, the endpoints that are `serving && terminating` (with the same
///    weight and health conditions) take new flows instead, so that a rolling update of the
///    last pods does not blackhole a service while terminating pods can still serve.
/// 3. Otherwise the service has no endpoint and new flows are rejected.
///
/// Existing flows are never affected: conntrack keeps them on their endpoint whatever this
/// rule says for new ones (graceful termination).
public enum EndpointEligibility {
    public struct Selection: Hashable, Sendable {
        /// The candidates, in config order.
        public var candidates: [Endpoint]
        /// Whether they are the terminating fallback (step 2) rather than ready endpoints.
        public var usesTerminatingEndpoints: Bool
    }

    public static func select(from endpoints: [Endpoint], unhealthy: Set<EndpointKey>) -> Selection {
        func usable(_ e: Endpoint) -> Bool {
            e.weight > 0 && (unhealthy.isEmpty || !unhealthy.contains(e.key))
        }
        let ready = endpoints.filter { $0.conditions.ready && usable($0) }
        if !ready.isEmpty { return Selection(candidates: ready, usesTerminatingEndpoints: false) }
        let terminating = endpoints.filter {
            $0.conditions.serving && $0.conditions.terminating && usable($0)
        }
        return Selection(candidates: terminating, usesTerminatingEndpoints: !terminating.isEmpty)
    }
}
