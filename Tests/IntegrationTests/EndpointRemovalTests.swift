import Foundation
import NFQLB
import Testing

extension KernelTests {
    /// Endpoint removal as kube-proxy does it: which stale UDP entries go and when, retried
    /// until they are gone, and conntrack-INVALID packets dropped in FORWARD.
    @Suite("Endpoint removal as kube-proxy does it")
    struct EndpointRemoval {
        init() throws { try KernelEnvironment.require() }

        static var now: Double { Date().timeIntervalSince1970 }
        static func modeIndex(_ mode: NFQLBConfig.TCPMode) -> Int { KernelTests.modes.firstIndex(of: mode) ?? 0 }

        /// The UDP echo service of `pods`, with `terminating` ready=false serving=true terminating=true.
        static func udpEcho(_ pods: [String], terminating: String? = nil) -> ServiceSpec {
            var service = ServiceSpec.udpEcho(pods: pods)
            service.endpoints = pods.map { pod in
                var endpoint = EndpointSpec.pod(pod, port: 9000)
                if pod == terminating {
                    endpoint.ready = false
                    endpoint.serving = true
                    endpoint.terminating = true
                }
                return endpoint
            }
            return service
        }

        @Test("A UDP flow to an endpoint that turns terminating but serving keeps its entry and its replies; removed, the endpoint loses it",
              arguments: KernelTests.modes)
        func terminatingServingEndpointKeepsItsUDPFlow(mode: NFQLBConfig.TCPMode) throws {
            let pods = ["n1p1", "n2p1"]
            let daemon = try DaemonProcess.start(DaemonConfig(mode: mode, services: [Self.udpEcho(pods)]))
            defer { daemon.stop() }
            let client = try HelperClient.udp(from: "n1p3", to: KernelTests.udpEchoVIP, port: 9000,
                                              sourcePort: 23100 + Self.modeIndex(mode), duration: 7)
            defer { client.stop() }
            let first = try #require(client.waitFor(timeout: 3) { $0.kind == "reply" }, "no UDP echo: \(client.transcript)")
            let pod = try #require(first.pod)
            let other = pods.first { $0 != pod }!

            try #require(try daemon.reconfigure(DaemonConfig(mode: mode, services: [Self.udpEcho(pods, terminating: pod)])))
            let terminatingAt = Self.now
            sleep(seconds: 2.5)
            let entries = try Cluster.conntrackEntries(toward: KernelTests.udpEchoVIP)
            #expect(entries.contains { $0.contains("src=\(Cluster.ip(pod)) ") },
                    "the entry of the flow to the terminating endpoint \(pod) was deleted: \(entries)")
            // Taken before the reload: the reload is in force before `reconfigure` returns.
            let removedAt = Self.now
            try #require(try daemon.reconfigure(DaemonConfig(mode: mode, services: [Self.udpEcho([other])])))

