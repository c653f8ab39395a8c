import Foundation
import NFQLB
import Testing

extension KernelTests {
    /// nfq-lb as a node proxy: Services and EndpointSlices created in the API server (the
    /// project's own, speaking the real wire format over HTTPS with a bearer token, running in
    /// node1 on its loopback) are balanced in the namespace cluster, and every change made
    /// there is in force at once; the watch's failures lose nothing.
    @Suite("Kubernetes source, end to end")
    struct KubernetesEndToEnd {
        init() throws { try KernelEnvironment.require() }

        typealias K = KubernetesObjects

        @Test("A Service and its EndpointSlice created in the API are balanced over the pods, and /readyz waits for them",
              arguments: KernelTests.modes)
        func serviceAndSliceAreBalanced(mode: NFQLBConfig.TCPMode) throws {
            let world = try APIWorld.start(mode: mode, objects: [K.web(), K.webSlice(K.ready(KernelTests.threePods))])
            defer { world.stop() }

            let replies = try Client.curlLoop(from: "n1p3", "http://\(KernelTests.webVIP)/", count: 9)
            #expect(replies.failures.isEmpty, "failed requests: \(replies.failures)\n\(world.daemon.stateDescription)")
            #expect(replies.countsByBody == ["n1p1": 3, "n1p2": 3, "n2p1": 3], "bodies: \(replies.map(\.body))")
            let service = try #require(try world.daemon.status().services.first { $0.vip == KernelTests.webVIP })
            #expect(service.source == "kubernetes default/web")
            #expect(service.strategy == "round-robin", "the strategy annotation is in force")
        }

        @Test("A dual-stack Service is balanced on both cluster IPs, each over the EndpointSlice of its family")
        func dualStackServiceIsBalancedPerFamily() throws {
            let vip6 = "fd00:10:96::10"
            let service = K.service("dual", clusterIP: KernelTests.webVIP, ports: [K.Port(name: "http", port: 80, targetPort: 8080)],
                                    annotations: ["nfq-lb.io/strategy": "round-robin"],
                                    clusterIPs: [KernelTests.webVIP, vip6], ipFamilyPolicy: "RequireDualStack")
            let ports = [(name: "http", port: 8080, proto: "TCP")]
            let world = try APIWorld.start(mode: .mark, ipv6: true, objects: [
                service,
                K.slice("dual-v4", service: "dual", ports: ports, endpoints: K.ready(["n1p1", "n2p1"])),
                K.slice("dual-v6", service: "dual", ports: ports, endpoints: K.ready(["n1p2", "n2p2"]), addressType: "IPv6"),
            ])
            defer { world.stop() }

            let v4 = try Client.curlLoop(from: "n1p3", "http://\(KernelTests.webVIP)/", count: 4)
            #expect(v4.failures.isEmpty && v4.countsByBody == ["n1p1": 2, "n2p1": 2], "IPv4 cluster IP: \(v4)\n\(world.daemon.stateDescription)")
            let v6 = try Client.curlLoop(from: "n1p3", "http://[\(vip6)]/", count: 4, extra: ["-g"])
            #expect(v6.failures.isEmpty && v6.countsByBody == ["n1p2": 2, "n2p2": 2], "IPv6 cluster IP: \(v6)\n\(world.daemon.stateDescription)")
            let sources = try world.daemon.status().services.filter { $0.source == "kubernetes default/dual" }.map(\.vip).sorted()
            #expect(sources == [KernelTests.webVIP, vip6], "\(sources)")
        }

        @Test("Until the first complete lists are in, /readyz says what it waits for and no Kubernetes service is installed")
        func readyzWaitsForTheFirstLists() throws {
            let api = try FakeAPIServer.start(namespace: Cluster.ns("node1"), listen: ["127.0.0.1"])
            defer { api.stop() }
            try api.apply(K.web())
            try api.apply(K.webSlice(K.ready(KernelTests.threePods)))
            // The EndpointSlice list fails for a while: the Services alone are not a view to program.
            try api.setFaults([.init(match: "endpointslices", watch: false, status: 503)])
            let daemon = try DaemonProcess.start(APIWorld.config(api: api, mode: .mark))
            defer { daemon.stop() }

            let waiting = try daemon.answer("/readyz")
            #expect(waiting.status == 503, "\(waiting)")
            #expect(waiting.body.contains("EndpointSlices"), "\(waiting)")
            #expect(try daemon.status().services.isEmpty, "nothing is programmed from a half-synced view")
            try api.setFaults([])
            let ready = try eventually(timeout: 10) { try daemon.answer("/readyz").status == 200 }
            let answer = try daemon.answer("/readyz")
            #expect(ready, "\(answer)\n\(daemon.stateDescription)")
            #expect(try Client.curl(from: "n1p3", "http://\(KernelTests.webVIP)/").succeeded)
        }

