/// The strategies a config may name, by config name.
///
/// A value (immutable, `Sendable`) so that the daemon and the config checker can share one
/// and a test can add a strategy of its own without touching global state.
public struct StrategyRegistry: Sendable {
    @usableFromInline
    let types: [String: any BalancingStrategy.Type]

    /// Every built-in strategy. Adding one is one line here.
    public static let standard = StrategyRegistry([
        RandomStrategy.self,
        RoundRobinStrategy.self,
        WeightedRoundRobinStrategy.self,
        LeastConnectionsStrategy.self,
        PowerOfTwoChoicesStrategy.self,
        SourceHashStrategy.self,
        MaglevStrategy.self,
    ])

    /// A registry of `strategies`; two with the same `configName` is a programming error.
    public init(_ strategies: [any BalancingStrategy.Type]) {
        var types: [String: any BalancingStrategy.Type] = [:]
        for type in strategies {
            precondition(types[type.configName] == nil, "two strategies named '\(type.configName)'")
            types[type.configName] = type
        }
        self.types = types
    }

    /// This registry plus `strategies`.
    public func adding(_ strategies: [any BalancingStrategy.Type]) -> StrategyRegistry {
        StrategyRegistry(Array(types.values) + strategies)
    }

    /// Config names, sorted: for error messages and `--help`.
    public var names: [String] { types.keys.sorted() }

    public func type(named name: String) throws(StrategyError) -> any BalancingStrategy.Type {
        guard let type = types[name] else {
            throw StrategyError(strategy: name, problem: .unknownStrategy(known: names))
        }
        return type
    }

    /// Checks a service's `strategy` and `strategyOptions` without building anything.
    public func validate(name: String, options: StrategyOptions) throws(StrategyError) {
        let type = try type(named: name)
        do {
            try type.validate(options: options)
        } catch {
            throw error.attributed(to: name)
        }
    }

    /// Builds strategy `name` for `endpoints` (validating options first).
    public func make(name: String, endpoints: [Endpoint],
                     context: StrategyBuildContext) throws(StrategyError) -> any BalancingStrategy {
        let type = try type(named: name)
        do {
            try type.validate(options: context.options)
            return try type.init(endpoints: endpoints, context: context)
        } catch {
            throw error.attributed(to: name)
        }
    }
}
