#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The project's own Kubernetes API server (`fake-apiserver/fake_apiserver.py`), started for
/// one test on loopback or inside a network namespace, with its control API on a unix socket
/// (reachable from every namespace). Stop it in a `defer`; its `--ttl` ends it anyway.
final class FakeAPIServer: @unchecked Sendable {
    /// What the server writes to `server.json` once it listens.
    struct Info: Decodable, Sendable {
        var url: String
        var port: Int
        var pid: Int32
        var token: String
        var tokenFile: String
        var caFile: String
        var kubeconfig: String
        var serviceAccountDir: String
        var controlSocket: String
    }

    /// One request the API saw (the control API's request log).
    struct Request: Decodable, Sendable {
        var index: Int
        var method: String
        var path: String
        var query: String
        var token: String?
        var watch: Bool
        var status: Int
        /// When the server received it (Unix seconds).
        var time: Double

        /// One query parameter, decoded (`resourceVersion`, `continue`, `fieldSelector`...).
        func parameter(_ name: String) -> String? {
            URLComponents(string: "?" + query)?.queryItems?.first { $0.name == name }?.value
        }
    }

    /// A fault the API applies to matching requests: a delay, an error status, or a dropped
    /// connection; `count` nil means every matching request.
    struct Fault: Encodable, Sendable {
        var match: String = ""
        var watch: Bool? = nil
        var delaySeconds: Double? = nil
        var status: Int? = nil
        var drop: Bool? = nil
        var count: Int? = nil
    }

    static var script: String { Repository.root + "/Tests/IntegrationTests/Support/fake-apiserver/fake_apiserver.py" }

    let stateDir: String
    let info: Info
    private let process: BackgroundProcess

    var url: String { info.url }
    var caFile: String { info.caFile }
    var tokenFile: String { info.tokenFile }
    var kubeconfig: String { info.kubeconfig }

