import PacketRewrite

/// `source-hash`: the endpoint depends on the client address only (IPVS `sh`), so all flows
/// of one client go to one endpoint for as long as the candidates stay the same, with no
/// shared state at all.
///
/// The bucket table is a weighted `MaglevTable` indexed by the client address's hash, so
/// buckets follow weights and a change of candidates moves few clients. Option `tableSize`
/// (prime): by default 4093, or 65537 when there are more than 512 candidates, so that
/// every candidate keeps at least 8 buckets' worth of weight resolution.
public final class SourceHashStrategy: BalancingStrategy, @unchecked Sendable {
    // @unchecked: `entries` borrows `table`'s buffer, which `table` keeps alive.
    public static let configName = "source-hash"
    public static let optionNames = ["tableSize"]

    public let table: MaglevTable
    @usableFromInline let entries: UnsafeBufferPointer<UInt16>
    @usableFromInline let size: UInt64

    public static func validate(options: StrategyOptions) throws(StrategyError) {
        _ = try tableSize(options, candidates: 0)
    }

    static func tableSize(_ options: StrategyOptions, candidates: Int) throws(StrategyError) -> Int {
        try options.requireOnly(optionNames)
        return try MaglevTable.size(from: options, default: candidates > 512 ? 65_537 : 4_093)
    }

    public init(endpoints: [Endpoint], context: StrategyBuildContext) throws(StrategyError) {
        table = try MaglevTable(endpoints: endpoints, checkedSize: Self.tableSize(context.options, candidates: endpoints.count))
        entries = table.entries
        size = UInt64(table.size)
    }

    /// The hash a client address is bucketed by. `FlowHash.hash` of an IPv4 address is the
    /// address itself (unmixed), which would put neighbouring clients in neighbouring
    /// buckets: finalise it.
    @inlinable @inline(__always)
    public static func clientHash(_ address: IPAddress) -> UInt64 {
        FlowHash.finalize(FlowHash.hash(address))
    }

    @inlinable
    public func pick(_ flow: FlowTuple, hash: UInt64, context: inout PickContext) -> Int? {
        guard entries.count > 0 else { return nil }
        return Int(entries[Int(truncatingIfNeeded: Self.clientHash(flow.source) % size)])
    }
}
