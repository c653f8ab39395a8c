import Foundation
import NFQLB
import Testing

extension KernelTests {
    /// Config reloads, endpoints leaving (drain, reset, stale UDP entries), health checks, a
    /// daemon killed with SIGKILL, and a broken config: what established and new flows see.
    @Suite("Reload and churn")
    struct ReloadAndChurn {
        init() throws { try KernelEnvironment.require() }

        static var now: Double { Date().timeIntervalSince1970 }

        // MARK: (a) reload under load

        @Test("Five config rewrites under a load of 300 sequential connections lose no connection, and each config takes over at once",
              arguments: KernelTests.modes)
        func reloadsUnderLoadLoseNoConnection(mode: NFQLBConfig.TCPMode) throws {
            // n1p1 stays in every version; the others come and go.
            let versions = [["n1p1", "n2p2"], ["n1p1", "n1p2", "n2p3"], ["n1p1"], ["n1p1", "n2p1", "n2p2"], ["n1p1", "n1p2", "n2p1"]]
            let daemon = try DaemonProcess.start(DaemonConfig(mode: mode, services: [.web(pods: KernelTests.threePods)]))
            defer { daemon.stop() }

            let load = try Client.spawnCurlLoop(from: "n1p3", "http://\(KernelTests.webVIP)/", count: 300, maxTime: 3, pause: 0.01)
            defer { load.stop() }
            // (written, applied, pods) per config version; version 0 is the one started with.
            var switches: [(written: Double, applied: Double, pods: [String])] = [(0, 0, KernelTests.threePods)]
            for (i, pods) in versions.enumerated() {
                sleep(seconds: 0.3)
                let written = Self.now
                let applied = try daemon.reconfigure(DaemonConfig(mode: mode, services: [.web(pods: pods)]))
                #expect(applied, "rewrite \(i + 1) was not reloaded within 5 s; log:\n\(daemon.log.suffix(1500))")
                switches.append((written, Self.now, pods))
                #expect(load.isRunning, "the load ended before rewrite \(i + 1): the rewrites did not happen under load")
            }
            let finished = load.wait(timeout: 60)
            let replies = Client.parseCurlLoop(finished.stdout)
            #expect(replies.count == 300, "the load made \(replies.count) requests: \(finished)")
            #expect(replies.failures.isEmpty, "\(replies.failures.count) failed: \(replies.failures.prefix(10))")
            // A request started after a version was applied and before the next was written
            // goes only to that version's pods.
            for (k, version) in switches.enumerated() {
                let end = k + 1 < switches.count ? switches[k + 1].written : .infinity
                let during = replies.filter { ($0.startedAt ?? 0) > version.applied && ($0.startedAt ?? 0) < end && $0.succeeded }
                let strays = during.filter { !version.pods.contains($0.body) }
                #expect(strays.isEmpty, "with version \(k) (\(version.pods)) requests went to \(Set(strays.map(\.body)))")
            }
            let metrics = try daemon.metrics()
            #expect(metrics.sum("nfqlb_reloads_total", ["result": "success"]) == Double(versions.count), "\(metrics)")
            #expect(metrics.sum("nfqlb_reloads_total", ["result": "failure"]) == 0, "\(metrics)")
        }

        // MARK: (b) endpoint removal

        /// Starts a long-lived TCP echo connection from n1p3 through the echo VIP (endpoints
        /// n1p1 and n2p1) and returns it with the pod that answers it.
        static func openEchoConnection(duration: Double) throws -> (HelperClient, String) {
            let client = try HelperClient.tcp(from: "n1p3", to: KernelTests.tcpEchoVIP, port: Cluster.tcpEchoPort, duration: duration)
            guard let first = client.waitFor(timeout: 3, { $0.kind == "reply" }), let pod = first.pod else {
                client.stop()
                throw SetupError("the echo connection through \(KernelTests.tcpEchoVIP) got no reply: \(client.transcript)")
            }
            return (client, pod)
        }

        static let echoPods = ["n1p1", "n2p1"]

        static func echoConfig(_ mode: NFQLBConfig.TCPMode, pods: [String] = echoPods, removal: String? = nil,
                               notReady: String? = nil) -> DaemonConfig {
            var echo = ServiceSpec.tcpEcho(pods: pods)
            echo.endpointRemoval = removal
            if let notReady {
                echo.endpoints = echo.endpoints.map { $0.address == Cluster.ip(notReady) ? EndpointSpec(address: $0.address, port: $0.port, ready: false) : $0 }
            }
            return DaemonConfig(mode: mode, services: [echo])
        }

