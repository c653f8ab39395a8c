import NFQLB
import Testing

extension KernelTests {
    /// `answerPing`: "I cannot ping the service IP" is a newcomer's first confusion. A service
    /// that opts in gets its address answered by the node; one that does not stays silent, as
    /// with kube-proxy.
    @Suite("A pingable service address")
    struct Ping {
        static let silentVIP = "10.96.0.22"

        init() throws { try KernelEnvironment.require() }

        @Test("ping to a VIP with answerPing is answered from the VIP, from a pod and from the node; a VIP without it is not",
              arguments: KernelTests.modes)
        func answerPingIsOptIn(mode: NFQLBConfig.TCPMode) throws {
            var pingable = ServiceSpec.web(pods: KernelTests.threePods)
            pingable.answerPing = true
            let silent = ServiceSpec.web("silent", vip: Self.silentVIP, pods: ["n2p2"])
            let daemon = try DaemonProcess.start(DaemonConfig(mode: mode, services: [pingable, silent]))
            defer { daemon.stop() }

            for client in ["n1p3", "node1"] {
                let answered = try Cluster.exec(client, ["ping", "-n", "-c", "2", "-i", "0.2", "-W", "1", KernelTests.webVIP], timeout: 10)
                #expect(answered.status == 0, "ping from \(client): \(answered)")
                #expect(answered.stdout.contains("from \(KernelTests.webVIP)"), "ping from \(client): \(answered)")
                #expect(answered.stdout.contains("2 received"), "ping from \(client): \(answered)")
            }
            let unanswered = try Cluster.exec("n1p3", ["ping", "-n", "-c", "1", "-W", "1", Self.silentVIP], timeout: 10)
            #expect(unanswered.status != 0 && !unanswered.stdout.contains("1 received"), "\(unanswered)")
            let metrics = try daemon.metrics(within: 2) {
                $0.sum("nfqlb_pings_total", ["result": "answered"]) >= 4 && $0.sum("nfqlb_pings_total", ["result": "passed"]) >= 1
            }
            #expect(metrics.sum("nfqlb_pings_total", ["result": "answered"]) >= 4, "\(metrics)")
            #expect(metrics.sum("nfqlb_pings_total", ["result": "passed"]) >= 1, "\(metrics)")
            // The service itself is untouched by the pings.
            let ok = try Client.curl(from: "n1p3", "http://\(KernelTests.webVIP)/")
            #expect(ok.succeeded && KernelTests.threePods.contains(ok.body), "\(ok)")
        }
    }
}
