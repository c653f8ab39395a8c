import Balancer
import PacketRewrite
import Testing

@Suite("RandomStrategy")
struct RandomStrategyTests {
    @Test func equalWeightsSpreadFlowsUniformly() throws {
        let strategy = try Fixture.strategy("random", Fixture.endpoints(10))
        let counts = Fixture.histogram(strategy, candidates: 10, picks: 100_000)
        #expect(Statistics.fits(counts, Array(repeating: 0.1, count: 10)), "counts \(counts)")
    }

    @Test func unequalWeightsSpreadFlowsInProportion() throws {
        let weights: [UInt32] = [1, 2, 3, 4, 10]
        let strategy = try Fixture.strategy("random", Fixture.endpoints(weights: weights))
        let counts = Fixture.histogram(strategy, candidates: weights.count, picks: 100_000, seed: 7)
        #expect(Statistics.fits(counts, Statistics.shares(weights)), "counts \(counts)")
    }

    @Test func veryUnequalWeightsStillGiveTheLightEndpointItsShare() throws {
        let weights: [UInt32] = [1, 1000, 3_000_000_000]
        let strategy = try Fixture.strategy("random", Fixture.endpoints(weights: weights))
        let counts = Fixture.histogram(strategy, candidates: 3, picks: 200_000, seed: 3)
        #expect(counts[0] <= 5)
        #expect(Statistics.fits(counts, Statistics.shares(weights)), "counts \(counts)")
    }

    @Test func theSameSeedGivesTheSamePicks() throws {
        let strategy = try Fixture.strategy("random", Fixture.endpoints(weights: [3, 1, 2]))
        #expect(Fixture.histogram(strategy, candidates: 3, picks: 1000, seed: 11)
                == Fixture.histogram(strategy, candidates: 3, picks: 1000, seed: 11))
    }

    @Test func noCandidatesGivesNoPick() throws {
        let strategy = try Fixture.strategy("random", [])
        var context = PickContext(seed: 1)
        let flow = Fixture.flow(client: 1)
        #expect(strategy.pick(flow, hash: flow.stableHash, context: &context) == nil)
    }

    @Test func itTakesNoOptions() {
        #expect(throws: StrategyError.self) {
            try Fixture.strategy("random", Fixture.endpoints(2), options: ["tableSize": "251"])
        }
    }
}
