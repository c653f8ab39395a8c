import Balancer
import PacketRewrite
import Testing

@Suite("SourceHashStrategy")
struct SourceHashStrategyTests {
    @Test func aClientAlwaysGetsTheSameEndpointWhateverItsPorts() throws {
        let strategy = try Fixture.strategy("source-hash", Fixture.endpoints(10))
        var context = PickContext(seed: 1)
        for client in 0..<200 {
            var seen = Set<Int>()
            for port in stride(from: UInt16(1024), to: 1024 + 50 * 997, by: 997) {
                let flow = Fixture.flow(client: client, port: port, servicePort: 80)
                seen.insert(strategy.pick(flow, hash: flow.stableHash, context: &context)!)
            }
            #expect(seen.count == 1)
        }
    }

    @Test func twoInstancesOfTheSameConfigAgree() throws {
        let a = try Fixture.strategy("source-hash", Fixture.endpoints(weights: [1, 2, 3]))
        let b = try Fixture.strategy("source-hash", Fixture.endpoints(weights: [1, 2, 3]))
        var context = PickContext(seed: 1)
        for client in 0..<1000 {
            let flow = Fixture.flow(client: client * 7919)
            #expect(a.pick(flow, hash: 0, context: &context) == b.pick(flow, hash: 0, context: &context))
        }
    }

    @Test func clientsSpreadInProportionToWeights() throws {
        let weights: [UInt32] = [1, 2, 3, 4]
        let strategy = try #require(try Fixture.strategy("source-hash", Fixture.endpoints(weights: weights))
            as? SourceHashStrategy)
        var context = PickContext(seed: 1)
        var counts = [0, 0, 0, 0]
        let clients = 40_000
        for client in 0..<clients {
            let flow = Fixture.flow(client: client)
            counts[strategy.pick(flow, hash: 0, context: &context)!] += 1
        }
        // Hashing spreads clients over buckets uniformly ...
        let bucketShares = strategy.table.shares(candidates: 4).map { Double($0) / Double(strategy.table.size) }
        #expect(Statistics.fits(counts, bucketShares), "counts \(counts)")
        // ... and buckets follow weights.
        for (bucketShare, weightShare) in zip(bucketShares, Statistics.shares(weights)) {
            #expect(abs(bucketShare - weightShare) < 0.01)
        }
    }

    @Test func theTableSizeMustBePrime() {
        #expect(throws: StrategyError.self) {
            try Fixture.strategy("source-hash", Fixture.endpoints(3), options: ["tableSize": "4096"])
        }
    }
}
