/// The active-flow counters and weights of a load-aware strategy's candidates, laid out for
/// its pick: unretained counter references and weights in flat buffers, read without
/// reference counting. Shared by `least-connections` and `power-of-two`.
///
/// A struct owned by one strategy, which calls `deallocate()` in its deinit; `counters`
/// keeps the objects the buffer points to alive.
@usableFromInline
struct WeightedLoads {
    let counters: [FlowCounter]
    @usableFromInline let loads: UnsafeBufferPointer<Unmanaged<FlowCounter>>
    @usableFromInline let weights: UnsafeBufferPointer<UInt64>

    init(endpoints: [Endpoint], context: StrategyBuildContext) {
        counters = context.counters(count: endpoints.count)
        loads = .allocate(copying: counters.map { Unmanaged.passUnretained($0) })
        weights = .allocate(copying: WeightMath.weights(of: endpoints))
    }

    func deallocate() {
        loads.deallocate()
        weights.deallocate()
    }

    @inlinable
    var count: Int { loads.count }

    @inlinable
    func active(_ i: Int) -> Int { loads[i]._withUnsafeGuaranteedRef { $0.active } }

    /// Whether candidate `i` carries less load per unit of weight than `j` would at `activeJ`.
    @inlinable
    func isLessLoaded(_ i: Int, active: Int, than j: Int, active activeJ: Int) -> Bool {
        WeightMath.isLessLoaded(active: active, weight: weights[i], than: activeJ, weight: weights[j])
    }
}
