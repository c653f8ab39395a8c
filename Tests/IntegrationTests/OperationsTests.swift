#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NFQLB
import Testing

extension KernelTests {
    /// How the daemon behaves as a node agent: a full queue with and without fail-open, a
    /// clean SIGTERM, and running with CAP_NET_ADMIN as its only privilege (the systemd unit).
    @Suite("Operations: overflow, shutdown, least privilege")
    struct Operations {
        init() throws { try KernelEnvironment.require() }

        /// The kernel's own count of packets dropped because a queue was full, summed over queues.
        static func kernelQueueDrops() throws -> Int {
            let result = try Cluster.check("node1", ["cat", "/proc/net/netfilter/nfnetlink_queue"])
            return result.stdout.split(separator: "\n").reduce(0) { total, line in
                total + (KernelQueueStatistics(line: line)?.queueDropped ?? 0)
            }
        }

        /// Four connections started at once while the worker does not read (SIGSTOP).
        static func clients(_ count: Int, maxTime: Double, label: String) throws -> [BackgroundProcess] {
            try (0..<count).map { i in
                try Cluster.spawn("n1p3", ["curl", "-sS", "--max-time", String(maxTime), "-w", " @@%{time_total}",
                                           "http://\(KernelTests.webVIP)/"], timeout: maxTime + 3, label: "\(label)-\(i)")
            }
        }

        @Test("A full queue without failOpen drops new SYNs (counted by the kernel), and the clients get through on their retransmits once the worker reads again")
        func aFullQueueDropsAndClientsRetransmit() throws {
            var config = DaemonConfig(mode: .conntrack, services: [.web(pods: KernelTests.threePods)])
            config.queueMaxLength = 1
            config.failOpen = false
            let daemon = try DaemonProcess.start(config)
            defer { daemon.stop() }
            let before = try Self.kernelQueueDrops()

            daemon.pause()
            let clients = try Self.clients(4, maxTime: 8, label: "overflow")
            defer { clients.forEach { $0.stop() } }
            // Two queues of one packet each hold two SYNs; the others, and retransmits, overflow.
            let overflowed = try eventually(timeout: 3, interval: 0.1) { try Self.kernelQueueDrops() > before }
            daemon.resume()
            #expect(overflowed, "the kernel counted no queue drop while the worker was stopped")

            for client in clients {
                let result = client.wait(timeout: 11)
                let body = result.stdout.components(separatedBy: " @@").first?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
                #expect(result.status == 0 && KernelTests.threePods.contains(body), "a client did not get through: \(result)")
            }
            let metrics = try daemon.metrics()
            #expect(metrics.sum("nfqlb_kernel_queue_dropped_total") >= 1, "the kernel's drops are not in the metrics: \(metrics)")
        }

        @Test("A full queue with failOpen lets new SYNs pass un-balanced: they fail at once (un-NATed, unreachable), as documented")
        func aFullQueueWithFailOpenPassesPacketsUnbalanced() throws {
            var config = DaemonConfig(mode: .conntrack, services: [.web(pods: KernelTests.threePods)])
            config.queueMaxLength = 1
            config.failOpen = true
            let daemon = try DaemonProcess.start(config)
            defer { daemon.stop() }
            let before = try Self.kernelQueueDrops()

            daemon.pause()
            let clients = try Self.clients(4, maxTime: 3, label: "failopen")
            defer { clients.forEach { $0.stop() } }
            // The un-NATed SYNs reach node2, which answers unreachable: those clients end fast.
            let someFailed = eventually(timeout: 2, interval: 0.05) { clients.contains { !$0.isRunning } }
            daemon.resume()
            let results = clients.map { $0.wait(timeout: 6) }
            #expect(someFailed, "no client ended while the worker was stopped: \(results)")
            let failedFast = results.filter { $0.status == 7 && $0.seconds < 1.5 }
            #expect(!failedFast.isEmpty, "want some `curl` exit 7 within 1.5 s (packet passed un-NATed): \(results)")
            #expect(try Self.kernelQueueDrops() == before, "fail-open must not drop")
        }

