import Foundation
import Logging
import Testing
@testable import NFQLB

/// The workers' nice value is the daemon's decision, not what the thread that created them
/// happened to have: a thread created from a Swift concurrency task starts at libdispatch's
/// nice value for its QoS class, not at the one the process was started with.
@Suite(.serialized) struct WorkerPriorityTests {
    /// Runs `body` on a Thread created from a concurrency task (as the daemon creates its
    /// workers) and returns its result.
    func onThreadFromATask<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await Task.detached {
            await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
                Thread { continuation.resume(returning: body()) }.start()
            }
        }.value
    }

    @Test func aWorkerTakesTheProcessNiceValueThatItsCreatingThreadLost() async throws {
        let original = try #require(WorkerPriority.processNice())
        // The main thread, what `nice -n 3 nfq-lb run` would give: libdispatch's threads keep theirs.
        let raised = original + 3
        try #require(setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(getpid()), raised) == 0)
        defer { _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(getpid()), original) }
        #expect(WorkerPriority.processNice() == raised)
        let (before, after) = await onThreadFromATask {
            let before = WorkerPriority.currentThreadNice()
            WorkerPriority.applyToCurrentThread(configured: nil, queue: 0, logger: Logger(label: "test"))
            return (before, WorkerPriority.currentThreadNice())
        }
        #expect(before != raised, "the thread should start at libdispatch's value, or this test proves nothing")
        #expect(after == raised)
    }

    @Test func aConfiguredNiceValueWinsOverTheProcessOne() async {
        let niceness = await onThreadFromATask {
            WorkerPriority.applyToCurrentThread(configured: 7, queue: 0, logger: Logger(label: "test"))
            return WorkerPriority.currentThreadNice()
        }
        #expect(niceness == 7)
    }

    @Test func settingTheNiceValueChangesOnlyTheCallingThread() async {
        let process = WorkerPriority.processNice()
        let niceness = await onThreadFromATask {
            WorkerPriority.setCurrentThread(nice: 12)
            return WorkerPriority.currentThreadNice()
        }
        #expect(niceness == 12)
        #expect(WorkerPriority.processNice() == process)
    }
}
