@testable import Balancer
import PacketRewrite
import PropertyBased
import Testing

@Suite("WeightedRoundRobinStrategy")
struct WeightedRoundRobinStrategyTests {
    func picks(_ weights: [UInt32], count: Int) throws -> [Int] {
        let strategy = try Fixture.strategy("weighted-round-robin", Fixture.endpoints(weights: weights))
        var context = PickContext(seed: 1)
        let flow = Fixture.flow(client: 1)
        return (0..<count).map { _ in strategy.pick(flow, hash: flow.stableHash, context: &context)! }
    }

    @Test func weightsFiveOneOneGiveNginxsSmoothOrder() throws {
        // a a b a c a a, as nginx's ngx_http_upstream_get_peer, then again.
        #expect(try picks([5, 1, 1], count: 14) == [0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0])
    }

    /// Within a period, that is; across the boundary nginx's order can repeat (2,1,1 gives
    /// a b c a | a b c a), and so does this one, being the same algorithm.
    @Test(arguments: [[2, 1, 1], [3, 3, 2], [2, 2, 1, 1], [3, 2, 2]] as [[UInt32]])
    func noEndpointIsPickedTwiceInARowWhenWeightsAllowIt(weights: [UInt32]) throws {
        let period = Int(weights.reduce(0, +))
        let sequence = try picks(weights, count: 3 * period)
        for start in stride(from: 0, to: sequence.count, by: period) {
            let one = sequence[start..<start + period]
            #expect(zip(one, one.dropFirst()).allSatisfy { $0 != $1 }, "\(Array(one))")
        }
    }

    @Test func equalWeightsRotateStrictly() throws {
        #expect(try picks([4, 4, 4], count: 30) == (0..<30).map { $0 % 3 })
    }

    @Test func eachPeriodGivesEveryEndpointExactlyItsWeight() throws {
        let weights: [UInt32] = [3, 2, 1, 4]
        let strategy = try Fixture.strategy("weighted-round-robin", Fixture.endpoints(weights: weights))
        let counts = Fixture.histogram(strategy, candidates: 4, picks: 10 * 50)
        #expect(counts == [150, 100, 50, 200])
    }

    @Test func commonFactorsOfWeightsDoNotLengthenThePeriod() throws {
        let strategy = try #require(
            try Fixture.strategy("weighted-round-robin", Fixture.endpoints(weights: [100, 200, 300]))
                as? WeightedRoundRobinStrategy)
        #expect(strategy.periodLength == 6)
    }

    @Test func hugeWeightsAreScaledToACappedPeriodThatStillServesTheLightEndpoint() throws {
        let strategy = try #require(
            try Fixture.strategy("weighted-round-robin", Fixture.endpoints(weights: [4_000_000_000, 3_999_999_999, 1]))
                as? WeightedRoundRobinStrategy)
        #expect(strategy.periodLength <= SmoothWeightedSequence.maximumPeriod + 3)
        let counts = Fixture.histogram(strategy, candidates: 3, picks: strategy.periodLength)
        #expect(counts[2] == 1)
        #expect(abs(counts[0] - counts[1]) <= 1)
    }

    /// Smoothness as a law: after any number of picks t, each endpoint has had about its
    /// ideal share t * w / W. nginx's rule does not hold it to exactly one pick: measured over
    /// 300,000 random configs of up to 8 endpoints with weights up to 20, the worst was 1.19
    /// picks; a bursty order (5,1,1 as a a a a a b c) is 1.43 off after five picks.
    @Test(.shrinking(false)) func everyPrefixOfThePeriodStaysCloseToTheIdealShare() async {
        await propertyCheck(count: 200, input: Gen.uint32(in: 1...20).array(of: 1...8)) { weights in
            let period = SmoothWeightedSequence.period(weights: weights.map { UInt64($0) })
            let g = weights.reduce(0) { UInt32(WeightMath.gcd(UInt64($0), UInt64($1))) }
            let reduced = weights.map { Double($0 / g) }
            let total = reduced.reduce(0, +)
            #expect(period.count == Int(total))
            var counts = [Double](repeating: 0, count: weights.count)
            var worst = 0.0
            for (t, pick) in period.enumerated() {
                counts[Int(pick)] += 1
                for i in counts.indices {
                    worst = max(worst, abs(counts[i] - Double(t + 1) * reduced[i] / total))
                }
            }
            #expect(worst < 1.3, "weights \(weights)")
            #expect(counts == reduced)
        }
    }
}
