import PacketRewrite
import Synchronization

/// `round-robin`: candidates in turn, ignoring weights (use `weighted-round-robin` for
/// weights). One counter shared by all workers, so the rotation is exact over all of them.
///
/// The shared counter is one contended cache line per pick across workers; that is the
/// price of exactness, and still far below the cost of the conntrack call per flow.
public final class RoundRobinStrategy: BalancingStrategy {
    public static let configName = "round-robin"

    @usableFromInline let count: UInt64
    @usableFromInline let turn = Atomic<UInt64>(0)

    public init(endpoints: [Endpoint], context: StrategyBuildContext) throws(StrategyError) {
        try context.options.requireOnly(Self.optionNames)
        count = UInt64(endpoints.count)
    }

    @inlinable
    public func pick(_ flow: FlowTuple, hash: UInt64, context: inout PickContext) -> Int? {
        guard count > 0 else { return nil }
        // Relaxed: only the counter's own sequence of values matters.
        let t = turn.wrappingAdd(1, ordering: .relaxed).oldValue
        return Int(truncatingIfNeeded: t % count)
    }
}
