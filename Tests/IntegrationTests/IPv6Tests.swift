import Foundation
import NFQLB
import Testing

extension KernelTests {
    /// The IPv4 suites' balancing, UDP, reject and hairpin cases over IPv6, in every mode, on
    /// the dual-stack namespace cluster (pods fd00:10:244:N::(10+i), service range
    /// fd00:10:96::/108, the hooks' ip6tables rules and, in mode mark, the `ip6 nfqlb` table),
    /// plus a dual-stack service reached on both of its VIPs (in the file config a dual-stack
    /// service is two services, one per family; the Kubernetes source maps `clusterIPs` so). One daemon per test serves every
    /// IPv6 service of the suite, so each mode's cases share its start-up cost.
    @Suite("IPv6 and dual stack")
    struct IPv6 {
        static let webVIP = "fd00:10:96::10"
        static let udpEchoVIP = "fd00:10:96::90"
        static let emptyVIP = "fd00:10:96::22"
        static let unownedVIP = "fd00:10:96::99"
        static let masqueradedVIP = "fd00:10:96::20"
        static let plainHairpinVIP = "fd00:10:96::21"
        static let masqueradedUDPVIP = "fd00:10:96::23"
        static let masqueradedOthersVIP = "fd00:10:96::25"
        /// The dual-stack service: one IPv4 and one IPv6 VIP, each over its family's endpoints.
        static let dualVIP4 = "10.96.0.30"
        static let dualVIP6 = "fd00:10:96::30"
        /// node1's IPv6 addresses: on the pods' bridge (cni0) and on the node link (eth0).
        static let bridgeAddress = "fd00:10:244:1::1"
        static let node1Address = "fd00:192:168:50::1"
        /// Fixed UDP client ports: + 10 * mode index + 0..<10.
        static let udpPorts = 26000

        init() throws { try KernelEnvironment.require() }

        static func config(_ mode: NFQLBConfig.TCPMode) -> DaemonConfig {
            let pods = KernelTests.threePods
            var masqueraded = ServiceSpec(name: "v6-hairpin-masq", vip: masqueradedVIP, port: 80,
                                          endpoints: [.pod6("n1p3", port: 8080)])
            masqueraded.masquerade = true
            var masqueradedUDP = ServiceSpec(name: "v6-hairpin-udp-masq", vip: masqueradedUDPVIP, port: 9000, proto: "udp",
                                             endpoints: [.pod6("n1p3", port: 9000)])
            masqueradedUDP.masquerade = true
            var others = ServiceSpec(name: "v6-masq-others", vip: masqueradedOthersVIP, port: 80,
                                     endpoints: [.pod6("n1p1", port: 8080), .pod6("n2p1", port: 8080)])
            others.masquerade = true
            var config = DaemonConfig(mode: mode, services: [
                ServiceSpec(name: "v6-web", vip: webVIP, port: 80, endpoints: pods.map { .pod6($0, port: 8080) }),
                ServiceSpec(name: "v6-udp-echo", vip: udpEchoVIP, port: 9000, proto: "udp", endpoints: pods.map { .pod6($0, port: 9000) }),
                ServiceSpec(name: "v6-not-ready", vip: emptyVIP, port: 80, endpoints: [.pod6("n1p1", port: 8080, ready: false)]),
                ServiceSpec(name: "v6-not-ready-udp", vip: emptyVIP, port: 53, proto: "udp", endpoints: [.pod6("n1p1", port: 53, ready: false)]),
                ServiceSpec(name: "v6-hairpin-plain", vip: plainHairpinVIP, port: 80, endpoints: [.pod6("n1p3", port: 8080)]),
                masqueraded, masqueradedUDP, others,
                ServiceSpec(name: "dual-web-v4", vip: dualVIP4, port: 80, endpoints: ["n1p1", "n2p1"].map { .pod($0, port: 8080) }),
                ServiceSpec(name: "dual-web-v6", vip: dualVIP6, port: 80, endpoints: ["n1p2", "n2p2"].map { .pod6($0, port: 8080) }),
            ])
            config.ipv6 = true
            return config
        }

