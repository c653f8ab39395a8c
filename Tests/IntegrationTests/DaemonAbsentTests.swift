import Foundation
import NFQLB
import Testing

extension KernelTests {
    /// The hooks are installed but no daemon listens on the queues: what a client sees depends
    /// on `--queue-bypass` and, in mode mark, on the nat table's trailing drop.
    @Suite("Hooks installed, no daemon")
    struct DaemonAbsent {
        init() throws { try KernelEnvironment.require() }

        @Test("With bypass the un-NATed SYN goes to node2, which answers unreachable: curl fails within 1 s (exit 7)")
        func withBypassAnUnservedSYNFailsFast() throws {
            try Cluster.installHooks(mode: .conntrack, bypass: true)
            try Cluster.flushConntrack()
            let reply = try Client.curl(from: "n1p3", "http://\(KernelTests.webVIP)/", maxTime: 3)
            #expect(reply.exitCode == 7, "want curl exit 7 (no route / unreachable), got \(reply)")
            #expect(reply.seconds < 1, "took \(reply.seconds) s")
        }

        @Test("Without bypass the SYN is dropped in the queue: curl times out (exit 28)")
        func withoutBypassTheSYNIsDropped() throws {
            try Cluster.installHooks(mode: .conntrack, bypass: false)
            defer { try? Cluster.installHooks(mode: .conntrack, bypass: true) }
            try Cluster.flushConntrack()
            let reply = try Client.curl(from: "n1p3", "http://\(KernelTests.webVIP)/", maxTime: 2)
            #expect(reply.exitCode == 28, "want a timeout (curl exit 28), got \(reply)")
            #expect(reply.seconds >= 1.9, "gave up after \(reply.seconds) s")
        }

        @Test("Mode mark holds the SYN (trailing drop) and completes it once the daemon starts during the client's retries")
        func markModeHoldsTheSYNUntilTheDaemonStarts() throws {
            try Cluster.installHooks(mode: .mark, bypass: true)
            try Cluster.flushConntrack()

            // No daemon: the SYN passes the queue (bypass) and the nat drop holds it.
            let held = try Client.curl(from: "n1p3", "http://\(KernelTests.webVIP)/", maxTime: 2)
            #expect(held.exitCode == 28, "want a timeout (curl exit 28), got \(held)")

            // A client retrying while the daemon comes up gets through on a retransmit.
            let client = try Cluster.spawn("n1p3", ["curl", "-sS", "--max-time", "8", "-w", " @@%{time_total}",
                                                    "http://\(KernelTests.webVIP)/"], timeout: 12, label: "curl-mark-wait")
            defer { client.stop() }
            sleep(seconds: 1.5)
            let daemon = try DaemonProcess.start(DaemonConfig(mode: .mark, services: [.web(pods: KernelTests.threePods)]),
                                                 installHooks: true, flushConntrack: false)
            defer { daemon.stop() }
            let result = client.wait(timeout: 12)
            let body = result.stdout.components(separatedBy: " @@").first?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            #expect(result.status == 0 && KernelTests.threePods.contains(body), "curl: \(result)")
            #expect(result.seconds < 8, "took \(result.seconds) s")
            // Nothing is stuck: the next connection goes through at once.
            let next = try Client.curl(from: "n1p3", "http://\(KernelTests.webVIP)/", maxTime: 2)
            #expect(next.succeeded && next.seconds < 1, "\(next)")
        }
    }
}
