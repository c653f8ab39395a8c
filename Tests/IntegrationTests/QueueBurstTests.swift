import Foundation
import NFQLB
import Testing

extension KernelTests {
    /// Every packet the kernel queues gets exactly one verdict, whatever the batch holds: a
    /// burst of datagrams near 64 KB (whose rewritten verdicts carry the whole datagram back)
    /// must not leave packets in the kernel queue without an answer.
    @Suite("Queue bursts")
    struct QueueBurst {
        init() throws { try KernelEnvironment.require() }

        @Test("Three bursts of 64 UDP datagrams of 60 KB leave no packet waiting in the kernel queue, and TCP and UDP work at once",
              arguments: KernelTests.modes)
        func largeDatagramBurstsAreAllAnswered(mode: NFQLBConfig.TCPMode) throws {
            let pods = KernelTests.threePods
            let daemon = try DaemonProcess.start(DaemonConfig(
                mode: mode, services: [.web(pods: pods), .dns(pods: pods), .udpEcho(pods: pods)]))
            defer { daemon.stop() }

            // 3 bursts of 64 sockets, each sending one 60 KB datagram to the UDP VIP.
            let burst = try Cluster.exec("n1p3", ["python3", "-c", Self.burstScript, KernelTests.udpEchoVIP, "9000"], timeout: 20)
            try #require(burst.succeeded, "burst sender failed: \(burst)")
            #expect(burst.trimmedStdout == "sent 192", "burst sender: \(burst)")

            var lastQueues = ""
            let drained = try eventually(timeout: 5, interval: 0.1) {
                lastQueues = try Self.kernelQueues()
                return Self.queueTotals(lastQueues).allSatisfy { $0 == 0 }
            }
            #expect(drained, "packets still in the kernel queue 5 s after the bursts:\n\(lastQueues)\n\(daemon.stateDescription)")
            #expect(Self.queueTotals(lastQueues).count == 2, "node1's queues 0 and 1 are not both bound:\n\(lastQueues)")

            // New flows work at once, over TCP and UDP.
            let web = try Client.curl(from: "n1p3", "http://\(KernelTests.webVIP)/", maxTime: 2)
            #expect(web.exitCode == 0 && pods.contains(web.body), "TCP through the VIP after the bursts: \(web)")
            let dns = try Client.dig(from: "n1p3", server: KernelTests.dnsVIP)
            let answer = dns.trimmedStdout.replacingOccurrences(of: "\"", with: "")
            #expect(dns.succeeded && pods.contains(answer), "UDP through the VIP after the bursts: \(dns)")
            #expect(!daemon.log.contains("Message too long"), "a verdict send failed:\n\(daemon.stateDescription)")
        }

        @Test("With copyRange 128, mode mark balances UDP datagrams longer than 128 bytes and TCP flows from their headers")
        func truncatedCopiesAreBalancedInModeMark() throws {
            let pods = KernelTests.threePods
            var config = DaemonConfig(mode: .mark, services: [.web(pods: pods), .udpEcho(pods: pods)])
            config.copyRange = 128
            let daemon = try DaemonProcess.start(config)
            defer { daemon.stop() }

            let echo = try Cluster.exec("n1p3", ["python3", "-c", Self.echoScript, KernelTests.udpEchoVIP, "9000"], timeout: 10)
            #expect(echo.succeeded, "UDP datagrams of 1000 bytes through the VIP with copyRange 128: \(echo)\n\(daemon.stateDescription)")
            #expect(Set(echo.stdout.split(separator: "\n").map(String.init)).isSubset(of: Set(pods)) && echo.stdout.split(separator: "\n").count == 6,
                    "answers: \(echo)")
            for _ in 0..<3 {
                let web = try Client.curl(from: "n1p3", "http://\(KernelTests.webVIP)/", maxTime: 2)
                #expect(web.exitCode == 0 && pods.contains(web.body), "TCP through the VIP with copyRange 128: \(web)")
            }
            let metrics = try daemon.metrics(within: 1) { $0.sum("nfqlb_packets_malformed_total") == 0 }
            #expect(metrics.sum("nfqlb_packets_malformed_total") == 0, "truncated copies were counted malformed:\n\(metrics)")
        }

        /// Six 1000-byte datagrams from six sockets; prints the pod that answered each (2 s each).
        static let echoScript = """
            import socket, sys
            host, port = sys.argv[1], int(sys.argv[2])
            for i in range(6):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.settimeout(2)
                s.sendto(b"y" * 1000, (host, port))
                data, _ = s.recvfrom(65535)
                print(data.split(b" ")[0].decode())
                s.close()
            """

        /// Bounded: 192 datagrams, no waiting for answers.
        static let burstScript = """
            import socket, sys, time
            host, port = sys.argv[1], int(sys.argv[2])
            sent = 0
            for burst in range(3):
                sockets = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(64)]
                for s in sockets:
                    s.sendto(b"x" * 60000, (host, port))
                    sent += 1
                for s in sockets:
                    s.close()
                time.sleep(0.2)
            print("sent", sent)
            """

        /// `/proc/net/netfilter/nfnetlink_queue` as node1's netns sees it.
        static func kernelQueues() throws -> String {
            try Cluster.check("node1", ["cat", "/proc/net/netfilter/nfnetlink_queue"]).stdout
        }

        /// The `queue_total` column (packets waiting for a verdict) of each bound queue.
        static func queueTotals(_ text: String) -> [Int] {
            text.split(separator: "\n").compactMap { line in
                let fields = line.split(whereSeparator: { $0 == " " })
                return fields.count > 2 ? Int(fields[2]) : nil
            }
        }
    }
}