        static func url(_ vip: String) -> String { "http://[\(vip)]/" }

        static func udpExchange(from client: String, to vip: String, sourcePort: Int) throws -> [ClientEvent] {
            let udp = try HelperClient.udp(from: client, to: vip, port: 9000, sourcePort: sourcePort, interval: 0.3, duration: 0.85)
            defer { udp.stop() }
            return udp.finish(timeout: 5)
        }

        static func firstPort(_ mode: NFQLBConfig.TCPMode) -> Int { udpPorts + 10 * (KernelTests.modes.firstIndex(of: mode) ?? 0) }

        @Test("A pod and node1 itself reach IPv6 backends on both nodes through an IPv6 VIP, in round-robin turns",
              arguments: KernelTests.modes)
        func podAndNodeReachIPv6Backends(mode: NFQLBConfig.TCPMode) throws {
            let daemon = try DaemonProcess.start(Self.config(mode))
            defer { daemon.stop() }
            let order = KernelTests.threePods

            let replies = try Client.curlLoop(from: "n1p3", Self.url(Self.webVIP), count: 9, extra: ["-g"])
            #expect(replies.failures.isEmpty, "failed requests: \(replies.failures)")
            #expect(replies.countsByBody == ["n1p1": 3, "n1p2": 3, "n2p1": 3], "bodies: \(replies.map(\.body))")
            #expect(isRotation(replies.map(\.body), of: order), "not in round-robin turns: \(replies.map(\.body))")
            let fromNode = try Client.curlLoop(from: "node1", Self.url(Self.webVIP), count: 3, extra: ["-g"])
            #expect(fromNode.failures.isEmpty && fromNode.countsByBody == ["n1p1": 1, "n1p2": 1, "n2p1": 1], "\(fromNode)")
            let metrics = try daemon.metrics(within: 2) { metrics in
                order.allSatisfy { metrics.sum("nfqlb_endpoint_new_flows_total", ["service": "v6-web", "endpoint": "[\(Cluster.ip6($0))]:8080"]) == 4 }
            }
            for pod in order {
                #expect(metrics.sum("nfqlb_endpoint_new_flows_total", ["service": "v6-web", "endpoint": "[\(Cluster.ip6(pod))]:8080"]) == 4,
                        "new flows of \(pod)\n\(metrics)")
            }
        }

        @Test("UDP flows through an IPv6 VIP are answered by the pods in turn, every datagram of a flow by one pod, the first included",
              arguments: KernelTests.modes)
        func udpThroughAnIPv6VIP(mode: NFQLBConfig.TCPMode) throws {
            let daemon = try DaemonProcess.start(Self.config(mode))
            defer { daemon.stop() }

            var answeredBy: [String] = []
            for (i, client) in ["n1p3", "n1p3", "n1p3", "node1"].enumerated() {
                let events = try Self.udpExchange(from: client, to: Self.udpEchoVIP, sourcePort: Self.firstPort(mode) + i)
                let replies = events.filter { $0.kind == "reply" }
                #expect(replies.count == 3 && Set(replies.compactMap(\.pod)).count == 1, "flow \(i) from \(client): \(events)")
                #expect(replies.first?.words.dropFirst() == ["ping", "1"], "flow \(i) from \(client): first datagram unanswered: \(events)")
                if let pod = replies.first?.pod { answeredBy.append(pod) }
            }
            #expect(isRotation(answeredBy, of: KernelTests.threePods), "flows answered by \(answeredBy)")
        }

