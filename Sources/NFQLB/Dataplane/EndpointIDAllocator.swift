import Balancer
import Synchronization

/// Gives every distinct endpoint (address and port) a small id that fits the mark field:
/// mode mark's map key and every mode's conntrack mark.
///
/// Ids stay with an endpoint while it is in the config, so a reload never renumbers a live
/// endpoint. An id freed by a removed endpoint goes to the back of the free list: the longest
/// possible time passes before another endpoint gets it. Nothing depends on an id alone
/// anyway: whoever reads an id from an entry or an event also checks the entry's backend.
public final class EndpointIDAllocator: Sendable {
    private struct Slot {
        var id: UInt32
        /// The assignment round that last saw the endpoint in the config.
        var seen: UInt64
    }

    private struct State {
        var ids: [EndpointKey: Slot] = [:]
        var free: [UInt32] = []
        var freeHead = 0
        var next: UInt32 = MarkLayout.firstEndpointID
        var round: UInt64 = 0
    }

    /// The services with their endpoints' ids, and what changed in the id table.
    public struct Assignment: Sendable {
        public var services: [Service]
        /// Endpoints that got an id in this round.
        public var added: [(EndpointKey, UInt32)]
        /// Endpoints that left the config in this round, with the id they had.
        public var freed: [(EndpointKey, UInt32)]
    }

    private let state = Mutex(State())
    public let maximum: UInt32

    public init(marks: MarkLayout) {
        maximum = marks.maximumEndpointID
    }

    /// Adopts ids found in the kernel (our nftables map, our conntrack entries) from a
    /// previous run, so that a restart keeps them. Conflicting or out-of-range ones are skipped.
    public func adopt(_ known: [(EndpointKey, UInt32)]) {
        state.withLock { state in
            var taken = Set(state.ids.values.map(\.id))
            for (key, id) in known where state.ids[key] == nil && !taken.contains(id)
                && id >= MarkLayout.firstEndpointID && id <= maximum {
                state.ids[key] = Slot(id: id, seen: state.round)
                taken.insert(id)
                state.next = max(state.next, id + 1)
            }
        }
    }

    /// Gives every endpoint of `services` its id (in `tag`), reusing the ids endpoints already
    /// have; frees the ids of endpoints in no service any more. One hash lookup per endpoint
    /// and one pass over the table: a reload of 10,000 services stays in the low milliseconds.
    public func assign(_ services: [Service]) throws(EndpointIDExhausted) -> Assignment {
        try state.withLock { (state) throws(EndpointIDExhausted) -> Assignment in
            state.round += 1
            let round = state.round
            var added: [(EndpointKey, UInt32)] = []
            var result: [Service] = []
            result.reserveCapacity(services.count)
            for service in services {
                var tagged = service
                for e in tagged.endpoints.indices {
                    let key = tagged.endpoints[e].key
                    if let index = state.ids.index(forKey: key) {
                        state.ids.values[index].seen = round
                        tagged.endpoints[e].tag = state.ids.values[index].id
                        continue
                    }
                    let id: UInt32
                    if state.next <= maximum {
                        id = state.next
                        state.next += 1
                    } else if state.freeHead < state.free.count {
                        id = state.free[state.freeHead]
                        state.freeHead += 1
                    } else {
                        throw EndpointIDExhausted(maximum: maximum)
                    }
                    state.ids[key] = Slot(id: id, seen: round)
                    tagged.endpoints[e].tag = id
                    added.append((key, id))
                }
                result.append(tagged)
            }
            var freed: [(EndpointKey, UInt32)] = []
            for (key, slot) in state.ids where slot.seen != round { freed.append((key, slot.id)) }
            for (key, id) in freed {
                state.ids[key] = nil
                state.free.append(id)
            }
            if state.freeHead > 4096 {
                state.free.removeFirst(state.freeHead)
                state.freeHead = 0
            }
            return Assignment(services: result, added: added, freed: freed)
        }
    }

    /// The current id of an endpoint.
    public func id(of key: EndpointKey) -> UInt32? { state.withLock { $0.ids[key]?.id } }

    /// The current id of every endpoint, for status and for the nftables map.
    public var assignments: [EndpointKey: UInt32] { state.withLock { $0.ids.mapValues(\.id) } }
}

/// The mark field has no id left for another endpoint.
public struct EndpointIDExhausted: Error, CustomStringConvertible {
    public var maximum: UInt32
    public var description: String {
        "no endpoint id left: the mark field holds ids up to \(maximum); widen marks.mask"
    }
}
