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
        /// How many services in force name the endpoint.
        var uses: Int
    }

    private struct State {
        var ids: [EndpointKey: Slot] = [:]
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
    /// previous run, so that a restart keeps them; they count no use until a service names
    /// them (`releaseUnused`). Conflicting or out-of-range ones are skipped.
    public func adopt(_ known: [(EndpointKey, UInt32)]) {
        state.withLock { state in
            var taken = Set(state.ids.values.map(\.id))
            for (key, id) in known where state.ids[key] == nil && !taken.contains(id)
                && id >= MarkLayout.firstEndpointID && id <= maximum {
                state.ids[key] = Slot(id: id, uses: 0)
                taken.insert(id)
                state.next = max(state.next, id + 1)
            }
        }
    }

    /// Gives every endpoint of `services` its id (in `tag`) and counts the use; endpoints
    /// without one get a new id (returned in `added`). Throws, having counted nothing, when the
    /// field has no room left.
    public func retain(_ services: [Service]) throws(EndpointIDExhausted) -> (services: [Service], added: [(EndpointKey, UInt32)]) {
        try state.withLock { (state) throws(EndpointIDExhausted) in
            var added: [(EndpointKey, UInt32)] = []
            var result = services
            for s in result.indices {
                for e in result[s].endpoints.indices {
                    let key = result[s].endpoints[e].key
                    if let index = state.ids.index(forKey: key) {
                        state.ids.values[index].uses += 1
                        result[s].endpoints[e].tag = state.ids.values[index].id
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
                        // Undo this call's counts and ids: the caller keeps the old config.
                        Self.release(result[..<s], from: &state)
                        Self.release(result[s].endpoints[..<e].map(\.key), from: &state)
                        throw EndpointIDExhausted(maximum: maximum)
                    }
                    state.ids[key] = Slot(id: id, uses: 1)
                    result[s].endpoints[e].tag = id
                    added.append((key, id))
                }
            }
            return (result, added)
        }
    }

    /// Counts off the uses `services` made (as `retain` returned them); returns the endpoints
    /// that no service uses any more, with the ids they had, which are now free.
    @discardableResult
    public func release(_ services: [Service]) -> [(EndpointKey, UInt32)] {
        state.withLock { state in Self.release(services[...], from: &state) }
    }

    /// Frees the adopted ids that no service took up.
    @discardableResult
    public func releaseUnused() -> [(EndpointKey, UInt32)] {
        state.withLock { state in
            let unused = state.ids.filter { $0.value.uses == 0 }.map { ($0.key, $0.value.id) }
            for (key, id) in unused {
                state.ids[key] = nil
                state.free.append(id)
            }
            return unused
        }
    }

    @discardableResult
    private static func release(_ services: ArraySlice<Service>, from state: inout State) -> [(EndpointKey, UInt32)] {
        release(services.flatMap { $0.endpoints.map(\.key) }, from: &state)
    }

    @discardableResult
    private static func release(_ keys: [EndpointKey], from state: inout State) -> [(EndpointKey, UInt32)] {
        var freed: [(EndpointKey, UInt32)] = []
        for key in keys {
            guard let index = state.ids.index(forKey: key) else { continue }
            state.ids.values[index].uses -= 1
            guard state.ids.values[index].uses <= 0 else { continue }
            let id = state.ids.values[index].id
            state.ids.remove(at: index)
            state.free.append(id)
            freed.append((key, id))
        }
        if state.freeHead > 4096 {
            state.free.removeFirst(state.freeHead)
            state.freeHead = 0
        }
        return freed
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