        @Test("SIGTERM answers the batch in hand, unbinds every queue and exits 0", arguments: KernelTests.modes)
        func sigtermUnbindsAndExitsCleanly(mode: NFQLBConfig.TCPMode) throws {
            let daemon = try DaemonProcess.start(DaemonConfig(mode: mode, services: [.web(pods: KernelTests.threePods)]))
            defer { daemon.stop() }
            let served = try Client.curl(from: "n1p3", "http://\(KernelTests.webVIP)/")
            #expect(served.succeeded, "\(served)")
            let bound = try Cluster.check("node1", ["cat", "/proc/net/netfilter/nfnetlink_queue"]).stdout
            #expect(bound.split(separator: "\n").count == 2, "want queues 0 and 1 bound:\n\(bound)")

            let ending = try #require(daemon.terminate(timeout: 5), "the daemon was not running")
            #expect(ending.status == 0 && !ending.killedByWatchdog, "want exit 0 after SIGTERM: \(ending)")
            #expect(ending.seconds < 2, "shutdown took \(ending.seconds) s")
            let after = try Cluster.check("node1", ["cat", "/proc/net/netfilter/nfnetlink_queue"]).stdout
            #expect(after.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "queues still bound after exit:\n\(after)")
            #expect(daemon.log.contains("every queue answered and unbound"), "\(daemon.log.suffix(1500))")
        }

        @Test("With CAP_NET_ADMIN as its only capability, as an unprivileged user, nfq-lb balances (the systemd unit's promise)",
              arguments: KernelTests.modes)
        func runsWithOnlyNetAdmin(mode: NFQLBConfig.TCPMode) throws {
            try #require(Shell.has("setpriv"), "setpriv (util-linux) is needed to drop privileges")
            // The config and its directory must be readable by the unprivileged user.
            let scratch = (Shell.scratchFile("x") as NSString).deletingLastPathComponent
            chmod(scratch, 0o755)
            let daemon = try DaemonProcess.start(
                DaemonConfig(mode: mode, services: [.web(pods: KernelTests.threePods)]),
                wrapper: ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                          "--inh-caps=-all,+net_admin", "--ambient-caps=-all,+net_admin",
                          "--bounding-set=-all,+net_admin", "--no-new-privs"])
            defer { daemon.stop() }
            chmod(daemon.configPath, 0o644)

            let pid = try #require(daemon.pid)
            let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            let lines = status.split(separator: "\n")
            #expect(lines.contains { $0.hasPrefix("CapEff:") && $0.hasSuffix("0000000000001000") }, "\(lines.filter { $0.hasPrefix("Cap") })")
            #expect(lines.contains { $0.hasPrefix("CapBnd:") && $0.hasSuffix("0000000000001000") }, "\(lines.filter { $0.hasPrefix("Cap") })")
            #expect(lines.contains { $0.hasPrefix("Uid:") && $0.contains("65534") }, "\(lines.filter { $0.hasPrefix("Uid") })")
            #expect(lines.contains { $0.hasPrefix("NoNewPrivs:") && $0.hasSuffix("1") })

            let replies = try Client.curlLoop(from: "n1p3", "http://\(KernelTests.webVIP)/", count: 6)
            #expect(replies.map(\.body) == KernelTests.threePods + KernelTests.threePods, "\(replies)")
            // A reload (reading the file, and in mode mark writing the nftables map) works too.
            var changed = daemon.config
            changed.services = [.web(pods: ["n1p1", "n2p1"])]
            #expect(try daemon.reconfigure(changed), "the reload was not counted as a success:\n\(daemon.log.suffix(1500))")
            let after = try Client.curlLoop(from: "n1p3", "http://\(KernelTests.webVIP)/", count: 4)
            #expect(Set(after.map(\.body)) == ["n1p1", "n2p1"], "\(after)")
        }
    }
}
