import Foundation
import NFQLB
import Testing

extension KernelTests {
    /// The EEXIST policy (docs/ARCHITECTURE.md, "Retransmits and port reuse"): a client reusing a
    /// port replaces the old flow's entry; a retransmitted SYN keeps the first SYN's backend.
    @Suite("Retransmits and client port reuse")
    struct RetransmitsAndPortReuse {
        init() throws { try KernelEnvironment.require() }

        @Test("60 short connections from 10 reused client ports all succeed at once; stale entries are recreated",
              arguments: KernelTests.modes)
        func clientPortReuseSucceeds(mode: NFQLBConfig.TCPMode) throws {
            let daemon = try DaemonProcess.start(DaemonConfig(mode: mode, services: [.web(pods: KernelTests.threePods)]))
            defer { daemon.stop() }

            // Ports 21000-21009 in turn: each port's previous connection, 10 requests earlier,
            // left its conntrack entry in TIME_WAIT (the server closed first).
            let results = try Client.httpFromPorts(from: "n1p3", host: KernelTests.webVIP, firstPort: KernelTests.ClientPorts.reuse, ports: 10, count: 60)
            let replies = results.map(\.reply)
            #expect(replies.count == 60)
            #expect(replies.failures.isEmpty, "failed requests: \(results.filter { !$0.reply.succeeded })")
            // A blackholed or retransmitted first SYN shows as a request of 1 s or more.
            let slow = results.filter { $0.reply.seconds >= 0.9 }
            #expect(slow.isEmpty, "requests that needed a SYN retransmit: \(slow)")
            // Every connection is a new flow and takes its round-robin turn (in mode mark too: a
            // reused port is not mistaken for a retransmit of the port's previous connection).
            #expect(replies.countsByBody == ["n1p1": 20, "n1p2": 20, "n2p1": 20], "bodies: \(replies.map(\.body))")
            let ports = Set(daemon.decisions(toward: KernelTests.webVIP).map(\.clientPort))
            #expect(ports == Set(KernelTests.ClientPorts.reuse..<KernelTests.ClientPorts.reuse + 10), "client ports seen by the daemon: \(ports.sorted())")

            if KernelTests.ctnetlinkModes.contains(mode) {
                // 50 of the 60 SYNs met the previous connection's entry and replaced it.
                let metrics = try daemon.metrics(within: 2) {
                    $0.sum("nfqlb_conntrack_operations_total", ["result": "recreated"]) >= 50
                }
                #expect(metrics.sum("nfqlb_conntrack_operations_total", ["result": "recreated"]) >= 50, "\(metrics)")
                #expect(metrics.sum("nfqlb_conntrack_operations_total", ["result": "error"]) == 0, "\(metrics)")
            }
        }

        @Test("A client port reused right after its endpoint left the service connects at once to a remaining endpoint",
              arguments: KernelTests.modes)
        func reusedClientPortAfterItsEndpointLeftConnectsAtOnce(mode: NFQLBConfig.TCPMode) throws {
            let pods = ["n1p1", "n2p1"]
            let daemon = try DaemonProcess.start(DaemonConfig(mode: mode, services: [.web(pods: pods)]))
            defer { daemon.stop() }
            let clientPort = KernelTests.ClientPorts.reuseAfterRemoval + (KernelTests.modes.firstIndex(of: mode) ?? 0)

            // Both connections from one CPU: under --queue-cpu-fanout both SYNs meet one worker.
            let first = try Client.httpFromPorts(from: "n1p3", host: KernelTests.webVIP, firstPort: clientPort, ports: 1, count: 1,
                                                 pinned: true)
            let firstPod = try #require(first.first.map(\.reply).flatMap { $0.succeeded ? $0.body : nil }, "first request: \(first)")
            let remaining = pods.first { $0 != firstPod }!
            try #require(try daemon.reconfigure(DaemonConfig(mode: mode, services: [.web(pods: [remaining])])))

            // Same client port, well within a second of the first connection.
            let second = try Client.httpFromPorts(from: "n1p3", host: KernelTests.webVIP, firstPort: clientPort, ports: 1, count: 1,
                                                  pinned: true)
            let reply = try #require(second.first?.reply, "no result: \(second)")
            #expect(reply.succeeded && reply.body == remaining, "\(reply)")
            #expect(reply.seconds < 1, "took \(reply.seconds) s: the SYN waited for a retransmit")
        }

