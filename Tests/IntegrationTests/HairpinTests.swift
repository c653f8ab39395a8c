import NFQLB
import Testing

extension KernelTests {
    /// Masqueraded services, and a pod whose service picks the pod itself (hairpin). A hairpin
    /// packet leaves the bridge by the port it came in on, which a Linux bridge allows only with
    /// hairpin mode on that port (kubelet and the bridge CNI set `hairpinMode: true`, and so does
    /// testbed/lib/cluster.sh); and the pod drops a packet from its own address unless the node
    /// masquerades it. kube-proxy masquerades every flow whose source is the endpoint chosen for
    /// it, whatever the service says, and so does nfq-lb.
    @Suite("Masquerade and hairpin")
    struct Hairpin {
        static let masqueradedVIP = "10.96.0.20"
        static let plainVIP = "10.96.0.21"
        static let masqueradedUDPVIP = "10.96.0.22"
        static let plainUDPVIP = "10.96.0.23"
        static let masqueradedOthersUDPVIP = "10.96.0.24"
        static let masqueradedOthersVIP = "10.96.0.25"
        /// node1's address on the pods' bridge (cni0): the route's source toward its own pods.
        static let bridgeAddress = "10.244.1.1"

        init() throws { try KernelEnvironment.require() }

        static func services() -> [ServiceSpec] {
            var masqueraded = ServiceSpec.web("hairpin-masq", vip: masqueradedVIP, pods: ["n1p3"])
            masqueraded.masquerade = true
            let plain = ServiceSpec.web("hairpin-plain", vip: plainVIP, pods: ["n1p3"])
            var masqueradedUDP = ServiceSpec.udpEcho("hairpin-udp-masq", vip: masqueradedUDPVIP, pods: ["n1p3"])
            masqueradedUDP.masquerade = true
            let plainUDP = ServiceSpec.udpEcho("hairpin-udp-plain", vip: plainUDPVIP, pods: ["n1p3"])
            var others = ServiceSpec.web("masq-others", vip: masqueradedOthersVIP, pods: ["n1p1", "n2p1"])
            others.masquerade = true
            var othersUDP = ServiceSpec.udpEcho("masq-others-udp", vip: masqueradedOthersUDPVIP, pods: ["n1p1", "n2p1"])
            othersUDP.masquerade = true
            return [masqueraded, plain, masqueradedUDP, plainUDP, others, othersUDP]
        }

        /// A UDP exchange of three pings from a fixed port; the events the client printed.
        static func udpExchange(from client: String, to vip: String, sourcePort: Int) throws -> [ClientEvent] {
            let udp = try HelperClient.udp(from: client, to: vip, port: 9000, sourcePort: sourcePort, interval: 0.3, duration: 0.85)
            defer { udp.stop() }
            return udp.finish(timeout: 5)
        }

        @Test("The cluster's bridge ports are in hairpin mode, as a bridge CNI sets them")
        func clusterBridgePortsAreInHairpinMode() throws {
            for pod in Cluster.pods {
                #expect(try Cluster.hairpinIsOn(pod), "hairpin mode is off on the bridge port of \(pod) (testbed/lib/cluster.sh)")
            }
        }

        @Test("A pod reaches itself over TCP through its VIP, with or without masquerade, and sees the node's bridge address as the source",
              arguments: KernelTests.modes, [true, false])
        func podReachesItselfOverTCP(mode: NFQLBConfig.TCPMode, masquerade: Bool) throws {
            try #require(try Cluster.hairpinIsOn("n1p3"), "n1p3's bridge port is not in hairpin mode")
            let daemon = try DaemonProcess.start(DaemonConfig(mode: mode, services: Self.services()))
            defer { daemon.stop() }
            let vip = masquerade ? Self.masqueradedVIP : Self.plainVIP

            let reply = try Client.curl(from: "n1p3", "http://\(vip)/", maxTime: 3)
            #expect(reply.succeeded && reply.body == "n1p3", "\(reply)")
            #expect(reply.seconds < 1, "took \(reply.seconds) s (a lost first SYN?)")
            // The reply tuple: the pod answers the node's bridge address, so that is the source it saw.
            let entries = try Cluster.conntrackEntries(toward: vip)
            #expect(entries.contains { $0.contains("src=\(Cluster.ip("n1p3")) dst=\(Self.bridgeAddress) sport=8080") },
                    "no masqueraded entry: \(entries)")
        }

