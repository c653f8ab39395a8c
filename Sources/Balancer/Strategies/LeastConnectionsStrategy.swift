import PacketRewrite

/// `least-connections`: IPVS's weighted least-connection (`wlc`): the candidate with the
/// fewest active flows per unit of weight, compared by cross-multiplication (exact, no
/// division).
///
/// The scan starts at a random candidate so that ties (all idle endpoints, at startup or
/// after a reload) spread evenly instead of all going to the first. It reads every
/// candidate's counter, O(candidates) per pick: fine for the tens of endpoints services
/// usually have; `power-of-two` is the O(1) approximation for very large ones.
public final class LeastConnectionsStrategy: BalancingStrategy, @unchecked Sendable {
    // @unchecked: `load`'s buffers are written only in init and freed only in deinit.
    public static let configName = "least-connections"

    @usableFromInline let load: WeightedLoads

    /// The shared counters of the candidates, in candidate order.
    public var counters: [FlowCounter] { load.counters }

    public init(endpoints: [Endpoint], context: StrategyBuildContext) throws(StrategyError) {
        try context.options.requireOnly(Self.optionNames)
        load = WeightedLoads(endpoints: endpoints, context: context)
    }

    deinit { load.deallocate() }

    @inlinable
    public func pick(_ flow: FlowTuple, hash: UInt64, context: inout PickContext) -> Int? {
        let n = load.count
        guard n > 0 else { return nil }
        var best = context.random.next(below: n)
        var bestActive = load.active(best)
        var i = best
        for _ in 1..<n {
            i = i &+ 1 == n ? 0 : i &+ 1
            let active = load.active(i)
            if load.isLessLoaded(i, active: active, than: best, active: bestActive) {
                best = i
                bestActive = active
            }
        }
        return best
    }
}
