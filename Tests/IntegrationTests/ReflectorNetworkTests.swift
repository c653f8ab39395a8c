import Foundation
import KubernetesSource
import Logging
import Testing

/// The real client and reflector (async-http-client, TLS verified, bearer tokens) against the
/// project's API server over HTTPS on loopback: paging, resumed watches, both kinds of 410,
/// bookmarks, token rotation, certificate verification, backoff, and this node's Node. What
/// the reflector did is read from its changes and from the server's own request log, so each
/// claim (no relist, the new token, growing delays) is checked where it happens. No root.
@Suite("The reflector against an API server over the network", .serialized, .timeLimit(.minutes(1)))
struct ReflectorNetworkTests {
    // MARK: Fixture

    /// A server, a client for it, and the reflector options the tests share: short backoff so
    /// a retry comes within a test's patience, watches the server ends after 30 s.
    struct Fixture {
        let server: FakeAPIServer
        let client: KubernetesClient

        static let options = Reflector<KubernetesService>.Options(
            pageSize: 500, watchTimeoutSeconds: 30,
            backoff: Backoff(initial: .milliseconds(100), maximum: .milliseconds(400), jitter: 0.2))

        static func configuration(for server: FakeAPIServer, caFile: String? = nil,
                                  credentials: KubernetesClientConfiguration.Credentials? = nil) throws -> KubernetesClientConfiguration {
            let ca = try #require(FileManager.default.contents(atPath: caFile ?? server.caFile), "the fake's CA file")
            return try KubernetesClientConfiguration(server: server.url, certificateAuthorityPEM: [UInt8](ca),
                                                     credentials: credentials ?? .tokenFile(server.tokenFile))
        }

        /// Runs `body` with a fresh server and client, and always takes both down.
        static func with(bookmarkInterval: Double = 60, _ body: (Fixture) async throws -> Void) async throws {
            let server = try FakeAPIServer.start(bookmarkInterval: bookmarkInterval, ttl: 120)
            let client: KubernetesClient
            do {
                client = try KubernetesClient(configuration: configuration(for: server))
            } catch {
                server.stop()
                throw error
            }
            var failure: (any Error)?
            do { try await body(Fixture(server: server, client: client)) } catch { failure = error }
            server.stop()  // ends any watch still open, so the client's shutdown cannot wait on one
            try? await client.shutdown()
            if let failure { throw failure }
        }

        func reflector(pageSize: Int = 500, backoff: Backoff? = nil) -> RunningReflector<KubernetesService> {
            var options = Self.options
            options.pageSize = pageSize
            if let backoff { options.backoff = backoff }
            return RunningReflector(Reflector<KubernetesService>(client: client, options: options, logger: quiet))
        }

        /// Requests for `/api/v1/services` that came after `mark` (`requestMark()`), LISTs and
        /// WATCHes apart; an open watch is there already.
        func serviceRequests(since mark: Int = 0) throws -> (lists: [FakeAPIServer.Request], watches: [FakeAPIServer.Request]) {
            let requests = try server.requests(since: mark).filter { $0.path == KubernetesService.collectionPath }
            return (requests.filter { !$0.watch }, requests.filter(\.watch))
        }
    }

    /// A reflector running in its own task, its changes collected as they come.
    final class RunningReflector<Object: KubernetesObject>: Sendable {
        let reflector: Reflector<Object>
        private let collected: Locked<[ReflectorChange<Object>]>
        private let finished: Locked<Bool>
        private let runner: Task<Void, Never>

        init(_ reflector: Reflector<Object>) {
            let collected = Locked<[ReflectorChange<Object>]>([]), finished = Locked(false)
            self.reflector = reflector
            self.collected = collected
            self.finished = finished
            Task {
                for await change in reflector.changes { collected.withLock { $0.append(change) } }
                finished.withLock { $0 = true }
            }
            runner = Task { await reflector.run() }
        }

        var changes: [ReflectorChange<Object>] { collected.current }

        /// The first list is in, and its change has reached this consumer too.
        var synced: Bool { reflector.hasSynced && !lists.isEmpty }

        /// The `all` and `deleted` of every complete list, in order.
        var lists: [(all: [String], deleted: [String])] {
            changes.compactMap {
                if case .replaced(let all, let deleted) = $0 { return (all.map(\.storeKey).sorted(), deleted.map(\.storeKey).sorted()) }
                return nil
            }
        }

