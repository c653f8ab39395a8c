import Balancer
import PacketRewrite
import Testing

@Suite("RoundRobinStrategy")
struct RoundRobinStrategyTests {
    @Test func candidatesTakeTurnsInOrder() throws {
        let strategy = try Fixture.strategy("round-robin", Fixture.endpoints(4))
        var context = PickContext(seed: 1)
        let flow = Fixture.flow(client: 1)
        let picks = (0..<12).map { _ in strategy.pick(flow, hash: flow.stableHash, context: &context)! }
        #expect(picks == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3])
    }

    @Test func everyCandidateGetsExactlyItsShareAndWeightsAreIgnored() throws {
        let strategy = try Fixture.strategy("round-robin", Fixture.endpoints(weights: [1, 5, 2, 9, 3]))
        let counts = Fixture.histogram(strategy, candidates: 5, picks: 5 * 1000)
        #expect(counts == [1000, 1000, 1000, 1000, 1000])
    }

    @Test func turnsAreExactAcrossConcurrentWorkers() async throws {
        let strategy = try Fixture.strategy("round-robin", Fixture.endpoints(7))
        let counts = await withTaskGroup(of: [Int].self) { group in
            for worker in 0..<4 {
                group.addTask { Fixture.histogram(strategy, candidates: 7, picks: 7 * 5000, seed: UInt64(worker)) }
            }
            var total = [Int](repeating: 0, count: 7)
            for await partial in group { for i in 0..<7 { total[i] += partial[i] } }
            return total
        }
        #expect(counts == Array(repeating: 4 * 5000, count: 7))
    }
}
