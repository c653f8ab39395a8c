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
    private struct State {
        var ids: [EndpointKey: UInt32] = [:]
        var free: [UInt32] = []
        var freeHead = 0
        var next: UInt32 = MarkLayout.firstEndpointID
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
            let taken = Set(state.ids.values)
            for (key, id) in known where state.ids[key] == nil && !taken.contains(id)
                && id >= MarkLayout.firstEndpointID && id <= maximum {
                state.ids[key] = id
                state.next = max(state.next, id + 1)
            }
        }
    }

    /// The services with every endpoint's `tag` set to its id; ids of endpoints no longer in
    /// any service are freed. Throws when the field has no room left.
    public func assign(_ services: [Service]) throws(EndpointIDExhausted) -> [Service] {
        try state.withLock { (state) throws(EndpointIDExhausted) -> [Service] in
            var inUse = Set<EndpointKey>()
            var result = services
            for s in result.indices {
                for e in result[s].endpoints.indices {
                    let key = result[s].endpoints[e].key
                    inUse.insert(key)
                    if let id = state.ids[key] {
                        result[s].endpoints[e].tag = id
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
                    state.ids[key] = id
                    result[s].endpoints[e].tag = id
                }
            }
            for (key, id) in state.ids where !inUse.contains(key) {
                state.ids[key] = nil
                state.free.append(id)
            }
            if state.freeHead > 4096 {
                state.free.removeFirst(state.freeHead)
                state.freeHead = 0
            }
            return result
        }
    }

    /// The current id of every endpoint, for status and for the nftables map.
    public var assignments: [EndpointKey: UInt32] { state.withLock { $0.ids } }
}

/// The mark field has no id left for another endpoint.
public struct EndpointIDExhausted: Error, CustomStringConvertible {
    public var maximum: UInt32
    public var description: String {
        "no endpoint id left: the mark field holds ids up to \(maximum); widen marks.mask"
    }
}