            let events = client.finish(timeout: 12)
            let whileTerminating = events.filter { $0.kind == "reply" && $0.time > terminatingAt && $0.time < removedAt }
            #expect(whileTerminating.count >= 5 && whileTerminating.allSatisfy { $0.pod == pod },
                    "echoes while \(pod) was terminating but serving: \(whileTerminating.map { $0.pod ?? "?" })")
            let settled = events.filter { $0.kind == "reply" && $0.time > removedAt + 2 }
            #expect(settled.count >= 5 && settled.allSatisfy { $0.pod == other },
                    "echoes 2 s after \(pod) was removed: \(settled.map { $0.pod ?? "?" }) (all events: \(events))")
        }

        @Test("A UDP entry to a removed endpoint that appears after the cleanup ran is deleted within 2 s",
              arguments: KernelTests.modes)
        func entryRacingTheCleanupIsSweptAway(mode: NFQLBConfig.TCPMode) throws {
            let pods = ["n1p1", "n2p1"]
            let daemon = try DaemonProcess.start(DaemonConfig(mode: mode, services: [Self.udpEcho(pods)]))
            defer { daemon.stop() }
            let sourcePort = 23200 + 2 * Self.modeIndex(mode)
            let client = try HelperClient.udp(from: "n1p3", to: KernelTests.udpEchoVIP, port: 9000, sourcePort: sourcePort, duration: 1)
            let first = client.waitFor(timeout: 3) { $0.kind == "reply" }
            client.stop()
            let pod = try #require(first?.pod, "no UDP echo: \(client.transcript)")
            let entry = try #require(try Cluster.conntrackEntries(toward: KernelTests.udpEchoVIP).first { $0.contains("sport=\(sourcePort) ") },
                                     "no entry of the flow from port \(sourcePort)")
            // The mark carries the endpoint's id: the entry a late worker would create has it too.
            let mark = try #require(entry.split(separator: " ").first { $0.hasPrefix("mark=") }.map { String($0.dropFirst(5)) },
                                    "no mark in \(entry)")

            try #require(try daemon.reconfigure(DaemonConfig(mode: mode, services: [Self.udpEcho(pods.filter { $0 != pod })])))
            sleep(seconds: 0.3)
            // What traffic racing the change leaves: an entry of ours to the removed endpoint,
            // created after its cleanup ran.
            let client4 = Cluster.ip("n1p3"), late = String(sourcePort + 1)
            let inserted = try Cluster.exec("node1", ["conntrack", "-I", "-p", "udp", "-s", client4, "-d", KernelTests.udpEchoVIP,
                                                      "--sport", late, "--dport", "9000", "-r", Cluster.ip(pod), "-q", client4,
                                                      "--reply-port-src", "9000", "--reply-port-dst", late, "-t", "120", "--mark", mark])
            try #require(inserted.succeeded, "conntrack -I failed: \(inserted)")
            let insertedAt = Self.now
            func lateEntry() throws -> String? {
                try Cluster.conntrackEntries(toward: KernelTests.udpEchoVIP).first { $0.contains("sport=\(late) ") }
            }
            try #require(try lateEntry() != nil, "the late entry is not in the table")
            let gone = try eventually(timeout: 2.5, interval: 0.1) { try lateEntry() == nil }
            let left = try lateEntry() ?? ""
            #expect(gone, "the late entry to removed \(pod) (mark \(mark)) was still there \(String(format: "%.1f", Self.now - insertedAt)) s later: \(left)")
        }

        /// `oow-segment.py SRC SPORT DST DPORT`: three TCP segments (ACK|PSH, random sequence and
        /// acknowledgement numbers, so out of conntrack's window) sent through a raw socket.
        static let outOfWindowSender = #"""
        import random, socket, struct, sys
        src, sport, dst, dport = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
        def checksum(b):
            if len(b) % 2:
                b += b"\0"
            s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
            while s >> 16:
                s = (s & 0xffff) + (s >> 16)
            return ~s & 0xffff
        payload = b"late retransmission\n"
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
        for _ in range(3):
            seq, ack = random.getrandbits(32), random.getrandbits(32)
            tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, 0x18, 65535, 0, 0) + payload
            pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(tcp))
            tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
            s.sendto(tcp, (dst, 0))
            print("sent", seq, ack)
        """#

        /// Packets counted by the first rule of `chain` in `table` of netns `name`.
        static func firstRulePackets(_ name: String, table: String = "filter", chain: String) throws -> Int {
            let listing = try Cluster.check(name, ["iptables", "-w", "5", "-t", table, "-nvxL", chain]).stdout
            let rule = listing.split(separator: "\n").dropFirst(2).first ?? ""
            return Int(rule.split(separator: " ").first ?? "") ?? -1
        }

        /// Modes conntrack and mark, whose flows the kernel NATs through conntrack (what
        /// kube-proxy's rule is about). In mode rewrite the injected segment was seen neither
        /// by the rule nor by the client; that path is not covered here.
        @Test("An out-of-window segment from the endpoint of a balanced TCP flow is dropped in FORWARD and the flow keeps working; without the rule it reaches the client un-NATed and the client answers with a RST",
              arguments: [NFQLBConfig.TCPMode.conntrack, .mark])
        func invalidSegmentIsDroppedInForward(mode: NFQLBConfig.TCPMode) throws {
            let pod = "n1p1"
            let daemon = try DaemonProcess.start(DaemonConfig(mode: mode, services: [.tcpEcho(pods: [pod])]))
            defer { daemon.stop() }
            let client = try HelperClient.tcp(from: "n1p3", to: KernelTests.tcpEchoVIP, port: Cluster.tcpEchoPort, duration: 6)
            defer { client.stop() }
            let connected = try #require(client.waitFor(timeout: 3) { $0.kind == "connected" }, "no connection: \(client.transcript)")
            let clientPort = try #require(connected.words.first)
            try #require(client.waitFor(timeout: 3) { $0.kind == "reply" } != nil, "no echo: \(client.transcript)")

            // Counters in the client pod: segments from the endpoint's own address (a reply
            // that was not un-NATed), and RSTs the client sends to it.
            let endpoint = Cluster.ip(pod)
            let leaked = ["-s", endpoint, "-p", "tcp", "--sport", String(Cluster.tcpEchoPort)]
            let resets = ["-d", endpoint, "-p", "tcp", "--tcp-flags", "RST", "RST"]
            try Cluster.check("n1p3", ["iptables", "-w", "5", "-I", "INPUT", "1"] + leaked)
            defer { _ = try? Cluster.exec("n1p3", ["iptables", "-w", "5", "-D", "INPUT"] + leaked) }
            try Cluster.check("n1p3", ["iptables", "-w", "5", "-I", "OUTPUT", "1"] + resets)
            defer { _ = try? Cluster.exec("n1p3", ["iptables", "-w", "5", "-D", "OUTPUT"] + resets) }
            let sender = try HelperPrograms.path("oow-segment.py", Self.outOfWindowSender)
            let inject = ["python3", sender, endpoint, String(Cluster.tcpEchoPort), Cluster.ip("n1p3"), clientPort]

            // With the hooks' rule: dropped in node1's FORWARD, never seen by the client.
            let droppedBefore = try Self.firstRulePackets("node1", chain: "NFQLB-FORWARD")
            try Cluster.check(pod, inject)
            let injectedAt = Self.now
            sleep(seconds: 1.5)
            #expect(try Self.firstRulePackets("node1", chain: "NFQLB-FORWARD") > droppedBefore, "the INVALID segment was not dropped in NFQLB-FORWARD")
            #expect(try Self.firstRulePackets("n1p3", chain: "INPUT") == 0, "the client received a segment from \(endpoint) itself")
            #expect(try Self.firstRulePackets("n1p3", chain: "OUTPUT") == 0, "the client sent a RST to \(endpoint)")
            let replies = client.events.filter { $0.kind == "reply" && $0.time > injectedAt }
            #expect(replies.count >= 3, "the connection stopped echoing after the segment: \(client.events)")

            // Without it (the jump removed): the segment reaches the client un-NATed, and the
            // client resets it. DaemonProcess.start re-installs the hooks for the next test.
            try Cluster.check("node1", ["iptables", "-w", "5", "-D", "FORWARD", "-j", "NFQLB-FORWARD"])
            defer { _ = try? Cluster.installHooks(mode: mode) }
            try Cluster.check(pod, inject)
            let reached = eventually(timeout: 2, interval: 0.1) { ((try? Self.firstRulePackets("n1p3", chain: "INPUT")) ?? 0) >= 1 }
            #expect(reached, "without the rule the INVALID segment did not reach the client: the test shows nothing")
            #expect(try Self.firstRulePackets("n1p3", chain: "OUTPUT") >= 1, "without the rule the client sent no RST to \(endpoint)")
        }
    }
}
