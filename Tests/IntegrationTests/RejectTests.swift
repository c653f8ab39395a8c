import NFQLB
import Testing

extension KernelTests {
    /// Flows with nowhere to go are refused at once, as kube-proxy does: a TCP reset or an
    /// ICMP port unreachable, never a silent drop and a client timeout.
    @Suite("No endpoint: rejected at once")
    struct Rejects {
        static let emptyVIP = "10.96.0.22"

        init() throws { try KernelEnvironment.require() }

        static func config(_ mode: NFQLBConfig.TCPMode) -> DaemonConfig {
            DaemonConfig(mode: mode, services: [
                .web(pods: KernelTests.threePods),
                ServiceSpec(name: "not-ready", vip: emptyVIP, port: 80, endpoints: [
                    .pod("n1p1", port: 8080, ready: false), .pod("n2p1", port: 8080, ready: false),
                ]),
                ServiceSpec(name: "not-ready-udp", vip: emptyVIP, port: 53, proto: "udp", endpoints: [
                    .pod("n1p1", port: 53, ready: false),
                ]),
            ])
        }

        @Test("A service whose endpoints are all not ready refuses a TCP connection within 1 s (RST, curl exit 7)",
              arguments: KernelTests.modes)
        func serviceWithoutReadyEndpointsRefusesTCP(mode: NFQLBConfig.TCPMode) throws {
            let daemon = try DaemonProcess.start(Self.config(mode))
            defer { daemon.stop() }

            let reply = try Client.curl(from: "n1p3", "http://\(Self.emptyVIP)/", maxTime: 5)
            #expect(reply.exitCode == 7, "want connection refused (curl exit 7), got \(reply)")
            #expect(reply.seconds < 1, "took \(reply.seconds) s")
            #expect(reply.error.contains("Couldn't connect") || reply.error.contains("refused"), "\(reply)")
            let metrics = try daemon.metrics(within: 2) { $0.sum("nfqlb_flows_rejected_total", ["reason": "no_endpoint"]) >= 1 }
            #expect(metrics.sum("nfqlb_flows_rejected_total", ["reason": "no_endpoint"]) >= 1, "\(metrics)")
            // The service next to it still works.
            let ok = try Client.curl(from: "n1p3", "http://\(KernelTests.webVIP)/")
            #expect(ok.succeeded && KernelTests.threePods.contains(ok.body), "\(ok)")
        }

        @Test("A TCP address or port in the service range that no service owns is refused within 1 s (RST, curl exit 7)",
              arguments: KernelTests.modes)
        func unownedServiceAddressRefusesTCP(mode: NFQLBConfig.TCPMode) throws {
            let daemon = try DaemonProcess.start(Self.config(mode))
            defer { daemon.stop() }

            for url in ["http://10.96.0.99/", "http://\(KernelTests.webVIP):81/"] {
                let reply = try Client.curl(from: "n1p3", url, maxTime: 5)
                #expect(reply.exitCode == 7, "\(url): want connection refused (curl exit 7), got \(reply)")
                #expect(reply.seconds < 1, "\(url) took \(reply.seconds) s")
            }
            let metrics = try daemon.metrics(within: 2) { $0.sum("nfqlb_flows_rejected_total", ["reason": "unallocated"]) >= 2 }
            #expect(metrics.sum("nfqlb_flows_rejected_total", ["reason": "unallocated"]) >= 2, "\(metrics)")
        }

        @Test("A UDP service without endpoints answers port unreachable: dig fails within 1 s with connection refused",
              arguments: KernelTests.modes)
        func udpServiceWithoutEndpointsAnswersPortUnreachable(mode: NFQLBConfig.TCPMode) throws {
            let daemon = try DaemonProcess.start(Self.config(mode))
            defer { daemon.stop() }

            for server in [Self.emptyVIP, "10.96.0.99"] {
                let result = try Client.dig(from: "n1p3", server: server)
                #expect(result.status != 0, "dig @\(server) succeeded: \(result)")
                #expect(result.stdout.contains("connection refused"), "dig @\(server): want 'connection refused', got \(result)")
                #expect(result.seconds < 1, "dig @\(server) took \(result.seconds) s")
            }
        }
    }
}
