#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NFQLB
import Testing

/// Prometheus text exposition, parsed: one sample per line.
struct MetricsSnapshot: Sendable, CustomStringConvertible {
    struct Sample: Sendable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    var samples: [Sample]
    var text: String

    init(text: String) {
        self.text = text
        samples = text.split(separator: "\n").compactMap { Self.parse(String($0)) }
    }

    /// The sum of every sample of `name` whose labels include `labels` (e.g. over queues).
    func sum(_ name: String, _ labels: [String: String] = [:]) -> Double {
        samples.filter { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }.reduce(0) { $0 + $1.value }
    }

    /// The single sample of `name` with exactly these labels among its labels; nil if none.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }?.value
    }

    var description: String {
        text.split(separator: "\n").filter { $0.hasPrefix("nfqlb_") }.joined(separator: "\n")
    }

    private static func parse(_ line: String) -> Sample? {
        guard !line.hasPrefix("#"), !line.isEmpty else { return nil }
        var name = "", labels: [String: String] = [:], rest = Substring(line)
        if let brace = line.firstIndex(of: "{"), let close = line.lastIndex(of: "}") {
            name = String(line[..<brace])
            var body = line[line.index(after: brace)..<close]
            while let equals = body.firstIndex(of: "=") {
                let key = body[..<equals].trimmingCharacters(in: CharacterSet(charactersIn: ", "))
                var cursor = body.index(after: equals)
                guard cursor < body.endIndex, body[cursor] == "\"" else { break }
                cursor = body.index(after: cursor)
                var value = ""
                while cursor < body.endIndex, body[cursor] != "\"" {
                    if body[cursor] == "\\", body.index(after: cursor) < body.endIndex { cursor = body.index(after: cursor) }
                    value.append(body[cursor])
                    cursor = body.index(after: cursor)
                }
                labels[key] = value
                body = cursor < body.endIndex ? body[body.index(after: cursor)...] : ""
            }
            rest = line[line.index(after: close)...]
        } else {
            guard let space = line.firstIndex(of: " ") else { return nil }
            name = String(line[..<space])
            rest = line[space...]
        }
        guard let valueText = rest.split(separator: " ").first, let value = Double(valueText) else { return nil }
        return Sample(name: name, labels: labels, value: value)
    }
}

/// One decision line of `--log-level debug`:
/// `queue 0: tcp A:p -> VIP:80 -> B:8080 id 8 candidate 0 (remembered) ct 0 new true -> accept`.
struct Decision: Sendable, CustomStringConvertible {
    var proto: String
    var client: String
    var clientPort: Int
    var vip: String
    var vipPort: Int
    var backend: String
    var backendPort: Int
    var endpointID: Int
    var remembered: Bool
    var conntrackResult: Int
    var isNewFlow: Bool
    var verdict: String
    var line: String

    var description: String { line }

    static func parse(_ line: String) -> Decision? {
        guard let start = line.range(of: #"queue \d+: (tcp|udp) "#, options: .regularExpression) else { return nil }
        let text = line[start.lowerBound...]
        let words = text.split(separator: " ").map(String.init)
        // queue N: proto A:p -> V:p -> B:p id I candidate C [(remembered)] ct X new B -> verdict
        guard words.count >= 14 else { return nil }
        func split(_ endpoint: String) -> (String, Int)? {
            guard let colon = endpoint.lastIndex(of: ":"), let port = Int(endpoint[endpoint.index(after: colon)...]) else { return nil }
            return (String(endpoint[..<colon]), port)
        }
        guard let (client, clientPort) = split(words[3]), let (vip, vipPort) = split(words[5]), let (backend, backendPort) = split(words[7]),
              let id = Int(words[9]) else { return nil }
        let remembered = words.contains("(remembered)")
        guard let ctIndex = words.firstIndex(of: "ct"), ctIndex + 3 < words.count, let ct = Int(words[ctIndex + 1]) else { return nil }
        return Decision(proto: words[2], client: client, clientPort: clientPort, vip: vip, vipPort: vipPort, backend: backend,
                        backendPort: backendPort, endpointID: id, remembered: remembered, conntrackResult: ct,
                        isNewFlow: words[ctIndex + 3] == "true", verdict: words.last ?? "", line: String(text))
    }
}

/// nfq-lb running in node1 (`ip netns exec nfqt-node1 nfq-lb run --config F --log-level
/// debug`), with its hooks installed for the config's mode. Stop it in a `defer`.
final class DaemonProcess: @unchecked Sendable {
    private static let nextPort = Locked(19_500)

