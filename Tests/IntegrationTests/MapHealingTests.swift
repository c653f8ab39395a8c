import Foundation
import NFQLB
import Testing

extension KernelTests {
    /// Mode mark's nftables map is refilled by the daemon whenever it is emptied or recreated
    /// behind its back (issue 8 item 2): without the map, the hooks' trailing drop eats the
    /// first packet of every new flow of every service until a restart.
    @Suite("Mode mark heals its nftables map")
    struct MapHealing {
        init() throws { try KernelEnvironment.require() }

        /// The endpoints the kernel's map holds now, as "address . port" strings.
        static func mapElements() throws -> [String] {
            let listing = try Cluster.exec("node1", ["nft", "-nn", "list", "map", "ip", "nfqlb", "endpoints"])
            guard listing.succeeded else { return [] }
            let pattern = try NSRegularExpression(pattern: #"\d+\.\d+\.\d+\.\d+ \. (\d+|http)\b"#)
            let text = listing.stdout
            return pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { match in
                Range(match.range, in: text).map { String(text[$0]) }
            }.sorted()
        }

        static func expectedElements(_ pods: [String]) -> [String] {
            pods.map { "\(Cluster.ip($0)) . 8080" }.sorted()
        }

        /// Waits (at most `within` seconds) until the map holds exactly the endpoints of `pods`;
        /// returns how long that took, nil if it did not happen.
        static func restoredAfter(_ pods: [String], within: Double) throws -> Double? {
            let start = Date()
            let done = try eventually(timeout: within, interval: 0.02) { try mapElements() == expectedElements(pods) }
            return done ? Date().timeIntervalSince(start) : nil
        }

        /// Five new connections through the VIP from the pod client, each must be answered by
        /// one of `pods` without a retransmitted SYN (a dropped first SYN costs 1 s).
        static func expectNewConnectionsWork(_ pods: [String], _ daemon: DaemonProcess, _ context: String) throws {
            let replies = try Client.curlLoop(from: "n1p3", "http://\(KernelTests.webVIP)/", count: 5, maxTime: 2)
            #expect(replies.count == 5 && replies.allSatisfy { $0.succeeded && pods.contains($0.body) && $0.seconds < 0.9 },
                    "\(context): \(replies)\n\(daemon.stateDescription)")
        }

        /// Runs `damage` against a daemon in mode mark that serves the web VIP, then expects the
        /// map back within 1 s, new connections through the VIP, and the repair counted.
        func expectHealing(after damage: () throws -> Void, _ what: String) throws {
            let pods = KernelTests.threePods
            let daemon = try DaemonProcess.start(DaemonConfig(mode: .mark, services: [.web(pods: pods)]))
            defer { daemon.stop() }
            defer { _ = try? Cluster.installHooks(mode: .mark) }  // whatever the damage left, hooks for the next test
            try #require(try Self.restoredAfter(pods, within: 2) != nil, "map not filled at start: \((try? Self.mapElements()) ?? [])")
            try Self.expectNewConnectionsWork(pods, daemon, "before \(what)")

            try damage()
            let took = try Self.restoredAfter(pods, within: 1)
            #expect(took != nil, "after \(what) the map holds \((try? Self.mapElements()) ?? []) 1 s later, want \(Self.expectedElements(pods))\n\(daemon.stateDescription)")
            try Self.expectNewConnectionsWork(pods, daemon, "after \(what)")
            let metrics = try daemon.metrics(within: 2) { $0.sum("nfqlb_endpoint_map_repairs_total") >= 1 && $0.value("nfqlb_endpoint_map_in_sync") == 1 }
            #expect(metrics.sum("nfqlb_endpoint_map_repairs_total") >= 1 && metrics.value("nfqlb_endpoint_map_in_sync") == 1, "\(metrics)")
        }

        @Test("Removing then installing the hooks while the daemon runs: the map is refilled within 1 s and new connections succeed")
        func hooksReinstalled() throws {
            try expectHealing(after: {
                try Cluster.removeHooks()
                try Cluster.installHooks(mode: .mark)
            }, "iptables-hooks.sh remove then install")
        }

        @Test("nft flush ruleset in the node, then the hooks installed again: the map is refilled within 1 s and new connections succeed")
        func rulesetFlushed() throws {
            try expectHealing(after: {
                try Cluster.check("node1", ["nft", "flush", "ruleset"])
                try Cluster.installHooks(mode: .mark)
            }, "nft flush ruleset and a re-install")
        }

        @Test("The map's elements deleted behind the daemon's back are restored within 1 s")
        func elementsFlushed() throws {
            try expectHealing(after: {
                try Cluster.check("node1", ["nft", "flush", "map", "ip", "nfqlb", "endpoints"])
            }, "nft flush map ip nfqlb endpoints")
        }

