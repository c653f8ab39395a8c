import Foundation
import NFQLB
import Testing

extension KernelTests {
    /// `/healthz` and `/readyz` of a real daemon, and what makes them fail for real: a queue
    /// that another nfq-lb holds.
    @Suite("Health endpoints: ready once every queue is bound, and why not otherwise")
    struct HealthEndpoints {
        init() throws { try KernelEnvironment.require() }

        @Test("/readyz and /healthz answer 200 ok once the daemon has started")
        func readyAfterStart() throws {
            let daemon = try DaemonProcess.start(DaemonConfig(mode: .conntrack, services: [.web(pods: KernelTests.threePods)]))
            defer { daemon.stop() }
            let ready = try daemon.answer("/readyz")
            let healthy = try daemon.answer("/healthz")
            #expect(ready.status == 200 && ready.body == "ok\n", "\(ready)")
            #expect(healthy.status == 200 && healthy.body == "ok\n", "\(healthy)")
        }

        @Test("A daemon whose queues another process holds answers 503 with the queue and the error, and becomes ready once they are free")
        func queuesHeldElsewhereAreNotReadyUntilFreed() throws {
            let config = DaemonConfig(mode: .conntrack, services: [.web(pods: KernelTests.threePods)])
            let holder = try DaemonProcess.start(config)
            defer { holder.stop() }
            let second = try DaemonProcess.start(config, installHooks: false, flushConntrack: false, awaitHealthy: false)
            defer { second.stop() }

            let ready = try second.answer("/readyz")
            let healthy = try second.answer("/healthz")
            #expect(ready.status == 503 && ready.body.contains("queue") && ready.body.contains("not bound"), "\(ready)\n\(second.stateDescription)")
            #expect(healthy.status == 503 && healthy.body.contains("not bound"), "\(healthy)")

            #expect(holder.terminate()?.status == 0, "the holder did not exit cleanly")
            let bound = try eventually(timeout: 5, interval: 0.2) { try second.answer("/readyz").status == 200 }
            let after = try second.answer("/readyz")
            #expect(bound, "the queues were not bound within 5 s of being freed: \(after)\n\(second.stateDescription)")
        }
    }

    /// `run --install-hooks` finds its script from its own path, never from the working directory.
    @Suite("Hooks script: never from the working directory")
    struct HooksScriptLocation {
        init() throws { try KernelEnvironment.require() }

        @Test("A script planted as ./deploy/iptables-hooks.sh in the working directory is never run by --install-hooks")
        func aPlantedScriptIsNeverRun() throws {
            let directory = Shell.scratchFile("planted")
            let marker = Shell.scratchFile("planted-ran")
            try FileManager.default.createDirectory(atPath: directory + "/deploy", withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let script = directory + "/deploy/iptables-hooks.sh"
            try "#!/bin/bash\ntouch \(marker)\nexit 1\n".write(toFile: script, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)

            let daemon = try DaemonProcess.start(DaemonConfig(mode: .conntrack, services: [.web(pods: KernelTests.threePods)]),
                                                 installHooks: false, wrapper: ["env", "-C", directory], arguments: ["--install-hooks"])
            defer { daemon.stop() }
            #expect(!FileManager.default.fileExists(atPath: marker), "the planted script ran")
            #expect(try daemon.answer("/readyz").status == 200, "\(daemon.stateDescription)")
        }
    }

    /// Records a log shipper can read: one per line, in both formats.
    @Suite("Logs: one record per line")
    struct LogLines {
        init() throws { try KernelEnvironment.require() }

        @Test("A rejected reload with several errors is single-line records, and every JSON line parses", arguments: LineLogHandler.Format.allCases)
        func aRejectedReloadIsOneLinePerRecord(format: LineLogHandler.Format) throws {
            let config = DaemonConfig(mode: .conntrack, services: [.web(pods: KernelTests.threePods)])
            let daemon = try DaemonProcess.start(config, arguments: ["--log-format", format.rawValue])
            defer { daemon.stop() }
            let before = try daemon.metrics().sum("nfqlb_reloads_total", ["result": "failure"])
            let bad = config.yaml.replacingOccurrences(of: "port: 80", with: "port: 99999")
                + "\nbogusTopLevel: 1\nanotherBogus: 2\n"
            try daemon.writeRaw(bad)
            let counted = try eventually(timeout: 5, interval: 0.1) {
                try daemon.metrics().sum("nfqlb_reloads_total", ["result": "failure"]) > before
            }
            #expect(counted, "the bad reload was not counted: \(daemon.log.suffix(1500))")
            let lines = daemon.log.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
            let rejected = lines.filter { $0.contains("reload rejected") }
            #expect(rejected.count == 1, "\(rejected)")
            #expect(rejected.first?.contains("bogusTopLevel") == true && rejected.first?.contains("anotherBogus") == true, "\(rejected)")
            for line in lines {
                switch format {
                case .json:
                    let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                    #expect(object?["message"] != nil, "not a JSON record: \(line)")
                case .text:
                    #expect(line.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z [a-z]+ "#, options: .regularExpression) != nil,
                            "a line that does not start a record: \(line)")
                }
            }
        }
    }
}
