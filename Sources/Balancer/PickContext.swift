/// What one worker thread carries from pick to pick: its own random generator (so that
/// random strategies share no state between threads) and the time of the current batch.
///
/// Passed `inout`, never shared: one per worker.
@frozen
public struct PickContext: Sendable {
    public var random: Xoshiro256StarStar
    /// Monotonic seconds (e.g. `CLOCK_MONOTONIC` / 1 s), set by the worker once per batch of
    /// packets rather than read per packet. Session affinity ages entries with it; it may
    /// start anywhere and wrap (ages are computed with wrapping subtraction).
    public var now: UInt32

    @inlinable
    public init(seed: UInt64, now: UInt32 = 0) {
        self.random = Xoshiro256StarStar(seed: seed)
        self.now = now
    }

    @inlinable
    public init(random: Xoshiro256StarStar, now: UInt32 = 0) {
        self.random = random
        self.now = now
    }
}
