import NFQLB
import Testing

extension KernelTests {
    /// A service port reached from outside the cluster: a node port on node1's own address,
    /// `externalTrafficPolicy: Local` with its health-check node port, and external and
    /// load-balancer IPs with `loadBalancerSourceRanges`. The client is `$P-ext`, a namespace
    /// on a subnet of its own behind node1 (testbed/lib/cluster.sh `cluster_ext_up`), which
    /// routes only to the node addresses and the external pool; node2 has no route back to it,
    /// so an answer reaches it only if node1 masqueraded the flow or the endpoint is on node1.
    @Suite("NodePort, externalTrafficPolicy, external and load-balancer IPs")
    struct NodePort {
        static let node1 = "192.168.50.1"
        static let client = "192.168.60.10"
        static let otherClient = "192.168.60.11"
        static let loadBalancerIP = "192.168.70.10"
        static let externalIP = "192.168.70.20"

        init() throws {
            try KernelEnvironment.require()
            try Cluster.extUp()
        }

        static func config(_ mode: NFQLBConfig.TCPMode, _ services: [ServiceSpec]) -> DaemonConfig {
            var config = DaemonConfig(mode: mode, services: services)
            config.extraLines = ["nodeName: node1", "externalCIDRs: [\(Cluster.externalCIDR)]"]
            return config
        }

        /// nginx (:8080) of `pods` behind `vip`:80 with the extra service fields.
        static func web(_ name: String, vip: String, pods: [String], fields: [String]) -> ServiceSpec {
            var service = ServiceSpec.web(name, vip: vip, pods: pods)
            service.extraFields = fields
            service.endpoints = pods.map { pod in
                var endpoint = EndpointSpec.pod(pod, port: 8080)
                endpoint.node = "node\(Cluster.podNumbers(pod).node)"
                return endpoint
            }
            return service
        }

        @Test("An outside client, and another node, reach a NodePort on node1 whose endpoint is on node2; the flow is masqueraded, loopback is not a node address",
              arguments: KernelTests.modes)
        func outsideClientReachesNodePort(mode: NFQLBConfig.TCPMode) throws {
            defer { Cluster.extDown() }
            let daemon = try DaemonProcess.start(Self.config(mode, [Self.web("np-web", vip: "10.96.0.30", pods: ["n2p1"], fields: ["nodePort: 30080"])]))
            defer { daemon.stop() }

            let replies = try Client.curlLoop(from: "ext", "http://\(Self.node1):30080/", count: 3, maxTime: 2)
            #expect(replies.count == 3 && replies.allSatisfy { $0.succeeded && $0.body == "n2p1" }, "\(replies)\n\(daemon.stateDescription)")
            // Masqueraded: n2p1 answered node1's address, not the client it has no route to.
            let entries = try Cluster.conntrackEntries(toward: Self.node1)
            #expect(entries.contains { $0.contains("src=\(Self.client)") && $0.contains("src=\(Cluster.ip("n2p1")) dst=\(Self.node1) sport=8080") },
                    "no masqueraded node-port entry: \(entries)")

            let fromNode2 = try Client.curl(from: "node2", "http://\(Self.node1):30080/", maxTime: 2)
            #expect(fromNode2.succeeded && fromNode2.body == "n2p1", "from node2: \(fromNode2)")

            // kube-proxy's nftables mode: no node port on 127.0.0.1 unless configured.
            let loopback = try Client.curl(from: "node1", "http://127.0.0.1:30080/", maxTime: 1)
            #expect(!loopback.succeeded, "a node port answered on loopback: \(loopback)")

            let status = try daemon.status()
            #expect(status.services.contains { $0.kind == "nodePort" && $0.port == 30080 && $0.name == "np-web" }, "status lacks the node port")
            let metrics = try daemon.metrics()
            #expect(metrics.value("nfqlb_service_addresses", ["kind": "nodePort"]) == 1, "\(metrics)")
            #expect(metrics.value("nfqlb_service_addresses", ["kind": "clusterIP"]) == 1, "\(metrics)")
        }

