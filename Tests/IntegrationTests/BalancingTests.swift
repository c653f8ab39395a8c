import Foundation
import NFQLB
import Testing

extension KernelTests {
    /// Requests through a VIP reach the configured pods, in the configured proportions,
    /// from a pod (PREROUTING) and from the node itself (OUTPUT), over TCP and UDP.
    @Suite("Balancing")
    struct Balancing {
        init() throws { try KernelEnvironment.require() }

        @Test("A pod reaches backends on its own node and on the other node, exactly 10 each of 30 in round-robin turns",
              arguments: KernelTests.modes)
        func podReachesBackendsOnBothNodes(mode: NFQLBConfig.TCPMode) throws {
            let order = KernelTests.threePods
            let daemon = try DaemonProcess.start(DaemonConfig(mode: mode, services: [.web(pods: order)]))
            defer { daemon.stop() }

            let replies = try Client.curlLoop(from: "n1p3", "http://\(KernelTests.webVIP)/", count: 30)
            #expect(replies.count == 30)
            #expect(replies.failures.isEmpty, "failed requests: \(replies.failures)")
            #expect(replies.countsByBody == ["n1p1": 10, "n1p2": 10, "n2p1": 10], "bodies: \(replies.map(\.body))")
            #expect(isRotation(replies.map(\.body), of: order), "not in round-robin turns: \(replies.map(\.body))")

            // The daemon counted the same: 10 new flows per endpoint.
            let metrics = try daemon.metrics(within: 2) { metrics in
                order.allSatisfy { metrics.sum("nfqlb_endpoint_new_flows_total", ["endpoint": "\(Cluster.ip($0)):8080"]) == 10 }
            }
            for pod in order {
                #expect(metrics.sum("nfqlb_endpoint_new_flows_total", ["endpoint": "\(Cluster.ip(pod)):8080"]) == 10,
                        "new flows of \(pod)\n\(metrics)")
            }
        }

        @Test("A process in node1 itself reaches the service through the OUTPUT path",
              arguments: KernelTests.modes)
        func nodeItselfReachesServiceThroughOutputPath(mode: NFQLBConfig.TCPMode) throws {
            let order = KernelTests.threePods
            let daemon = try DaemonProcess.start(DaemonConfig(mode: mode, services: [.web(pods: order)]))
            defer { daemon.stop() }

            let replies = try Client.curlLoop(from: "node1", "http://\(KernelTests.webVIP)/", count: 9)
            #expect(replies.failures.isEmpty, "failed requests: \(replies.failures)")
            #expect(replies.countsByBody == ["n1p1": 3, "n1p2": 3, "n2p1": 3], "bodies: \(replies.map(\.body))")
            #expect(isRotation(replies.map(\.body), of: order), "not in round-robin turns: \(replies.map(\.body))")
            // They really came from the node (OUTPUT), not from a pod.
            let clients = Set(daemon.decisions(toward: KernelTests.webVIP).map(\.client))
            #expect(clients == [Cluster.node1Address], "decisions came from \(clients)")
        }

