import Balancer
import Foundation
import PacketRewrite
import Testing
@testable import NFQLB

/// The config file's contract: the issue's minimal form keeps working, and every mistake is
/// reported with the file, the line and the field, all of them at once.
@Suite struct ConfigLoaderTests {
    static let minimal = """
        queues: "0:1"                 # NFQUEUE numbers, one worker each
        serviceCIDRs: [10.96.0.0/12]  # what the hooks send to the queue
        services:
          - name: web
            vip: 10.96.0.10
            port: 80
            protocol: tcp             # tcp | udp
            strategy: round-robin     # any registered strategy; default random
            sessionAffinity: {type: ClientIP, timeoutSeconds: 10800}   # optional
            masquerade: false         # optional: SNAT to the node address
            answerPing: true          # optional: the node answers pings to the vip
            endpoints:
              - {address: 10.244.1.2, port: 8080, weight: 1}   # weight optional
        """

    func load(_ text: String) throws(ConfigError) -> NFQLBConfig {
        try ConfigLoader().parse(text, file: "nfq-lb.yaml")
    }

    func issues(_ text: String) -> [String] {
        do {
            _ = try load(text)
            return []
        } catch {
            return error.issues.map(\.description)
        }
    }

    @Test func theIssuesMinimalFormLoadsWithKubeProxyDefaults() throws {
        let config = try load(Self.minimal)
        #expect(config.queues == 0...1)
        #expect(config.serviceCIDRs == [IPPrefix("10.96.0.0/12")!])
        #expect(config.tcpMode == .mark)
        #expect(config.queueBypass)
        #expect(config.marks == .default)
        let web = try #require(config.services.first)
        #expect(web.service.name == "web")
        #expect(web.service.vip == IPAddress("10.96.0.10"))
        #expect(web.service.port == 80)
        #expect(web.service.proto == .tcp)
        #expect(web.service.strategy == "round-robin")
        #expect(web.service.sessionAffinity == SessionAffinity(timeoutSeconds: 10800))
        #expect(!web.service.masquerade)
        #expect(web.service.answersPing)
        #expect(web.service.endpoints == [Endpoint(address: IPAddress("10.244.1.2")!, port: 8080, weight: 1)])
        #expect(web.endpointRemoval == .drain)
        #expect(web.line == 4)
    }

    @Test func omittedStrategyIsRandomLikeKubeProxy() throws {
        let config = try load("""
            queues: 3
            serviceCIDRs: [10.96.0.0/12]
            services:
              - {name: a, vip: 10.96.0.1, port: 53, protocol: udp}
            """)
        #expect(config.queues == 3...3)
        #expect(config.services[0].service.strategy == "random")
        #expect(config.services[0].service.proto == .udp)
        #expect(config.services[0].service.endpoints.isEmpty)
    }

