import Balancer
import PacketRewrite

/// What a new snapshot changed against the previous one, in balancers: those it added (new or
/// rebuilt services) and those it retired; every other one it reuses as it was.
///
/// Decided by identity through the service table (a reused balancer is the same object), so
/// finding the change costs one table lookup per service, and everything done with it costs
/// only what changed.
struct SnapshotChange {
    var added: [ServiceBalancer] = []
    var retired: [ServiceBalancer] = []

    /// The change when only `candidates` can be new and only `retiring` can have gone (the
    /// rest of both snapshots being the same balancers): costs only those.
    init(candidates: [ServiceBalancer], retiring: [ServiceBalancer], from previous: BalancerSnapshot, to next: BalancerSnapshot) {
        added = candidates.filter { previous.table.lookup($0.service.key) !== $0 }
        retired = retiring.filter { next.table.lookup($0.service.key) !== $0 }
    }

    init(from previous: BalancerSnapshot, to next: BalancerSnapshot) {
        for balancer in next.services {
            if previous.table.lookup(balancer.service.key) !== balancer { added.append(balancer) }
        }
        for balancer in previous.services where next.table.lookup(balancer.service.key) !== balancer {
            retired.append(balancer)
        }
    }
}

/// For every endpoint and protocol, the number of services in force that take new flows to
/// it: an endpoint whose count drops to zero has stopped taking flows (removed, not ready or
/// unhealthy everywhere), and its stale conntrack entries are due for cleanup.
struct CandidateCounts: Sendable {
    private var counts: [EndpointKey: [IPProtocolNumber: Int]] = [:]

    /// Applies a snapshot change; returns the endpoints (with their protocols) whose count
    /// dropped to zero.
    mutating func apply(_ change: SnapshotChange) -> [EndpointKey: Set<IPProtocolNumber>] {
        for balancer in change.added {
            for endpoint in balancer.candidates { counts[endpoint.key, default: [:]][balancer.service.proto, default: 0] += 1 }
        }
        var removed: [EndpointKey: Set<IPProtocolNumber>] = [:]
        for balancer in change.retired {
            let proto = balancer.service.proto
            for endpoint in balancer.candidates {
                let left = (counts[endpoint.key]?[proto] ?? 1) - 1
                if left > 0 {
                    counts[endpoint.key]![proto] = left
                    continue
                }
                counts[endpoint.key]?[proto] = nil
                if counts[endpoint.key]?.isEmpty == true { counts[endpoint.key] = nil }
                removed[endpoint.key, default: []].insert(proto)
            }
        }
        // Additions were counted first, so an endpoint that moved from a retired balancer to
        // an added one (a rebuilt service) never reaches zero on the way.
        return removed
    }
}
