import PacketRewrite
import Synchronization

/// Every endpoint's `FlowCounter`, kept across snapshots and reloads so that a reload does
/// not forget the load on each endpoint.
///
/// Counters are per endpoint *and* protocol: a TCP and a UDP service on the same pod and
/// port are different listeners. Two services sharing an endpoint share its counter, which is
/// what least-connections wants: the load is on the backend, whichever VIP it came through.
///
/// The lock is taken only at snapshot build and on flow-end events from conntrack, never per
/// packet: workers reach counters directly through their strategy.
public final class FlowTracker: Sendable {
    struct Key: Hashable {
        var endpoint: EndpointKey
        var proto: IPProtocolNumber
    }

    private let counters = Mutex<[Key: FlowCounter]>([:])

    public init() {}

    /// The counter for `key`/`proto`, created at zero on first use.
    public func counter(for key: EndpointKey, proto: IPProtocolNumber) -> FlowCounter {
        counters.withLock { $0.counter(for: Key(endpoint: key, proto: proto)) }
    }

    /// One counter per key, under a single lock acquisition (a snapshot build asks for all
    /// of a service's candidates at once).
    public func counters(for keys: [EndpointKey], proto: IPProtocolNumber) -> [FlowCounter] {
        counters.withLock { table in keys.map { table.counter(for: Key(endpoint: $0, proto: proto)) } }
    }

    /// A flow to `key` started outside `ServiceBalancer.flowOpened` (e.g. found at startup in
    /// the conntrack table).
    public func flowOpened(key: EndpointKey, proto: IPProtocolNumber) {
        counter(for: key, proto: proto).increment()
    }

    /// A flow to `key` ended (a conntrack destroy event). Never counts below zero; an unknown
    /// key is ignored rather than creating a counter for an endpoint nobody balances to.
    public func flowClosed(key: EndpointKey, proto: IPProtocolNumber) {
        let counter = counters.withLock { $0[Key(endpoint: key, proto: proto)] }
        counter?.decrement()
    }

    /// The active-flow count of `key`, 0 if it has no counter.
    public func activeFlows(key: EndpointKey, proto: IPProtocolNumber) -> Int {
        counts(key: key, proto: proto).active
    }

    /// Active and ever-opened flows of `key`, zeros if it has no counter: for status and
    /// metrics, which must not create counters by looking.
    public func counts(key: EndpointKey, proto: IPProtocolNumber) -> (active: Int, opened: Int) {
        counters.withLock { table in
            table[Key(endpoint: key, proto: proto)].map { ($0.active, $0.opened) } ?? (0, 0)
        }
    }

    /// Where every counter stood when a read of the conntrack table began: what
    /// `resynchronize` needs to tell the flows the read may have missed.
    public struct ResyncBaseline: Sendable {
        fileprivate var opened: [Key: (FlowCounter, Int)]
    }

    /// What one resynchronisation changed.
    public struct ResyncOutcome: Sendable, Equatable {
        /// Counters whose count was not the kernel's (plus the flows opened since the read).
        public var countersCorrected = 0
        /// The sum of the corrections, in flows, whichever their direction.
        public var flowsCorrected = 0
        public init(countersCorrected: Int = 0, flowsCorrected: Int = 0) {
            self.countersCorrected = countersCorrected
            self.flowsCorrected = flowsCorrected
        }
    }

    /// Call right before reading the conntrack table, then `resynchronize` with what it held.
    public func resyncBaseline() -> ResyncBaseline {
        ResyncBaseline(opened: counters.withLock { table in table.mapValues { ($0, $0.opened) } })
    }

    /// Sets every counter to the flows the conntrack table holds for its endpoint and protocol
    /// (`kernel`, read after `baseline` was taken), so that lost destroy events and flows that
    /// never reached the table (a SYN dropped after its verdict) cannot make the counts drift
    /// for ever.
    ///
    /// The race rule: the kernel's count is taken as the truth at the moment the read began,
    /// and the flows a counter opened since then are added on top (a flow created during the
    /// read may be missing from it). The error that remains is bounded by the flows that
    /// opened or closed during one read (a flow both read and counted since, a destroy event
    /// handled before the store), and the next resynchronisation corrects it: nothing
    /// accumulates. An endpoint of the table with no counter gets none (nobody balances to it);
    /// a counter created after the baseline is left alone until the next round.
    @discardableResult
    public func resynchronize(kernel: [EndpointKey: [IPProtocolNumber: Int]], baseline: ResyncBaseline) -> ResyncOutcome {
        var outcome = ResyncOutcome()
        for (key, (counter, openedBefore)) in baseline.opened {
            let truth = kernel[key.endpoint]?[key.proto] ?? 0
            let (before, after) = counter.resynchronize(kernel: truth, openedBefore: openedBefore)
            if before != after {
                outcome.countersCorrected += 1
                outcome.flowsCorrected += abs(after - before)
            }
        }
        return outcome
    }

    /// Number of counters held.
    public var count: Int { counters.withLock { $0.count } }

    /// Drops the counters of `keys` (endpoints that stopped being a candidate anywhere) that are
    /// idle, so that endpoint churn does not grow the table forever; costs only the change. A
    /// worker still on an older snapshot may then count on a dropped counter, which only costs
    /// a slightly low count later (never a negative one).
    public func removeIdleCounters(_ keys: [(EndpointKey, IPProtocolNumber)]) {
        counters.withLock { table in
            for (endpoint, proto) in keys {
                let key = Key(endpoint: endpoint, proto: proto)
                if let counter = table[key], counter.active == 0 { table[key] = nil }
            }
        }
    }

}

extension Dictionary where Key == FlowTracker.Key, Value == FlowCounter {
    fileprivate mutating func counter(for key: Key) -> FlowCounter {
        if let existing = self[key] { return existing }
        let created = FlowCounter()
        self[key] = created
        return created
    }
}