    @Test func everyProblemIsReportedWithFileLineAndField() {
        let text = """
            queues: "0:1"
            serviceCIDRs: [10.96.0.0/12]
            services:
              - name: web
                vip: 10.96.0.10
                port: 80
                strategy: maglv
                endpoints:
                  - {address: 10.244.1.300, port: 8080}
              - name: web
                vip: 10.96.0.10
                port: 80
                sesionAffinity: {type: ClientIP}
              - name: outside
                vip: 192.168.1.1
                port: 70000
            """
        #expect(issues(text) == [
            "nfq-lb.yaml:7: services[0].strategy: unknown 'maglv' (known: least-connections, maglev, power-of-two, random, round-robin, source-hash, weighted-round-robin)",
            "nfq-lb.yaml:9: services[0].endpoints[0].address: not an IP address; got '10.244.1.300'",
            "nfq-lb.yaml:13: services[1].sesionAffinity: unknown field; known: name, vip, port, protocol, strategy, strategyOptions, sessionAffinity, masquerade, answerPing, endpointRemoval, healthCheck, endpoints, nodePort, externalIPs, loadBalancerIPs, loadBalancerSourceRanges, externalTrafficPolicy, healthCheckNodePort, internalTrafficPolicy, trafficDistribution",
            "nfq-lb.yaml:15: services[2].vip: 192.168.1.1 is outside serviceCIDRs (10.96.0.0/12): the hooks would never queue it",
            "nfq-lb.yaml:16: services[2].port: must be between 1 and 65535; got 70000",
        ])
    }

    @Test func duplicateServiceAddressAndNameAreErrors() {
        let text = """
            queues: "0"
            serviceCIDRs: [10.96.0.0/12]
            services:
              - {name: a, vip: 10.96.0.10, port: 80}
              - {name: a, vip: 10.96.0.10, port: 80}
              - {name: b, vip: 10.96.0.10, port: 80, protocol: udp}
            """
        #expect(issues(text) == [
            "nfq-lb.yaml:5: services[1].vip: duplicate service 10.96.0.10:80/tcp: services[0] has it already",
            "nfq-lb.yaml:5: services[1].name: duplicate name 'a': services[0] has it already",
        ])
    }

    @Test func strategyOptionsAreCheckedByTheStrategy() {
        let text = """
            queues: "0"
            serviceCIDRs: [10.96.0.0/12]
            services:
              - name: m
                vip: 10.96.0.10
                port: 80
                strategy: maglev
                strategyOptions: {tableSize: 65536}
            """
        let found = issues(text)
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("nfq-lb.yaml:8: services[0].strategyOptions.tableSize: ") == true)
        #expect(found.first?.contains("prime") == true)
    }

    @Test func yamlSyntaxErrorsNameTheLine() {
        let found = issues("queues: \"0\"\nserviceCIDRs: [10.96.0.0/12\nservices: []\n")
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("nfq-lb.yaml:3: YAML syntax: ") == true)
    }

    @Test func anEmptyFileSaysWhatIsNeeded() {
        #expect(issues("") == ["nfq-lb.yaml: the file is empty; it needs at least serviceCIDRs and services"])
    }

    @Test(arguments: [
        ("queues: \"2:1\"", "nfq-lb.yaml:1: queues: must be a queue number or a range \"A:B\" with A <= B <= 65535; got '2:1'"),
        ("queues: \"0:100\"", "nfq-lb.yaml:1: queues: at most 64 queues (one worker thread each); got 101"),
        ("queues: x", "nfq-lb.yaml:1: queues: must be a queue number or a range \"A:B\" with A <= B <= 65535; got 'x'"),
    ])
    func badQueueRangesAreRejected(line: String, expected: String) {
        #expect(issues(line + "\nserviceCIDRs: [10.96.0.0/12]\nservices: []\n") == [expected])
    }

    @Test func workerNiceIsTheStartedWithValueUnlessSetWithinMinus20To19() throws {
        #expect(try load("queues: 0\nserviceCIDRs: [10.96.0.0/12]\nservices: []\n").queue.workerNice == nil)
        let set = try load("queues: 0\nserviceCIDRs: [10.96.0.0/12]\nqueue: {workerNice: -10}\nservices: []\n")
        #expect(set.queue.workerNice == -10)
        let bad = issues("queues: 0\nserviceCIDRs: [10.96.0.0/12]\nqueue: {workerNice: -21}\nservices: []\n")
        #expect(bad.count == 1 && bad[0].hasPrefix("nfq-lb.yaml:3: queue.workerNice:"))
    }

    @Test func markMaskMustBeOneContiguousRunOfAtLeastEightBits() throws {
        let good = try load("queues: 0\nserviceCIDRs: [10.96.0.0/12]\nmarks: {mask: 0x00ff0000}\nservices: []\n")
        #expect(good.marks.mask == 0x00FF_0000)
        #expect(issues("queues: 0\nserviceCIDRs: [10.96.0.0/12]\nmarks: {mask: 0x0f0f0000}\nservices: []\n") == [
            "nfq-lb.yaml:3: marks.mask: must be one contiguous run of at least 8 bits, e.g. 0xffff0000; got '0x0f0f0000'",
        ])
    }

    @Test func endpointsMustMatchTheVIPsFamilyAndBeUnique() {
        let text = """
            queues: 0
            serviceCIDRs: [10.96.0.0/12]
            services:
              - name: a
                vip: 10.96.0.1
                port: 80
                endpoints:
                  - {address: "fd00::1", port: 80}
                  - {address: 10.0.0.1, port: 80}
                  - {address: 10.0.0.1, port: 80}
            """
        #expect(issues(text) == [
            "nfq-lb.yaml:8: services[0].endpoints[0].address: fd00::1 is IPv6 but the VIP 10.96.0.1 is IPv4: a VIP's endpoints must be of its family (a dual-stack service is one service per family)",
            "nfq-lb.yaml:10: services[0].endpoints[2]: duplicate endpoint 10.0.0.1:80: services[0].endpoints[1] has it already",
        ])
    }

    static let dualStack = """
        queues: 0
        tcpMode: MODE
        serviceCIDRs: [10.96.0.0/12, "fd00:10:96::/108"]
        services:
          - {name: web4, vip: 10.96.0.10, port: 80, endpoints: [{address: 10.244.1.11, port: 8080}]}
          - name: web6
            vip: "fd00:10:96::10"
            port: 80
            endpoints: [{address: "fd00:10:244:1::11", port: 8080}, {address: "fd00:10:244:2::11", port: 8080}]
        """

    @Test(arguments: ["mark", "conntrack", "rewrite"])
    func ipv6RangesAndServicesLoadInEveryMode(mode: String) throws {
        let config = try load(Self.dualStack.replacingOccurrences(of: "MODE", with: mode))
        #expect(config.serviceCIDRs == [IPPrefix("10.96.0.0/12")!, IPPrefix("fd00:10:96::/108")!])
        let web6 = try #require(config.services.first { $0.service.name == "web6" })
        #expect(web6.service.vip == IPAddress("fd00:10:96::10"))
        #expect(web6.service.endpoints.map(\.address) == [IPAddress("fd00:10:244:1::11")!, IPAddress("fd00:10:244:2::11")!])
    }

    @Test func anIPv6VIPOutsideTheServiceCIDRsIsRejected() {
        let text = """
            queues: 0
            serviceCIDRs: [10.96.0.0/12, "fd00:10:96::/108"]
            services:
              - {name: a, vip: "fd00:10:97::1", port: 80, endpoints: [{address: "fd00::1", port: 80}]}
            """
        #expect(issues(text) == [
            "nfq-lb.yaml:4: services[0].vip: fd00:10:97::1 is outside serviceCIDRs (10.96.0.0/12, fd00:10:96::/108): the hooks would never queue it",
        ])
    }

    @Test func anIPv6VIPWithAnIPv4EndpointIsRejected() {
        let text = """
            queues: 0
            serviceCIDRs: ["fd00:10:96::/108"]
            services:
              - name: a
                vip: "fd00:10:96::1"
                port: 80
                endpoints: [{address: "fd00::1", port: 80}, {address: 10.244.1.11, port: 80}]
            """
        #expect(issues(text) == [
            "nfq-lb.yaml:7: services[0].endpoints[1].address: 10.244.1.11 is IPv4 but the VIP fd00:10:96::1 is IPv6: a VIP's endpoints must be of its family (a dual-stack service is one service per family)",
        ])
    }

    @Test func answerPingOnAnIPv6VIPIsRejected() {
        let text = """
            queues: 0
            serviceCIDRs: ["fd00:10:96::/108"]
            services:
              - {name: a, vip: "fd00:10:96::1", port: 80, answerPing: true, endpoints: [{address: "fd00::1", port: 80}]}
            """
        #expect(issues(text) == [
            "nfq-lb.yaml:4: services[0].answerPing: is IPv4 only: the hooks queue no ICMPv6 echo request; fd00:10:96::1 is IPv6",
        ])
    }

    @Test func healthCheckTimeoutMayNotExceedItsInterval() {
        let text = """
            queues: 0
            serviceCIDRs: [10.96.0.0/12]
            services:
              - name: a
                vip: 10.96.0.1
                port: 80
                healthCheck: {intervalMilliseconds: 500, timeoutMilliseconds: 900}
            """
        #expect(issues(text) == ["nfq-lb.yaml:7: services[0].healthCheck.timeoutMilliseconds: must not exceed intervalMilliseconds (500)"])
    }

    @Test func aMissingFileIsReportedNotThrownAsSomethingElse() {
        do {
            _ = try ConfigLoader().load(path: "/nonexistent/nfq-lb.yaml")
            Issue.record("loading a missing file succeeded")
        } catch {
            #expect(error.issues.count == 1)
            #expect(error.issues[0].file == "/nonexistent/nfq-lb.yaml")
        }
    }
}
