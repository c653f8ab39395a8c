/// Why a strategy could not be chosen, configured or built, in terms the config layer can map
/// back to a file, a line and a field: which strategy, which option, what was wrong.
public struct StrategyError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Problem: Hashable, Sendable {
        /// No strategy has this config name; `known` lists the ones that do, sorted.
        case unknownStrategy(known: [String])
        /// The strategy takes no option of this name; `known` lists the ones it takes, sorted.
        case unknownOption(known: [String])
        /// The option's value is not acceptable; `reason` says what would be, in a phrase
        /// such as "must be a prime number".
        case invalidValue(String, reason: String)
        /// The endpoints cannot be served with these options (e.g. more endpoints than a
        /// Maglev table has entries).
        case unsupportedEndpoints(reason: String)
    }

    /// The strategy's config name, or the name that was not found.
    public var strategy: String?
    /// The option concerned, if the problem is with one.
    public var option: String?
    public var problem: Problem

    public init(strategy: String? = nil, option: String? = nil, problem: Problem) {
        self.strategy = strategy
        self.option = option
        self.problem = problem
    }

    /// The same error attributed to `strategy`: option parsers do not know which strategy
    /// they parse for, the registry does.
    public func attributed(to strategy: String) -> StrategyError {
        var copy = self
        if copy.strategy == nil { copy.strategy = strategy }
        return copy
    }

    public var description: String {
        let subject = strategy.map { "strategy '\($0)'" } ?? "strategy"
        switch problem {
        case .unknownStrategy(let known):
            return "unknown \(subject) (known: \(known.joined(separator: ", ")))"
        case .unknownOption(let known):
            let list = known.isEmpty ? "it takes no options" : "known: \(known.joined(separator: ", "))"
            return "\(subject): unknown option '\(option ?? "?")' (\(list))"
        case .invalidValue(let value, let reason):
            return "\(subject): option '\(option ?? "?")' \(reason); got '\(value)'"
        case .unsupportedEndpoints(let reason):
            let what = option.map { "option '\($0)' " } ?? ""
            return "\(subject): \(what)\(reason)"
        }
    }
}
