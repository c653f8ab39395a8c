import PacketRewrite

/// One service in one snapshot: its candidates, its strategy instance and what session
/// affinity needs, ready for concurrent picks by every worker.
///
/// Immutable after init, and reused as a whole by the next snapshot when neither the
/// service's definition nor its candidates changed (see `BalancerSnapshot.build`), so that
/// a reload does not rebuild tables or reset round-robin positions needlessly.
public final class ServiceBalancer: @unchecked Sendable {
    // @unchecked: the buffers are written only in init and freed only in deinit; the objects
    // they point to are kept alive by the arrays and properties beside them.

    public let service: Service
    /// The endpoints that take new flows (see `EndpointEligibility`), in config order; a
    /// pick's `index` points into this array.
    public let candidates: [Endpoint]
    /// Whether the candidates are the terminating fallback.
    public let usesTerminatingEndpoints: Bool
    public let strategy: any BalancingStrategy
    /// Active-flow counters of the candidates, from the `FlowTracker`.
    public let counters: [FlowCounter]
    public let flows: FlowTracker
    /// The shared table when the service has session affinity.
    public let affinity: AffinityTable?
    /// The service's endpoints that were unhealthy when this balancer was built.
    let unhealthyAtBuild: Set<EndpointKey>

    @usableFromInline let endpointBuffer: UnsafeBufferPointer<Endpoint>
    @usableFromInline let counterBuffer: UnsafeBufferPointer<Unmanaged<FlowCounter>>
    /// Affinity fingerprint of each candidate.
    @usableFromInline let fingerprints: UnsafeBufferPointer<UInt32>
    /// Open-addressing index fingerprint -> candidate: `fingerprint << 32 | (index + 1)` per
    /// slot, 0 for empty; power-of-two size at least twice the candidates.
    @usableFromInline let fingerprintSlots: UnsafeBufferPointer<UInt64>
    @usableFromInline let fingerprintMask: Int
    /// `affinity`, unretained: the table is shared by every service and worker, so a retain
    /// and release of it per pick would be the most contended cache line of all. `affinity`
    /// keeps it alive.
    @usableFromInline let affinityTable: Unmanaged<AffinityTable>?
    @usableFromInline let serviceHash: UInt64
    @usableFromInline let affinityTimeout: UInt32

    /// Builds the balancer for `service`. Does not validate the service's own fields (ports,
    /// families): `BalancerSnapshot.build` does, with errors that name the field.
    public convenience init(service: Service, unhealthy: Set<EndpointKey> = [], flows: FlowTracker,
                affinity: AffinityTable?, registry: StrategyRegistry = .standard) throws(StrategyError) {
        let selection = EndpointEligibility.select(from: service.endpoints, unhealthy: unhealthy)
        try self.init(service: service, selection: selection, unhealthy: unhealthy, flows: flows, affinity: affinity, registry: registry)
    }

    init(service: Service, selection: EndpointEligibility.Selection, unhealthy: Set<EndpointKey>, flows: FlowTracker,
         affinity: AffinityTable?, registry: StrategyRegistry) throws(StrategyError) {
        unhealthyAtBuild = unhealthy.isEmpty ? [] : Set(service.endpoints.map(\.key).filter(unhealthy.contains))
        let candidates = selection.candidates
        let counters = flows.counters(for: candidates.map(\.key), proto: service.proto)
        strategy = try registry.make(name: service.strategy, endpoints: candidates,
                                     context: StrategyBuildContext(options: service.strategyOptions, load: counters))
        self.service = service
        self.candidates = candidates
        self.usesTerminatingEndpoints = selection.usesTerminatingEndpoints
        self.counters = counters
        self.flows = flows
        self.affinity = service.sessionAffinity == nil ? nil : affinity
        affinityTable = self.affinity.map { Unmanaged.passUnretained($0) }
        endpointBuffer = .allocate(copying: candidates)
        counterBuffer = .allocate(copying: counters.map { Unmanaged.passUnretained($0) })
        serviceHash = service.key.stableHash
        affinityTimeout = service.sessionAffinity?.timeoutSeconds ?? 0

        // Built for every service: session affinity and the daemon's memory of recent picks
        // (mode mark) both name endpoints by fingerprint.
        let prints = candidates.map(\.key.fingerprint)
        fingerprints = .allocate(copying: prints)
        var size = 2
        while size < 2 * prints.count { size <<= 1 }
        var slots = [UInt64](repeating: 0, count: prints.isEmpty ? 0 : size)
        for (i, print) in prints.enumerated() {
            var s = Self.slot(for: print, mask: size - 1)
            while slots[s] != 0 {
                // Two candidates with one fingerprint (a 2^-32 chance): the first keeps it,
                // the other simply never wins an affinity hit.
                if UInt32(truncatingIfNeeded: slots[s] >> 32) == print { break }
                s = (s + 1) & (size - 1)
            }
            if slots[s] == 0 { slots[s] = UInt64(print) << 32 | UInt64(i + 1) }
        }
        fingerprintSlots = .allocate(copying: slots)
        fingerprintMask = size - 1
    }

    deinit {
        endpointBuffer.deallocate()
        counterBuffer.deallocate()
        fingerprints.deallocate()
        fingerprintSlots.deallocate()
    }

