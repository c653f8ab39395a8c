/// Capped exponential backoff with jitter, for reconnecting to the API server.
///
/// Every node's daemon reconnects when the API server restarts; without jitter they would all
/// come back in the same instant, and without a cap a long outage would leave them waiting
/// long after it ended. Each delay is drawn from `[base × (1 − jitter), base]`, so it never
/// exceeds `maximum`, and the base doubles (times `factor`) after each failure up to `maximum`.
/// `reset()` after a success starts again from `initial`.
public struct Backoff: Sendable, Equatable {
    public var initial: Duration
    public var maximum: Duration
    public var factor: Double
    /// 0 (no jitter) to 1 (anywhere between 0 and the base).
    public var jitter: Double
    private var base: Duration?

    /// client-go's reflector backoff: 800 ms doubling to 30 s.
    public init(initial: Duration = .milliseconds(800), maximum: Duration = .seconds(30), factor: Double = 2, jitter: Double = 0.5) {
        self.initial = initial
        self.maximum = max(maximum, initial)
        self.factor = max(factor, 1)
        self.jitter = min(max(jitter, 0), 1)
    }

    /// The delay before the next attempt.
    public mutating func next(using generator: inout some RandomNumberGenerator) -> Duration {
        let current = base.map { min($0 * factor, maximum) } ?? initial
        base = current
        let fraction = 1 - jitter * Double.random(in: 0...1, using: &generator)
        return current * fraction
    }

    public mutating func next() -> Duration {
        var generator = SystemRandomNumberGenerator()
        return next(using: &generator)
    }

    public mutating func reset() { base = nil }
}
