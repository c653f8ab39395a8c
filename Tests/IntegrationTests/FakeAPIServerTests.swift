import Foundation
import Testing

/// The tests' API server against the responses recorded from kube-apiserver v1.36
/// (`../shared/k8s/samples/`, read at test time): the same requests give the same shapes (keys
/// and JSON types, recursively; `managedFields` is the one thing the fake leaves out). Loopback
/// only, no root: not part of the kernel suite.
@Suite("The fake API server answers in the shapes of a real kube-apiserver", .serialized, .timeLimit(.minutes(2)))
struct FakeAPIServerTests {
    static let samples = Repository.root + "/../shared/k8s/samples"
    static let proxySelector = "labelSelector=!service.kubernetes.io/headless,!service.kubernetes.io/service-proxy-name"

    static func sample(_ name: String) throws -> Any {
        guard let data = FileManager.default.contents(atPath: "\(samples)/\(name)") else {
            throw SetupError("the recorded sample \(samples)/\(name) is missing: the samples live beside the repository in ../shared/k8s/samples")
        }
        return try JSONSerialization.jsonObject(with: data)
    }

    static func sampleLines(_ name: String) throws -> [Any] {
        guard let text = try? String(contentsOfFile: "\(samples)/\(name)", encoding: .utf8) else {
            throw SetupError("the recorded sample \(samples)/\(name) is missing")
        }
        return try text.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) }
    }

    static func json(_ text: String) throws -> Any { try JSONSerialization.jsonObject(with: Data(text.utf8)) }

    static func text(_ value: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]), as: UTF8.self)
    }

    /// The shape of a JSON value: object keys with their shapes (label and annotation maps as
    /// maps), arrays as the union of their
    /// elements' shapes, scalars as their type. Two responses of the same kind must agree.
    static func shape(_ value: Any) -> String {
        switch value {
        case let object as [String: Any]:
            // labels and annotations are data (their keys differ between objects): a map of strings.
            return "{" + object.keys.filter { $0 != "managedFields" }.sorted().map { key in
                ["labels", "annotations"].contains(key) && object[key] is [String: String] ? "\(key):map" : "\(key):\(shape(object[key]!))"
            }.joined(separator: ",") + "}"
        case let array as [Any]:
            var merged: [String: Any] = [:]
            var scalars = Set<String>()
            for element in array {
                if let object = element as? [String: Any] { merged.merge(object) { old, _ in old } } else { scalars.insert(shape(element)) }
            }
            return "[" + (merged.isEmpty ? "" : shape(merged)) + scalars.sorted().joined(separator: "|") + "]"
        case is NSNull: return "null"
        case let number as NSNumber:
            return ["c", "B"].contains(String(cString: number.objCType)) ? "bool" : "number"
        case is String: return "string"
        default: return "?"
        }
    }

    /// A recorded object as a client would create it: what the server adds taken away.
    static func creatable(_ value: Any, kind: String, apiVersion: String) -> String {
        var object = value as! [String: Any]
        var metadata = object["metadata"] as! [String: Any]
        for field in ["uid", "resourceVersion", "generation", "creationTimestamp", "managedFields"] { metadata[field] = nil }
        object["metadata"] = metadata
        object["kind"] = kind
        object["apiVersion"] = apiVersion
        return (try? text(object)) ?? "{}"
    }

    /// A server holding what the samples' server held when the lists were recorded.
    static func serverWithRecordedObjects() throws -> FakeAPIServer {
        let server = try FakeAPIServer.start(bookmarkInterval: 30, ttl: 100)
        do {
            let services = try sample("services-list.json") as! [String: Any]
            for item in services["items"] as! [Any] { try server.apply(creatable(item, kind: "Service", apiVersion: "v1")) }
            let slices = try sample("endpointslices-list.json") as! [String: Any]
            for item in slices["items"] as! [Any] {
                try server.apply(creatable(item, kind: "EndpointSlice", apiVersion: "discovery.k8s.io/v1"))
            }
        } catch {
            server.stop()
            throw error
        }
        return server
    }

    @Test("GET of /version, a Service, and a missing EndpointSlice have the recorded shapes; the 404 is the recorded Status")
    func objectsAndNotFound() throws {
        let server = try Self.serverWithRecordedObjects()
        defer { server.stop() }
        let version = try server.get("/version")
        #expect(version.status == 200)
        let recordedVersion = (try Self.sample("version.json") as! [String: Any])["serverVersion"]!
        #expect(Self.shape(try Self.json(version.body)) == Self.shape(recordedVersion))

        let service = try server.get("/api/v1/namespaces/default/services/demo")
        #expect(service.status == 200)
        #expect(Self.shape(try Self.json(service.body)) == Self.shape(try Self.sample("service-demo.json")))

        let missing = try server.get("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/nope")
        #expect(missing.status == 404)
        #expect(try Self.text(try Self.json(missing.body)) == (try Self.text(try Self.sample("endpointslice-get-404.json"))))
    }

    @Test("a bad token gets HTTP 401 and an Unauthorized Status shaped like the recorded 404 Status")
    func badToken() throws {
        let server = try FakeAPIServer.start(ttl: 60)
        defer { server.stop() }
        let answer = try server.get("/api/v1/services", token: "not-the-token")
        #expect(answer.status == 401)
        let status = try Self.json(answer.body) as! [String: Any]
        #expect(status["code"] as? Int == 401)
        #expect(status["reason"] as? String == "Unauthorized")
        var recorded = try Self.sample("endpointslice-get-404.json") as! [String: Any]
        recorded["details"] = nil
        #expect(Self.shape(status) == Self.shape(recorded))
    }

    @Test("LISTs with kube-proxy's selector, and a paged LIST with limit=1, have the recorded shapes, kinds and continue token")
    func lists() throws {
        let server = try Self.serverWithRecordedObjects()
        defer { server.stop() }
        for (path, file, kind) in [("/api/v1/services", "services-list.json", "ServiceList"),
                                   ("/apis/discovery.k8s.io/v1/endpointslices", "endpointslices-list.json", "EndpointSliceList")] {
            let answer = try server.get("\(path)?\(Self.proxySelector)")
            #expect(answer.status == 200)
            let list = try Self.json(answer.body) as! [String: Any]
            #expect(list["kind"] as? String == kind)
            #expect(Self.shape(list) == Self.shape(try Self.sample(file)), "\(path)")
            #expect((list["items"] as? [Any])?.count == ((try Self.sample(file) as! [String: Any])["items"] as? [Any])?.count)
        }
        let first = try Self.json(try server.get("/api/v1/services?\(Self.proxySelector)&limit=1").body) as! [String: Any]
        #expect(Self.shape(first) == Self.shape(try Self.sample("services-list-paged-limit1.json")))
        let metadata = first["metadata"] as! [String: Any]
        #expect(metadata["remainingItemCount"] as? Int == 1)
        let token = try #require(metadata["continue"] as? String)
        let rest = try Self.json(try server.get("/api/v1/services?\(Self.proxySelector)&limit=1&continue=\(token)").body) as! [String: Any]
        let names = [first, rest].flatMap { ($0["items"] as! [[String: Any]]).map { ($0["metadata"] as! [String: Any])["name"] as! String } }
        #expect(names == ["demo", "kubernetes"])
    }

    @Test("a WATCH from the list's resourceVersion streams the recorded events: MODIFIED, ADDED, DELETED, a label change as DELETED then ADDED, BOOKMARK")
    func watchEvents() throws {
        let server = try Self.serverWithRecordedObjects()
        defer { server.stop() }
        let recorded = try Self.sampleLines("endpointslices-watch.jsonl").map { $0 as! [String: Any] }
        let list = try Self.json(try server.get("/apis/discovery.k8s.io/v1/endpointslices").body) as! [String: Any]
        let rv = (list["metadata"] as! [String: Any])["resourceVersion"] as! String
        let output = Shell.scratchFile("watch.jsonl")
        let watch = try BackgroundProcess(
            ["curl", "-sS", "-N", "--max-time", "20", "--cacert", server.caFile, "-H", "Authorization: Bearer \(server.currentToken)",
             server.url + "/apis/discovery.k8s.io/v1/endpointslices?\(Self.proxySelector)&watch=1&resourceVersion=\(rv)&allowWatchBookmarks=true&timeoutSeconds=4"],
            stdoutPath: output)
        defer { watch.stop() }
        sleep(seconds: 0.5)
        func object(_ index: Int) -> String {
            Self.creatable(recorded[index]["object"]!, kind: "EndpointSlice", apiVersion: "discovery.k8s.io/v1")
        }
        try server.apply(object(0))  // MODIFIED
        try server.apply(object(1))  // ADDED (the IPv6 slice)
        try server.delete(kind: "EndpointSlice", name: "demo-v6-xyz89")  // DELETED
        var labelled = try Self.json(object(0)) as! [String: Any]
        var metadata = labelled["metadata"] as! [String: Any]
        var labels = metadata["labels"] as! [String: Any]
        labels["service.kubernetes.io/service-proxy-name"] = "another-proxy"
        metadata["labels"] = labels
        labelled["metadata"] = metadata
        try server.apply(try Self.text(labelled))  // out of the selector: DELETED
        try server.apply(object(4))  // back in: ADDED
        try server.bookmark()
        let result = watch.wait(timeout: 10)
        let lines = try result.stdout.split(separator: "\n").map { try Self.json(String($0)) as! [String: Any] }
        #expect(lines.map { $0["type"] as! String } == recorded.map { $0["type"] as! String }, "\(result)")
        for (got, want) in zip(lines, recorded) {
            #expect(Self.shape(got) == Self.shape(want), "\(got["type"] ?? "")")
        }
        #expect(try Self.text(lines.last!["object"]!).contains(#""endpoints":null"#))
    }

    @Test("a WATCH from a compacted resourceVersion is HTTP 200 and one ERROR event with Status 410 Expired, as recorded; or HTTP 410 when told")
    func tooOldResourceVersion() throws {
        let server = try Self.serverWithRecordedObjects()
        defer { server.stop() }
        try server.compact()
        let answer = try server.get("/apis/discovery.k8s.io/v1/endpointslices?watch=1&resourceVersion=1")
        #expect(answer.status == 200)
        let lines = answer.body.split(separator: "\n")
        #expect(lines.count == 1)
        let recorded = try Self.sampleLines("endpointslices-watch-too-old-rv.jsonl")
        #expect(Self.shape(try Self.json(String(lines[0]))) == Self.shape(recorded[0]))
        try server.setWatchExpiry(asStatus: true)
        #expect(try server.get("/apis/discovery.k8s.io/v1/endpointslices?watch=1&resourceVersion=1").status == 410)
    }

    @Test("the request log names each path with the token it came with, and a rotated token is the only one accepted")
    func requestLogAndTokenRotation() throws {
        let server = try FakeAPIServer.start(ttl: 60)
        defer { server.stop() }
        let old = server.currentToken
        let mark = try server.requestMark()
        #expect(try server.get("/api/v1/nodes?fieldSelector=metadata.name=node-a").status == 200)
        try server.rotateToken(to: "rotated-token")
        #expect(try server.get("/api/v1/nodes", token: old).status == 401)
        #expect(try server.get("/api/v1/nodes").status == 200)
        let log = try server.requests(since: mark)
        #expect(log.map(\.token) == [old, old, "rotated-token"])
        #expect(log.map(\.status) == [200, 401, 200])
    }
}
