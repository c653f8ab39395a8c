import Balancer
import PacketRewrite
import Testing

@Suite("LeastConnectionsStrategy")
struct LeastConnectionsStrategyTests {
    func pick(_ strategy: any BalancingStrategy, _ context: inout PickContext) -> Int {
        let flow = Fixture.flow(client: 1)
        return strategy.pick(flow, hash: flow.stableHash, context: &context)!
    }

    @Test func theEndpointWithFewestActiveFlowsWins() throws {
        let load = [FlowCounter(active: 5), FlowCounter(active: 2), FlowCounter(active: 7)]
        let strategy = try Fixture.strategy("least-connections", Fixture.endpoints(3), load: load)
        var context = PickContext(seed: 1)
        for _ in 0..<100 { #expect(pick(strategy, &context) == 1) }
    }

    @Test func activeFlowsAreWeighedAgainstWeight() throws {
        // 6/4 = 1.5 flows per unit of weight beats 2/1.
        let load = [FlowCounter(active: 2), FlowCounter(active: 2), FlowCounter(active: 6)]
        let strategy = try Fixture.strategy("least-connections", Fixture.endpoints(weights: [1, 1, 4]), load: load)
        var context = PickContext(seed: 1)
        for _ in 0..<100 { #expect(pick(strategy, &context) == 2) }
    }

    @Test func tiesAreBrokenEvenly() throws {
        let strategy = try Fixture.strategy("least-connections", Fixture.endpoints(8))
        let counts = Fixture.histogram(strategy, candidates: 8, picks: 40_000)
        #expect(Statistics.fits(counts, Array(repeating: 1.0 / 8, count: 8)), "counts \(counts)")
    }

    @Test func openFlowsEndUpInProportionToWeights() throws {
        let load = (0..<3).map { _ in FlowCounter() }
        let strategy = try Fixture.strategy("least-connections", Fixture.endpoints(weights: [1, 2, 3]), load: load)
        var context = PickContext(seed: 5)
        for _ in 0..<600 { load[pick(strategy, &context)].increment() }
        #expect(load.map(\.active) == [100, 200, 300])
    }

    @Test func aClosedFlowMakesItsEndpointTheNextChoice() throws {
        let load = [FlowCounter(active: 3), FlowCounter(active: 3), FlowCounter(active: 3)]
        let strategy = try Fixture.strategy("least-connections", Fixture.endpoints(3), load: load)
        load[2].decrement()
        var context = PickContext(seed: 9)
        #expect(pick(strategy, &context) == 2)
    }
}