    private(set) var config: DaemonConfig
    let configPath: String
    let metricsPort: Int
    private var process: BackgroundProcess?
    private var logPaths: [String] = []
    private var wrapper: [String] = []
    /// After `run --config F --log-level debug` (e.g. `--log-format json`).
    private var arguments: [String] = []
    /// False: wait only until the HTTP server answers at all (for a daemon meant to be unhealthy).
    private var awaitHealthy = true

    /// Installs the hooks for `config`'s mode (unless told not to), flushes node1's conntrack
    /// table (unless told not to), writes the config, starts the daemon and waits until its
    /// `/healthz` answers (at most 10 s).
    /// `wrapper` goes between `ip netns exec NODE` and the binary (e.g. `setpriv ...` to run it
    /// with fewer privileges).
    static func start(_ config: DaemonConfig, installHooks: Bool = true, flushConntrack: Bool = true,
                      wrapper: [String] = [], arguments: [String] = [], awaitHealthy: Bool = true) throws -> DaemonProcess {
        if let problem = Repository.binaryProblem { throw SetupError(problem) }
        if installHooks { try Cluster.installHooks(mode: config.mode, bypass: config.bypass, ipv6: config.ipv6) }
        if flushConntrack { try Cluster.flushConntrack() }
        let daemon = try DaemonProcess(config: config)
        daemon.wrapper = wrapper
        daemon.arguments = arguments
        daemon.awaitHealthy = awaitHealthy
        try daemon.launch()
        return daemon
    }

    private init(config: DaemonConfig) throws {
        var config = config
        metricsPort = Self.nextPort.withLock { port -> Int in port += 1; return port }
        config.metricsPort = metricsPort
        self.config = config
        configPath = Shell.scratchFile("nfq-lb.yaml")
        try write(config)
    }

    /// Starts the process (again, after `kill9()`), and waits for `/healthz`.
    func launch() throws {
        let log = Shell.scratchFile("nfq-lb.log")
        logPaths.append(log)
        let process = try BackgroundProcess(
            ["ip", "netns", "exec", Cluster.ns("node1")] + wrapper + [Repository.binary, "run", "--config", configPath, "--log-level", "debug"] + arguments,
            stdoutPath: log)
        self.process = process
        killedOnPurpose = false
        let up = try eventually(timeout: 10, interval: 0.05) {
            guard process.isRunning else { return true }
            let result = try Cluster.exec("node1", ["curl", "-s", "--max-time", "0.5", "http://127.0.0.1:\(metricsPort)/healthz"], timeout: 3)
            return result.status == 0 && (result.stdout.contains("ok") || !awaitHealthy)
        }
        guard process.isRunning else {
            throw SetupError("nfq-lb exited at start (status \(process.wait(timeout: 1).status)); log:\n\(self.log.suffix(3000))")
        }
        guard up else { throw SetupError("nfq-lb's /healthz did not answer within 10 s; log:\n\(self.log.suffix(3000))") }
    }

    /// Whether the daemon still runs (or how it ended), and the end of its log: for failures.
    var stateDescription: String {
        guard let process else { return "nfq-lb was never started" }
        let state = process.isRunning ? "nfq-lb (pid \(process.pid)) is running"
            : "nfq-lb (pid \(process.pid)) has ENDED: \(process.ending)"
        return "\(state); its log ends:\n\(log.suffix(3000))"
    }

    var pid: Int32? { process?.pid }
    var isRunning: Bool { process?.isRunning ?? false }

    /// Everything the daemon printed, over every launch.
    var log: String {
        logPaths.map { (try? String(contentsOfFile: $0, encoding: .utf8)) ?? "" }.joined(separator: "\n")
    }

    /// The debug log's decisions, optionally only those toward `vip`.
    func decisions(toward vip: String? = nil) -> [Decision] {
        log.split(separator: "\n").compactMap { Decision.parse(String($0)) }.filter { vip == nil || $0.vip == vip }
    }

    func metrics() throws -> MetricsSnapshot {
        MetricsSnapshot(text: try get("/metrics"))
    }

