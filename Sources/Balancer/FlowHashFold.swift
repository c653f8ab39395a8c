import PacketRewrite

/// Folds a sequence of 64-bit values into one stable hash with `FlowHash`'s mixer: for
/// fingerprints of tables that must compare equal across processes.
struct FlowHashFold {
    private(set) var state: UInt64 = FlowHash.seed

    mutating func add(_ value: UInt64) {
        state = FlowHash.mix(state, value)
    }

    var value: UInt64 { FlowHash.finalize(state) }
}