        @Test("UDP node ports are balanced and masqueraded for an outside client, and IPv6 node ports answer on node1's IPv6 address, TCP and UDP",
              arguments: KernelTests.modes)
        func udpAndIPv6NodePorts(mode: NFQLBConfig.TCPMode) throws {
            defer { Cluster.extDown() }
            var udp = ServiceSpec.udpEcho("np-udp", vip: "10.96.0.35", pods: ["n2p1", "n2p2"])
            udp.extraFields = ["nodePort: 30053"]
            var web6 = ServiceSpec(name: "np-web6", vip: "fd00:10:96::35", port: 80, endpoints: [.pod6("n2p1", port: 8080)])
            web6.extraFields = ["nodePort: 30084"]
            var udp6 = ServiceSpec(name: "np-udp6", vip: "fd00:10:96::35", port: 9000, proto: "udp", endpoints: [.pod6("n2p2", port: 9000)])
            udp6.extraFields = ["nodePort: 30054"]
            var config = Self.config(mode, [udp, web6, udp6])
            config.ipv6 = true
            let daemon = try DaemonProcess.start(config)
            defer { daemon.stop() }

            // node2 has no route to the outside client: an answer means node1 masqueraded the flow.
            var answeredBy: Set<String> = []
            let sourcePort = 27000 + 10 * (KernelTests.modes.firstIndex(of: mode) ?? 0)
            for i in 0..<2 {
                let client = try HelperClient.udp(from: "ext", to: Self.node1, port: 30053, sourcePort: sourcePort + i, interval: 0.3, duration: 0.85)
                defer { client.stop() }
                let events = client.finish(timeout: 5)
                let replies = events.filter { $0.kind == "reply" }
                #expect(replies.count == 3 && Set(replies.compactMap(\.pod)).count == 1 && replies.first?.words.dropFirst() == ["ping", "1"],
                        "UDP node-port flow \(i): \(events)\n\(daemon.stateDescription)")
                answeredBy.formUnion(replies.compactMap(\.pod))
            }
            #expect(answeredBy == ["n2p1", "n2p2"], "two flows, round robin over two pods: answered by \(answeredBy)")

            let node1v6 = "fd00:192:168:50::1"
            let web = try Client.curl(from: "node2", "http://[\(node1v6)]:30084/", maxTime: 2)
            #expect(web.succeeded && web.body == "n2p1", "IPv6 TCP node port from node2: \(web)\n\(daemon.stateDescription)")
            let client6 = try HelperClient.udp(from: "node2", to: node1v6, port: 30054, sourcePort: sourcePort + 5, interval: 0.3, duration: 0.85)
            defer { client6.stop() }
            let events6 = client6.finish(timeout: 5)
            let replies6 = events6.filter { $0.kind == "reply" }
            #expect(replies6.count == 3 && replies6.allSatisfy { $0.pod == "n2p2" }, "IPv6 UDP node port from node2: \(events6)")

