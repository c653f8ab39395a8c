import Balancer
import CReference
import PacketRewrite

/// The Swift side: what the daemon's `QueueWorker.classify` and `balance` do for a TCP SYN to a
/// service, minus the pick cache and the conntrack staging, with the same calls in the same
/// order: `PacketView(validating:)`, `flowTuple`, `isTCPSYN`, `snapshot.withLookup` (the
/// balancer borrowed, not retained), `pick(_:hash: tuple.stableHash, context:)`, then
/// `rewriteDestination` as the rewrite paths do.
enum SwiftPath {
    /// What one run did; the same counters as `cref_outcome`.
    struct Outcome {
        var rewritten: UInt64 = 0
        var malformed: UInt64 = 0
        var notService: UInt64 = 0
        var noEndpoint: UInt64 = 0
    }

    /// `passes` passes over the ring, each packet reset from its pristine copy first (the same
    /// 64-byte copy as the C path). Out of line so that profiles show it as one symbol.
    @inline(never)
    static func run(ring: PacketRing, snapshot: BalancerSnapshot, passes: Int, context: inout PickContext,
                    histogram: UnsafeMutablePointer<UInt64>) -> Outcome {
        var outcome = Outcome()
        for _ in 0..<passes {
            for i in 0..<ring.count {
                guard let (view, tuple) = parsedSYN(ring, i, &outcome) else { continue }
                let (isService, picked) = snapshot.withLookup(
                    address: tuple.destination, port: tuple.destinationPort, proto: tuple.proto
                ) { lookup -> (Bool, EndpointChoice?) in
                    switch lookup {
                    case .notService, .unallocated:
                        return (false, nil)
                    case .service(let balancer):
                        return (true, balancer.pick(tuple, hash: tuple.stableHash, context: &context))
                    }
                }
                guard isService else {
                    outcome.notService &+= 1
                    continue
                }
                rewrite(view, to: picked, histogram, &outcome)
            }
        }
        return outcome
    }

    /// The same path with `snapshot.lookup`, whose answer owns (retains) the balancer: what the
    /// worker did before it moved to `withLookup`. `--swift-lookup owned` measures it, to show
    /// what the reference counting costs.
    @inline(never)
    static func runOwnedLookup(ring: PacketRing, snapshot: BalancerSnapshot, passes: Int,
                               context: inout PickContext, histogram: UnsafeMutablePointer<UInt64>) -> Outcome {
        var outcome = Outcome()
        for _ in 0..<passes {
            for i in 0..<ring.count {
                guard let (view, tuple) = parsedSYN(ring, i, &outcome) else { continue }
                switch snapshot.lookup(address: tuple.destination, port: tuple.destinationPort, proto: tuple.proto) {
                case .notService, .unallocated:
                    outcome.notService &+= 1
                case .service(let balancer):
                    rewrite(view, to: balancer.pick(tuple, hash: tuple.stableHash, context: &context), histogram, &outcome)
                }
            }
        }
        return outcome
    }

    /// Resets packet `i` from its pristine copy and parses it; nil (counted as malformed) when
    /// it is not a valid IPv4/IPv6 TCP SYN or UDP datagram.
    @inline(__always)
    static func parsedSYN(_ ring: PacketRing, _ i: Int, _ outcome: inout Outcome) -> (PacketView, FlowTuple)? {
        let slot = ring.work + i &* PacketRing.slotBytes
        slot.copyMemory(from: UnsafeRawPointer(ring.pristine) + i &* PacketRing.slotBytes, byteCount: PacketRing.slotBytes)
        let view: PacketView
        do {
            view = try PacketView(validating: UnsafeMutableRawBufferPointer(start: slot, count: PacketRing.packetLength))
        } catch {
            outcome.malformed &+= 1
            return nil
        }
        let tuple = view.flowTuple
        if tuple.proto == .tcp, !view.isTCPSYN {
            outcome.malformed &+= 1
            return nil
        }
        return (view, tuple)
    }

    /// Counts the pick and rewrites the packet to it (DNAT, incremental checksums).
    @inline(__always)
    static func rewrite(_ view: PacketView, to picked: EndpointChoice?, _ histogram: UnsafeMutablePointer<UInt64>,
                        _ outcome: inout Outcome) {
        guard let choice = picked else {
            outcome.noEndpoint &+= 1
            return
        }
        histogram[choice.index] &+= 1
        do {
            try view.rewriteDestination(address: choice.endpoint.address, port: choice.endpoint.port)
        } catch {
            outcome.malformed &+= 1
            return
        }
        outcome.rewritten &+= 1
    }
}