        @Test("An endpoint removed with endpointRemoval drain keeps its established connection, and new ones go elsewhere",
              arguments: KernelTests.modes)
        func drainedEndpointKeepsItsEstablishedConnection(mode: NFQLBConfig.TCPMode) throws {
            let daemon = try DaemonProcess.start(Self.echoConfig(mode))
            defer { daemon.stop() }
            let (client, pod) = try Self.openEchoConnection(duration: 4)
            defer { client.stop() }
            let other = Self.echoPods.first { $0 != pod }!

            try #require(try daemon.reconfigure(Self.echoConfig(mode, pods: [other])))
            let removedAt = Self.now
            let (fresh, freshPod) = try Self.openEchoConnection(duration: 0.3)
            fresh.stop()
            #expect(freshPod == other, "a new connection went to the removed endpoint \(pod)")

            let after = client.finish(timeout: 10).filter { $0.time > removedAt }
            let replies = after.filter { $0.kind == "reply" }
            #expect(replies.count >= 5, "the connection got \(replies.count) echoes after the removal: \(after)")
            #expect(replies.allSatisfy { $0.pod == pod }, "echoes came from \(Set(replies.compactMap(\.pod)))")
            #expect(after.allSatisfy { $0.kind == "reply" || $0.kind == "done" }, "the drained connection broke: \(after)")
        }

        @Test("An endpoint removed from a service with endpointRemoval reset has its established connection cut",
              arguments: KernelTests.modes)
        func resetEndpointCutsItsEstablishedConnection(mode: NFQLBConfig.TCPMode) throws {
            let daemon = try DaemonProcess.start(Self.echoConfig(mode, removal: "reset"))
            defer { daemon.stop() }
            let (client, pod) = try Self.openEchoConnection(duration: 3)
            defer { client.stop() }
            let other = Self.echoPods.first { $0 != pod }!

            try #require(try daemon.reconfigure(Self.echoConfig(mode, pods: [other], removal: "reset")))
            let removedAt = Self.now
            let events = client.finish(timeout: 10)
            try Self.expectCut(events, after: removedAt, daemon: daemon, endpoint: "\(Cluster.ip(pod)):\(Cluster.tcpEchoPort)")
        }

        @Test("An endpoint of a reset service that turns not ready has its established connection cut",
              arguments: KernelTests.modes)
        func resetEndpointTurningNotReadyIsCut(mode: NFQLBConfig.TCPMode) throws {
            let daemon = try DaemonProcess.start(Self.echoConfig(mode, removal: "reset"))
            defer { daemon.stop() }
            let (client, pod) = try Self.openEchoConnection(duration: 3)
            defer { client.stop() }

            try #require(try daemon.reconfigure(Self.echoConfig(mode, removal: "reset", notReady: pod)))
            let removedAt = Self.now
            let events = client.finish(timeout: 10)
            try Self.expectCut(events, after: removedAt, daemon: daemon, endpoint: "\(Cluster.ip(pod)):\(Cluster.tcpEchoPort)")
        }

        /// A cut connection: no echo more than 0.5 s after the change (its packets no longer
        /// reach the endpoint), and our entry of it was deleted.
        static func expectCut(_ events: [ClientEvent], after changedAt: Double, daemon: DaemonProcess, endpoint: String) throws {
            let late = events.filter { $0.kind == "reply" && $0.time > changedAt + 0.5 }
            #expect(late.isEmpty, "the connection kept working after the reset: \(late.count) echoes, e.g. \(late.prefix(3))")
            #expect(events.contains { ["timeout", "error", "closed"].contains($0.kind) && $0.time > changedAt },
                    "no timeout or error after the reset: \(events)")
            let metrics = try daemon.metrics()
            #expect(metrics.sum("nfqlb_conntrack_stale_entries_deleted_total") >= 1, "no entry of \(endpoint) was deleted\n\(metrics)")
        }