        @Test("An IPv6 service without ready endpoints, and an unowned IPv6 service address, are refused at once: TCP reset, ICMPv6 port unreachable",
              arguments: KernelTests.modes)
        func ipv6RejectsAreImmediate(mode: NFQLBConfig.TCPMode) throws {
            let daemon = try DaemonProcess.start(Self.config(mode))
            defer { daemon.stop() }

            for vip in [Self.emptyVIP, Self.unownedVIP] {
                let reply = try Client.curl(from: "n1p3", Self.url(vip), maxTime: 5, extra: ["-g"])
                #expect(reply.exitCode == 7, "\(vip): want connection refused (curl exit 7), got \(reply)")
                #expect(reply.seconds < 1, "\(vip) took \(reply.seconds) s")
                // dig's socket is connected: the ICMPv6 port unreachable fails its receive at once.
                let result = try Client.dig(from: "n1p3", server: vip)
                #expect(result.status != 0, "dig @\(vip) succeeded: \(result)")
                #expect(result.stdout.contains("connection refused"), "dig @\(vip): want 'connection refused', got \(result)")
                #expect(result.seconds < 1, "dig @\(vip) took \(result.seconds) s")
            }
            let metrics = try daemon.metrics(within: 2) {
                $0.sum("nfqlb_flows_rejected_total", ["reason": "no_endpoint"]) >= 2 && $0.sum("nfqlb_flows_rejected_total", ["reason": "unallocated"]) >= 2
            }
            #expect(metrics.sum("nfqlb_flows_rejected_total", ["reason": "no_endpoint"]) >= 2, "\(metrics)")
            #expect(metrics.sum("nfqlb_flows_rejected_total", ["reason": "unallocated"]) >= 2, "\(metrics)")
        }

