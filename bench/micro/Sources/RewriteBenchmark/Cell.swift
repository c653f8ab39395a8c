import Balancer
import CReference

/// One (services, strategy) cell: Swift and C run alternately on the same ring, `rounds`
/// times each, every run checked; the figures are the medians.
struct Cell {
    let services: Int
    let strategy: String
    /// The C strategy measured beside it (its twin, or the fallback when it has none).
    let reference: String
    var swiftSeconds: [Double] = []
    var cSeconds: [Double] = []
    var packetsPerRun = 0

    var swiftMpps: Double { Double(packetsPerRun) / Self.median(swiftSeconds) / 1e6 }
    var cMpps: Double { Double(packetsPerRun) / Self.median(cSeconds) / 1e6 }
    var swiftNanoseconds: Double { Self.median(swiftSeconds) * 1e9 / Double(packetsPerRun) }
    var cNanoseconds: Double { Self.median(cSeconds) * 1e9 / Double(packetsPerRun) }
    /// Swift's time over C's for the same packets: 1.0 is parity, 1.5 is the goal's bound.
    var ratio: Double { Self.median(swiftSeconds) / Self.median(cSeconds) }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return .nan }
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2]
            : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    /// Builds the scenario, calibrates the passes per run to about `secondsPerRun` of Swift,
    /// then measures.
    static func measure(services: Int, strategy: String, options: BenchmarkOptions) throws -> Cell {
        let scenario = try Scenario(serviceCount: services, endpointsPerService: options.endpoints, strategy: strategy)
        let (twin, twinName) = ReferencePath.twin(for: strategy)
        let reference = ReferencePath(scenario: scenario, twin: twin, seed: 0xC0FFEE)
        let ring = PacketRing(count: options.ringSize, serviceCount: services, seed: 0x5EED ^ UInt64(services))
        var context = PickContext(seed: 0xC0FFEE)
        let deterministic = strategy == MaglevStrategy.configName || strategy == SourceHashStrategy.configName
        var cell = Cell(services: services, strategy: strategy, reference: twinName)

        let candidates = options.endpoints
        let swiftHistogram = UnsafeMutablePointer<UInt64>.allocate(capacity: candidates)
        let cHistogram = UnsafeMutablePointer<UInt64>.allocate(capacity: candidates)
        let swiftRing = UnsafeMutableRawBufferPointer.allocate(byteCount: ring.count * PacketRing.slotBytes, alignment: 64)
        defer {
            swiftHistogram.deallocate()
            cHistogram.deallocate()
            swiftRing.deallocate()
        }
        swiftHistogram.initialize(repeating: 0, count: candidates)
        cHistogram.initialize(repeating: 0, count: candidates)

        func runSwift(_ passes: Int) throws -> Double {
            let start = MonotonicClock.seconds()
            let outcome = options.ownedLookup
                ? SwiftPath.runOwnedLookup(ring: ring, snapshot: scenario.snapshot, passes: passes,
                                           context: &context, histogram: swiftHistogram)
                : SwiftPath.run(ring: ring, snapshot: scenario.snapshot, passes: passes,
                                context: &context, histogram: swiftHistogram)
            let elapsed = MonotonicClock.seconds() - start
            try RingCheck.verify(ring: ring, scenario: scenario, outcome: outcome, passes: passes, language: "Swift")
            swiftRing.copyMemory(from: UnsafeRawBufferPointer(start: ring.work, count: swiftRing.count))
            return elapsed
        }
        func runC(_ passes: Int) throws -> Double {
            let start = MonotonicClock.seconds()
            let outcome = reference.run(ring: ring, passes: passes, histogram: cHistogram)
            let elapsed = MonotonicClock.seconds() - start
            try RingCheck.verify(ring: ring, scenario: scenario, outcome: outcome, passes: passes, language: "C")
            if deterministic {
                try RingCheck.verifySame(UnsafeRawBufferPointer(swiftRing),
                                         UnsafeRawBufferPointer(start: ring.work, count: swiftRing.count))
            }
            return elapsed
        }

        // Warm both up (caches, branch predictors, page faults), then size the runs.
        var passes = 1
        var elapsed = try runSwift(passes)
        _ = try runC(passes)
        if let fixed = options.passes {
            passes = fixed
        } else {
            while elapsed < options.secondsPerRun / 4 {
                passes *= 2
                elapsed = try runSwift(passes)
                _ = try runC(passes)
            }
            passes = max(1, Int((Double(passes) * options.secondsPerRun / elapsed).rounded()))
        }
        cell.packetsPerRun = passes * ring.count

        for _ in 0..<options.rounds {
            cell.swiftSeconds.append(try runSwift(passes))
            cell.cSeconds.append(try runC(passes))
        }
        // Hash strategies spread the ring's clients, so the check needs enough of them per
        // candidate to be meaningful: skipped for rings below 64 packets per candidate.
        if ring.count >= 64 * candidates {
            try RingCheck.verifySpread(Array(UnsafeBufferPointer(start: swiftHistogram, count: candidates)), language: "Swift")
            try RingCheck.verifySpread(Array(UnsafeBufferPointer(start: cHistogram, count: candidates)), language: "C")
        }
        return cell
    }
}
