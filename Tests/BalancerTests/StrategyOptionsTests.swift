import Balancer
import Testing

@Suite("StrategyOptions")
struct StrategyOptionsTests {
    @Test func anAbsentOptionTakesItsDefault() throws {
        let options: StrategyOptions = [:]
        #expect(try options.integer("tableSize", default: 65537, in: 2...100_000) == 65537)
        #expect(try options.boolean("enabled", default: true) == true)
    }

    @Test func typedGettersParseTheText() throws {
        let options: StrategyOptions = ["size": " 251 ", "flag": "no", "mode": "fast"]
        #expect(try options.integer("size", default: 1, in: 1...1000) == 251)
        #expect(try options.boolean("flag", default: true) == false)
        #expect(try options.choice("mode", default: "slow", among: ["slow", "fast"]) == "fast")
    }

    @Test func aBadValueIsAnErrorNamingTheOptionAndTheReason() {
        let options: StrategyOptions = ["size": "huge", "range": "5000"]
        #expect(throws: StrategyError(option: "size", problem: .invalidValue("huge", reason: "must be an integer"))) {
            try options.integer("size", default: 1, in: 1...10)
        }
        #expect(throws: StrategyError(option: "range", problem: .invalidValue("5000", reason: "must be between 1 and 10"))) {
            try options.integer("range", default: 1, in: 1...10)
        }
    }

    @Test func anUnknownOptionIsAnError() {
        let options: StrategyOptions = ["tablesize": "251"]
        #expect(throws: StrategyError(option: "tablesize", problem: .unknownOption(known: ["tableSize"]))) {
            try options.requireOnly(["tableSize"])
        }
        #expect(StrategyError(strategy: "random", option: "x", problem: .unknownOption(known: [])).description
            == "strategy 'random': unknown option 'x' (it takes no options)")
    }
}
