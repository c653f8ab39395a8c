#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// What a finished command did.
struct CommandResult: Sendable, CustomStringConvertible {
    var command: [String]
    var status: Int32
    var stdout: String
    var stderr: String
    /// Wall-clock time from start to exit, as the test saw it.
    var seconds: Double
    /// The watchdog killed it (the command's own `timeout` should have stopped it first).
    var killedByWatchdog: Bool

    var succeeded: Bool { status == 0 && !killedByWatchdog }

    var trimmedStdout: String { stdout.trimmingCharacters(in: .whitespacesAndNewlines) }

    var description: String {
        var text = "`\(command.joined(separator: " "))` -> status \(status) after \(String(format: "%.3f", seconds)) s"
        if killedByWatchdog { text += " (killed by the test's watchdog)" }
        if !stdout.isEmpty { text += "\nstdout: \(stdout.suffix(4000))" }
        if !stderr.isEmpty { text += "\nstderr: \(stderr.suffix(4000))" }
        return text
    }
}

/// Something the environment lacks, or a setup step that failed: the test fails with this text.
struct SetupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A small mutable box guarded by a lock, for the little shared state the tests keep.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }

    var current: Value { withLock { $0 } }
}

/// A process started with Foundation's `Process`, its output going to files (no pipe can fill
/// up and stall it), that can be waited for with a bound, signalled and killed.
final class BackgroundProcess: @unchecked Sendable {
    let command: [String]
    let stdoutPath: String
    let stderrPath: String
    let startedAt: Date
    private let process: Process
    private let exited = DispatchSemaphore(value: 0)
    private let state = Locked<(done: Bool, killed: Bool, finishedAt: Date?)>((false, false, nil))

