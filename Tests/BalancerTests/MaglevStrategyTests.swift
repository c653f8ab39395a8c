@testable import Balancer
import PacketRewrite
import PropertyBased
import Testing

@Suite("MaglevStrategy")
struct MaglevStrategyTests {
    /// The endpoint key of each entry, so that tables built from differently ordered or
    /// different candidate lists compare.
    func keys(_ table: MaglevTable, _ endpoints: [Endpoint]) -> [EndpointKey] {
        table.entries.map { endpoints[Int($0)].key }
    }

    /// The golden config: changing it, or the table algorithm, or the stable hashes, changes
    /// the fingerprints below, and then two nodes (or two versions) would route differently.
    static let goldenEndpoints: [Endpoint] = [
        ("10.244.1.10", 8080, 1), ("10.244.1.11", 8080, 1), ("10.244.2.20", 8080, 2),
        ("10.244.2.21", 8080, 2), ("10.244.3.30", 9090, 3), ("10.244.3.31", 9090, 1),
        ("10.244.4.40", 8080, 1), ("10.244.4.41", 8080, 5),
    ].map { Endpoint(address: IPAddress($0.0)!, port: UInt16($0.1), weight: UInt32($0.2)) }

    static let goldenIPv6Endpoints: [Endpoint] = ["fd00:10:244::a", "fd00:10:244::b", "fd00:10:244:1::c"]
        .map { Endpoint(address: IPAddress($0)!, port: 443) }

    @Test func theTableForAFixedConfigHasAFixedFingerprint() throws {
        let table = MaglevTable(endpoints: Self.goldenEndpoints, size: MaglevTable.defaultSize)
        #expect(String(table.fingerprint, radix: 16) == "eaa3d335e1805505")
        let small = MaglevTable(endpoints: Self.goldenIPv6Endpoints, size: 251)
        #expect(String(small.fingerprint, radix: 16) == "92125001374cc575")
        // The first entries spelled out, so a failure shows where the tables part.
        #expect(Array(small.entries.prefix(12)).map { Int($0) } == [2, 1, 0, 1, 2, 1, 0, 2, 2, 0, 2, 0])
    }

    @Test func theTableDoesNotDependOnConfigOrder() throws {
        let table = MaglevTable(endpoints: Self.goldenEndpoints, size: 4093)
        let reversed = Array(Self.goldenEndpoints.reversed())
        let other = MaglevTable(endpoints: reversed, size: 4093)
        #expect(keys(table, Self.goldenEndpoints) == keys(other, reversed))
        #expect(table.fingerprint == other.fingerprint)
    }

    @Test func equalWeightsOwnEqualShares() {
        let table = MaglevTable(endpoints: Fixture.endpoints(10), size: MaglevTable.defaultSize)
        let shares = table.shares(candidates: 10)
        // Every round each endpoint claims one entry: at most one apart.
        #expect(shares.max()! - shares.min()! <= 1, "\(shares)")
    }

    @Test(arguments: [[1, 2, 3, 4], [1, 100], [5, 5, 1], [3, 7, 7, 2, 9, 1]] as [[UInt32]])
    func weightedEndpointsOwnSharesInProportion(weights: [UInt32]) {
        let table = MaglevTable(endpoints: Fixture.endpoints(weights: weights), size: MaglevTable.defaultSize)
        let shares = table.shares(candidates: weights.count).map { Double($0) / Double(table.size) }
        for (share, expected) in zip(shares, Statistics.shares(weights)) {
            #expect(abs(share - expected) / expected < 0.02, "\(shares) against \(Statistics.shares(weights))")
        }
    }

    @Test func flowsFollowTheTableShares() throws {
        let strategy = try Fixture.strategy("maglev", Fixture.endpoints(weights: [1, 1, 2]))
        let counts = Fixture.histogram(strategy, candidates: 3, picks: 40_000)
        #expect(Statistics.fits(counts, Statistics.shares([1, 1, 2])), "counts \(counts)")
    }

    @Test func aFlowAlwaysMapsToTheSameEndpoint() throws {
        let a = try Fixture.strategy("maglev", Fixture.endpoints(5), options: ["tableSize": "251"])
        let b = try Fixture.strategy("maglev", Fixture.endpoints(5), options: ["tableSize": "251"])
        var context = PickContext(seed: 1)
        for client in 0..<500 {
            let flow = Fixture.flow(client: client, port: UInt16(2000 + client))
            let first = a.pick(flow, hash: flow.stableHash, context: &context)
            #expect(first == a.pick(flow, hash: flow.stableHash, context: &context))
            #expect(first == b.pick(flow, hash: flow.stableHash, context: &context))
        }
    }

