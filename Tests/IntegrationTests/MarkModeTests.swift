import Foundation
import NFQLB
import Testing

extension KernelTests {
    /// Mode mark writes only the bits of its mask into the packet mark (docs/ARCHITECTURE.md, mode
    /// mark pitfall 2), and its conntrack entries carry the endpoint id set by the nat rule.
    @Suite("Mode mark")
    struct MarkMode {
        init() throws { try KernelEnvironment.require() }

        @Test("A foreign mark bit set before the queue survives the verdict, and the conntrack entry carries our endpoint id")
        func foreignMarkBitsSurviveTheVerdict() throws {
            let pods = KernelTests.threePods
            let daemon = try DaemonProcess.start(DaemonConfig(mode: .mark, services: [.web(pods: pods)]))
            defer { daemon.stop() }
            let client = Cluster.ip("n1p3")
            // kube-proxy's 0x4000 on the client's packets, before our raw rule (inserted first).
            let setMark = ["-t", "raw", "PREROUTING", "-s", client, "-j", "MARK", "--set-xmark", "0x4000/0x4000"]
            // Counts, after the nat hooks, the client's SYNs that still carry 0x4000 ...
            // (counting rules: no target, so that the next rule sees the packet too)
            let foreignKept = ["-t", "mangle", "POSTROUTING", "-s", client, "-p", "tcp", "--syn",
                               "-m", "mark", "--mark", "0x4000/0x4000"]
            // ... and those that carry 0x4000 and an endpoint id in our field (0x7fff0000) together.
            let bothKept = ["-t", "mangle", "POSTROUTING", "-s", client, "-p", "tcp", "--syn",
                            "-m", "mark", "--mark", "0x4000/0x4000", "-m", "mark", "!", "--mark", "0x0/0x7fff0000"]
            func rule(_ action: String, _ spec: [String], position: String? = nil) throws -> CommandResult {
                var command = ["iptables", "-w", "5"] + spec
                command.insert(action, at: 5)
                if let position { command.insert(position, at: 7) }
                return try Cluster.exec("node1", command)
            }
            defer {
                _ = try? rule("-D", setMark)
                _ = try? rule("-D", foreignKept)
                _ = try? rule("-D", bothKept)
            }
            try #require(try rule("-I", setMark, position: "1").succeeded)
            try #require(try rule("-A", foreignKept).succeeded)
            try #require(try rule("-A", bothKept).succeeded)

            let reply = try Client.curl(from: "n1p3", "http://\(KernelTests.webVIP)/")
            #expect(reply.succeeded && pods.contains(reply.body), "\(reply)")

            /// Packet counters of our two counting rules, from `iptables -S -v` ("... -c PKTS BYTES").
            func counters() throws -> (foreign: Int, both: Int) {
                let listing = try Cluster.check("node1", ["iptables", "-w", "5", "-t", "mangle", "-S", "POSTROUTING", "-v"]).stdout
                let ours = listing.split(separator: "\n").map(String.init).filter { $0.contains("-s \(client)/32") && $0.contains("0x4000/0x4000") }
                func packets(_ line: String?) -> Int {
                    guard let line, let range = line.range(of: " -c ") else { return -1 }
                    return Int(line[range.upperBound...].split(separator: " ").first ?? "") ?? -1
                }
                return (packets(ours.first { !$0.contains("! --mark") }), packets(ours.first { $0.contains("! --mark") }))
            }
            let counted = try counters()
            #expect(counted.foreign == 1, "SYNs of the client that kept kube-proxy's 0x4000 bit through the verdict: \(counted.foreign), want 1")
            #expect(counted.both == 1, "SYNs of the client with 0x4000 and our endpoint id together: \(counted.both), want 1")

            // The entry's conntrack mark holds the id /status gives the endpoint that answered.
            let status = try daemon.status()
            let endpoint = try #require(status.services.first?.endpoints.first { $0.address == Cluster.ip(reply.body) })
            let id = try #require(endpoint.id)
            let entries = try Cluster.conntrackEntries(toward: KernelTests.webVIP)
            let entry = try #require(entries.first { $0.contains("src=\(client) ") && $0.contains("src=\(Cluster.ip(reply.body)) ") },
                                     "no entry for the flow: \(entries)")
            let markText = try #require(entry.split(separator: " ").first { $0.hasPrefix("mark=") }?.dropFirst(5), "no mark in \(entry)")
            let mark = try #require(UInt32(markText))
            #expect((mark & 0x7fff_0000) >> 16 == id, "entry mark \(String(mark, radix: 16)) holds id \((mark & 0x7fff_0000) >> 16), want \(id): \(entry)")
        }
    }
}
