import Balancer
import PacketRewrite

/// Which conntrack entries of an endpoint that stopped taking new flows are deleted: the
/// rule of kube-proxy's conntrack reconciler (pkg/proxy/conntrack/cleanup.go), which keeps
/// the UDP entries of every endpoint that is still *serving*.
///
/// An endpoint that is terminating but still serving (a pod in its grace period) takes no new
/// flows while others are ready, yet it still answers: a DNS query sent to it a moment ago
/// gets its reply only if the entry that un-NATs the reply is still there. Its UDP entries go
/// only once it leaves the config, stops serving, or fails our health check. TCP is never
/// cut by this (it drains) unless the service asks for `endpointRemoval: reset`.
enum StaleEntryPolicy {
    /// How the services in force use one endpoint, per protocol.
    struct EndpointUse: Equatable, Sendable {
        /// Protocols of services that send it new flows.
        var candidate: Set<IPProtocolNumber> = []
        /// Protocols of services that list it as serving (and our health check does not
        /// call it down).
        var serving: Set<IPProtocolNumber> = []

        init(candidate: Set<IPProtocolNumber> = [], serving: Set<IPProtocolNumber> = []) {
            self.candidate = candidate
            self.serving = serving
        }
    }

    /// The protocols whose entries of one endpoint go, given the protocols on which it
    /// stopped taking new flows, whether a service asked for `reset`, and how the services in
    /// force use it now.
    ///
    /// An endpoint that takes new flows again keeps everything (a retry never cuts a flow of
    /// an endpoint in use).
    static func protocolsToDelete(stopped: Set<IPProtocolNumber>, resetting: Bool, use: EndpointUse) -> Set<IPProtocolNumber> {
        let stillStopped = stopped.subtracting(use.candidate)
        if resetting { return stillStopped }
        return stillStopped.intersection([.udp]).subtracting(use.serving)
    }

    /// How `balancers` (a snapshot's services) use each endpoint they list.
    static func use(of balancers: [ServiceBalancer], unhealthy: Set<EndpointKey>) -> [EndpointKey: EndpointUse] {
        var uses: [EndpointKey: EndpointUse] = [:]
        for balancer in balancers {
            let proto = balancer.service.proto
            for endpoint in balancer.candidates { uses[endpoint.key, default: .init()].candidate.insert(proto) }
            for endpoint in balancer.service.endpoints where endpoint.conditions.serving && !unhealthy.contains(endpoint.key) {
                uses[endpoint.key, default: .init()].serving.insert(proto)
            }
        }
        return uses
    }
}