    /// Starts `command` (looked up in PATH). Output goes to `stdoutPath`/`stderrPath`
    /// (stderr may be the same file as stdout).
    ///
    /// `detachDescendants`: for a short command that leaves servers running in the background
    /// (see `closeInheritedDescriptors`). Never for a long-lived command.
    init(_ command: [String], stdoutPath: String, stderrPath: String? = nil, environment: [String: String] = [:],
         detachDescendants: Bool = false) throws {
        precondition(!command.isEmpty)
        self.command = command
        self.stdoutPath = stdoutPath
        self.stderrPath = stderrPath ?? stdoutPath
        process = Process()
        if detachDescendants {
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.arguments = ["-c", Self.closeInheritedDescriptors, "nfqt-run"] + command
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = command
        }
        var merged = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        // Root's tools live in sbin; make sure a test runner's trimmed PATH still finds them.
        let path = merged["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        merged["PATH"] = path + ":/usr/local/sbin:/usr/sbin:/sbin"
        process.environment = merged
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        var err = out
        if self.stderrPath != stdoutPath {
            _ = FileManager.default.createFile(atPath: self.stderrPath, contents: nil)
            err = try FileHandle(forWritingTo: URL(fileURLWithPath: self.stderrPath))
        }
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let exited = self.exited
        let state = self.state
        process.terminationHandler = { _ in
            state.withLock { $0.done = true; $0.finishedAt = Date() }
            exited.signal()
        }
        startedAt = Date()
        do {
            try process.run()
        } catch {
            throw SetupError("cannot start `\(command.joined(separator: " "))`: \(error)")
        }
        // The child has its own copies now.
        try? out.close()
        if err !== out { try? err.close() }
    }

    /// Closes every descriptor above 2, then execs the command (PATH lookup). Foundation's
    /// Process (swift-corelibs-foundation) learns that a child ended when a socket the child
    /// inherits reaches EOF; a server that the command leaves running in the background
    /// (cluster.sh's nginx, dnsmasq) would inherit that socket too and keep the command
    /// "running" for ever. Closing it early makes Foundation wait for the command in a blocking
    /// waitpid on its one manager thread, which stalls every other Process until the command
    /// ends: fine for a few seconds of setup, fatal for a long-lived process.
    private static let closeInheritedDescriptors = #"""
        for f in /proc/$$/fd/*; do n=${f##*/}; if [ "$n" -gt 2 ] 2>/dev/null; then eval "exec $n>&-" 2>/dev/null; fi; done; exec "$@"
        """#

    /// The pid of the command itself (the wrapper shell execs it).
    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { !state.current.done }

    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Waits until the process exits, at most `timeout` seconds; then kills it (SIGKILL).
    @discardableResult
    func wait(timeout: Double) -> CommandResult {
        var killed = false
        if exited.wait(timeout: .now() + timeout) == .timedOut {
            killed = true
            state.withLock { $0.killed = true }
            kill(pid, SIGKILL)
            _ = exited.wait(timeout: .now() + 5)
        }
        exited.signal()  // keep the semaphore signalled for later waits
        let finished = state.current.finishedAt ?? Date()
        return CommandResult(command: command, status: state.current.done ? process.terminationStatus : -1,
                             stdout: stdout, stderr: stderrPath == stdoutPath ? "" : stderr,
                             seconds: finished.timeIntervalSince(startedAt), killedByWatchdog: killed)
    }

    /// "exit status N" or "killed by signal N", once the process has ended.
    var ending: String {
        guard !isRunning else { return "still running" }
        return process.terminationReason == .uncaughtSignal ? "killed by signal \(process.terminationStatus)"
            : "exit status \(process.terminationStatus)"
    }

    func signal(_ number: Int32) {
        if isRunning { kill(pid, number) }
    }

    /// SIGTERM, then SIGKILL if it is still there after `grace` seconds. Never throws.
    func stop(grace: Double = 3) {
        guard isRunning else { return }
        kill(pid, SIGTERM)
        if exited.wait(timeout: .now() + grace) == .timedOut {
            kill(pid, SIGKILL)
            _ = exited.wait(timeout: .now() + 5)
        }
        exited.signal()
    }
}

enum Shell {
    private static let counter = Locked(0)

    /// A scratch directory for this test process (output files, configs).
    static let scratch: String = {
        let path = NSTemporaryDirectory() + "nfqlb-integration-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    static func scratchFile(_ stem: String) -> String {
        let n = counter.withLock { value -> Int in value += 1; return value }
        // (again: the kernel suite's teardown removes it while the other suite may still run)
        try? FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        return "\(scratch)/\(n)-\(stem)"
    }

    /// Runs `command` and waits for it, at most `timeout` seconds (then SIGKILL).
    @discardableResult
    static func run(_ command: [String], timeout: Double = 30, environment: [String: String] = [:],
                    detachDescendants: Bool = false) throws -> CommandResult {
        let out = scratchFile("out"), err = scratchFile("err")
        defer {
            try? FileManager.default.removeItem(atPath: out)
            try? FileManager.default.removeItem(atPath: err)
        }
        let process = try BackgroundProcess(command, stdoutPath: out, stderrPath: err, environment: environment,
                                            detachDescendants: detachDescendants)
        return process.wait(timeout: timeout)
    }

    /// Runs a bash script (`bash -c`), at most `timeout` seconds.
    @discardableResult
    static func bash(_ script: String, timeout: Double = 30, environment: [String: String] = [:]) throws -> CommandResult {
        try run(["bash", "-c", script], timeout: timeout, environment: environment)
    }

    /// Runs `command` and throws unless it exits 0.
    @discardableResult
    static func check(_ command: [String], timeout: Double = 30, environment: [String: String] = [:]) throws -> CommandResult {
        let result = try run(command, timeout: timeout, environment: environment)
        guard result.succeeded else { throw SetupError("command failed: \(result)") }
        return result
    }

    /// Whether `tool` is in PATH.
    static func has(_ tool: String) -> Bool {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin") + ":/usr/local/sbin:/usr/sbin:/sbin"
        return path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") }
    }

    /// Single-quotes `text` for bash.
    static func quote(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// Polls `condition` every `interval` seconds until it holds or `timeout` passes; returns
/// whether it held (bounded in time and in count).
@discardableResult
func eventually(timeout: Double, interval: Double = 0.05, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    var rounds = 0
    while rounds < 100_000 {
        if try condition() { return true }
        if Date() >= deadline { return false }
        rounds += 1
        Thread.sleep(forTimeInterval: interval)
    }
    return false
}

func sleep(seconds: Double) {
    Thread.sleep(forTimeInterval: seconds)
}