        @Test("An endpoint turned not ready takes no new flows, in force within 100 ms of the watch event")
        func notReadyEndpointIsOutWithin100Milliseconds() throws {
            let world = try APIWorld.start(objects: [K.web(), K.webSlice(K.ready(KernelTests.threePods))])
            defer { world.stop() }

            let trigger = ISO8601DateFormatter.withFractionalSeconds.string(from: Date())
            try world.api.apply(K.webSlice([K.SliceEndpoint(pod: "n1p1", ready: false)] + K.ready(["n1p2", "n2p1"]),
                                           annotations: ["endpoints.kubernetes.io/last-change-trigger-time": trigger]))
            let out = try world.waitForStatus { status in
                status.services.first?.endpoints.first { $0.address == Cluster.ip("n1p1") }?.takesNewFlows == false
            }
            #expect(out, "n1p1 still takes new flows: \(world.daemon.stateDescription)")
            let metrics = try world.daemon.metrics(within: 2) { $0.sum("nfqlb_kubernetes_sync_duration_seconds_count") >= 2 }
            let syncs = metrics.sum("nfqlb_kubernetes_sync_duration_seconds_count")
            let fast = metrics.samples.filter {
                $0.name == "nfqlb_kubernetes_sync_duration_seconds_bucket" && Double($0.labels["le"] ?? "") == 0.1
            }.reduce(0) { $0 + $1.value }
            #expect(syncs >= 2 && fast == syncs, "every change in force within 100 ms of its event: \(fast) of \(syncs)\n\(metrics)")
            #expect(metrics.sum("nfqlb_kubernetes_network_programming_duration_seconds_count") >= 1, "\(metrics)")

            let replies = try Client.curlLoop(from: "n1p3", "http://\(KernelTests.webVIP)/", count: 12)
            #expect(replies.failures.isEmpty, "\(replies.failures)")
            #expect(replies.countsByBody == ["n1p2": 6, "n2p1": 6], "bodies: \(replies.map(\.body))")
        }

        @Test("Terminating-but-serving endpoints take flows only when no ready endpoint is left")
        func terminatingServingEndpointsAreTheLastResort() throws {
            let serving = K.SliceEndpoint(pod: "n1p2", ready: false, serving: true, terminating: true)
            let world = try APIWorld.start(objects: [K.web(), K.webSlice([K.SliceEndpoint(pod: "n1p1"), serving])])
            defer { world.stop() }

            let first = try Client.curlLoop(from: "n1p3", "http://\(KernelTests.webVIP)/", count: 6)
            #expect(first.countsByBody == ["n1p1": 6], "a ready endpoint is left: \(first.map(\.body))")
            try world.api.apply(K.webSlice([serving]))
            #expect(try world.waitForStatus { $0.services.first?.usesTerminatingEndpoints == true }, "\(world.daemon.stateDescription)")
            let second = try Client.curlLoop(from: "n1p3", "http://\(KernelTests.webVIP)/", count: 6)
            #expect(second.countsByBody == ["n1p2": 6], "only the terminating one serves: \(second.map(\.body))")
        }