            let metrics = try daemon.metrics()
            #expect(metrics.value("nfqlb_service_addresses", ["kind": "nodePort"]) == 3, "\(metrics)")
        }

        @Test("With externalTrafficPolicy Local the backend sees the client's address and only node1's endpoints are used; without one node1 drops, and the health-check node port answers 200 or 503",
              arguments: KernelTests.modes)
        func externalTrafficPolicyLocal(mode: NFQLBConfig.TCPMode) throws {
            defer { Cluster.extDown() }
            let local = Self.web("etp-local", vip: "10.96.0.31", pods: ["n1p1", "n2p1"],
                                 fields: ["nodePort: 30081", "externalTrafficPolicy: Local", "healthCheckNodePort: 30181"])
            let remote = Self.web("etp-remote", vip: "10.96.0.32", pods: ["n2p1"],
                                  fields: ["nodePort: 30082", "externalTrafficPolicy: Local", "healthCheckNodePort: 30182"])
            let daemon = try DaemonProcess.start(Self.config(mode, [local, remote]))
            defer { daemon.stop() }

            let replies = try Client.curlLoop(from: "ext", "http://\(Self.node1):30081/", count: 4, maxTime: 2)
            #expect(replies.count == 4 && replies.allSatisfy { $0.succeeded && $0.body == "n1p1" }, "\(replies)\n\(daemon.stateDescription)")
            // The client's own address reached the pod: n1p1 answered 192.168.60.10.
            let entries = try Cluster.conntrackEntries(toward: Self.node1)
            #expect(entries.contains { $0.contains("src=\(Cluster.ip("n1p1")) dst=\(Self.client) sport=8080") },
                    "the client's address was not kept: \(entries)")

            let dropped = try Client.curl(from: "ext", "http://\(Self.node1):30082/", maxTime: 1)
            #expect(dropped.exitCode == 28, "without a local endpoint the SYN must be dropped (curl times out, exit 28): \(dropped)")
            let counted = try daemon.metrics(within: 3) { $0.sum("nfqlb_flows_dropped_total", ["reason": "no_local_endpoint"]) >= 1 }
            #expect(counted.sum("nfqlb_flows_dropped_total", ["reason": "no_local_endpoint"]) >= 1, "\(counted)")

            var healthy = try Client.curl(from: "ext", "http://\(Self.node1):30181/", maxTime: 1, extra: ["-i"])
            var unhealthy = try Client.curl(from: "ext", "http://\(Self.node1):30182/", maxTime: 1, extra: ["-i"])
            _ = try eventually(timeout: 3, interval: 0.2) {
                healthy = try Client.curl(from: "ext", "http://\(Self.node1):30181/", maxTime: 1, extra: ["-i"])
                unhealthy = try Client.curl(from: "ext", "http://\(Self.node1):30182/", maxTime: 1, extra: ["-i"])
                return healthy.succeeded && unhealthy.succeeded
            }
            #expect(healthy.body.hasPrefix("HTTP/1.1 200") && healthy.body.contains("\"localEndpoints\":1")
                    && healthy.body.contains("\"name\":\"etp-local\""), "\(healthy)")
            #expect(unhealthy.body.hasPrefix("HTTP/1.1 503") && unhealthy.body.contains("\"localEndpoints\":0"), "\(unhealthy)")
        }

        @Test("A load-balancer IP balances clients inside loadBalancerSourceRanges and drops the others; an external IP is balanced for everyone",
              arguments: KernelTests.modes)
        func loadBalancerSourceRangesAndExternalIPs(mode: NFQLBConfig.TCPMode) throws {
            defer { Cluster.extDown() }
            let service = Self.web("lb-web", vip: "10.96.0.33", pods: ["n2p1", "n2p2"],
                                   fields: ["loadBalancerIPs: [\(Self.loadBalancerIP)]", "loadBalancerSourceRanges: [\(Self.client)/32]",
                                            "externalIPs: [\(Self.externalIP)]"])
            let daemon = try DaemonProcess.start(Self.config(mode, [service]))
            defer { daemon.stop() }

            let inside = try Client.curlLoop(from: "ext", "http://\(Self.loadBalancerIP)/", count: 4, maxTime: 2, extra: ["--interface", Self.client])
            #expect(inside.count == 4 && inside.allSatisfy { $0.succeeded } && Set(inside.map(\.body)) == ["n2p1", "n2p2"],
                    "\(inside)\n\(daemon.stateDescription)")
            let outside = try Client.curl(from: "ext", "http://\(Self.loadBalancerIP)/", maxTime: 1, extra: ["--interface", Self.otherClient])
            #expect(outside.exitCode == 28, "a client outside loadBalancerSourceRanges must be dropped (curl times out, exit 28): \(outside)")
            let counted = try daemon.metrics(within: 3) { $0.sum("nfqlb_flows_dropped_total", ["reason": "source_range"]) >= 1 }
            #expect(counted.sum("nfqlb_flows_dropped_total", ["reason": "source_range"]) >= 1, "\(counted)")

            let external = try Client.curlLoop(from: "ext", "http://\(Self.externalIP)/", count: 2, maxTime: 2, extra: ["--interface", Self.otherClient])
            #expect(external.count == 2 && external.allSatisfy { $0.succeeded && ["n2p1", "n2p2"].contains($0.body) }, "\(external)")
            let metrics = try daemon.metrics()
            #expect(metrics.value("nfqlb_service_addresses", ["kind": "loadBalancerIP"]) == 1, "\(metrics)")
            #expect(metrics.value("nfqlb_service_addresses", ["kind": "externalIP"]) == 1, "\(metrics)")
        }

        @Test("A Kubernetes LoadBalancer Service with externalTrafficPolicy Local: its node port and ingress IP keep the client and use node1's endpoint, its source ranges drop others, its health-check node port answers 200")
        func kubernetesLoadBalancerService() throws {
            defer { Cluster.extDown() }
            typealias K = KubernetesObjects
            let service = K.service("lb", clusterIP: "10.96.0.34", ports: [K.Port(name: "http", port: 80, targetPort: 8080, nodePort: 30090)],
                                    annotations: ["nfq-lb.io/strategy": "round-robin"],
                                    extraSpec: ["type": "LoadBalancer", "externalTrafficPolicy": "Local", "healthCheckNodePort": 30190,
                                                "loadBalancerSourceRanges": ["\(Self.client)/32"]],
                                    status: ["loadBalancer": ["ingress": [["ip": "192.168.70.30"]]]])
            let world = try APIWorld.start(mode: .mark, objects: [service, K.slice("lb-1", service: "lb", ports: [("http", 8080, "TCP")],
                                                                                 endpoints: K.ready(["n1p1", "n2p1"]))])
            defer { world.stop() }
            #expect(try world.waitForStatus { status in Set(status.services.compactMap(\.kind)) == ["nodePort", "loadBalancerIP"] },
                    "\(world.daemon.stateDescription)")

            let viaNodePort = try Client.curlLoop(from: "ext", "http://\(Self.node1):30090/", count: 3, maxTime: 2)
            #expect(viaNodePort.count == 3 && viaNodePort.allSatisfy { $0.succeeded && $0.body == "n1p1" }, "\(viaNodePort)")
            let viaLoadBalancer = try Client.curlLoop(from: "ext", "http://192.168.70.30/", count: 3, maxTime: 2, extra: ["--interface", Self.client])
            #expect(viaLoadBalancer.count == 3 && viaLoadBalancer.allSatisfy { $0.succeeded && $0.body == "n1p1" }, "\(viaLoadBalancer)")
            let entries = try Cluster.conntrackEntries(toward: "192.168.70.30")
            #expect(entries.contains { $0.contains("src=\(Cluster.ip("n1p1")) dst=\(Self.client) sport=8080") }, "client not kept: \(entries)")
            let outside = try Client.curl(from: "ext", "http://192.168.70.30/", maxTime: 1, extra: ["--interface", Self.otherClient])
            #expect(outside.exitCode == 28, "outside loadBalancerSourceRanges: \(outside)")

            var health = try Client.curl(from: "ext", "http://\(Self.node1):30190/", maxTime: 1, extra: ["-i"])
            _ = try eventually(timeout: 3, interval: 0.2) {
                health = try Client.curl(from: "ext", "http://\(Self.node1):30190/", maxTime: 1, extra: ["-i"])
                return health.succeeded
            }
            #expect(health.body.hasPrefix("HTTP/1.1 200") && health.body.contains("\"namespace\":\"default\",\"name\":\"lb\"")
                    && health.body.contains("\"localEndpoints\":1"), "\(health)")
        }
    }
}
