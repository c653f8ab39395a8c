import PacketRewrite

/// A way to choose an endpoint for a new flow: what a service's `strategy` names.
///
/// One instance serves one service in one snapshot and is called by every worker thread at
/// once, so an implementation is immutable after `init` except for atomics (relaxed
/// ordering is enough for counters that only spread load). `pick` is the per-flow hot path:
/// no allocation, no lock, no reference counting where it can be avoided; the expensive
/// work (tables, sequences) belongs in `init`, which runs once per snapshot build and only
/// for services that changed.
///
/// To add a strategy: one file in `Sources/Balancer/Strategies/` with a type conforming to
/// this protocol, and one line in `StrategyRegistry.standard`.
public protocol BalancingStrategy: AnyObject, Sendable {
    /// The name a service's `strategy` field uses (`"maglev"`).
    static var configName: String { get }

    /// The options this strategy accepts; any other is an error (a typo must not silently
    /// fall back to a default).
    static var optionNames: [String] { get }

    /// Checks `options` without building anything: for the config checker, and for every
    /// build before `init`. The default rejects unknown option names; strategies with options
    /// also check their values.
    static func validate(options: StrategyOptions) throws(StrategyError)

    /// Builds the strategy for `endpoints`, the candidates for new flows (already filtered
    /// for eligibility, possibly empty). `context.load[i]` counts the active flows of
    /// `endpoints[i]`.
    init(endpoints: [Endpoint], context: StrategyBuildContext) throws(StrategyError)

    /// The index into the candidates for the new flow `flow`, or `nil` only when there are no
    /// candidates. `hash` is `flow.stableHash`, computed once by the caller.
    func pick(_ flow: FlowTuple, hash: UInt64, context: inout PickContext) -> Int?

    /// A flow was sent to `endpoints[endpoint]`, for strategies that keep per-flow state of
    /// their own beyond the shared `FlowCounter`s.
    func flowOpened(endpoint: Int)

    /// A flow that `flowOpened` reported has ended.
    func flowClosed(endpoint: Int)
}

extension BalancingStrategy {
    public static var optionNames: [String] { [] }

    public static func validate(options: StrategyOptions) throws(StrategyError) {
        try options.requireOnly(optionNames)
    }

    @inlinable
    public func flowOpened(endpoint: Int) {}

    @inlinable
    public func flowClosed(endpoint: Int) {}
}