        @Test("Elements deleted behind the daemon's back right after a reload it verified are restored within 1 s (a reload does not make the daemon trust a stale picture)")
        func damageAfterReload() throws {
            let before = KernelTests.threePods
            let after = ["n1p2", "n2p1"]
            let daemon = try DaemonProcess.start(DaemonConfig(mode: .mark, services: [.web(pods: before)]))
            defer { daemon.stop() }
            try #require(try Self.restoredAfter(before, within: 2) != nil, "map not filled at start: \((try? Self.mapElements()) ?? [])")
            Thread.sleep(forTimeInterval: 0.6)  // the reconciler has looked (every 250 ms) and verified the map
            try #require(try daemon.reconfigure(DaemonConfig(mode: .mark, services: [.web(pods: after)])), "reload not applied\n\(daemon.stateDescription)")
            try #require(try Self.restoredAfter(after, within: 1) != nil, "reload not in the map: \((try? Self.mapElements()) ?? [])")
            try Cluster.check("node1", ["nft", "flush", "map", "ip", "nfqlb", "endpoints"])
            let took = try Self.restoredAfter(after, within: 1)
            #expect(took != nil, "the map holds \((try? Self.mapElements()) ?? []) 1 s after the flush, want \(Self.expectedElements(after))\n\(daemon.stateDescription)")
            try Self.expectNewConnectionsWork(after, daemon, "after the flush")
        }

        @Test("Commits to other nftables tables and the daemon's own reloads never make it read its map back (a read of a large map costs the kernel minutes); damage to the map still does")
        func mapIsReadOnlyWhenItMayHaveChanged() throws {
            let daemon = try DaemonProcess.start(DaemonConfig(mode: .mark, services: [.web(pods: KernelTests.threePods)]))
            defer { daemon.stop() }
            defer { _ = try? Cluster.exec("node1", ["nft", "delete", "table", "ip", "nfqlbtest_other"]) }
            try #require(try Self.restoredAfter(KernelTests.threePods, within: 2) != nil, "map not filled at start")
            Thread.sleep(forTimeInterval: 0.6)  // the reconciler has looked at least twice
            let reads = { try daemon.metrics().sum("nfqlb_endpoint_map_reads_total", ["family": "ipv4"]) }
            let before = try reads()
            for i in 0..<5 {
                try Cluster.check("node1", ["nft", "add table ip nfqlbtest_other; add chain ip nfqlbtest_other c\(i)"])
                Thread.sleep(forTimeInterval: 0.3)
            }
            for pods in [["n1p1", "n2p1"], KernelTests.threePods] {
                try #require(try daemon.reconfigure(DaemonConfig(mode: .mark, services: [.web(pods: pods)])), "reload not applied")
                try #require(try Self.restoredAfter(pods, within: 1) != nil, "reload not in the map: \((try? Self.mapElements()) ?? [])")
                Thread.sleep(forTimeInterval: 0.3)
            }
            let after = try reads()
            #expect(after == before, "the map was read back \(after - before) times for commits that could not have changed it")

            try Cluster.check("node1", ["nft", "flush", "map", "ip", "nfqlb", "endpoints"])
            #expect(try Self.restoredAfter(KernelTests.threePods, within: 1) != nil, "a flush after all that was not healed within 1 s")
            #expect(try reads() > after, "the flush was healed without reading the map?")
        }

        @Test("An endpoint change right after the map was emptied still converges: the map holds exactly the new endpoints")
        func reloadAfterDamage() throws {
            let before = KernelTests.threePods
            let after = ["n1p1", "n2p2"]
            let daemon = try DaemonProcess.start(DaemonConfig(mode: .mark, services: [.web(pods: before)]))
            defer { daemon.stop() }
            try #require(try Self.restoredAfter(before, within: 2) != nil, "map not filled at start: \((try? Self.mapElements()) ?? [])")
            // An element of the daemon's picture is gone and one it never wrote is there: a
            // blind delete would fail on the first, a blind add would leave the second.
            let stray = "add element ip nfqlb endpoints { 0x7ff00000 : 10.244.9.9 . 80 }"
            try Cluster.check("node1", ["bash", "-c", "nft flush map ip nfqlb endpoints && nft '\(stray)'"])
            try #require(try daemon.reconfigure(DaemonConfig(mode: .mark, services: [.web(pods: after)])), "reload not applied\n\(daemon.stateDescription)")
            let took = try Self.restoredAfter(after, within: 1)
            #expect(took != nil, "the map holds \((try? Self.mapElements()) ?? []) 1 s after the reload, want \(Self.expectedElements(after))\n\(daemon.stateDescription)")
            try Self.expectNewConnectionsWork(after, daemon, "after the reload")
        }
    }
}
