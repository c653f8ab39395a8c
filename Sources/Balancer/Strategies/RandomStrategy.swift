import PacketRewrite

/// `random`: kube-proxy's behaviour (iptables `statistic --mode random`), and the default.
/// Each new flow goes to a candidate chosen at random in proportion to its weight; with
/// equal weights that is uniform, exactly as kube-proxy.
///
/// Uniform picks take one multiply; weighted ones an alias table (one random number, one
/// compare), so the pick costs the same whatever the number of candidates.
public final class RandomStrategy: BalancingStrategy, @unchecked Sendable {
    // @unchecked: the buffers are written only in init and freed only in deinit.
    public static let configName = "random"

    @usableFromInline let count: UInt64
    @usableFromInline let isUniform: Bool
    @usableFromInline let thresholds: UnsafeBufferPointer<UInt32>
    @usableFromInline let aliases: UnsafeBufferPointer<UInt32>

    public init(endpoints: [Endpoint], context: StrategyBuildContext) throws(StrategyError) {
        try context.options.requireOnly(Self.optionNames)
        let weights = WeightMath.weights(of: endpoints)
        count = UInt64(endpoints.count)
        isUniform = Set(weights).count <= 1
        let table = AliasTable(weights: isUniform ? [] : weights)
        thresholds = .allocate(copying: table.thresholds)
        aliases = .allocate(copying: table.aliases)
    }

    deinit {
        thresholds.deallocate()
        aliases.deallocate()
    }

    @inlinable
    public func pick(_ flow: FlowTuple, hash: UInt64, context: inout PickContext) -> Int? {
        guard count > 0 else { return nil }
        let r = context.random.next()
        // The high 32 bits choose the bucket, the low 32 bits toss the bucket's coin.
        let bucket = Int(truncatingIfNeeded: ((r >> 32) &* count) >> 32)
        if isUniform { return bucket }
        return UInt32(truncatingIfNeeded: r) < thresholds[bucket] ? bucket : Int(aliases[bucket])
    }
}
