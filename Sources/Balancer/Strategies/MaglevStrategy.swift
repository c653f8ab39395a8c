import PacketRewrite

/// `maglev`: Google's Maglev consistent hashing on the flow's 5-tuple. A given flow hash
/// always maps to the same endpoint on every node running the same config, and removing one
/// of N endpoints moves only about 1/N of flow hashes (see `MaglevTable`).
///
/// Option `tableSize`: a prime, at least the number of candidates. By default the table is
/// sized from the candidates (`MaglevTable.defaultSize(forCandidates:)`: 100 entries per
/// candidate, in power-of-two steps); each entry is 2 bytes.
public final class MaglevStrategy: BalancingStrategy, @unchecked Sendable {
    // @unchecked: `entries` borrows `table`'s buffer, which `table` keeps alive.
    public static let configName = "maglev"
    public static let optionNames = ["tableSize"]

    public let table: MaglevTable
    /// `table.entries`, cached here so that a pick reads no other object.
    @usableFromInline let entries: UnsafeBufferPointer<UInt16>
    @usableFromInline let size: UInt64

    public static func validate(options: StrategyOptions) throws(StrategyError) {
        _ = try tableSize(options, candidates: 0)
    }

    static func tableSize(_ options: StrategyOptions, candidates: Int) throws(StrategyError) -> Int {
        try options.requireOnly(optionNames)
        return try MaglevTable.size(from: options, default: MaglevTable.defaultSize(forCandidates: candidates))
    }

    public init(endpoints: [Endpoint], context: StrategyBuildContext) throws(StrategyError) {
        table = try MaglevTable(endpoints: endpoints, checkedSize: Self.tableSize(context.options, candidates: endpoints.count))
        entries = table.entries
        size = UInt64(table.size)
    }

    @inlinable
    public func pick(_ flow: FlowTuple, hash: UInt64, context: inout PickContext) -> Int? {
        guard entries.count > 0 else { return nil }
        return Int(entries[Int(truncatingIfNeeded: hash % size)])
    }
}
