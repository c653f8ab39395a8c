import NFQLB
import Testing

extension KernelTests {
    /// Masqueraded services, and a pod whose service picks the pod itself (hairpin). A hairpin
    /// packet leaves the bridge by the port it came in on, which a Linux bridge allows only with
    /// hairpin mode on that port (kubelet and the bridge CNI set `hairpinMode: true`, and so does
    /// deploy/lib/cluster.sh); and the pod drops a packet from its own address unless the node
    /// masquerades it.
    @Suite("Masquerade and hairpin")
    struct Hairpin {
        static let masqueradedVIP = "10.96.0.20"
        static let plainVIP = "10.96.0.21"
        static let masqueradedOthersVIP = "10.96.0.25"

        init() throws { try KernelEnvironment.require() }

        static func services() -> [ServiceSpec] {
            var masqueraded = ServiceSpec.web("hairpin-masq", vip: masqueradedVIP, pods: ["n1p3"])
            masqueraded.masquerade = true
            let plain = ServiceSpec.web("hairpin-plain", vip: plainVIP, pods: ["n1p3"])
            var others = ServiceSpec.web("masq-others", vip: masqueradedOthersVIP, pods: ["n1p1", "n2p1"])
            others.masquerade = true
            return [masqueraded, plain, others]
        }

        @Test("The cluster's bridge ports are in hairpin mode, as a bridge CNI sets them")
        func clusterBridgePortsAreInHairpinMode() throws {
            for pod in Cluster.pods {
                #expect(try Cluster.hairpinIsOn(pod), "hairpin mode is off on the bridge port of \(pod) (deploy/lib/cluster.sh)")
            }
        }

        @Test("With masquerade a pod reaches itself through its VIP, and the node is the source it sees",
              arguments: KernelTests.modes)
        func podReachesItselfThroughServiceWithMasquerade(mode: NFQLBConfig.TCPMode) throws {
            try #require(try Cluster.hairpinIsOn("n1p3"), "n1p3's bridge port is not in hairpin mode")
            let daemon = try DaemonProcess.start(DaemonConfig(mode: mode, services: Self.services()))
            defer { daemon.stop() }

            let reply = try Client.curl(from: "n1p3", "http://\(Self.masqueradedVIP)/", maxTime: 3)
            #expect(reply.succeeded && reply.body == "n1p3", "\(reply)")
            #expect(reply.seconds < 1, "took \(reply.seconds) s (a lost first SYN?)")
            // Source NAT to the node's bridge address (the route's source toward the pod).
            let entries = try Cluster.conntrackEntries(toward: Self.masqueradedVIP)
            #expect(entries.contains { $0.contains("src=10.244.1.13 dst=10.244.1.1 sport=8080") }, "no masqueraded entry: \(entries)")
        }

        @Test("With masquerade a pod reaches backends on its node and on the other node, which see the node as the source",
              arguments: KernelTests.modes)
        func masqueradedServiceIsReachableFromAPod(mode: NFQLBConfig.TCPMode) throws {
            let daemon = try DaemonProcess.start(DaemonConfig(mode: mode, services: Self.services()))
            defer { daemon.stop() }

            let replies = try Client.curlLoop(from: "n1p3", "http://\(Self.masqueradedOthersVIP)/", count: 4, maxTime: 2)
            #expect(replies.failures.isEmpty, "failed requests: \(replies.failures)")
            #expect(replies.countsByBody == ["n1p1": 2, "n2p1": 2], "bodies: \(replies.map(\.body))")
            // The node's address toward each backend is the source: cni0's toward n1p1, eth0's toward n2p1.
            let entries = try Cluster.conntrackEntries(toward: Self.masqueradedOthersVIP)
            #expect(entries.contains { $0.contains("src=10.244.1.11 dst=10.244.1.1 sport=8080") }, "\(entries)")
            #expect(entries.contains { $0.contains("src=10.244.2.11 dst=\(Cluster.node1Address) sport=8080") }, "\(entries)")
            // From node1 itself (OUTPUT) too.
            let fromNode = try Client.curlLoop(from: "node1", "http://\(Self.masqueradedOthersVIP)/", count: 2, maxTime: 2)
            #expect(fromNode.failures.isEmpty && fromNode.countsByBody == ["n1p1": 1, "n2p1": 1], "\(fromNode)")
        }

        @Test("Without masquerade a pod cannot reach itself through its VIP (documented outcome: the client times out)",
              arguments: KernelTests.modes)
        func podCannotReachItselfWithoutMasquerade(mode: NFQLBConfig.TCPMode) throws {
            // With hairpin mode on, the failure below is the missing masquerade, not the bridge.
            try #require(try Cluster.hairpinIsOn("n1p3"), "n1p3's bridge port is not in hairpin mode")
            let daemon = try DaemonProcess.start(DaemonConfig(mode: mode, services: Self.services()))
            defer { daemon.stop() }

            // The DNATed SYN arrives from the pod's own address: the pod drops it as a martian.
            let reply = try Client.curl(from: "n1p3", "http://\(Self.plainVIP)/", maxTime: 2)
            #expect(reply.exitCode == 28, "want a timeout (curl exit 28), got \(reply)")
            // The daemon did balance it (to the pod itself): the failure is the kernel's.
            #expect(daemon.decisions(toward: Self.plainVIP).contains { $0.backend == Cluster.ip("n1p3") && $0.isNewFlow })
        }
    }
}
