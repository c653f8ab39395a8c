import Foundation
import NFQLB
import Testing

extension KernelTests {
    /// Active-flow counts (least-connections, power-of-two) against the conntrack table's truth.
    @Suite("Active-flow resync")
    struct ActiveFlowResync {
        init() throws { try KernelEnvironment.require() }

        static let eventsSysctl = "net.netfilter.nf_conntrack_events"

        @Test("Flows whose destroy events are lost stop counting within the resync interval, and live ones keep counting",
              arguments: KernelTests.modes)
        func lostDestroyEventsHealWithinTheResyncInterval(mode: NFQLBConfig.TCPMode) throws {
            var config = DaemonConfig(mode: mode, services: [.web(strategy: "least-connections", pods: ["n1p1", "n2p1"])])
            config.activeFlowResyncMilliseconds = 1000
            let daemon = try DaemonProcess.start(config)
            defer { daemon.stop() }
            func active(_ metrics: MetricsSnapshot) -> Double { metrics.sum("nfqlb_endpoint_active_flows") }

            // Entries created while node1's conntrack events are off carry no event cache:
            // their destroy events are lost for good, as overrun ones would be.
            let saved = try Cluster.exec("node1", ["sysctl", "-n", Self.eventsSysctl]).trimmedStdout
            try #require(!saved.isEmpty, "cannot read \(Self.eventsSysctl) in node1")
            defer { _ = try? Cluster.exec("node1", ["sysctl", "-qw", "\(Self.eventsSysctl)=\(saved)"]) }
            let off = try Cluster.exec("node1", ["sysctl", "-qw", "\(Self.eventsSysctl)=0"])
            try #require(off.succeeded, "\(off)")
            let replies = try Client.curlLoop(from: "n1p3", "http://\(KernelTests.webVIP)/", count: 6)
            #expect(replies.failures.isEmpty, "failed requests: \(replies.failures)")
            _ = try Cluster.exec("node1", ["sysctl", "-qw", "\(Self.eventsSysctl)=\(saved)"])

            // The kernel holds the six entries (TIME_WAIT): a resync keeps them counted.
            sleep(seconds: 1.5)
            let held = try daemon.metrics()
            #expect(active(held) == 6, "the six flows the kernel holds are not counted: \(held)")

            // Their entries go without an event: only the resync can tell.
            let deleted = try Cluster.exec("node1", ["conntrack", "-D", "--orig-dst", KernelTests.webVIP])
            #expect(deleted.succeeded, "\(deleted)")
            let deletedAt = Date().timeIntervalSince1970
            let healed = try daemon.metrics(within: 3) { active($0) == 0 }
            #expect(active(healed) == 0, "the counts did not return to the kernel's (0) within 3 s: \(healed)")
            #expect(Date().timeIntervalSince1970 - deletedAt < 2.5, "healed only after \(Date().timeIntervalSince1970 - deletedAt) s")
            #expect(healed.sum("nfqlb_active_flows_corrected_total") >= 6, "\(healed)")
            #expect(healed.sum("nfqlb_active_flow_resyncs_total", ["result": "failure"]) == 0, "\(healed)")
        }
    }
}