    /// Starts the server (in `namespace`, a full netns name, or here) and waits until it
    /// answers `/version` with its token (at most 15 s: the certificates come first).
    static func start(namespace: String? = nil, listen: [String] = [], sans: [String] = [],
                      bookmarkInterval: Double = 1, ttl: Double = 300) throws -> FakeAPIServer {
        guard Shell.has("python3") else { throw SetupError("missing tool 'python3': apt-get install python3") }
        guard Shell.has("openssl") else { throw SetupError("missing tool 'openssl': apt-get install openssl") }
        let stateDir = Shell.scratchFile("fake-apiserver")
        try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)
        // No `timeout` wrapper: the server bounds its own life (--ttl), and SIGTERM reaches it directly.
        var command = ["python3", script, "--state-dir", stateDir,
                       "--ttl", String(ttl), "--bookmark-interval", String(bookmarkInterval), "--quiet"]
        for address in listen { command += ["--listen", address] }
        for san in sans { command += ["--san", san] }
        if let namespace { command = ["ip", "netns", "exec", namespace] + command }
        let process = try BackgroundProcess(command, stdoutPath: stateDir + "/server.log")
        var info: Info?
        eventually(timeout: 15, interval: 0.05) {
            guard process.isRunning else { return true }
            guard let data = FileManager.default.contents(atPath: stateDir + "/server.json") else { return false }
            info = try? JSONDecoder().decode(Info.self, from: data)
            return info != nil
        }
        guard let info, process.isRunning else {
            process.stop()
            throw SetupError("the fake API server did not start (\(process.ending)); its log:\n\(process.stdout.suffix(3000))")
        }
        let server = FakeAPIServer(stateDir: stateDir, info: info, process: process)
        return server
    }

    private init(stateDir: String, info: Info, process: BackgroundProcess) {
        self.stateDir = stateDir
        self.info = info
        self.process = process
    }

    var isRunning: Bool { process.isRunning }
    var log: String { process.stdout }

    /// SIGTERM (the server ends its watch streams and exits), SIGKILL after 3 s.
    func stop() { process.stop(grace: 3) }

    // MARK: The Kubernetes API, as a client sees it (curl, for the wire-format tests)

    /// GET `path` (with query) over HTTPS with `token` (the current one by default): status and body.
    func get(_ path: String, token: String? = nil, maxTime: Double = 10) throws -> (status: Int, body: String) {
        let marker = "\n--nfqt-status:"
        let result = try Shell.run(["curl", "-sS", "-N", "--max-time", String(maxTime), "--cacert", caFile,
                                    "-H", "Authorization: Bearer \(token ?? currentToken)", "-w", "\(marker)%{http_code}", url + path],
                                   timeout: maxTime + 5)
        guard let range = result.stdout.range(of: marker, options: .backwards), let status = Int(result.stdout[range.upperBound...]) else {
            throw SetupError("GET \(path) from the fake API server gave no status: \(result)")
        }
        return (status, String(result.stdout[..<range.lowerBound]))
    }

    /// The token the server accepts now (the token file's content).
    var currentToken: String {
        ((try? String(contentsOfFile: tokenFile, encoding: .utf8)) ?? info.token).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    // MARK: The control API

    /// Creates or replaces objects (`kind` says which resource); returns the newest resourceVersion.
    @discardableResult
    func apply(_ objectJSON: String) throws -> Int {
        try resourceVersion(control("/apply", body: objectJSON))
    }

    /// Deletes one object; returns the newest resourceVersion.
    @discardableResult
    func delete(kind: String, namespace: String = "default", name: String) throws -> Int {
        let body = try String(decoding: JSONEncoder().encode(["kind": kind, "namespace": namespace, "name": name]), as: UTF8.self)
        return try resourceVersion(control("/delete", body: body, allowing: [404]))
    }

    /// Forgets the history: a watch or an exact list from an older resourceVersion gets 410.
    @discardableResult
    func compact() throws -> Int {
        let answer = try control("/compact", body: "{}")
        return (answer["compactedResourceVersion"] as? Int) ?? 0
    }

    /// Ends every open watch: abruptly (the connection is shut down mid-stream) or gracefully.
    func cutWatches(graceful: Bool = false) throws {
        try control("/cut-watches", body: graceful ? #"{"graceful": true}"# : #"{"graceful": false}"#)
    }

    /// Every open watch that asked for bookmarks gets one now.
    func bookmark() throws { try control("/bookmark", body: "{}") }

    /// The server accepts `token` from now on (and the old one too with `keepOld`); the token
    /// file is rewritten unless `writeFile` is false.
    func rotateToken(to token: String, keepOld: Bool = false, writeFile: Bool = true) throws {
        let body: [String: Any] = ["token": token, "keepOld": keepOld, "writeFile": writeFile]
        try control("/token", body: String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self))
    }

    /// Replaces the fault rules (an empty list clears them).
    func setFaults(_ rules: [Fault]) throws {
        struct Rules: Encodable { var rules: [Fault] }
        try control("/faults", body: String(decoding: try JSONEncoder().encode(Rules(rules: rules)), as: UTF8.self))
    }

    /// How a watch from a compacted resourceVersion is answered: `event` (HTTP 200 + ERROR 410,
    /// what kube-apiserver v1.36 does) or `status` (HTTP 410).
    func setWatchExpiry(asStatus: Bool) throws {
        try control("/watch-expired-as", body: asStatus ? #"{"mode": "status"}"# : #"{"mode": "event"}"#)
    }

    /// The requests the API saw, from index `since` on.
    func requests(since: Int = 0) throws -> [Request] {
        struct Log: Decodable { var requests: [Request] }
        let text = try controlText("GET", "/requests?since=\(since)", body: nil)
        return try JSONDecoder().decode(Log.self, from: Data(text.utf8)).requests
    }

    /// The index the next request will get: pass it to `requests(since:)`.
    func requestMark() throws -> Int {
        (try control("/clear-requests", body: "{}")["next"] as? Int) ?? 0
    }

    @discardableResult
    private func control(_ path: String, body: String, allowing: Set<Int> = []) throws -> [String: Any] {
        let text = try controlText("POST", path, body: body, allowing: allowing)
        guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw SetupError("the fake API server's control \(path) answered no object: \(text)")
        }
        return object
    }

    private func resourceVersion(_ answer: [String: Any]) -> Int { (answer["resourceVersion"] as? Int) ?? 0 }

    private func controlText(_ method: String, _ path: String, body: String?, allowing: Set<Int> = []) throws -> String {
        let marker = "\n--nfqt-status:"
        var command = ["curl", "-sS", "--max-time", "10", "--unix-socket", info.controlSocket, "-X", method,
                       "-w", "\(marker)%{http_code}"]
        if let body { command += ["-H", "Content-Type: application/json", "--data-binary", body] }
        let result = try Shell.run(command + ["http://fake-apiserver\(path)"], timeout: 15)
        guard let range = result.stdout.range(of: marker, options: .backwards), let status = Int(result.stdout[range.upperBound...]),
              status == 200 || allowing.contains(status) else {
            throw SetupError("control \(method) \(path) of the fake API server failed: \(result)\nserver log:\n\(log.suffix(2000))")
        }
        return String(result.stdout[..<range.lowerBound])
    }
}
