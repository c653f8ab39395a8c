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
    // @unchecked: the buffers are written only in init and freed only in deinit; the counters
    // they point to are kept alive by `counters`.
    public static let configName = "least-connections"

    /// The shared counters, held strongly; the hot path reads them through `loads`.
    public let counters: [FlowCounter]
    @usableFromInline let loads: UnsafeBufferPointer<Unmanaged<FlowCounter>>
    @usableFromInline let weights: UnsafeBufferPointer<UInt64>

    public init(endpoints: [Endpoint], context: StrategyBuildContext) throws(StrategyError) {
        try context.options.requireOnly(Self.optionNames)
        counters = context.counters(count: endpoints.count)
        loads = .allocate(copying: counters.map { Unmanaged.passUnretained($0) })
        weights = .allocate(copying: WeightMath.weights(of: endpoints))
    }

    deinit {
        loads.deallocate()
        weights.deallocate()
    }

    @inlinable
    public func pick(_ flow: FlowTuple, hash: UInt64, context: inout PickContext) -> Int? {
        let n = loads.count
        guard n > 0 else { return nil }
        var best = context.random.next(below: n)
        var bestActive = loads[best]._withUnsafeGuaranteedRef { $0.active }
        var bestWeight = weights[best]
        var i = best
        for _ in 1..<n {
            i = i + 1 == n ? 0 : i + 1
            let active = loads[i]._withUnsafeGuaranteedRef { $0.active }
            if WeightMath.isLessLoaded(active: active, weight: weights[i], than: bestActive, weight: bestWeight) {
                best = i
                bestActive = active
                bestWeight = weights[i]
            }
        }
        return best
    }
}
