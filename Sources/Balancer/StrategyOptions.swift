/// The `strategyOptions` of a service: string keys to string values, as the config file has
/// them, read through typed getters that say which option is wrong and why.
///
/// Values stay text until a strategy reads them so that the config layer needs to know no
/// strategy's options, and a typo (`tablesize`) is an error rather than a silent default:
/// see `requireOnly(_:)`.
public struct StrategyOptions: Hashable, Sendable, ExpressibleByDictionaryLiteral, CustomStringConvertible {
    public var values: [String: String]

    public init(_ values: [String: String] = [:]) {
        self.values = values
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.values = Dictionary(elements, uniquingKeysWith: { _, last in last })
    }

    public var isEmpty: Bool { values.isEmpty }

    /// Option names, sorted.
    public var names: [String] { values.keys.sorted() }

    public subscript(name: String) -> String? {
        get { values[name] }
        set { values[name] = newValue }
    }

    /// Throws for the first (in sorted order) option not in `known`.
    public func requireOnly(_ known: [String]) throws(StrategyError) {
        for name in names where !known.contains(name) {
            throw StrategyError(option: name, problem: .unknownOption(known: known.sorted()))
        }
    }

    /// An integer option in `range`, or `defaultValue` when the option is absent.
    public func integer(_ name: String, default defaultValue: Int,
                        in range: ClosedRange<Int>) throws(StrategyError) -> Int {
        guard let text = values[name] else { return defaultValue }
        let trimmed = text.trimmingSpaces
        guard let value = Int(trimmed) else {
            throw StrategyError(option: name, problem: .invalidValue(text, reason: "must be an integer"))
        }
        guard range.contains(value) else {
            throw StrategyError(option: name, problem: .invalidValue(
                text, reason: "must be between \(range.lowerBound) and \(range.upperBound)"))
        }
        return value
    }

    /// A boolean option (`true`/`false`, `yes`/`no`, `1`/`0`), or `defaultValue` when absent.
    public func boolean(_ name: String, default defaultValue: Bool) throws(StrategyError) -> Bool {
        guard let text = values[name] else { return defaultValue }
        switch text.trimmingSpaces.lowercased() {
        case "true", "yes", "1": return true
        case "false", "no", "0": return false
        default:
            throw StrategyError(option: name, problem: .invalidValue(text, reason: "must be true or false"))
        }
    }

    /// A text option that must be one of `choices`, or `defaultValue` when absent.
    public func choice(_ name: String, default defaultValue: String,
                       among choices: [String]) throws(StrategyError) -> String {
        guard let text = values[name] else { return defaultValue }
        let value = String(text.trimmingSpaces)
        guard choices.contains(value) else {
            throw StrategyError(option: name, problem: .invalidValue(
                text, reason: "must be one of \(choices.joined(separator: ", "))"))
        }
        return value
    }

    public var description: String {
        "{" + names.map { "\($0): \(values[$0]!)" }.joined(separator: ", ") + "}"
    }
}

extension String {
    /// Without leading and trailing spaces and tabs (no Foundation here).
    fileprivate var trimmingSpaces: Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }),
              let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return self[first...last]
    }
}
