import PacketRewrite

/// Everything the workers need to balance, as one immutable object: the service table and
/// the service CIDRs. A reload builds a new snapshot and publishes it whole
/// (`BalancerState`), so a worker never sees half a reload.
public final class BalancerSnapshot: Sendable {
    public let table: ServiceTable
    public let serviceCIDRs: [IPPrefix]
    /// The service addresses whose pings the node answers (`Service.answersPing`).
    public let pingableAddresses: Set<IPAddress>
    /// The local addresses node ports answer on (kube-proxy's `--nodeport-addresses`); empty:
    /// every local address but loopback, as kube-proxy's nftables mode.
    public let nodePortAddresses: [IPPrefix]
    /// Whether any service is a node port: without one, a miss costs no second probe.
    @usableFromInline let hasNodePorts: Bool

    /// A snapshot with no services and no service CIDRs: every lookup is `.notService`.
    public static let empty = BalancerSnapshot(table: ServiceTable([]), serviceCIDRs: [])

    init(table: ServiceTable, serviceCIDRs: [IPPrefix], nodePortAddresses: [IPPrefix] = []) {
        self.table = table
        self.serviceCIDRs = serviceCIDRs
        var pingable: Set<IPAddress> = []
        for balancer in table.balancers where balancer.service.answersPing {
            pingable.insert(balancer.service.vip)
        }
        self.pingableAddresses = pingable
        self.nodePortAddresses = nodePortAddresses
        hasNodePorts = table.balancers.contains { $0.service.kind == .nodePort }
    }

    /// Whether the node answers a ping to `address`. Only ICMP echo requests ask, never a
    /// TCP or UDP packet, so a hash lookup is cheap enough here.
    @inlinable
    public func answersPing(to address: IPAddress) -> Bool {
        !pingableAddresses.isEmpty && pingableAddresses.contains(address)
    }

    /// A snapshot of balancers built before (by `build` into other snapshots, or reused from
    /// them): how a reload that changed a few services takes the rest over without checking
    /// them again. The balancers must have distinct service keys (a validated config's do).
    public convenience init(assembling balancers: [ServiceBalancer], serviceCIDRs: [IPPrefix], nodePortAddresses: [IPPrefix] = []) {
        self.init(table: ServiceTable(balancers), serviceCIDRs: serviceCIDRs, nodePortAddresses: nodePortAddresses)
    }

    /// The key a node port of this family is stored under: the unspecified address.
    @inlinable
    public static func nodePortAddress(ofFamilyOf address: IPAddress) -> IPAddress {
        address.isIPv4 ? .v4(IPv4Address(rawValue: 0)) : .v6(IPv6Address(high: 0, low: 0))
    }

    /// Whether a node port answers on local address `address`. The hooks queue only packets
    /// for local addresses in the node port range, so any address outside the service CIDRs
    /// that reaches this test is local.
    @inlinable
    func nodePortsAnswer(on address: IPAddress) -> Bool {
        if !nodePortAddresses.isEmpty {
            for prefix in nodePortAddresses where prefix.contains(address) { return true }
            return false
        }
        switch address {
        case .v4(let a): return a.rawValue >> 24 != 127
        case .v6(let a): return !(a.high == 0 && a.low == 1)
        }
    }

    /// The services' balancers, in config order: for status and metrics.
    public var services: [ServiceBalancer] { table.balancers }

    /// What the destination of a flow's first packet is: a service, an unallocated address
    /// in a service CIDR, or not ours. O(1) for a service; the CIDR scan (a handful of
    /// prefixes) runs only on a miss. The answer retains its balancer: see `withLookup`.
    @inlinable
    public func lookup(address: IPAddress, port: UInt16, proto: IPProtocolNumber) -> ServiceLookup {
        if let balancer = table.lookup(address: address, port: port, proto: proto) {
            return .service(balancer)
        }
        for prefix in serviceCIDRs where prefix.contains(address) {
            return .unallocated
        }
        if hasNodePorts, nodePortsAnswer(on: address),
           let balancer = table.lookup(address: Self.nodePortAddress(ofFamilyOf: address), port: port, proto: proto) {
            return .service(balancer)
        }
        return .notService
    }

    /// `lookup` for the per-packet path: `body` gets the answer with the balancer borrowed,
    /// not retained. A returned `ServiceLookup` owns its balancer, which costs a retain and a
    /// release, two atomic operations on the balancer's header that every worker handling
    /// the same busy service would otherwise contend on. Match the answer with `switch`:
    /// in Swift 6.3 at -O that stays borrowed, while `if case .service(let b) = lookup`
    /// copies (retains) the balancer.
    @inlinable
    public func withLookup<Result>(address: IPAddress, port: UInt16, proto: IPProtocolNumber,
                                   _ body: (ServiceLookup) -> Result) -> Result {
        if let balancer = table.unretainedLookup(address: address, port: port, proto: proto) {
            return balancer._withUnsafeGuaranteedRef { body(.service($0)) }
        }
        for prefix in serviceCIDRs where prefix.contains(address) {
            return body(.unallocated)
        }
        if hasNodePorts, nodePortsAnswer(on: address),
           let balancer = table.unretainedLookup(address: Self.nodePortAddress(ofFamilyOf: address), port: port, proto: proto) {
            return balancer._withUnsafeGuaranteedRef { body(.service($0)) }
        }
        return body(.notService)
    }

