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