        @Test("A pod reaches itself over UDP through its VIP, with or without masquerade, and sees the node's bridge address as the source",
              arguments: KernelTests.modes, [true, false])
        func podReachesItselfOverUDP(mode: NFQLBConfig.TCPMode, masquerade: Bool) throws {
            try #require(try Cluster.hairpinIsOn("n1p3"), "n1p3's bridge port is not in hairpin mode")
            let daemon = try DaemonProcess.start(DaemonConfig(mode: mode, services: Self.services()))
            defer { daemon.stop() }
            let vip = masquerade ? Self.masqueradedUDPVIP : Self.plainUDPVIP
            let sourcePort = KernelTests.ClientPorts.hairpinUDP + 2 * (KernelTests.modes.firstIndex(of: mode) ?? 0) + (masquerade ? 1 : 0)

            let events = try Self.udpExchange(from: "n1p3", to: vip, sourcePort: sourcePort)
            // Every ping answered, the first one included (no datagram lost while the flow was new).
            let replies = events.filter { $0.kind == "reply" }
            #expect(replies.count == 3 && replies.allSatisfy { $0.pod == "n1p3" }, "\(events)")
            #expect(replies.first?.words == ["n1p3", "ping", "1"], "the first datagram went unanswered: \(events)")
            let entries = try Cluster.conntrackEntries(toward: vip)
            #expect(entries.contains { $0.contains("src=\(Cluster.ip("n1p3")) dst=\(Self.bridgeAddress) sport=9000") },
                    "no masqueraded entry: \(entries)")
        }

        @Test("With masquerade a pod reaches TCP backends on its node and on the other node, which see the node as the source",
              arguments: KernelTests.modes)
        func masqueradedServiceIsReachableFromAPod(mode: NFQLBConfig.TCPMode) throws {
            let daemon = try DaemonProcess.start(DaemonConfig(mode: mode, services: Self.services()))
            defer { daemon.stop() }

            let replies = try Client.curlLoop(from: "n1p3", "http://\(Self.masqueradedOthersVIP)/", count: 4, maxTime: 2)
            #expect(replies.failures.isEmpty, "failed requests: \(replies.failures)")
            #expect(replies.countsByBody == ["n1p1": 2, "n2p1": 2], "bodies: \(replies.map(\.body))")
            // The node's address toward each backend is the source: cni0's toward n1p1, eth0's toward n2p1.
            let entries = try Cluster.conntrackEntries(toward: Self.masqueradedOthersVIP)
            #expect(entries.contains { $0.contains("src=10.244.1.11 dst=\(Self.bridgeAddress) sport=8080") }, "\(entries)")
            #expect(entries.contains { $0.contains("src=10.244.2.11 dst=\(Cluster.node1Address) sport=8080") }, "\(entries)")
            // From node1 itself (OUTPUT) too.
            let fromNode = try Client.curlLoop(from: "node1", "http://\(Self.masqueradedOthersVIP)/", count: 2, maxTime: 2)
            #expect(fromNode.failures.isEmpty && fromNode.countsByBody == ["n1p1": 1, "n2p1": 1], "\(fromNode)")
        }

        @Test("With masquerade a pod and the node reach UDP backends on both nodes, every datagram answered, and the backends see the node as the source",
              arguments: KernelTests.modes)
        func masqueradedUDPServiceIsReachable(mode: NFQLBConfig.TCPMode) throws {
            let daemon = try DaemonProcess.start(DaemonConfig(mode: mode, services: Self.services()))
            defer { daemon.stop() }
            let firstPort = KernelTests.ClientPorts.masqueradedUDP + 10 * (KernelTests.modes.firstIndex(of: mode) ?? 0)

            var answeredBy: [String: Int] = [:]
            for (i, client) in ["n1p3", "n1p3", "node1", "node1"].enumerated() {
                let events = try Self.udpExchange(from: client, to: Self.masqueradedOthersUDPVIP, sourcePort: firstPort + i)
                let replies = events.filter { $0.kind == "reply" }
                #expect(replies.count == 3 && Set(replies.compactMap(\.pod)).count == 1, "flow \(i) from \(client): \(events)")
                #expect(replies.first?.words.dropFirst() == ["ping", "1"], "flow \(i) from \(client): first datagram unanswered: \(events)")
                if let pod = replies.first?.pod { answeredBy[pod, default: 0] += 1 }
            }
            #expect(answeredBy == ["n1p1": 2, "n2p1": 2], "flows per backend: \(answeredBy)")
            let entries = try Cluster.conntrackEntries(toward: Self.masqueradedOthersUDPVIP)
            #expect(entries.contains { $0.contains("src=10.244.1.11 dst=\(Self.bridgeAddress) sport=9000") }, "\(entries)")
            #expect(entries.contains { $0.contains("src=10.244.2.11 dst=\(Cluster.node1Address) sport=9000") }, "\(entries)")
        }
    }
}
