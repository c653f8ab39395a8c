import CReference

/// The C side: the reference table built from a scenario's snapshot, and its run.
final class ReferencePath {
    /// The C twin of each Balancer strategy (all of them have one today). A strategy added to
    /// `StrategyRegistry.standard` without a twin is measured against `random`, the plainest
    /// pick, and the table says so.
    static let twins: [String: cref_strategy] = [
        "random": CREF_RANDOM,
        "round-robin": CREF_ROUND_ROBIN,
        "weighted-round-robin": CREF_WEIGHTED_ROUND_ROBIN,
        "least-connections": CREF_LEAST_CONNECTIONS,
        "power-of-two": CREF_POWER_OF_TWO,
        "source-hash": CREF_SOURCE_HASH,
        "maglev": CREF_MAGLEV,
    ]
    static let fallbackTwin = "random"

    /// The C strategy measured for `strategy`, and its name.
    static func twin(for strategy: String) -> (cref_strategy, String) {
        if let twin = twins[strategy] { return (twin, strategy) }
        return (twins[fallbackTwin]!, fallbackTwin)
    }

    let table: OpaquePointer
    var rng = cref_rng()

    init(scenario: Scenario, twin: cref_strategy, seed: UInt64) {
        guard let table = scenario.withReferenceSpecs(twin: twin, { specs in
            specs.withUnsafeBufferPointer { cref_table_create($0.baseAddress, $0.count) }
        }) else {
            fatalError("cref_table_create: out of memory")
        }
        self.table = table
        cref_rng_seed(&rng, seed)
    }

    deinit {
        cref_table_destroy(table)
    }

    func run(ring: PacketRing, passes: Int, histogram: UnsafeMutablePointer<UInt64>) -> SwiftPath.Outcome {
        var outcome = cref_outcome()
        cref_run(table, ring.work.assumingMemoryBound(to: UInt8.self),
                 UnsafePointer(ring.pristine.assumingMemoryBound(to: UInt8.self)),
                 ring.count, PacketRing.packetLength, passes, &rng, histogram, &outcome)
        return SwiftPath.Outcome(rewritten: outcome.rewritten, malformed: outcome.malformed,
                                 notService: outcome.not_service, noEndpoint: outcome.no_endpoint)
    }
}
