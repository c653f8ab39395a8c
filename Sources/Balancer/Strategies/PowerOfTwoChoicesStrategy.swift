import PacketRewrite

/// `power-of-two`: Envoy's least-request with two choices: two distinct random candidates,
/// the one with fewer active flows per unit of weight wins (a tie keeps the first).
///
/// O(1) per pick whatever the number of candidates, and nearly as good as a full scan
/// (Mitzenmacher's "power of two choices"); it also avoids the herd effect of every worker
/// sending its next flows to the same least-loaded endpoint at once.
public final class PowerOfTwoChoicesStrategy: BalancingStrategy, @unchecked Sendable {
    // @unchecked: as LeastConnectionsStrategy.
    public static let configName = "power-of-two"

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
        guard n > 1 else { return n == 1 ? 0 : nil }
        let first = context.random.next(below: n)
        var second = context.random.next(below: n - 1)
        if second >= first { second += 1 }
        let firstActive = loads[first]._withUnsafeGuaranteedRef { $0.active }
        let secondActive = loads[second]._withUnsafeGuaranteedRef { $0.active }
        return WeightMath.isLessLoaded(active: secondActive, weight: weights[second],
                                       than: firstActive, weight: weights[first]) ? second : first
    }
}
