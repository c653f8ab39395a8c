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
        guard n > 1 else { return n == 1 ? 0 : nil }
        let first = context.random.next(below: n)
        var second = context.random.next(below: n - 1)
        if second >= first { second += 1 }
        return load.isLessLoaded(second, active: load.active(second), than: first, active: load.active(first)) ? second : first
    }
}