    /// Builds a snapshot, validating every service.
    ///
    /// - `unhealthy`: endpoints our health checks failed; they take no new flows.
    /// - `previous`: the snapshot being replaced. A service whose definition (endpoints,
    ///   strategy, options, affinity...) and candidates are unchanged keeps its
    ///   `ServiceBalancer` object, so a reload of 10,000 services rebuilds only those that
    ///   changed. The test is one O(1) table lookup and one comparison per service.
    /// - `flows`, `affinity`: shared across snapshots, so load and affinity survive reloads.
    ///
    /// Throws the first problem found, in service order.
    public static func build(services: [Service], serviceCIDRs: [IPPrefix], nodePortAddresses: [IPPrefix] = [],
                             unhealthy: Set<EndpointKey> = [], reusing previous: BalancerSnapshot? = nil,
                             flows: FlowTracker, affinity: AffinityTable,
                             registry: StrategyRegistry = .standard) throws(BalancerBuildError) -> BalancerSnapshot {
        var balancers: [ServiceBalancer] = []
        balancers.reserveCapacity(services.count)
        var firstIndex: [ServiceKey: Int] = [:]
        firstIndex.reserveCapacity(services.count)
        for (index, service) in services.enumerated() {
            func failure(_ field: String, _ reason: BalancerBuildError.Reason) -> BalancerBuildError {
                BalancerBuildError(serviceIndex: index, serviceName: service.name, field: field, reason: reason)
            }
            if let first = firstIndex.updateValue(index, forKey: service.key) {
                firstIndex[service.key] = first
                throw failure("vip", .duplicateService(firstIndex: first, firstName: services[first].name))
            }
            // The common case of a reload: the service did not change and neither did the
            // health of its endpoints. Its balancer was validated when it was built; reusing it
            // costs one comparison, which keeps a reload of 10,000 services within milliseconds.
            if let old = previous?.table.lookup(service.key),
               old.isUnchanged(for: service, unhealthy: unhealthy, flows: flows, affinity: affinity, registry: registry) {
                balancers.append(old)
                continue
            }
            try validate(service, failure: failure)
            let selection = EndpointEligibility.select(from: service.endpoints, unhealthy: unhealthy)
            if let old = previous?.table.lookup(service.key),
               old.isEquivalent(to: service, selection: selection, flows: flows, affinity: affinity, registry: registry) {
                balancers.append(old)
                continue
            }
            do {
                balancers.append(try ServiceBalancer(service: service, selection: selection, unhealthy: unhealthy, flows: flows,
                                                     affinity: affinity, registry: registry))
            } catch {
                let field: String
                if case .unknownStrategy = error.problem {
                    field = "strategy"
                } else if let option = error.option {
                    field = "strategyOptions.\(option)"
                } else {
                    field = "strategy"
                }
                throw failure(field, .strategy(error))
            }
        }
        return BalancerSnapshot(table: ServiceTable(balancers), serviceCIDRs: serviceCIDRs, nodePortAddresses: nodePortAddresses)
    }

    /// The checks on a service's own fields that no strategy makes.
    private static func validate(
        _ service: Service, failure: (String, BalancerBuildError.Reason) -> BalancerBuildError
    ) throws(BalancerBuildError) {
        guard service.proto == .tcp || service.proto == .udp else {
            throw failure("proto", .invalid("must be tcp or udp; got \(service.proto)"))
        }
        guard service.port != 0 else {
            throw failure("port", .invalid("must be between 1 and 65535; got 0"))
        }
        if let affinity = service.sessionAffinity,
           !(1...SessionAffinity.maximumTimeoutSeconds).contains(affinity.timeoutSeconds) {
            throw failure("sessionAffinity.timeoutSeconds", .invalid(
                "must be between 1 and \(SessionAffinity.maximumTimeoutSeconds); got \(affinity.timeoutSeconds)"))
        }
        var seen: [EndpointKey: Int] = [:]
        for (j, endpoint) in service.endpoints.enumerated() {
            guard endpoint.address.isIPv4 == service.vip.isIPv4 else {
                throw failure("endpoints[\(j)].address", .invalid(
                    "\(endpoint.address) is not of the service address's family (\(service.vip)); NAT cannot change the family"))
            }
            guard endpoint.port != 0 else {
                throw failure("endpoints[\(j)].port", .invalid("must be between 1 and 65535; got 0"))
            }
            if let first = seen.updateValue(j, forKey: endpoint.key) {
                throw failure("endpoints[\(j)]", .duplicateEndpoint(firstIndex: first))
            }
        }
    }
}