        @Test("A second slice adds its endpoints, and an endpoint moving between slices never leaves the service")
        func secondSliceAndAMovingEndpoint() throws {
            let world = try APIWorld.start(objects: [K.web(), K.webSlice(K.ready(["n1p1", "n1p2"]), name: "web-a")])
            defer { world.stop() }

            try world.api.apply(K.webSlice(K.ready(["n2p1"]), name: "web-b"))
            #expect(try world.waitForStatus { $0.services.first?.endpoints.count == 3 }, "\(world.daemon.stateDescription)")
            let before = try Client.curlLoop(from: "n1p3", "http://\(KernelTests.webVIP)/", count: 6)
            #expect(before.countsByBody == ["n1p1": 2, "n1p2": 2, "n2p1": 2], "\(before.map(\.body))")

            // n1p2 moves from web-a to web-b: added to b first, then removed from a (the
            // controller's order may be either; both are tried).
            try world.api.apply(K.webSlice(K.ready(["n2p1", "n1p2"]), name: "web-b"))
            try world.api.apply(K.webSlice(K.ready(["n1p1"]), name: "web-a"))
            try world.api.apply(K.webSlice(K.ready(["n1p1", "n1p3"]), name: "web-a"))
            try world.api.apply(K.webSlice(K.ready(["n2p1"]), name: "web-b"))
            #expect(try world.waitForStatus { status in
                Set(status.services.first?.endpoints.map(\.address) ?? []) == Set(["n1p1", "n1p3", "n2p1"].map(Cluster.ip))
            }, "\(world.daemon.stateDescription)")
            let removed = world.daemon.log.split(separator: "\n").filter { $0.contains("Kubernetes change in force") && !$0.contains("0 endpoints stopped") }
            #expect(removed.count == 1, "only n1p2's final removal stops an endpoint: \(removed)")
        }

        @Test("A named targetPort reaches the pods on the slice's port of that service port's name")
        func namedTargetPort() throws {
            let service = K.service("multi", clusterIP: KernelTests.webVIP, ports: [
                K.Port(name: "http", port: 80, targetPort: "web"),
                K.Port(name: "echo", port: Cluster.tcpEchoPort, targetPort: "echo"),
            ], annotations: ["nfq-lb.io/strategy": "round-robin"])
            let slice = K.slice("multi-1", service: "multi", ports: [("http", 8080, "TCP"), ("echo", Cluster.tcpEchoPort, "TCP")],
                                endpoints: K.ready(["n1p1", "n2p1"]))
            let world = try APIWorld.start(objects: [service, slice])
            defer { world.stop() }

            let web = try Client.curlLoop(from: "n1p3", "http://\(KernelTests.webVIP)/", count: 4)
            #expect(web.failures.isEmpty && Set(web.map(\.body)) == ["n1p1", "n2p1"], "\(web.map(\.body))")
            let status = try world.daemon.status()
            let echo = try #require(status.services.first { $0.port == UInt16(Cluster.tcpEchoPort) })
            #expect(echo.endpoints.map(\.port) == [UInt16(Cluster.tcpEchoPort), UInt16(Cluster.tcpEchoPort)])
            #expect(status.services.first { $0.port == 80 }?.endpoints.map(\.port) == [8080, 8080])
        }

        @Test("internalTrafficPolicy: Local keeps flows on node1's own endpoints")
        func internalTrafficPolicyLocal() throws {
            let world = try APIWorld.start(objects: [K.web(internalTrafficPolicy: "Local"), K.webSlice(K.ready(["n1p1", "n2p1", "n2p2"]))])
            defer { world.stop() }

            let replies = try Client.curlLoop(from: "n1p3", "http://\(KernelTests.webVIP)/", count: 6)
            #expect(replies.countsByBody == ["n1p1": 6], "\(replies.map(\.body))")
        }

        @Test("Zone hints (trafficDistribution: PreferClose) keep flows in node1's zone, and every endpoint is used again when one loses its hint")
        func zoneHintsAndTheirFallback() throws {
            func endpoint(_ pod: String, zone: String, hint: String?) -> K.SliceEndpoint {
                K.SliceEndpoint(pod: pod, zone: zone, hintZones: hint.map { [$0] })
            }
            let hinted = [endpoint("n1p1", zone: "zone-a", hint: "zone-a"), endpoint("n2p1", zone: "zone-a", hint: "zone-a"),
                          endpoint("n2p2", zone: "zone-b", hint: "zone-b")]
            let world = try APIWorld.start(objects: [K.node("node1", zone: "zone-a"), K.node("node2", zone: "zone-b"),
                                                     K.web(trafficDistribution: "PreferClose"), K.webSlice(hinted)])
            defer { world.stop() }

            let narrowed = try world.daemon.status().services.first?.endpoints.map(\.address)
            #expect(narrowed == [Cluster.ip("n1p1"), Cluster.ip("n2p1")])
            let close = try Client.curlLoop(from: "n1p3", "http://\(KernelTests.webVIP)/", count: 6)
            #expect(close.countsByBody == ["n1p1": 3, "n2p1": 3], "only zone-a's endpoints: \(close.map(\.body))")

            // kube-proxy's rule: hints count only when every endpoint has one.
            var partial = hinted
            partial[2].hintZones = nil
            try world.api.apply(K.webSlice(partial))
            let widened = try world.waitForStatus { $0.services.first?.endpoints.count == 3 }
            let now = try world.daemon.status().services.first?.endpoints.map(\.address) ?? []
            #expect(widened, "\(now)")
            let all = try Client.curlLoop(from: "n1p3", "http://\(KernelTests.webVIP)/", count: 6)
            #expect(all.countsByBody == ["n1p1": 2, "n2p1": 2, "n2p2": 2], "every endpoint: \(all.map(\.body))")
        }

        @Test("sessionAffinity: ClientIP from the Service spec keeps a client on one endpoint")
        func clientIPAffinityFromTheSpec() throws {
            let world = try APIWorld.start(objects: [K.web(affinitySeconds: 60), K.webSlice(K.ready(KernelTests.threePods))])
            defer { world.stop() }

            let replies = try Client.curlLoop(from: "n1p3", "http://\(KernelTests.webVIP)/", count: 8)
            #expect(replies.failures.isEmpty && Set(replies.map(\.body)).count == 1, "round-robin would rotate: \(replies.map(\.body))")
            #expect(try world.daemon.status().services.first?.sessionAffinitySeconds == 60)
        }

        @Test("The strategy annotation chooses the strategy; a bad one is counted and the default kept")
        func strategyAnnotation() throws {
            let world = try APIWorld.start(objects: [
                K.web(annotations: ["nfq-lb.io/strategy": "maglev"]), K.webSlice(K.ready(KernelTests.threePods)),
                K.web("bad", vip: "10.96.0.11", annotations: ["nfq-lb.io/strategy": "no-such-strategy"]),
                K.webSlice(K.ready(["n1p1"]), name: "bad-1", service: "bad"),
            ])
            defer { world.stop() }

            let status = try world.daemon.status()
            #expect(status.services.first { $0.vip == KernelTests.webVIP }?.strategy == "maglev")
            #expect(status.services.first { $0.vip == "10.96.0.11" }?.strategy == "random")
            let metrics = try world.daemon.metrics(within: 2) { $0.sum("nfqlb_kubernetes_annotation_errors_total") >= 1 }
            #expect(metrics.sum("nfqlb_kubernetes_annotation_errors_total") >= 1, "\(metrics)")
            #expect(try Client.curl(from: "n1p3", "http://10.96.0.11/").body == "n1p1")
        }

        @Test("A deleted Service's VIP is refused at once, and a Service labelled for another proxy is never taken")
        func deletedAndForeignServices() throws {
            let world = try APIWorld.start(objects: [
                K.web(), K.webSlice(K.ready(["n1p1"])),
                K.web("theirs", vip: "10.96.0.12", labels: ["service.kubernetes.io/service-proxy-name": "kube-proxy-other"]),
                K.webSlice(K.ready(["n1p2"]), name: "theirs-1", service: "theirs"),
            ])
            defer { world.stop() }

            #expect(try Client.curl(from: "n1p3", "http://\(KernelTests.webVIP)/").body == "n1p1")
            let foreign = try Client.curl(from: "n1p3", "http://10.96.0.12/", maxTime: 5)
            #expect(foreign.exitCode == 7, "another proxy's service must not be balanced by nfq-lb: \(foreign)")
            try world.api.delete(kind: "Service", name: "web")
            #expect(try world.waitForStatus { $0.services.isEmpty }, "\(world.daemon.stateDescription)")
            let refused = try Client.curl(from: "n1p3", "http://\(KernelTests.webVIP)/", maxTime: 5)
            #expect(refused.exitCode == 7 && refused.seconds < 1, "\(refused)")
        }

        @Test("A watch cut by the server resumes from its resourceVersion without a relist, and loses no change")
        func cutWatchResumesWithoutRelist() throws {
            let world = try APIWorld.start(objects: [K.web(), K.webSlice(K.ready(["n1p1"]))])
            defer { world.stop() }

            let mark = try world.api.requestMark()
            try world.api.cutWatches()
            try world.api.apply(K.webSlice(K.ready(["n1p1", "n2p1"])))
            #expect(try world.waitForStatus { $0.services.first?.endpoints.count == 2 }, "\(world.daemon.stateDescription)")
            let requests = try world.api.requests(since: mark)
            #expect(requests.contains { $0.watch && $0.path.hasSuffix("endpointslices") }, "\(requests)")
            #expect(!requests.contains { !$0.watch }, "no LIST after the cut: \(requests.map { "\($0.path)?\($0.query)" })")
        }

        @Test("410 Gone after a gap: a relist, and a Service deleted during the gap is deleted here too")
        func goneLeadsToARelistThatAppliesTheGapsDeletion() throws {
            let world = try APIWorld.start(objects: [
                K.web(), K.webSlice(K.ready(["n1p1"])),
                K.web("gone", vip: "10.96.0.13"), K.webSlice(K.ready(["n1p2"]), name: "gone-1", service: "gone"),
            ])
            defer { world.stop() }
            #expect(try Client.curl(from: "n1p3", "http://10.96.0.13/").body == "n1p2")

            // The Services watch's next request is held for 2 s: meanwhile the Service is deleted
            // and the history compacted, so the watch from the old resourceVersion gets 410.
            try world.api.setFaults([.init(match: "services", watch: true, delaySeconds: 2, count: 1)])
            let mark = try world.api.requestMark()
            try world.api.cutWatches()
            try world.api.delete(kind: "Service", name: "gone")
            try world.api.compact()
            #expect(try world.waitForStatus(timeout: 10) { $0.services.count == 1 }, "\(world.daemon.stateDescription)")
            let requests = try world.api.requests(since: mark)
            #expect(requests.contains { !$0.watch && $0.path.hasSuffix("/services") }, "a relist: \(requests.map { "\($0.path)?\($0.query) \($0.status)" })")
            let refused = try Client.curl(from: "n1p3", "http://10.96.0.13/", maxTime: 5)
            #expect(refused.exitCode == 7, "\(refused)")
            let metrics = try world.daemon.metrics()
            #expect(metrics.sum("nfqlb_kubernetes_relists_total", ["resource": "services"]) >= 1, "\(metrics)")
        }

        @Test("A rotated token file: the next requests carry the new token, and nothing is lost")
        func rotatedTokenIsUsed() throws {
            let world = try APIWorld.start(objects: [K.web(), K.webSlice(K.ready(["n1p1"]))])
            defer { world.stop() }

            try world.api.rotateToken(to: "rotated-\(UUID().uuidString)")
            let mark = try world.api.requestMark()
            try world.api.cutWatches()
            try world.api.apply(K.webSlice(K.ready(["n2p1"])))
            #expect(try world.waitForStatus { $0.services.first?.endpoints.map(\.address) == [Cluster.ip("n2p1")] }, "\(world.daemon.stateDescription)")
            let requests = try world.api.requests(since: mark)
            #expect(!requests.isEmpty && requests.allSatisfy { $0.token == world.api.currentToken && $0.status != 401 },
                    "\(requests.map { "\($0.path) \($0.status) \($0.token ?? "-")" })")
        }
    }
}

