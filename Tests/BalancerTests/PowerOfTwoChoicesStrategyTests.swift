import Balancer
import PacketRewrite
import Testing

@Suite("PowerOfTwoChoicesStrategy")
struct PowerOfTwoChoicesStrategyTests {
    func pick(_ strategy: any BalancingStrategy, _ context: inout PickContext) -> Int {
        let flow = Fixture.flow(client: 1)
        return strategy.pick(flow, hash: flow.stableHash, context: &context)!
    }

    @Test func ofTwoEndpointsTheLessLoadedAlwaysWins() throws {
        let load = [FlowCounter(active: 10), FlowCounter(active: 0)]
        let strategy = try Fixture.strategy("power-of-two", Fixture.endpoints(2), load: load)
        var context = PickContext(seed: 1)
        for _ in 0..<200 { #expect(pick(strategy, &context) == 1) }
    }

    @Test func theMostLoadedEndpointIsNeverChosen() throws {
        let load = [FlowCounter(active: 100), FlowCounter(active: 1), FlowCounter(active: 2), FlowCounter(active: 3)]
        let strategy = try Fixture.strategy("power-of-two", Fixture.endpoints(4), load: load)
        let counts = Fixture.histogram(strategy, candidates: 4, picks: 10_000)
        #expect(counts[0] == 0)
        // Endpoint 1 wins every pair it is in: 3 of the 6 pairs.
        #expect(counts[1] > counts[2] && counts[2] > counts[3])
    }

    @Test func weightsCountAgainstLoad() throws {
        // 8 flows on weight 4 (2 per unit) beat 3 flows on weight 1.
        let load = [FlowCounter(active: 3), FlowCounter(active: 8)]
        let strategy = try Fixture.strategy("power-of-two", Fixture.endpoints(weights: [1, 4]), load: load)
        var context = PickContext(seed: 3)
        for _ in 0..<100 { #expect(pick(strategy, &context) == 1) }
    }

    @Test func openFlowsEndUpRoughlyInProportionToWeights() throws {
        let weights: [UInt32] = [1, 2, 3, 4]
        let load = weights.map { _ in FlowCounter() }
        let strategy = try Fixture.strategy("power-of-two", Fixture.endpoints(weights: weights), load: load)
        var context = PickContext(seed: 8)
        for _ in 0..<10_000 { load[pick(strategy, &context)].increment() }
        for (counter, share) in zip(load, Statistics.shares(weights)) {
            #expect(abs(Double(counter.active) / 10_000 - share) < 0.01, "\(load.map(\.active))")
        }
    }

    @Test func aSingleCandidateIsAlwaysChosen() throws {
        let strategy = try Fixture.strategy("power-of-two", Fixture.endpoints(1))
        var context = PickContext(seed: 1)
        #expect(pick(strategy, &context) == 0)
    }
}