        @Test("A pod reaches itself through an IPv6 VIP (hairpin), TCP with and without masquerade and masqueraded UDP, seen from the node's bridge address",
              arguments: KernelTests.modes)
        func ipv6Hairpin(mode: NFQLBConfig.TCPMode) throws {
            try #require(try Cluster.hairpinIsOn("n1p3"), "n1p3's bridge port is not in hairpin mode")
            let daemon = try DaemonProcess.start(Self.config(mode))
            defer { daemon.stop() }

            for vip in [Self.masqueradedVIP, Self.plainHairpinVIP] {
                let reply = try Client.curl(from: "n1p3", Self.url(vip), maxTime: 3, extra: ["-g"])
                #expect(reply.succeeded && reply.body == "n1p3", "\(vip): \(reply)")
                #expect(reply.seconds < 1, "\(vip) took \(reply.seconds) s (a lost first SYN?)")
                let entries = try Cluster.conntrackEntries(toward: vip)
                #expect(entries.contains { $0.contains("src=\(Cluster.ip6("n1p3")) dst=\(Self.bridgeAddress) sport=8080") },
                        "\(vip): no masqueraded entry: \(entries)")
            }
            let events = try Self.udpExchange(from: "n1p3", to: Self.masqueradedUDPVIP, sourcePort: Self.firstPort(mode) + 5)
            let replies = events.filter { $0.kind == "reply" }
            #expect(replies.count == 3 && replies.allSatisfy { $0.pod == "n1p3" }, "\(events)")
            #expect(replies.first?.words == ["n1p3", "ping", "1"], "the first datagram went unanswered: \(events)")
            let entries = try Cluster.conntrackEntries(toward: Self.masqueradedUDPVIP)
            #expect(entries.contains { $0.contains("src=\(Cluster.ip6("n1p3")) dst=\(Self.bridgeAddress) sport=9000") }, "\(entries)")
        }

        @Test("With masquerade a pod reaches IPv6 backends on both nodes, which see node1's IPv6 address toward them as the source",
              arguments: KernelTests.modes)
        func ipv6MasqueradeToBothNodes(mode: NFQLBConfig.TCPMode) throws {
            let daemon = try DaemonProcess.start(Self.config(mode))
            defer { daemon.stop() }

            let replies = try Client.curlLoop(from: "n1p3", Self.url(Self.masqueradedOthersVIP), count: 4, maxTime: 2, extra: ["-g"])
            #expect(replies.failures.isEmpty, "failed requests: \(replies.failures)")
            #expect(replies.countsByBody == ["n1p1": 2, "n2p1": 2], "bodies: \(replies.map(\.body))")
            let entries = try Cluster.conntrackEntries(toward: Self.masqueradedOthersVIP)
            #expect(entries.contains { $0.contains("src=\(Cluster.ip6("n1p1")) dst=\(Self.bridgeAddress) sport=8080") }, "\(entries)")
            #expect(entries.contains { $0.contains("src=\(Cluster.ip6("n2p1")) dst=\(Self.node1Address) sport=8080") }, "\(entries)")
        }

        @Test("A dual-stack service is reached on both of its VIPs, each balanced over the endpoints of its own family",
              arguments: KernelTests.modes)
        func dualStackServiceOnBothVIPs(mode: NFQLBConfig.TCPMode) throws {
            let daemon = try DaemonProcess.start(Self.config(mode))
            defer { daemon.stop() }

            let v4 = try Client.curlLoop(from: "n1p3", "http://\(Self.dualVIP4)/", count: 4)
            #expect(v4.failures.isEmpty && v4.countsByBody == ["n1p1": 2, "n2p1": 2], "IPv4 VIP: \(v4)")
            let v6 = try Client.curlLoop(from: "n1p3", Self.url(Self.dualVIP6), count: 4, extra: ["-g"])
            #expect(v6.failures.isEmpty && v6.countsByBody == ["n1p2": 2, "n2p2": 2], "IPv6 VIP: \(v6)")
            // The backends saw the client's own address of each family (no masquerade).
            let entries4 = try Cluster.conntrackEntries(toward: Self.dualVIP4)
            #expect(entries4.contains { $0.contains("src=\(Cluster.ip("n1p3")) dst=\(Self.dualVIP4)") }, "\(entries4)")
            let entries6 = try Cluster.conntrackEntries(toward: Self.dualVIP6)
            #expect(entries6.contains { $0.contains("src=\(Cluster.ip6("n1p3")) dst=\(Self.dualVIP6)") }, "\(entries6)")
        }

        /// The elements of mode mark's IPv6 map, as "address . port" strings.
        static func ip6MapElements() throws -> [String] {
            let listing = try Cluster.exec("node1", ["nft", "-nn", "list", "map", "ip6", "nfqlb", "endpoints"])
            guard listing.succeeded else { return [] }
            let pattern = try NSRegularExpression(pattern: #"fd00:[0-9a-f:]+ \. \d+"#)
            let text = listing.stdout
            return pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { match in
                Range(match.range, in: text).map { String(text[$0]) }
            }.sorted()
        }

        @Test("Mode mark heals the ip6 map as the ip one: elements flushed behind the daemon's back are back within 1 s and new IPv6 connections succeed")
        func modeMarkHealsTheIPv6Map() throws {
            let daemon = try DaemonProcess.start(Self.config(.mark))
            defer { daemon.stop() }
            let web = Set(KernelTests.threePods.map { "\(Cluster.ip6($0)) . 8080" })
            let filled = try eventually(timeout: 2, interval: 0.02) { web.isSubset(of: Set(try Self.ip6MapElements())) }
            try #require(filled, "the ip6 map holds \((try? Self.ip6MapElements()) ?? []), want at least \(web.sorted())")
            let expected = try Self.ip6MapElements()
            #expect(!expected.contains { $0.hasPrefix("10.") }, "an IPv4 endpoint in the ip6 map: \(expected)")

            try Cluster.check("node1", ["nft", "flush", "map", "ip6", "nfqlb", "endpoints"])
            let healed = try eventually(timeout: 1, interval: 0.02) { try Self.ip6MapElements() == expected }
            #expect(healed, "1 s after the flush the ip6 map holds \((try? Self.ip6MapElements()) ?? [])\n\(daemon.stateDescription)")
            let replies = try Client.curlLoop(from: "n1p3", Self.url(Self.webVIP), count: 3, maxTime: 2, extra: ["-g"])
            #expect(replies.failures.isEmpty && replies.allSatisfy { $0.seconds < 0.9 }, "\(replies)")
            let metrics = try daemon.metrics(within: 2) { $0.sum("nfqlb_endpoint_map_repairs_total", ["family": "ipv6"]) >= 1 }
            #expect(metrics.sum("nfqlb_endpoint_map_repairs_total", ["family": "ipv6"]) >= 1, "\(metrics)")
            #expect(metrics.sum("nfqlb_endpoint_map_repairs_total", ["family": "ipv4"]) == 0, "the IPv4 map was not damaged: \(metrics)")
        }
    }
}