    /// Polls the metrics (bounded) until `condition` holds; returns the last snapshot. The
    /// workers hand their counters to the registry every 250 ms, so counters lag a little.
    func metrics(within timeout: Double, until condition: (MetricsSnapshot) -> Bool) throws -> MetricsSnapshot {
        var last = try metrics()
        try eventually(timeout: timeout, interval: 0.1) {
            last = try metrics()
            return condition(last)
        }
        return last
    }

    func status() throws -> StatusReport {
        let text = try get("/status")
        do {
            return try JSONDecoder().decode(StatusReport.self, from: Data(text.utf8))
        } catch {
            throw SetupError("/status is not a StatusReport: \(error)\n\(text.prefix(2000))")
        }
    }

    /// GET `path` without `--fail`: the status code and the body (for /healthz and /readyz).
    func answer(_ path: String) throws -> (status: Int, body: String) {
        let result = try Cluster.exec("node1", ["curl", "-sS", "--max-time", "3", "-w", "\n@@%{http_code}", "http://127.0.0.1:\(metricsPort)\(path)"])
        let parts = result.stdout.components(separatedBy: "\n@@")
        return (Int(parts.last ?? "") ?? 0, parts.dropLast().joined())
    }

    private func get(_ path: String) throws -> String {
        let result = try Cluster.exec("node1", ["curl", "-sS", "--fail", "--max-time", "3", "http://127.0.0.1:\(metricsPort)\(path)"])
        guard result.succeeded else {
            throw SetupError("GET \(path) from nfq-lb failed: \(result)\n\(stateDescription)")
        }
        return result.stdout
    }

    /// Writes `config` (atomically: a rename, so the daemon never reads half a file).
    func write(_ config: DaemonConfig) throws {
        var config = config
        config.metricsPort = metricsPort
        self.config = config
        try writeRaw(config.yaml)
    }

    /// Writes any text as the config file (atomically).
    func writeRaw(_ text: String) throws {
        let temporary = configPath + ".new"
        try text.write(toFile: temporary, atomically: false, encoding: .utf8)
        guard rename(temporary, configPath) == 0 else { throw SetupError("rename \(temporary) -> \(configPath) failed: errno \(errno)") }
    }

    /// Rewrites the config and waits (bounded) until the daemon reports the reload, counted in
    /// `nfqlb_reloads_total{result}`. Returns whether the reload was counted as `result`.
    @discardableResult
    func reconfigure(_ config: DaemonConfig, expecting result: String = "success", timeout: Double = 5) throws -> Bool {
        let before = try metrics().sum("nfqlb_reloads_total", ["result": result])
        try write(config)
        return try eventually(timeout: timeout, interval: 0.1) {
            try metrics().sum("nfqlb_reloads_total", ["result": result]) > before
        }
    }

    /// SIGHUP: reload the config now.
    func reload() { process?.signal(SIGHUP) }

    /// SIGSTOP / SIGCONT: a worker that stops reading, as an overloaded or stalled one would.
    func pause() { process?.signal(SIGSTOP) }
    func resume() { process?.signal(SIGCONT) }

    /// SIGTERM, and how the process ended (within `timeout` seconds).
    func terminate(timeout: Double = 5) -> CommandResult? {
        guard let process else { return nil }
        process.signal(SIGTERM)
        stopped = true
        return process.wait(timeout: timeout)
    }

    /// SIGKILL, and wait for it to be gone.
    func kill9() {
        guard let process else { return }
        process.signal(SIGKILL)
        process.wait(timeout: 5)
        killedOnPurpose = true
    }

    private var killedOnPurpose = false

    /// SIGTERM, then SIGKILL after 3 s. Safe to call more than once; never throws. A daemon that
    /// ended by itself before (a crash, an exit) is a failure of the test that started it, and
    /// so is one that needs the SIGKILL.
    func stop(sourceLocation: SourceLocation = #_sourceLocation) {
        guard let process else { return }
        if !process.isRunning && !killedOnPurpose && !stopped {
            Issue.record("nfq-lb ended during the test (\(process.ending)); its log ends:\n\(log.suffix(3000))", sourceLocation: sourceLocation)
        }
        if process.isRunning {
            process.stop(grace: 3)
            if process.ending.hasPrefix("killed by signal \(SIGKILL)") {
                Issue.record("nfq-lb did not stop within 3 s of SIGTERM; log ends:\n\(log.suffix(2000))", sourceLocation: sourceLocation)
            }
        }
        stopped = true
    }

    private var stopped = false
}
