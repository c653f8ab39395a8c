import Foundation

/// What one HTTP request through curl gave the client.
struct HTTPReply: Sendable, CustomStringConvertible {
    /// curl's exit code: 0 ok, 7 could not connect (refused/unreachable), 28 timed out.
    var exitCode: Int32
    /// The response body, trimmed (nginx in a pod answers its pod name).
    var body: String
    /// curl's own time_total when it reported one, else the wall-clock time of the command.
    var seconds: Double
    var error: String
    /// Wall-clock start (seconds since 1970) when a loop recorded it.
    var startedAt: Double?

    var succeeded: Bool { exitCode == 0 }

    var description: String {
        "exit \(exitCode) after \(String(format: "%.3f", seconds)) s body '\(body)'\(error.isEmpty ? "" : " stderr '\(error)'")"
    }
}

/// Client commands run inside the cluster's namespaces, each under a timeout.
enum Client {
    /// One curl from `name` (a pod, or "node1" for the node itself).
    static func curl(from name: String, _ url: String, maxTime: Double = 3, extra: [String] = []) throws -> HTTPReply {
        let result = try Cluster.exec(name, ["curl", "-sS", "--max-time", String(maxTime), "-w", "\n@@%{time_total}"] + extra + [url],
                                      timeout: maxTime + 7)
        var body = result.stdout
        var seconds = result.seconds
        if let marker = body.range(of: "@@", options: .backwards) {
            seconds = Double(body[marker.upperBound...].trimmingCharacters(in: .whitespacesAndNewlines)) ?? seconds
            body = String(body[..<marker.lowerBound])
        }
        return HTTPReply(exitCode: result.killedByWatchdog ? -1 : result.status,
                         body: body.trimmingCharacters(in: .whitespacesAndNewlines),
                         seconds: seconds, error: result.stderr.trimmingCharacters(in: .whitespacesAndNewlines), startedAt: nil)
    }

    /// `count` curls in a row from `name`, run by one bash loop inside the netns (one process
    /// start per request instead of three). `pause` seconds between requests.
    static func curlLoop(from name: String, _ url: String, count: Int, maxTime: Double = 3, pause: Double = 0,
                         extra: [String] = []) throws -> [HTTPReply] {
        let budget = Double(count) * (maxTime + pause + 0.5) + 10
        let result = try Cluster.exec(name, ["bash", "-c", curlLoopScript(url, count: count, maxTime: maxTime, pause: pause, extra: extra)],
                                      timeout: budget)
        guard !result.killedByWatchdog else { throw SetupError("curl loop did not finish: \(result)") }
        return parseCurlLoop(result.stdout)
    }

    /// The same loop started in the background (for load while something else happens).
    static func spawnCurlLoop(from name: String, _ url: String, count: Int, maxTime: Double = 3, pause: Double = 0,
                              extra: [String] = []) throws -> BackgroundProcess {
        let budget = Double(count) * (maxTime + pause + 0.5) + 10
        return try Cluster.spawn(name, ["bash", "-c", curlLoopScript(url, count: count, maxTime: maxTime, pause: pause, extra: extra)],
                                 timeout: budget, label: "curl-loop")
    }

    /// One line per request: "START|RC|OUTPUT" (START = $EPOCHREALTIME before the request;
    /// stderr joins stdout, so on a failure OUTPUT is curl's message).
    static func curlLoopScript(_ url: String, count: Int, maxTime: Double, pause: Double, extra: [String]) -> String {
        precondition(count > 0 && count <= 5000)
        let extraArguments = extra.map(Shell.quote).joined(separator: " ")
        let sleep = pause > 0 ? "sleep \(pause)" : ":"
        return """
            for i in $(seq \(count)); do
              start=$EPOCHREALTIME
              out=$(curl -sS --max-time \(maxTime) -w ' @@%{time_total}' \(extraArguments) \(Shell.quote(url)) 2>&1); rc=$?
              printf '%s|%s|%s\\n' "$start" "$rc" "$(printf '%s' "$out" | tr '\\n' ' ')"
              \(sleep)
            done
            """
    }

