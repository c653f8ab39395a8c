import Atomics

/// Lets `BalancerState` hold the current snapshot in a `ManagedAtomic`, whose strong
/// reference loads are safe against a concurrent store releasing the old snapshot.
extension BalancerSnapshot: AtomicReference {}
