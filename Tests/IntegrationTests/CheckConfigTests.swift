import Foundation
import Testing

/// `nfq-lb check-config`: the real binary on config files. Needs no root and no kernel, so it
/// is not part of the kernel suite (it may run beside it).
@Suite("nfq-lb check-config")
struct CheckConfigTests {
    /// A config with one mistake per line that matters, and the exact lines check-config must
    /// print for it (stderr, one per problem, in file order; `FILE` stands for the path).
    static let badConfig = """
        queues: "0:1"
        serviceCIDRs: [10.96.0.0/12]
        tcpMode: turbo
        services:
          - name: web
            vip: 10.200.0.10
            port: 70000
            strategy: round-robbin
            endpointRemoval: later
            endpoints:
              - {address: 10.244.1.11}
              - {address: 10.244.1.12, port: 8080, weight: heavy}
              - {address: 10.244.2.11, port: 8080, wieght: 2}
          - name: dns
            vip: 10.96.0.53
            port: 53
            protocol: sctp
            endpoints:
              - {address: fd00::1, port: 53}

        """

    static let expectedProblems = [
        "FILE:3: tcpMode: must be one of mark, conntrack, rewrite; got 'turbo'",
        "FILE:6: services[0].vip: 10.200.0.10 is outside serviceCIDRs (10.96.0.0/12): the hooks would never queue it",
        "FILE:7: services[0].port: must be between 1 and 65535; got 70000",
        "FILE:8: services[0].strategy: unknown 'round-robbin' (known: least-connections, maglev, power-of-two, random, round-robin, source-hash, weighted-round-robin)",
        "FILE:9: services[0].endpointRemoval: must be one of drain, reset; got 'later'",
        "FILE:11: services[0].endpoints[0].port: is required",
        "FILE:12: services[0].endpoints[1].weight: must be an integer; got 'heavy'",
        "FILE:13: services[0].endpoints[2].wieght: unknown field; known: address, port, weight, ready, serving, terminating, node, local, zone, forZones",
        "FILE:17: services[1].protocol: must be tcp or udp; got 'sctp'",
        "FILE:19: services[1].endpoints[0].address: fd00::1 is IPv6 but the VIP 10.96.0.53 is IPv4: a VIP's endpoints must be of its family (a dual-stack service is one service per family)",
    ]

    static let goodConfig = """
        queues: "0:1"
        serviceCIDRs: [10.96.0.0/12]
        tcpMode: mark
        services:
          - name: web
            vip: 10.96.0.10
            port: 80
            strategy: weighted-round-robin
            endpoints:
              - {address: 10.244.1.11, port: 8080, weight: 3}
              - {address: 10.244.2.11, port: 8080}
          - name: dns
            vip: 10.96.0.53
            port: 53
            protocol: udp
            endpoints:
              - {address: 10.244.1.11, port: 53}

        """

    static func write(_ text: String, as name: String) throws -> String {
        let path = Shell.scratchFile(name)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("check-config prints every problem of a bad config as FILE:LINE: FIELD: MESSAGE, exactly, and exits 1")
    func checkConfigPrintsEveryProblemWithFileLineAndField() throws {
        if let problem = Repository.binaryProblem { throw SetupError(problem) }
        let path = try Self.write(Self.badConfig, as: "bad.yaml")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try Shell.run([Repository.binary, "check-config", path], timeout: 30)
        #expect(result.status == 1, "\(result)")
        #expect(result.stdout.isEmpty, "stdout: \(result.stdout)")
        let lines = result.stderr.split(separator: "\n").map(String.init)
        let expected = Self.expectedProblems.map { $0.replacingOccurrences(of: "FILE:", with: "\(path):") }
        #expect(lines == expected)
        for (index, want) in expected.enumerated() where index >= lines.count || lines[index] != want {
            Issue.record("line \(index + 1): want\n  \(want)\ngot\n  \(index < lines.count ? lines[index] : "(nothing)")")
            break
        }
    }

    @Test("check-config builds every balancer: a Maglev tableSize smaller than the endpoint count is refused with file:line: field, as a reload would")
    func checkConfigRefusesWhatABalancerBuildRefuses() throws {
        if let problem = Repository.binaryProblem { throw SetupError(problem) }
        let text = """
            queues: "0:1"
            serviceCIDRs: [10.96.0.0/12]
            services:
              - name: web
                vip: 10.96.0.10
                port: 80
                endpoints: [{address: 10.244.1.11, port: 8080}]
              - name: tiny
                vip: 10.96.0.11
                port: 80
                strategy: maglev
                strategyOptions: {tableSize: 3}
                endpoints:
                  - {address: 10.244.1.11, port: 8080}
                  - {address: 10.244.1.12, port: 8080}
                  - {address: 10.244.1.13, port: 8080}
                  - {address: 10.244.1.14, port: 8080}

            """
        let path = try Self.write(text, as: "maglev.yaml")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try Shell.run([Repository.binary, "check-config", path], timeout: 30)
        #expect(result.status == 1, "\(result)")
        #expect(result.stdout.isEmpty, "stdout: \(result.stdout)")
        let lines = result.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == 1 && lines.first?.hasPrefix("\(path):8: services[1].strategyOptions.tableSize: ") == true, "\(result)")
    }

    @Test("check-config accepts a good config with a one-line summary and exits 0")
    func checkConfigAcceptsAGoodConfig() throws {
        if let problem = Repository.binaryProblem { throw SetupError(problem) }
        let path = try Self.write(Self.goodConfig, as: "good.yaml")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try Shell.run([Repository.binary, "check-config", path], timeout: 30)
        #expect(result.status == 0, "\(result)")
        #expect(result.trimmedStdout == "\(path): OK: 2 services, 3 endpoints, tcpMode mark, queues 0:1", "\(result)")
        #expect(result.stderr.isEmpty, "stderr: \(result.stderr)")
    }
}