        /// The keys of every upserted object, in order.
        var upserted: [String] {
            changes.compactMap { if case .upserted(let object) = $0 { return object.storeKey } else { return nil } }
        }

        /// Cancels `run()`; true when it returned (and `changes` ended) within 5 s.
        func stop() async -> Bool {
            runner.cancel()
            return await until(5) { finished.current }
        }
    }

    static func service(_ name: String, port: Int = 80) -> String {
        #"{"kind":"Service","apiVersion":"v1","metadata":{"name":"\#(name)","namespace":"default"},"spec":{"ports":[{"name":"http","port":\#(port)}]}}"#
    }

    static func services(_ names: [String]) -> String {
        #"{"items":["# + names.map { service($0) }.joined(separator: ",") + "]}"
    }

    static func node(_ name: String, zone: String) -> String {
        #"{"kind":"Node","apiVersion":"v1","metadata":{"name":"\#(name)","labels":{"kubernetes.io/hostname":"\#(name)","topology.kubernetes.io/zone":"\#(zone)"}}}"#
    }

    // MARK: LIST

    @Test("a LIST in pages of limit/continue brings every object exactly once, and one created mid-list arrives once, by the watch")
    func pagedListBringsEveryObjectOnce() async throws {
        try await Fixture.with { fixture in
            let names = (0..<120).map { String(format: "svc-%03d", $0) }
            try fixture.server.apply(Self.services(names))
            // Each page after the first waits 0.3 s: room to create an object while the list is under way.
            try fixture.server.setFaults([.init(match: "continue=", watch: false, delaySeconds: 0.3, count: 4)])
            let running = fixture.reflector(pageSize: 7)
            try #require(await until(10) { (try? fixture.serviceRequests().lists.count) ?? 0 >= 1 }, "the first page was never asked for")
            try fixture.server.apply(Self.service("late"))
            try #require(await until(15) { running.upserted.contains("default/late") }, "the service created mid-list never arrived")
            #expect(await running.stop())

            let lists = try fixture.serviceRequests().lists
            #expect(lists.count == 18, "120 objects in pages of 7")
            #expect(lists.allSatisfy { $0.parameter("limit") == "7" })
            #expect(lists.first?.parameter("continue") == nil)
            #expect(lists.dropFirst().allSatisfy { $0.parameter("continue")?.isEmpty == false })
            #expect(running.reflector.listCount == 1)
            let listed = try #require(running.lists.first?.all)
            #expect(listed == names.map { "default/\($0)" })
            let everything = listed + running.upserted
            #expect(everything.count == Set(everything).count, "an object arrived twice")
            #expect(everything.filter { $0 == "default/late" }.count == 1)
        }
    }

    // MARK: WATCH

    @Test("a watch cut by the server resumes from the last resourceVersion, without a relist")
    func cutWatchResumesWithoutRelist() async throws {
        try await Fixture.with { fixture in
            try fixture.server.apply(Self.service("a"))
            let running = fixture.reflector()
            try #require(await until(10) { running.synced })
            try fixture.server.apply(Self.service("b"))
            try #require(await until(10) { running.upserted == ["default/b"] })
            let lastSeen = try #require(running.reflector.resourceVersion)

            let mark = try fixture.server.requestMark()
            try fixture.server.cutWatches()
            try fixture.server.apply(Self.service("c"))
            try #require(await until(10) { running.upserted == ["default/b", "default/c"] }, "the change made while the watch was cut never arrived")
            #expect(await running.stop())

            let after = try fixture.serviceRequests(since: mark)
            #expect(after.lists.isEmpty, "a relist after a cut watch: \(after.lists.map(\.query))")
            #expect(after.watches.first?.parameter("resourceVersion") == lastSeen)
            #expect(after.watches.first?.parameter("allowWatchBookmarks") == "true")
            #expect(running.reflector.listCount == 1)
            #expect(running.lists.count == 1)
        }
    }