        @Test("A SYN whose first copy is lost completes on a retransmit, on the backend the first copy picked",
              arguments: KernelTests.modes)
        func retransmittedSYNLandsOnTheFirstPick(mode: NFQLBConfig.TCPMode) throws {
            let pods = KernelTests.threePods
            let daemon = try DaemonProcess.start(DaemonConfig(mode: mode, services: [.web(pods: pods)]))
            defer { daemon.stop() }
            let clientPort = KernelTests.ClientPorts.retransmit + (KernelTests.modes.firstIndex(of: mode) ?? 0)
            let dropSYN = ["iptables", "-w", "5", "INPUT", "-p", "tcp", "--syn", "--dport", "8080", "-j", "DROP"]
            func setDrop(_ action: String, _ pod: String) throws -> CommandResult {
                var command = dropSYN
                command.insert(action, at: 3)
                return try Cluster.exec(pod, command)
            }
            defer { for pod in pods { _ = try? setDrop("-D", pod) } }

            // Every backend drops SYNs for 1.5 s: the client's first SYN and its 1 s retransmit die.
            for pod in pods { try #require(try setDrop("-I", pod).succeeded) }
            let client = try Cluster.spawn("n1p3", ["curl", "-sS", "--max-time", "8", "--local-port", String(clientPort),
                                                    "-w", " @@%{time_total}", "http://\(KernelTests.webVIP)/"],
                                           timeout: 12, label: "curl-retransmit")
            defer { client.stop() }
            sleep(seconds: 1.5)
            for pod in pods { try #require(try setDrop("-D", pod).succeeded) }
            let result = client.wait(timeout: 12)

            let decisions = daemon.decisions(toward: KernelTests.webVIP).filter { $0.clientPort == clientPort }
            let first = try #require(decisions.first, "no decision for client port \(clientPort); log:\n\(daemon.log.suffix(2000))")
            let body = result.stdout.components(separatedBy: " @@").first?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            #expect(result.status == 0, "curl: \(result)")
            #expect(body == Cluster.pod(ofAddress: first.backend), "answered by '\(body)', first pick \(first)")
            #expect(result.seconds >= 1, "the connection did not need a retransmit (\(result.seconds) s): the SYN drop did not work")
            #expect(first.isNewFlow)
            let retransmits = decisions.dropFirst()
            #expect(!retransmits.isEmpty, "the retransmitted SYN was not queued: \(decisions)")

            if KernelTests.ctnetlinkModes.contains(mode) {
                // Each retransmit met the first SYN's entry (EEXIST) and kept it.
                #expect(retransmits.allSatisfy { $0.conntrackResult == -17 && !$0.isNewFlow }, "\(decisions)")
                let metrics = try daemon.metrics(within: 2) {
                    $0.sum("nfqlb_conntrack_operations_total", ["result": "reused"]) >= Double(retransmits.count)
                }
                #expect(metrics.sum("nfqlb_conntrack_operations_total", ["result": "eexist"]) >= Double(retransmits.count), "\(metrics)")
                #expect(metrics.sum("nfqlb_conntrack_operations_total", ["result": "reused"]) >= Double(retransmits.count), "\(metrics)")
                #expect(metrics.sum("nfqlb_conntrack_operations_total", ["result": "recreated"]) == 0, "\(metrics)")
                #expect(metrics.sum("nfqlb_endpoint_new_flows_total") == 1, "one connection, counted as \(metrics.sum("nfqlb_endpoint_new_flows_total")) new flows")
            } else {
                // Mode mark: the pick cache gives the retransmits the first pick's mark, and the
                // connection is one new flow.
                let metrics = try daemon.metrics(within: 2) { $0.sum("nfqlb_queue_packets_total") >= Double(decisions.count) }
                #expect(retransmits.allSatisfy { $0.remembered && $0.backend == first.backend && !$0.isNewFlow }, "\(decisions)")
                #expect(metrics.sum("nfqlb_pick_cache_hits_total") >= Double(retransmits.count), "\(metrics)")
                #expect(metrics.sum("nfqlb_endpoint_new_flows_total") == 1,
                        "one connection, counted as \(metrics.sum("nfqlb_endpoint_new_flows_total")) new flows")
            }

            // The retransmits took no round-robin turn: the next connections continue the
            // rotation right after the first pick.
            let start = try #require(pods.firstIndex(of: body))
            let expectedNext = (1...3).map { pods[(start + $0) % pods.count] }
            let next = try Client.curlLoop(from: "n1p3", "http://\(KernelTests.webVIP)/", count: 3)
            #expect(next.map(\.body) == expectedNext, "after a first pick of \(body) and \(retransmits.count) retransmits")
        }
    }
}
