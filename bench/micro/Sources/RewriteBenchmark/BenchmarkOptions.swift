/// The command line. Default: every registered strategy for 1 and 10,000 services, about 3 s
/// per cell; `--quick` (CI): about 0.2 s per cell.
struct BenchmarkOptions {
    var serviceCounts = [1, 10_000]
    /// Empty: every strategy of `StrategyRegistry.standard`.
    var strategies: [String] = []
    var rounds = 7
    /// Of one run of one language; a cell is about `2 * rounds * secondsPerRun`.
    var secondsPerRun = 0.2
    var ringSize = 1024
    var endpoints = 8
    var cpu: Int32 = 0
    /// Fixed passes per run instead of calibrating to `secondsPerRun`: for instruction-count
    /// profiles (valgrind), where time means nothing.
    var passes: Int? = nil
    /// `snapshot.lookup` (owned: retains the balancer) instead of `withLookup` (borrowed, as
    /// the daemon's worker does).
    var ownedLookup = false

    static let usage = """
        usage: RewriteBenchmark [--quick] [--services N,N...] [--strategies NAME,NAME...]
                                [--rounds N] [--seconds-per-run S] [--ring N] [--endpoints N] [--cpu N]
                                [--passes N] [--swift-lookup borrowed|owned]
          --quick             CI: 3 rounds of 0.03 s per language (about 0.2 s per cell)
          --services          service counts to measure (default 1,10000)
          --strategies        strategies to measure (default: every registered one)
          --rounds            Swift/C run pairs per cell, medians reported (default 7)
          --seconds-per-run   length of one run of one language (default 0.2)
          --ring              packets in the ring (default 1024)
          --endpoints         endpoints per service (default 8)
          --cpu               the CPU to pin to (default 0)
          --passes            passes over the ring per run, instead of timing (for profiles)
          --swift-lookup      borrowed: snapshot.withLookup, as the daemon (default); owned: lookup
        """

    struct Invalid: Error, CustomStringConvertible {
        var description: String
    }

    init(arguments: [String]) throws(Invalid) {
        var rest = arguments[...]
        func value(_ name: String) throws(Invalid) -> String {
            guard let v = rest.popFirst() else { throw Invalid(description: "'\(name)' needs a value") }
            return v
        }
        func integer(_ name: String, atLeast minimum: Int) throws(Invalid) -> Int {
            let text = try value(name)
            guard let n = Int(text), n >= minimum else {
                throw Invalid(description: "'\(name)' must be an integer of at least \(minimum); got '\(text)'")
            }
            return n
        }
        while let argument = rest.popFirst() {
            switch argument {
            case "--quick":
                rounds = 3
                secondsPerRun = 0.03
            case "--services":
                let text = try value(argument)
                let counts = text.split(separator: ",").compactMap { Int($0) }
                guard !counts.isEmpty, counts.allSatisfy({ $0 >= 1 && $0 <= 1_000_000 }),
                      counts.count == text.split(separator: ",").count else {
                    throw Invalid(description: "'--services' must be counts between 1 and 1000000; got '\(text)'")
                }
                serviceCounts = counts
            case "--strategies":
                strategies = try value(argument).split(separator: ",").map(String.init)
            case "--rounds":
                rounds = try integer(argument, atLeast: 1)
            case "--seconds-per-run":
                let text = try value(argument)
                guard let s = Double(text), s > 0, s <= 60 else {
                    throw Invalid(description: "'--seconds-per-run' must be between 0 and 60; got '\(text)'")
                }
                secondsPerRun = s
            case "--ring":
                ringSize = try integer(argument, atLeast: 1)
            case "--endpoints":
                endpoints = try integer(argument, atLeast: 1)
            case "--cpu":
                cpu = Int32(try integer(argument, atLeast: 0))
            case "--passes":
                passes = try integer(argument, atLeast: 1)
            case "--swift-lookup":
                switch try value(argument) {
                case "borrowed": ownedLookup = false
                case "owned": ownedLookup = true
                case let other: throw Invalid(description: "'--swift-lookup' must be borrowed or owned; got '\(other)'")
                }
            default:
                throw Invalid(description: "unknown argument '\(argument)'\n\(Self.usage)")
            }
        }
    }
}
