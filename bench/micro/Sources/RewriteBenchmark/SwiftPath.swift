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
        let count = ring.count
        let work = ring.work
        let pristine = UnsafeRawPointer(ring.pristine)
        let length = PacketRing.packetLength
        for _ in 0..<passes {
            for i in 0..<count {
                let slot = work + i &* PacketRing.slotBytes
                slot.copyMemory(from: pristine + i &* PacketRing.slotBytes, byteCount: PacketRing.slotBytes)

                let view: PacketView
                do {
                    view = try PacketView(validating: UnsafeMutableRawBufferPointer(start: slot, count: length))
                } catch {
                    outcome.malformed &+= 1
                    continue
                }
                let tuple = view.flowTuple
                if tuple.proto == .tcp, !view.isTCPSYN {
                    outcome.malformed &+= 1
                    continue
                }
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
                guard let choice = picked else {
                    outcome.noEndpoint &+= 1
                    continue
                }
                histogram[choice.index] &+= 1
                do {
                    try view.rewriteDestination(address: choice.endpoint.address, port: choice.endpoint.port)
                } catch {
                    outcome.malformed &+= 1
                    continue
                }
                outcome.rewritten &+= 1
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
        let count = ring.count
        let work = ring.work
        let pristine = UnsafeRawPointer(ring.pristine)
        let length = PacketRing.packetLength
        for _ in 0..<passes {
            for i in 0..<count {
                let slot = work + i &* PacketRing.slotBytes
                slot.copyMemory(from: pristine + i &* PacketRing.slotBytes, byteCount: PacketRing.slotBytes)

                let view: PacketView
                do {
                    view = try PacketView(validating: UnsafeMutableRawBufferPointer(start: slot, count: length))
                } catch {
                    outcome.malformed &+= 1
                    continue
                }
                let tuple = view.flowTuple
                if tuple.proto == .tcp, !view.isTCPSYN {
                    outcome.malformed &+= 1
                    continue
                }
                let balancer: ServiceBalancer
                switch snapshot.lookup(address: tuple.destination, port: tuple.destinationPort, proto: tuple.proto) {
                case .notService, .unallocated:
                    outcome.notService &+= 1
                    continue
                case .service(let found):
                    balancer = found
                }
                guard let choice = balancer.pick(tuple, hash: tuple.stableHash, context: &context) else {
                    outcome.noEndpoint &+= 1
                    continue
                }
                histogram[choice.index] &+= 1
                do {
                    try view.rewriteDestination(address: choice.endpoint.address, port: choice.endpoint.port)
                } catch {
                    outcome.malformed &+= 1
                    continue
                }
                outcome.rewritten &+= 1
            }
        }
        return outcome
    }
}
