import Balancer
import PacketRewrite
import Testing

/// A strategy defined outside the module, as a new built-in would be: always the last one.
final class LastEndpointStrategy: BalancingStrategy {
    static let configName = "last"
    let count: Int
    init(endpoints: [Endpoint], context: StrategyBuildContext) throws(StrategyError) {
        try context.options.requireOnly(Self.optionNames)
        count = endpoints.count
    }
    func pick(_ flow: FlowTuple, hash: UInt64, context: inout PickContext) -> Int? {
        count == 0 ? nil : count - 1
    }
}

@Suite("StrategyRegistry")
struct StrategyRegistryTests {
    @Test func theStandardRegistryHasEveryBuiltInSorted() {
        #expect(StrategyRegistry.standard.names == [
            "least-connections", "maglev", "power-of-two", "random", "round-robin", "source-hash",
            "weighted-round-robin",
        ])
    }

    @Test func anUnknownNameIsAnErrorListingTheKnownOnes() {
        #expect(throws: StrategyError(strategy: "maglv", problem: .unknownStrategy(known: StrategyRegistry.standard.names))) {
            try StrategyRegistry.standard.validate(name: "maglv", options: [:])
        }
        let error = StrategyError(strategy: "maglv", problem: .unknownStrategy(known: ["maglev", "random"]))
        #expect(error.description == "unknown strategy 'maglv' (known: maglev, random)")
    }

    @Test func validationChecksOptionValuesWithoutBuilding() throws {
        try StrategyRegistry.standard.validate(name: "maglev", options: ["tableSize": "251"])
        #expect(throws: StrategyError.self) {
            try StrategyRegistry.standard.validate(name: "maglev", options: ["tableSize": "two hundred"])
        }
        #expect(throws: StrategyError.self) {
            try StrategyRegistry.standard.validate(name: "round-robin", options: ["tableSize": "251"])
        }
    }

    @Test func everyBuiltInBuildsAndPicksForEveryCandidateCount() throws {
        var context = PickContext(seed: 4)
        let flow = Fixture.flow(client: 9)
        for name in StrategyRegistry.standard.names {
            for count in [0, 1, 2, 7] {
                let strategy = try Fixture.strategy(name, Fixture.endpoints(count))
                let pick = strategy.pick(flow, hash: flow.stableHash, context: &context)
                if count == 0 {
                    #expect(pick == nil, "\(name)")
                } else {
                    #expect(pick.map { (0..<count).contains($0) } == true, "\(name) with \(count)")
                }
            }
        }
    }

    @Test func aStrategyIsAddedWithOneRegistration() throws {
        let registry = StrategyRegistry.standard.adding([LastEndpointStrategy.self])
        #expect(registry.names.contains("last"))
        let strategy = try registry.make(name: "last", endpoints: Fixture.endpoints(3), context: StrategyBuildContext())
        var context = PickContext(seed: 1)
        let flow = Fixture.flow(client: 1)
        #expect(strategy.pick(flow, hash: 0, context: &context) == 2)
    }

    @Test func optionErrorsNameTheStrategyTheOptionAndTheReason() {
        do {
            try StrategyRegistry.standard.validate(name: "maglev", options: ["tableSize": "100"])
            Issue.record("accepted a table size of 100")
        } catch {
            #expect(error.strategy == "maglev")
            #expect(error.option == "tableSize")
            #expect(error.description
                == "strategy 'maglev': option 'tableSize' must be a prime number (e.g. 251, 4093, 65537); got '100'")
        }
    }
}
