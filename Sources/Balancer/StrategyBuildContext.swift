/// What a strategy gets at build time besides its candidates.
public struct StrategyBuildContext: Sendable {
    public var options: StrategyOptions
    /// One active-flow counter per candidate, in candidate order, shared with the
    /// `FlowTracker` so counts survive reloads. Empty means "make private counters", which
    /// is what a strategy built on its own (in a test or a tool) gets.
    public var load: [FlowCounter]

    public init(options: StrategyOptions = [:], load: [FlowCounter] = []) {
        self.options = options
        self.load = load
    }

    /// `load`, or fresh counters when it is empty; one per endpoint either way. For
    /// strategies that read load, built-in or not.
    public func counters(count: Int) -> [FlowCounter] {
        if load.isEmpty { return (0..<count).map { _ in FlowCounter() } }
        precondition(load.count == count, "StrategyBuildContext.load must have one counter per endpoint")
        return load
    }
}