    static func parseCurlLoop(_ text: String) -> [HTTPReply] {
        text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: "|", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 3, let code = Int32(fields[1]) else { return nil }
            var body = fields[2]
            var seconds = 0.0
            if let marker = body.range(of: "@@", options: .backwards) {
                seconds = Double(body[marker.upperBound...].trimmingCharacters(in: .whitespaces)) ?? 0
                body = String(body[..<marker.lowerBound])
            }
            body = body.trimmingCharacters(in: .whitespacesAndNewlines)
            return HTTPReply(exitCode: code, body: code == 0 ? body : "", seconds: seconds, error: code == 0 ? "" : body,
                             startedAt: Double(fields[0]))
        }
    }

    /// `count` HTTP requests from `pod`, each from the next of `ports` fixed client ports in
    /// turn (see `HelperPrograms.httpFromPorts`).
    /// `pinned`: the client runs on the first CPU only (one queue for all its SYNs).
    static func httpFromPorts(from pod: String, host: String, port: Int = 80, firstPort: Int, ports: Int,
                              count: Int, pinned: Bool = false) throws -> [(clientPort: Int, reply: HTTPReply)] {
        let script = try HelperPrograms.path("http-ports.py", HelperPrograms.httpFromPorts)
        let result = try Cluster.exec(pod, ["python3", "-u", script, host, String(port), String(firstPort), String(ports), String(count)]
                                          + (pinned ? ["pin"] : []),
                                      timeout: Double(count) * 3.5 + 10)
        guard !result.killedByWatchdog else { throw SetupError("http-ports.py did not finish: \(result)") }
        return result.stdout.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: "|", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 4, let code = Int32(fields[0]), let clientPort = Int(fields[1]) else { return nil }
            let text = fields[3].trimmingCharacters(in: .whitespaces)
            return (clientPort, HTTPReply(exitCode: code, body: code == 0 ? text : "", seconds: Double(fields[2]) ?? 0,
                                          error: code == 0 ? "" : text, startedAt: nil))
        }
    }

    /// Two datagrams of one flow from `pod`, sent from two CPUs (see `HelperPrograms.udpFromTwoCPUs`);
    /// returns the pods that answered "ping 1" and "ping 2".
    static func udpFromTwoCPUs(from pod: String, host: String, port: Int, sourcePort: Int) throws -> (first: String?, second: String?, events: [ClientEvent]) {
        let script = try HelperPrograms.path("udp-two-cpus.py", HelperPrograms.udpFromTwoCPUs)
        let result = try Cluster.exec(pod, ["python3", "-u", script, host, String(port), String(sourcePort)], timeout: 10)
        let events = ClientEvent.parse(result.stdout)
        func answer(_ ping: String) -> String? {
            events.first { $0.kind == "reply" && $0.words.suffix(2) == ["ping", ping] }?.pod
        }
        return (answer("1"), answer("2"), events)
    }

    /// `dig +short` from `pod` at `server`: one try, 2 s.
    static func dig(from pod: String, server: String, name: String = "whoami.svc.test", type: String = "TXT") throws -> CommandResult {
        try Cluster.exec(pod, ["dig", "+short", "+time=2", "+tries=1", "@\(server)", name, type], timeout: 10)
    }

    /// `getent ahosts NAME` in `pod` (glibc's resolver, parallel A and AAAA over one socket).
    static func getentAhosts(from pod: String, name: String = "whoami.svc.test") throws -> (addresses: Set<String>, result: CommandResult) {
        let result = try Cluster.exec(pod, ["getent", "ahosts", name], timeout: 10)
        let addresses = Set(result.stdout.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) })
        return (addresses, result)
    }
}

extension Array where Element == HTTPReply {
    /// How many successful replies named each pod.
    var countsByBody: [String: Int] {
        reduce(into: [:]) { counts, reply in if reply.succeeded { counts[reply.body, default: 0] += 1 } }
    }

    var failures: [HTTPReply] { filter { !$0.succeeded } }
}

/// Whether `sequence` cycles through `order` (in that order, from any starting point).
func isRotation(_ sequence: [String], of order: [String]) -> Bool {
    guard !order.isEmpty, let first = sequence.first, let start = order.firstIndex(of: first) else { return sequence.isEmpty }
    return sequence.enumerated().allSatisfy { i, value in value == order[(start + i) % order.count] }
}