    @Test("410 Gone, as an HTTP status or as an ERROR event after compaction, relists; a deletion made during the gap arrives in replaced(deleted:)",
          arguments: [false, true])
    func goneRelistsAndDeliversMissedDeletions(asHTTPStatus: Bool) async throws {
        try await Fixture.with { fixture in
            try fixture.server.apply(Self.services(["a", "b"]))
            let running = fixture.reflector()
            try #require(await until(10) { running.synced })
            let lastSeen = try #require(running.reflector.resourceVersion)

            // The watch goes down and stays down (503) while b is deleted, c created and the history compacted.
            let mark = try fixture.server.requestMark()
            try fixture.server.setFaults([.init(match: KubernetesService.collectionPath, watch: true, status: 503)])
            try fixture.server.cutWatches()
            try #require(await until(10) { (try? fixture.serviceRequests(since: mark).watches.contains { $0.status == 503 }) == true },
                         "the reflector never tried to watch again")
            try fixture.server.delete(kind: "Service", name: "b")
            try fixture.server.apply(Self.service("c"))
            try fixture.server.compact()
            try fixture.server.setWatchExpiry(asStatus: asHTTPStatus)
            try fixture.server.setFaults([])

            try #require(await until(10) { running.reflector.listCount == 2 }, "no relist after the 410")
            #expect(await running.stop())
            let relist = try #require(running.lists.last)
            #expect(relist.all == ["default/a", "default/c"])
            #expect(relist.deleted == ["default/b"])
            #expect(running.upserted.isEmpty, "c came by the relist, not by a watch")

            let after = try fixture.serviceRequests(since: mark)
            let expired = after.watches.first { $0.status != 503 }
            #expect(expired?.parameter("resourceVersion") == lastSeen)
            #expect(expired?.status == (asHTTPStatus ? 410 : 200), "HTTP 410, or HTTP 200 carrying an ERROR 410 event")
            #expect(after.lists.count == 1)
            if let expired, let list = after.lists.first { #expect(list.index > expired.index) }
        }
    }

    @Test("a BOOKMARK advances the resourceVersion without an event, and the next watch starts from it")
    func bookmarksAdvanceTheResourceVersion() async throws {
        try await Fixture.with { fixture in
            try fixture.server.apply(Self.service("a"))
            let running = fixture.reflector()
            try #require(await until(10) { running.synced })
            let listed = try #require(running.reflector.resourceVersion)
            // A change of another kind moves the server's resourceVersion on; the services watch sees nothing of it.
            let newer = try fixture.server.apply(#"{"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1","metadata":{"name":"x-1","labels":{"kubernetes.io/service-name":"x"}},"addressType":"IPv4","endpoints":[],"ports":[]}"#)
            #expect(Int(listed)! < newer)
            try await Task.sleep(for: .milliseconds(300))
            #expect(running.reflector.resourceVersion == listed)

            try fixture.server.bookmark()
            try #require(await until(10) { running.reflector.resourceVersion == String(newer) }, "the bookmark did not move the resourceVersion")
            #expect(running.changes.count == 1, "a bookmark is not a change")

            let mark = try fixture.server.requestMark()
            try fixture.server.cutWatches()
            try #require(await until(10) { (try? fixture.serviceRequests(since: mark).watches.isEmpty) == false })
            #expect(try fixture.serviceRequests(since: mark).watches.first?.parameter("resourceVersion") == String(newer))
            #expect(await running.stop())
        }
    }

    // MARK: Credentials and TLS

    @Test("a rotated token file is used from the next request on, and the old token gets 401")
    func rotatedTokenIsUsedAtOnce() async throws {
        try await Fixture.with { fixture in
            let running = fixture.reflector()
            try #require(await until(10) { running.synced })
            let old = fixture.server.currentToken
            let new = "rotated-" + UUID().uuidString.lowercased()

            let mark = try fixture.server.requestMark()
            try fixture.server.rotateToken(to: new)
            try fixture.server.cutWatches()
            try fixture.server.apply(Self.service("after-rotation"))
            try #require(await until(10) { running.upserted == ["default/after-rotation"] }, "nothing arrived after the rotation")
            #expect(await running.stop())

            let after = try fixture.serviceRequests(since: mark)
            #expect(!after.watches.isEmpty)
            #expect(after.watches.allSatisfy { $0.token == new && $0.status == 200 }, "\(after.watches.map { ($0.token ?? "-", $0.status) })")

            let stale = try KubernetesClient(configuration: Fixture.configuration(for: fixture.server, credentials: .token(old)))
            await #expect {
                _ = try await stale.list(KubernetesService.self)
            } throws: { error in
                (error as? KubernetesSource.Status)?.code == 401
            }
            try await stale.shutdown()
        }
    }

