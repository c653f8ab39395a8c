import PacketRewrite
import Synchronization

/// `weighted-round-robin`: nginx's smooth weighted round robin. Over each period every
/// candidate gets exactly its weight's share, spread out rather than in bursts (see
/// `SmoothWeightedSequence`).
///
/// The period is precomputed at build time and indexed by one shared atomic counter, so a
/// pick is an atomic increment and a read, whatever the weights.
public final class WeightedRoundRobinStrategy: BalancingStrategy, @unchecked Sendable {
    // @unchecked: `sequence` is written only in init and freed only in deinit.
    public static let configName = "weighted-round-robin"

    @usableFromInline let sequence: UnsafeBufferPointer<UInt32>
    @usableFromInline let period: UInt64
    @usableFromInline let turn = Atomic<UInt64>(0)

    public init(endpoints: [Endpoint], context: StrategyBuildContext) throws(StrategyError) {
        try context.options.requireOnly(Self.optionNames)
        let period = SmoothWeightedSequence.period(weights: WeightMath.weights(of: endpoints))
        sequence = .allocate(copying: period)
        self.period = UInt64(period.count)
    }

    deinit {
        sequence.deallocate()
    }

    /// The length of one period (sum of the reduced weights, capped).
    public var periodLength: Int { Int(period) }

    @inlinable
    public func pick(_ flow: FlowTuple, hash: UInt64, context: inout PickContext) -> Int? {
        guard period > 0 else { return nil }
        let t = turn.wrappingAdd(1, ordering: .relaxed).oldValue
        return Int(sequence[Int(truncatingIfNeeded: t % period)])
    }
}