/// The fake API server in node1 and nfq-lb following it.
struct APIWorld {
    let api: FakeAPIServer
    let daemon: DaemonProcess

    /// The config: no file services, a `kubernetes:` block for the in-cluster path (API server
    /// address, token file re-read per request, CA file) and node1's name.
    static func config(api: FakeAPIServer, mode: NFQLBConfig.TCPMode, ipv6: Bool = false) -> DaemonConfig {
        var config = DaemonConfig(mode: mode, services: [])
        config.ipv6 = ipv6
        config.kubernetes = "apiServer: \(api.url), tokenFile: \(api.tokenFile), caFile: \(api.caFile), nodeName: node1, coalesceMilliseconds: 10"
        return config
    }

    /// Starts the API server with `objects`, then the daemon, and waits for `/readyz`.
    static func start(mode: NFQLBConfig.TCPMode = .conntrack, ipv6: Bool = false, objects: [String]) throws -> APIWorld {
        let api = try FakeAPIServer.start(namespace: Cluster.ns("node1"), listen: ["127.0.0.1"])
        do {
            for object in objects { try api.apply(object) }
            let daemon = try DaemonProcess.start(config(api: api, mode: mode, ipv6: ipv6))
            let world = APIWorld(api: api, daemon: daemon)
            guard try eventually(timeout: 10, { try daemon.answer("/readyz").status == 200 }) else {
                world.stop()
                throw SetupError("nfq-lb did not get ready on the fake API server: \(try daemon.answer("/readyz"))\n\(daemon.stateDescription)")
            }
            return world
        } catch {
            api.stop()
            throw error
        }
    }

    func stop() {
        daemon.stop()
        api.stop()
    }

    /// Polls `/status` until `condition` holds (at most `timeout` seconds).
    func waitForStatus(timeout: Double = 5, _ condition: (StatusReport) -> Bool) throws -> Bool {
        try eventually(timeout: timeout, interval: 0.02) { condition(try daemon.status()) }
    }
}

extension ISO8601DateFormatter {
    /// The EndpointSlice controller's RFC 3339 times with fractional seconds.
    nonisolated(unsafe) static let withFractionalSeconds: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()
}
