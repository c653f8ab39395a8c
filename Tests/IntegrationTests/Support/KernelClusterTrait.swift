import Foundation
import Testing

/// Whether the kernel tests can run, decided once by `KernelClusterTrait`.
enum KernelEnvironment {
    enum State: Sendable {
        case notPrepared
        case ready
        case unavailable(String)
    }

    static let state = Locked<State>(.notPrepared)

    /// First thing every kernel test does (through its suite's `init`): throws, and so fails
    /// the test, with what is missing and how to get it. A kernel test never skips.
    static func require() throws {
        switch state.current {
        case .ready: return
        case .unavailable(let why): throw SetupError(why)
        case .notPrepared:
            throw SetupError("the namespace cluster was not prepared: run the kernel tests through their parent suite KernelTests (it carries .kernelCluster)")
        }
    }
}

/// Brings the namespace cluster up once for the suite it is attached to (prefix nfqt, 3 pods
/// per node, every server) and always tears it down afterwards — hooks removed from node1,
/// `cluster_down` — whether the tests passed, failed or threw.
///
/// When the machine lacks something (root, a tool, the nfq-lb binary) or the cluster does not
/// come up, the tests still run and each fails at once with the reason.
struct KernelClusterTrait: SuiteTrait, TestScoping {
    var isRecursive: Bool { false }

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let problems = KernelPrerequisites.problems()
        guard problems.isEmpty else {
            KernelEnvironment.state.withLock {
                $0 = .unavailable("the kernel tests cannot run on this machine:\n - " + problems.joined(separator: "\n - "))
            }
            try await function()
            return
        }
        do {
            try Cluster.up()
            KernelEnvironment.state.withLock { $0 = .ready }
        } catch {
            KernelEnvironment.state.withLock { $0 = .unavailable("bringing the namespace cluster up failed: \(error)") }
        }
        let outcome: Result<Void, any Error>
        do {
            try await function()
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        KernelEnvironment.state.withLock { $0 = .unavailable("the namespace cluster has been torn down") }
        for problem in Cluster.down() {
            Issue.record(Comment(rawValue: "teardown: \(problem)"))
        }
        if ProcessInfo.processInfo.environment["NFQLB_TEST_KEEP_FILES"] == nil {
            try? FileManager.default.removeItem(atPath: Shell.scratch)
        }
        try outcome.get()
    }
}

extension Trait where Self == KernelClusterTrait {
    /// The namespace cluster for the kernel tests, up for the whole suite, always torn down.
    static var kernelCluster: Self { Self() }
}
