import Balancer
import PacketRewrite
import Synchronization
import Testing
@testable import NFQLB

/// Stale-entry deletion is retried until it succeeds, and swept again a few times after it
/// did (kubernetes/kubernetes#126130). The kernel is replaced by an injected deleter here;
/// the kernel side is in IntegrationTests (ReloadAndChurn).
@Suite struct StaleEntryRetrierTests {
    /// Fails its first `failing` calls, then deletes `perCall` entries a call; records each call.
    final class ScriptedDeleter: StaleEntryDeleting {
        struct Failure: Error, CustomStringConvertible { var description: String { "ENOBUFS (scripted)" } }
        private let state: Mutex<(failing: Int, calls: [StaleEntryCleaner.Target])>
        let perCall: Int
        init(failing: Int, perCall: Int = 1) {
            state = Mutex((failing, []))
            self.perCall = perCall
        }
        var calls: [StaleEntryCleaner.Target] { state.withLock { $0.calls } }
        func deleteEntries(of target: StaleEntryCleaner.Target) throws -> Int {
            try state.withLock { state in
                state.calls.append(target)
                if state.failing > 0 {
                    state.failing -= 1
                    throw Failure()
                }
                return perCall
            }
        }
    }

    let endpoint = EndpointKey(address: IPAddress("10.244.2.2")!, port: 53)
    var udpTarget: (target: StaleEntryCleaner.Target, resetting: Bool) { (.init(endpoint: endpoint, id: 9, protocols: [.udp]), false) }

    @Test func aFailedDeletionIsKeptAndRetriedAfterTheIntervalUntilItSucceeds() {
        let deleter = ScriptedDeleter(failing: 1)
        let retrier = StaleEntryRetrier(deleter: deleter, intervalMilliseconds: 1000, sweeps: 1)
        let first = retrier.clean([udpTarget], uses: [:], now: 0)
        #expect(first.deleted == 0 && first.failed.count == 1)
        #expect(retrier.pending == 1 && retrier.failures == 1)

        #expect(!retrier.hasWork(now: 999))
        #expect(retrier.tick(now: 999, uses: [:]) == .init())
        let retry = retrier.tick(now: 1000, uses: [:])
        #expect(retry.deleted == 1 && retry.failed.isEmpty)
        #expect(deleter.calls.count == 2)
        #expect(retrier.pending == 0)
    }

    @Test func consecutiveFailuresBackOffByDoublingUpToTheCap() {
        let deleter = ScriptedDeleter(failing: 10)
        let retrier = StaleEntryRetrier(deleter: deleter, intervalMilliseconds: 1000, maxBackoffMilliseconds: 4000, sweeps: 1)
        _ = retrier.clean([udpTarget], uses: [:], now: 0)  // failure 1: next at 1000
        _ = retrier.tick(now: 1000, uses: [:])  // failure 2: next at 3000
        #expect(!retrier.hasWork(now: 2999) && retrier.hasWork(now: 3000))
        _ = retrier.tick(now: 3000, uses: [:])  // failure 3: next at 7000
        _ = retrier.tick(now: 7000, uses: [:])  // failure 4: capped, next at 11000
        #expect(!retrier.hasWork(now: 10999) && retrier.hasWork(now: 11000))
        #expect(retrier.failures == 4 && retrier.pending == 1)
    }

    @Test func aSuccessfulDeletionIsSweptAgainToCatchEntriesThatRacedIt() {
        let deleter = ScriptedDeleter(failing: 0)
        let retrier = StaleEntryRetrier(deleter: deleter, intervalMilliseconds: 1000, sweeps: 3)
        _ = retrier.clean([udpTarget], uses: [:], now: 0)
        for second in 1...5 { _ = retrier.tick(now: UInt64(second) * 1000, uses: [:]) }
        #expect(deleter.calls.count == 3, "one deletion and two sweeps, then the target is done")
        #expect(retrier.pending == 0)
    }

    @Test func aTargetWhoseEndpointTakesNewFlowsAgainIsDroppedWithoutDeletingAnything() {
        let deleter = ScriptedDeleter(failing: 1)
        let retrier = StaleEntryRetrier(deleter: deleter, intervalMilliseconds: 1000)
        _ = retrier.clean([udpTarget], uses: [:], now: 0)
        let outcome = retrier.tick(now: 1000, uses: [endpoint: .init(candidate: [.udp], serving: [.udp])])
        #expect(outcome == .init())
        #expect(deleter.calls.count == 1)
        #expect(retrier.pending == 0)
    }

    @Test func aTerminatingButServingEndpointIsWatchedAndLosesItsUDPEntriesOnceItStopsServing() {
        let deleter = ScriptedDeleter(failing: 0)
        let retrier = StaleEntryRetrier(deleter: deleter, intervalMilliseconds: 1000, sweeps: 1)
        let serving: [EndpointKey: StaleEntryPolicy.EndpointUse] = [endpoint: .init(candidate: [], serving: [.udp])]
        _ = retrier.clean([udpTarget], uses: serving, now: 0)
        _ = retrier.tick(now: 1000, uses: serving)
        #expect(deleter.calls.isEmpty, "the entries of a serving endpoint were deleted")
        #expect(retrier.pending == 1)
        let removed = retrier.tick(now: 2000, uses: [:])
        #expect(removed.deleted == 1 && deleter.calls.map(\.protocols) == [[.udp]])
        #expect(retrier.pending == 0)
    }

    @Test func thePendingSetIsBoundedAndDropsTheOldestTarget() {
        let retrier = StaleEntryRetrier(deleter: ScriptedDeleter(failing: 100), capacity: 2)
        var dropped = 0
        for id in UInt32(8)...10 {
            dropped += retrier.clean([(.init(endpoint: endpoint, id: id, protocols: [.udp]), false)], uses: [:], now: UInt64(id)).dropped
        }
        #expect(retrier.pending == 2 && dropped == 1)
    }

    @Test func aBatchPastTheBoundDropsTargetsAlreadyDeletedOnceBeforeFailedOnesInOnePass() {
        // The first 3 deletions fail: those targets must be kept for their retries.
        let retrier = StaleEntryRetrier(deleter: ScriptedDeleter(failing: 3), capacity: 4)
        let batch = (UInt32(8)..<18).map { id in
            (target: StaleEntryCleaner.Target(endpoint: EndpointKey(address: IPAddress("10.244.2.\(id)")!, port: 53), id: id, protocols: [.udp]),
             resetting: false)
        }
        let outcome = retrier.clean(batch, uses: [:], now: 0)
        #expect(outcome.dropped == 6 && retrier.pending == 4)
        #expect(outcome.failed.count == 3)
        let retried = retrier.tick(now: 1000, uses: [:])
        #expect(retried.failed.isEmpty && retried.deleted >= 3, "the three failed targets were kept and retried: \(retried)")
    }

    @Test func targetsWithNothingToDeleteAreNotKept() {
        let deleter = ScriptedDeleter(failing: 0)
        let retrier = StaleEntryRetrier(deleter: deleter)
        _ = retrier.clean([(.init(endpoint: endpoint, id: 9, protocols: []), false)], uses: [:], now: 0)
        #expect(retrier.pending == 0 && deleter.calls.isEmpty)
    }
}