        @Test("UDP queries through a DNS VIP are answered by the pods in round-robin order",
              arguments: KernelTests.modes)
        func udpQueriesAreAnsweredByPodsInRoundRobinOrder(mode: NFQLBConfig.TCPMode) throws {
            let order = KernelTests.threePods
            let daemon = try DaemonProcess.start(DaemonConfig(mode: mode, services: [.dns(pods: order)]))
            defer { daemon.stop() }

            var answers: [String] = []
            for _ in 0..<9 {
                let result = try Client.dig(from: "n1p3", server: KernelTests.dnsVIP)
                #expect(result.status == 0, "dig failed: \(result)")
                answers.append(result.trimmedStdout.replacingOccurrences(of: "\"", with: ""))
            }
            #expect(answers.filter { $0 == "n1p1" }.count == 3 && answers.filter { $0 == "n1p2" }.count == 3
                    && answers.filter { $0 == "n2p1" }.count == 3, "answers: \(answers)")
            #expect(isRotation(answers, of: order), "not in round-robin order: \(answers)")
        }

        @Test("glibc's parallel A and AAAA queries over one socket get both answers from one endpoint without a 5 s stall",
              arguments: KernelTests.modes)
        func parallelAAndAAAAQueriesGetOneEndpointWithoutStall(mode: NFQLBConfig.TCPMode) throws {
            let pods = KernelTests.threePods
            let daemon = try DaemonProcess.start(DaemonConfig(mode: mode, services: [.dns(pods: pods)]))
            defer { daemon.stop() }
            let resolver = try Cluster.library("cluster_set_resolver n1p3 \(KernelTests.dnsVIP)")
            try #require(resolver.succeeded, "cluster_set_resolver: \(resolver)")

            var seen = Set<String>()
            for run in 1...20 {
                let (addresses, result) = try Client.getentAhosts(from: "n1p3")
                #expect(result.status == 0, "run \(run): getent failed: \(result)")
                #expect(result.seconds < 2, "run \(run) took \(result.seconds) s (the 5 s stall: a reply was lost)")
                let pod = pods.first { addresses.contains(Cluster.ip($0)) }
                if let pod { seen.insert(pod) }
                #expect(pod != nil && addresses == [Cluster.ip(pod!), Cluster.ip6(pod!)],
                        "run \(run): want the A and AAAA answers of one pod, got \(addresses.sorted())")
            }
            // One pick per lookup (both queries share it), rotating between lookups.
            #expect(seen == Set(pods), "lookups were answered by \(seen.sorted()) only")
        }

        @Test("Two datagrams of one flow sent at once from two CPUs are answered by one endpoint",
              arguments: KernelTests.modes)
        func parallelDatagramsFromTwoCPUsGetOneEndpoint(mode: NFQLBConfig.TCPMode) throws {
            let pods = ["n1p1", "n2p1"]
            let daemon = try DaemonProcess.start(DaemonConfig(mode: mode, services: [.udpEcho(pods: pods)]))
            defer { daemon.stop() }
            var splits: [String] = []
            var unanswered: [String] = []
            for i in 0..<20 {
                let sourcePort = KernelTests.ClientPorts.twoCPUs + 20 * (KernelTests.modes.firstIndex(of: mode) ?? 0) + i
                let (first, second, events) = try Client.udpFromTwoCPUs(from: "n1p3", host: KernelTests.udpEchoVIP, port: 9000,
                                                                       sourcePort: sourcePort)
                guard let first, let second else {
                    unanswered.append("port \(sourcePort): \(events)")
                    continue
                }
                if first != second { splits.append("port \(sourcePort): ping 1 -> \(first), ping 2 -> \(second)") }
            }
            #expect(unanswered.isEmpty, "datagrams without an answer: \(unanswered)")
            #expect(splits.isEmpty, "one flow answered by two endpoints:\n\(splits.joined(separator: "\n"))")
        }

        @Test("weighted-round-robin with weights 3 and 1 gives exactly 30 and 10 of 40, never the light one twice in a row")
        func weightedRoundRobinSplitsThirtyToTen() throws {
            let daemon = try DaemonProcess.start(DaemonConfig(services: [
                .web(strategy: "weighted-round-robin", pods: ["n1p1", "n2p1"], weights: [3, 1]),
            ]))
            defer { daemon.stop() }

            let replies = try Client.curlLoop(from: "n1p3", "http://\(KernelTests.webVIP)/", count: 40)
            #expect(replies.failures.isEmpty, "failed requests: \(replies.failures)")
            #expect(replies.countsByBody == ["n1p1": 30, "n2p1": 10], "bodies: \(replies.map(\.body))")
            let bodies = replies.map(\.body)
            let repeats = zip(bodies, bodies.dropFirst()).enumerated().filter { $0.element == ("n2p1", "n2p1") }.map(\.offset)
            #expect(repeats.isEmpty, "the light endpoint answered twice in a row at requests \(repeats): \(bodies)")
        }

        @Test("random reaches every endpoint over 60 requests")
        func randomStrategyReachesEveryEndpoint() throws {
            let daemon = try DaemonProcess.start(DaemonConfig(services: [.web(strategy: "random", pods: KernelTests.threePods)]))
            defer { daemon.stop() }

            let replies = try Client.curlLoop(from: "n1p3", "http://\(KernelTests.webVIP)/", count: 60)
            #expect(replies.count == 60)
            #expect(replies.failures.isEmpty, "failed requests: \(replies.failures)")
            #expect(Set(replies.countsByBody.keys) == Set(KernelTests.threePods), "counts: \(replies.countsByBody)")
        }
    }
}