        @Test("A UDP flow to a removed endpoint moves to another pod within 2 s (its stale entry is deleted)",
              arguments: KernelTests.modes)
        func staleUDPEntryIsDeletedWhenItsEndpointGoes(mode: NFQLBConfig.TCPMode) throws {
            let pods = ["n1p1", "n2p1"]
            let daemon = try DaemonProcess.start(DaemonConfig(mode: mode, services: [.udpEcho(pods: pods)]))
            defer { daemon.stop() }
            let sourcePort = KernelTests.ClientPorts.staleUDP + (KernelTests.modes.firstIndex(of: mode) ?? 0)
            let client = try HelperClient.udp(from: "n1p3", to: KernelTests.udpEchoVIP, port: 9000, sourcePort: sourcePort, duration: 5)
            defer { client.stop() }
            let first = try #require(client.waitFor(timeout: 3) { $0.kind == "reply" }, "no UDP echo: \(client.transcript)")
            let pod = try #require(first.pod)
            let other = pods.first { $0 != pod }!

            try #require(try daemon.reconfigure(DaemonConfig(mode: mode, services: [.udpEcho(pods: [other])])))
            let removedAt = Self.now
            let events = client.finish(timeout: 12)
            let replies = events.filter { $0.kind == "reply" && $0.time > removedAt }
            let moved = replies.first { $0.pod == other }
            #expect(moved != nil && moved!.time - removedAt < 2, "no echo from \(other) within 2 s of the removal: \(events)")
            let settled = replies.filter { $0.time > removedAt + 2 }
            #expect(settled.count >= 5 && settled.allSatisfy { $0.pod == other },
                    "echoes 2 s after the removal: \(settled.map { $0.pod ?? "?" })")
            let metrics = try daemon.metrics()
            #expect(metrics.sum("nfqlb_conntrack_stale_entries_deleted_total") >= 1, "\(metrics)")
        }

        // MARK: (c) health checks

        @Test("A failing health check takes its endpoint out within 2 s, and a passing one brings it back",
              arguments: KernelTests.modes)
        func failingHealthCheckTakesEndpointOutAndBringsItBack(mode: NFQLBConfig.TCPMode) throws {
            var web = ServiceSpec.web(pods: KernelTests.threePods)
            web.healthCheck = HealthCheckSpec(intervalMilliseconds: 200, timeoutMilliseconds: 100, rise: 2, fall: 2)
            let daemon = try DaemonProcess.start(DaemonConfig(mode: mode, services: [web]))
            defer { daemon.stop() }
            let victim = "n1p2"
            let victimKey = "\(Cluster.ip(victim)):8080"
            func victimStatus() throws -> StatusReport.EndpointStatus? {
                try daemon.status().services.first?.endpoints.first { $0.address == Cluster.ip(victim) }
            }
            let allHealthy = try eventually(timeout: 2) {
                try daemon.status().services.first?.endpoints.allSatisfy { $0.healthy == true } == true
            }
            let initial = try daemon.status().services.first?.endpoints.map { "\($0.address) healthy=\(String(describing: $0.healthy))" }
            try #require(allHealthy, "not every endpoint became healthy: \(initial ?? [])")

            try Cluster.stopHTTP(victim)
            defer { if (try? Cluster.exec(victim, ["ss", "-Hltn", "sport = :8080"]).trimmedStdout.isEmpty) ?? true { try? Cluster.startHTTP(victim) } }
            let stoppedAt = Self.now
            let down = try eventually(timeout: 2) { try victimStatus()?.healthy == false }
            let unhealthy = try victimStatus()
            #expect(down, "\(victim) is not unhealthy \(String(format: "%.1f", Self.now - stoppedAt)) s after its server stopped: \(String(describing: unhealthy))")
            #expect(unhealthy?.takesNewFlows == false, "\(String(describing: unhealthy))")
            let metricsDown = try daemon.metrics(within: 1) { $0.value("nfqlb_endpoint_healthy", ["endpoint": victimKey]) == 0 }
            #expect(metricsDown.value("nfqlb_endpoint_healthy", ["endpoint": victimKey]) == 0, "\(metricsDown)")

            let without = try Client.curlLoop(from: "n1p3", "http://\(KernelTests.webVIP)/", count: 20)
            #expect(without.failures.isEmpty, "failed requests: \(without.failures)")
            #expect(without.countsByBody == ["n1p1": 10, "n2p1": 10], "bodies: \(without.map(\.body))")

            try Cluster.startHTTP(victim)
            let startedAt = Self.now
            let up = try eventually(timeout: 2) { try victimStatus()?.healthy == true }
            #expect(up, "\(victim) is not healthy \(String(format: "%.1f", Self.now - startedAt)) s after its server came back")
            let metricsUp = try daemon.metrics(within: 1) { $0.value("nfqlb_endpoint_healthy", ["endpoint": victimKey]) == 1 }
            #expect(metricsUp.value("nfqlb_endpoint_healthy", ["endpoint": victimKey]) == 1, "\(metricsUp)")

            let with = try Client.curlLoop(from: "n1p3", "http://\(KernelTests.webVIP)/", count: 30)
            #expect(with.failures.isEmpty, "failed requests: \(with.failures)")
            #expect(with.countsByBody == ["n1p1": 10, "n1p2": 10, "n2p1": 10], "bodies: \(with.map(\.body))")
        }

        // MARK: (d) kill -9

        @Test("SIGKILL under load: established connections keep working, and new ones succeed within 1 s of the restart",
              arguments: KernelTests.modes)
        func killNineKeepsEstablishedConnections(mode: NFQLBConfig.TCPMode) throws {
            let daemon = try DaemonProcess.start(DaemonConfig(mode: mode, services: [
                .web(pods: KernelTests.threePods), .tcpEcho(pods: Self.echoPods),
            ]))
            defer { daemon.stop() }
            let (client, pod) = try Self.openEchoConnection(duration: 6)
            defer { client.stop() }
            let load = try Client.spawnCurlLoop(from: "n1p3", "http://\(KernelTests.webVIP)/", count: 100, maxTime: 1, pause: 0.03)
            defer { load.stop() }

            sleep(seconds: 0.8)
            let killedAt = Self.now
            daemon.kill9()
            sleep(seconds: 1)
            let restartedAt = Self.now
            try daemon.launch()
            var firstSuccess: Double?
            try eventually(timeout: 3, interval: 0.02) {
                let reply = try Client.curl(from: "n1p3", "http://\(KernelTests.webVIP)/", maxTime: 0.5)
                if reply.succeeded { firstSuccess = Self.now }
                return reply.succeeded
            }
            let served = try #require(firstSuccess, "no new connection succeeded within 3 s of the restart")
            #expect(served - restartedAt < 1, "the first new connection succeeded \(served - restartedAt) s after the restart")

            let events = client.finish(timeout: 12)
            let broken = events.filter { $0.kind != "reply" && $0.kind != "done" && $0.kind != "connected" }
            #expect(broken.isEmpty, "the established connection suffered: \(broken)")
            #expect(events.filter { $0.time > killedAt && $0.kind == "reply" }.count >= 10, "too few echoes after the kill: \(events)")
            #expect(events.filter { $0.kind == "reply" }.allSatisfy { $0.pod == pod }, "echoes from several pods: \(events)")

            let replies = Client.parseCurlLoop(load.wait(timeout: 30).stdout)
            let before = replies.filter { ($0.startedAt ?? 0) < killedAt - 0.1 }
            let afterRestart = replies.filter { ($0.startedAt ?? 0) > restartedAt + 1 }
            #expect(before.failures.isEmpty, "requests failed before the kill: \(before.failures)")
            #expect(!afterRestart.isEmpty, "the load ended before the restart")
            #expect(afterRestart.failures.isEmpty, "requests failed more than 1 s after the restart: \(afterRestart.failures)")
        }

        // MARK: (e) broken config

        @Test("A reload of a broken config keeps the old config in force and says file:line: field: problem; a repaired one and SIGHUP reload")
        func malformedConfigReloadKeepsTheOldConfig() throws {
            let good = DaemonConfig(services: [.web(pods: ["n1p1", "n1p2"])])
            let daemon = try DaemonProcess.start(good)
            defer { daemon.stop() }

            var broken = daemon.config
            broken.services[0].strategy = "bogus"
            let text = broken.yaml
            let line = try #require(text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("strategy: bogus") }) + 1
            try daemon.writeRaw(text)
            let metrics = try daemon.metrics(within: 5) { $0.sum("nfqlb_reloads_total", ["result": "failure"]) >= 1 }
            #expect(metrics.sum("nfqlb_reloads_total", ["result": "failure"]) == 1, "\(metrics)")
            #expect(metrics.sum("nfqlb_reloads_total", ["result": "success"]) == 0, "\(metrics)")
            #expect(daemon.log.contains("\(daemon.configPath):\(line): services[0].strategy: unknown 'bogus'"),
                    "no file:line: field error in the log:\n\(daemon.log.suffix(2000))")

            let replies = try Client.curlLoop(from: "n1p3", "http://\(KernelTests.webVIP)/", count: 6)
            #expect(replies.failures.isEmpty, "failed requests: \(replies.failures)")
            #expect(replies.countsByBody == ["n1p1": 3, "n1p2": 3], "the old config is not in force: \(replies.map(\.body))")
            #expect(try daemon.status().services.first?.strategy == "round-robin")

            // A repaired config is picked up, and SIGHUP reloads on demand.
            #expect(try daemon.reconfigure(DaemonConfig(services: [.web(pods: ["n1p1", "n2p1"])])), "the repaired config was not reloaded")
            let beforeHUP = try daemon.metrics().sum("nfqlb_reloads_total", ["result": "success"])
            daemon.reload()
            let afterHUP = try daemon.metrics(within: 3) { $0.sum("nfqlb_reloads_total", ["result": "success"]) > beforeHUP }
            #expect(afterHUP.sum("nfqlb_reloads_total", ["result": "success"]) == beforeHUP + 1, "SIGHUP did not reload: \(afterHUP)")
            #expect(daemon.log.contains("SIGHUP"), "no SIGHUP reload in the log")
            let repaired = try Client.curlLoop(from: "n1p3", "http://\(KernelTests.webVIP)/", count: 4)
            #expect(repaired.failures.isEmpty && repaired.countsByBody == ["n1p1": 2, "n2p1": 2], "\(repaired.map(\.body))")
        }
    }
}