    @Test("a server whose certificate the configured CA did not sign is refused before any request, with an error that says so")
    func unknownCertificateIsRefused() async throws {
        try await Fixture.with { fixture in
            let other = try FakeAPIServer.start(ttl: 60)
            defer { other.stop() }
            // The right server, the wrong CA (the other server's own, a real CA that signed another certificate).
            let misconfigured = try KubernetesClient(configuration: Fixture.configuration(for: fixture.server, caFile: other.caFile))
            var refusal: (any Error)?
            do { _ = try await misconfigured.list(KubernetesService.self) } catch { refusal = error }
            try await misconfigured.shutdown()
            let error = try #require(refusal, "a server with a certificate from another CA was trusted")
            let failure = try #require(error as? KubernetesClient.TLSFailure, "not reported as a TLS failure: \(error)")
            #expect(failure.server == fixture.server.url)
            #expect(String(describing: failure).contains("CERTIFICATE_VERIFY_FAILED"), "the error does not say what failed: \(failure)")
            #expect(try fixture.server.requests().isEmpty, "a request reached the server over an unverified connection")
            // The same client setup with the right CA works: the CA was the only difference.
            #expect(try await fixture.client.list(KubernetesService.self).items.isEmpty)
        }
    }

    // MARK: Backoff

    @Test("a server answering 500 is retried with growing delays, never beyond the maximum, and the first success syncs")
    func failingServerIsRetriedWithBoundedGrowingDelays() async throws {
        try await Fixture.with { fixture in
            try fixture.server.apply(Self.service("a"))
            try fixture.server.setFaults([.init(match: KubernetesService.collectionPath, watch: false, status: 500)])
            let running = fixture.reflector(backoff: Backoff(initial: .milliseconds(100), maximum: .milliseconds(800), factor: 2, jitter: 0))
            try #require(await until(15) { ((try? fixture.serviceRequests().lists.count) ?? 0) >= 7 }, "the reflector gave up retrying")
            let failed = try fixture.serviceRequests().lists.prefix(7)
            #expect(failed.allSatisfy { $0.status == 500 })
            #expect(!running.reflector.hasSynced)
            let times = failed.map(\.time)
            let gaps = zip(times.dropFirst(), times).map { $0 - $1 }
            // Planned: 0.1, 0.2, 0.4, 0.8, 0.8, 0.8 s (plus each request's own time).
            for (gap, planned) in zip(gaps, [0.1, 0.2, 0.4, 0.8, 0.8, 0.8]) {
                #expect(gap >= planned * 0.9 && gap <= planned + 0.35, "gaps \(gaps)")
            }

            try fixture.server.setFaults([])
            try #require(await until(3) { running.synced }, "not synced within the longest delay after the server recovered")
            #expect(running.lists.first?.all == ["default/a"])
            #expect(await running.stop())
        }
    }

    // MARK: This node

    @Test("this node's Node is watched alone (fieldSelector metadata.name) and its zone label reaches the tracker")
    func thisNodesZoneIsFollowed() async throws {
        try await Fixture.with { fixture in
            try fixture.server.apply(Self.node("node1", zone: "zone-a"))
            try fixture.server.apply(Self.node("node2", zone: "zone-b"))
            var options = Reflector<Node>.Options()
            options.backoff = Fixture.options.backoff
            let running = RunningReflector(Reflector<Node>.node(named: "node1", client: fixture.client, options: options, logger: quiet))
            try #require(await until(10) { running.synced })
            #expect(running.reflector.zone == "zone-a")
            #expect(running.lists.first?.all == ["node1"])

            try fixture.server.apply(Self.node("node2", zone: "zone-c"))
            try fixture.server.apply(Self.node("node1", zone: "zone-d"))
            try #require(await until(10) { running.reflector.zone == "zone-d" }, "the relabelled zone never arrived")
            #expect(await running.stop())
            #expect(running.upserted == ["node1"], "another node's change reached this node's reflector")

            var tracker = ServiceChangeTracker(settings: MappingSettings(nodeName: "node1"))
            for change in running.changes { tracker.apply(change) }
            #expect(tracker.nodeZone == "zone-d")
            let requests = try fixture.server.requests().filter { $0.path == Node.collectionPath }
            #expect(!requests.isEmpty && requests.allSatisfy { $0.parameter("fieldSelector") == "metadata.name=node1" })
        }
    }
}

private let quiet = Logger(label: "nfq-lb.tests.reflector") { _ in SwiftLogNoOpLogHandler() }

/// Polls `condition` every 20 ms until it holds or `seconds` pass, without blocking a thread.
func until(_ seconds: Double, _ condition: () throws -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    for _ in 0..<100_000 {
        if (try? condition()) == true { return true }
        if ContinuousClock.now >= deadline { return false }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return false
}