    @inlinable
    static func slot(for fingerprint: UInt32, mask: Int) -> Int {
        Int(truncatingIfNeeded: (UInt64(fingerprint) &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    /// The candidate whose fingerprint is `fingerprint`, if any.
    @inlinable
    func candidate(fingerprint: UInt32) -> Int? {
        guard fingerprintSlots.count > 0 else { return nil }
        var s = Self.slot(for: fingerprint, mask: fingerprintMask)
        while true {
            let entry = fingerprintSlots[s]
            if entry == 0 { return nil }
            if UInt32(truncatingIfNeeded: entry >> 32) == fingerprint {
                return Int(truncatingIfNeeded: entry & 0xFFFF_FFFF) - 1
            }
            s = (s + 1) & fingerprintMask
        }
    }

    /// The fingerprint of candidate `index` (precomputed: `EndpointKey.fingerprint` formats a
    /// string).
    @inlinable
    public func fingerprint(ofCandidate index: Int) -> UInt32 { fingerprints[index] }

    /// The candidate named by `fingerprint` (an `EndpointKey.fingerprint`), if it still is one:
    /// how a remembered pick is turned back into an endpoint after any reload.
    @inlinable
    public func choice(forFingerprint fingerprint: UInt32) -> EndpointChoice? {
        guard let i = candidate(fingerprint: fingerprint) else { return nil }
        return EndpointChoice(index: i, endpoint: endpointBuffer[i])
    }

    /// The endpoint for a new flow, or `nil` when the service has no candidate (the daemon
    /// then rejects the flow, as kube-proxy does).
    ///
    /// With session affinity, a client seen within the timeout goes back to its endpoint if
    /// that endpoint is still a candidate; otherwise the strategy picks and the choice is
    /// remembered. `hash` is `flow.stableHash`, computed once by the caller.
    @inlinable @inline(__always)
    public func pick(_ flow: FlowTuple, hash: UInt64, context: inout PickContext) -> EndpointChoice? {
        guard let affinityTable else {
            guard let i = strategy.pick(flow, hash: hash, context: &context) else { return nil }
            return EndpointChoice(index: i, endpoint: endpointBuffer[i])
        }
        return pickWithAffinity(affinityTable, flow, hash: hash, context: &context)
    }

    @inlinable @inline(never)
    func pickWithAffinity(_ affinityTable: Unmanaged<AffinityTable>, _ flow: FlowTuple, hash: UInt64,
                          context: inout PickContext) -> EndpointChoice? {
        return affinityTable._withUnsafeGuaranteedRef { affinity in
            let key = AffinityTable.key(service: serviceHash, client: flow.source)
            if let print = affinity.touch(key: key, now: context.now, timeout: affinityTimeout),
               let i = candidate(fingerprint: print) {
                return EndpointChoice(index: i, endpoint: endpointBuffer[i])
            }
            guard let i = strategy.pick(flow, hash: hash, context: &context) else { return nil }
            affinity.record(key: key, fingerprint: fingerprints[i], now: context.now)
            return EndpointChoice(index: i, endpoint: endpointBuffer[i])
        }
    }

    /// A flow was sent to `candidates[candidate]` (call once its NAT is in place).
    @inlinable
    public func flowOpened(candidate: Int) {
        counterBuffer[candidate]._withUnsafeGuaranteedRef { $0.increment() }
        strategy.flowOpened(endpoint: candidate)
    }

    /// A flow that `flowOpened` counted has ended. (Flow ends seen only as conntrack events,
    /// with no snapshot at hand, go to `FlowTracker.flowClosed(key:proto:)` instead.)
    @inlinable
    public func flowClosed(candidate: Int) {
        counterBuffer[candidate]._withUnsafeGuaranteedRef { $0.decrement() }
        strategy.flowClosed(endpoint: candidate)
    }

    /// Whether this balancer would be rebuilt identically for `service` with `selection`: the
    /// reuse test of a reload. Costs one comparison of the service (endpoints included) and
    /// of the candidates.
    /// Whether this balancer was built from `service` with these shared parts (flow tracker,
    /// affinity table, the registry's type for its strategy): what both reuse checks start with.
    private func isBuilt(from service: Service, flows: FlowTracker, affinity: AffinityTable?, registry: StrategyRegistry) -> Bool {
        guard flows === self.flows,
              (service.sessionAffinity == nil ? nil : affinity) === self.affinity,
              self.service == service,
              let type = try? registry.type(named: service.strategy) else { return false }
        return ObjectIdentifier(type) == ObjectIdentifier(Swift.type(of: strategy))
    }

    /// True when `service` is this balancer's service and its endpoints' health is what it
    /// was at build time: then the balancer is reused as it is, without recomputing anything.
    func isUnchanged(for service: Service, unhealthy: Set<EndpointKey>, flows: FlowTracker,
                     affinity: AffinityTable?, registry: StrategyRegistry) -> Bool {
        if !unhealthy.isEmpty || !unhealthyAtBuild.isEmpty {
            for endpoint in service.endpoints where unhealthy.contains(endpoint.key) != unhealthyAtBuild.contains(endpoint.key) {
                return false
            }
        }
        return isBuilt(from: service, flows: flows, affinity: affinity, registry: registry)
    }

    /// True when `service` is this balancer's service and `selection` its candidates (health
    /// changed, but not for an endpoint that matters).
    func isEquivalent(to service: Service, selection: EndpointEligibility.Selection, flows: FlowTracker,
                      affinity: AffinityTable?, registry: StrategyRegistry) -> Bool {
        candidates == selection.candidates && usesTerminatingEndpoints == selection.usesTerminatingEndpoints
            && isBuilt(from: service, flows: flows, affinity: affinity, registry: registry)
    }
}