    /// Maglev's promise (paper section 3.4): removing one of N backends moves its own entries
    /// and only a little more. Measured as the fraction of the *other* backends' entries that
    /// change (ideally 0) and the fraction of all entries that change (ideally 1/N).
    ///
    /// Maglev does not promise a worst case: filling the table is a race between
    /// permutations, and in rare configs (about 1 in 1,000 random ones, measured over 12,000)
    /// a removal reshuffles 1-4% of the others' entries. So each config is held to a loose
    /// bound that any non-consistent hash (which moves about (N-1)/N) fails by far, and the
    /// averages over all generated configs to the tight one (measured means: 0.33% of the
    /// others' entries, 1.08/N in total).
    /// The law holds for the paper's fixed 65,537 entries and for the per-service default size
    /// (100 entries per candidate in power-of-two steps), whenever the removal does not cross a
    /// step (then the table is redrawn: see `defaultSize(forCandidates:)`).
    @Test(.shrinking(false), arguments: [false, true])
    func removingOneOfNBackendsMovesAboutOneNthOfKeys(perServiceSize: Bool) async {
        var othersMoved: [Double] = []
        var movedTimesN: [Double] = []
        await propertyCheck(count: 40, input: Gen.uint32(in: 1...UInt32.max).array(of: 3...40), Gen.int(in: 0...10_000)) {
            addresses, removal in
            let unique = Array(Set(addresses)).sorted()
            guard unique.count >= 3 else { return }
            let endpoints = unique.map { Endpoint(address: .v4(IPv4Address(rawValue: $0)), port: 80) }
            let removed = removal % endpoints.count
            var rest = endpoints
            rest.remove(at: removed)
            let size = perServiceSize ? MaglevTable.defaultSize(forCandidates: endpoints.count) : MaglevTable.defaultSize
            guard !perServiceSize || MaglevTable.defaultSize(forCandidates: rest.count) == size else { return }
            let before = keys(MaglevTable(endpoints: endpoints, size: size), endpoints)
            let after = keys(MaglevTable(endpoints: rest, size: size), rest)
            var changed = 0, others = 0, othersChanged = 0
            for (b, a) in zip(before, after) {
                if b != a { changed += 1 }
                if b != endpoints[removed].key {
                    others += 1
                    if b != a { othersChanged += 1 }
                }
            }
            let othersFraction = Double(othersChanged) / Double(others)
            let moved = Double(changed) / Double(before.count) * Double(endpoints.count)
            #expect(othersFraction < (perServiceSize ? 0.15 : 0.1), "N=\(endpoints.count), table \(size)")
            #expect(moved >= 0.99 && moved < (perServiceSize ? 4 : 2.5), "N=\(endpoints.count), table \(size)")
            othersMoved.append(othersFraction)
            movedTimesN.append(moved)
        }
        let cases = Double(max(othersMoved.count, 1))
        // A smaller table is a coarser race: at 100-200 entries per candidate the measured
        // means are 2.0% of the others' entries and 1.39/N in total (0.33% and 1.08/N at 65,537).
        #expect(othersMoved.reduce(0, +) / cases < (perServiceSize ? 0.03 : 0.01), "\(othersMoved)")
        #expect(movedTimesN.reduce(0, +) / cases < (perServiceSize ? 1.6 : 1.25), "\(movedTimesN)")
    }

    @Test func theDefaultSizeIsAPrimeOfAtLeast100EntriesPerCandidateThatChangesOnlyAtPowersOfTwo() {
        var previous = MaglevTable.defaultSize(forCandidates: 1)
        for count in 1...5000 {
            let size = MaglevTable.defaultSize(forCandidates: count)
            #expect(WeightMath.isPrime(size) && size >= 100 * count, "\(count) candidates: \(size)")
            let crossedAPowerOfTwo = count > 8 && (count - 1).nonzeroBitCount == 1
            #expect((size != previous) == crossedAPowerOfTwo, "\(count) candidates: \(previous) -> \(size)")
            previous = size
        }
        #expect(MaglevTable.defaultSize(forCandidates: 10) == 1601, "10 endpoints: 3 KiB, not 128 KiB")
        #expect(MaglevTable.defaultSize(forCandidates: MaglevTable.maximumCandidates) <= MaglevTable.maximumSize)
    }

    @Test(arguments: [1, 3, 8, 10, 17, 100, 1000])
    func withTheDefaultSizeEqualWeightsOwnSharesWithin1Percent(count: Int) throws {
        let strategy = try #require(try Fixture.strategy("maglev", Fixture.endpoints(count)) as? MaglevStrategy)
        #expect(strategy.table.size == MaglevTable.defaultSize(forCandidates: count))
        let shares = strategy.table.shares(candidates: count)
        let mean = Double(strategy.table.size) / Double(count)
        #expect(Double(shares.max()! - shares.min()!) / mean <= 0.01, "\(shares)")
    }

    @Test func theTableSizeMustBeAPrime() {
        #expect(throws: StrategyError(strategy: "maglev", option: "tableSize", problem: .invalidValue(
            "65536", reason: "must be a prime number (e.g. 251, 4093, 65537)"))) {
            try Fixture.strategy("maglev", Fixture.endpoints(3), options: ["tableSize": "65536"])
        }
    }

    @Test func theTableSizeMustBeAtLeastTheNumberOfCandidates() {
        #expect(throws: StrategyError.self) {
            try Fixture.strategy("maglev", Fixture.endpoints(13), options: ["tableSize": "11"])
        }
        #expect(throws: Never.self) {
            try Fixture.strategy("maglev", Fixture.endpoints(11), options: ["tableSize": "11"])
        }
    }

    @Test func aMisspelledOptionIsAnError() {
        #expect(throws: StrategyError(strategy: "maglev", option: "tablesize", problem: .unknownOption(known: ["tableSize"]))) {
            try Fixture.strategy("maglev", Fixture.endpoints(3), options: ["tablesize": "251"])
        }
    }
}
