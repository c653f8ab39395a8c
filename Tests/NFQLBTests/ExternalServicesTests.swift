import Balancer
import Foundation
import Logging
@testable import NFQLB
import PacketRewrite
import Testing

/// Services handed in by an external owner (the Kubernetes source) live beside the file's: each
/// owner changes alone, keeps its balancers while unchanged, and never stops the others.
/// Mode conntrack: nothing here touches the kernel.
@Suite("External services")
struct ExternalServicesTests {
    static func file(_ services: String = "") throws -> String {
        let path = NSTemporaryDirectory() + "nfqlb-external-\(UUID().uuidString).yaml"
        let text = """
            queues: "0:0"
            serviceCIDRs: [10.96.0.0/12]
            tcpMode: conntrack
            metrics: {enabled: false}
            services:\(services.isEmpty ? " []" : "\n" + services)

            """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func service(_ name: String, vip: String, port: UInt16 = 80, strategy: String = "random",
                        options: StrategyOptions = [:], endpoints: Int = 2) -> ServiceConfig {
        let list = (0..<endpoints).map { Endpoint(address: IPAddress("10.244.1.\(10 + $0)")!, port: 8080) }
        return ServiceConfig(service: Service(name: name, vip: IPAddress(vip)!, port: port, strategy: strategy,
                                              strategyOptions: options, endpoints: list))
    }

    static func daemon(_ path: String) throws -> NFQLBDaemon {
        let daemon = try NFQLBDaemon(configPath: path, logger: .init(label: "test"))
        try daemon.activate()
        return daemon
    }

    static func balancer(_ daemon: NFQLBDaemon, _ vip: String, port: UInt16 = 80) -> ServiceBalancer? {
        daemon.state.current.services.first { $0.service.vip == IPAddress(vip)! && $0.service.port == port }
    }

    @Test("An owner's services go in force beside the file's, and status names the owner")
    func ownersServicesGoInBesideTheFiles() throws {
        let path = try Self.file("  - {name: file-web, vip: 10.96.0.10, port: 80, endpoints: [{address: 10.244.1.1, port: 80}]}")
        let daemon = try Self.daemon(path)
        let result = daemon.applyExternalChange(["default/web": [Self.service("default/web:http", vip: "10.96.0.20")]])
        #expect(try result.get().services == 2)
        #expect(Self.balancer(daemon, "10.96.0.20") != nil)
        #expect(Self.balancer(daemon, "10.96.0.10") != nil)
        #expect(daemon.statusJSON().contains("\"source\" : \"kubernetes default/web\""))
        #expect(daemon.config.services.last?.origin == "kubernetes default/web")
    }

    @Test("The summary says when the change was in force: during the call, at the publish, before the tidying after it")
    func theSummaryTellsWhenTheChangeWasInForce() throws {
        let daemon = try Self.daemon(try Self.file())
        let before = Date()
        let summary = try daemon.applyExternalChange(["default/web": [Self.service("default/web:http", vip: "10.96.0.20")]]).get()
        let after = Date()
        // Network programming latency is measured up to this instant (not up to the call's return).
        #expect(summary.inForce >= before && summary.inForce <= after, "\(before) \(summary.inForce) \(after)")
        #expect(summary.inForce.timeIntervalSince(before) * 1e3 >= summary.applyMilliseconds * 0.5)
    }

    @Test("A change of one owner rebuilds that owner only: the others keep their balancer objects")
    func unchangedOwnersKeepTheirBalancers() throws {
        let daemon = try Self.daemon(try Self.file())
        _ = daemon.applyExternalChange(["a/one": [Self.service("a/one:80", vip: "10.96.0.21")],
                                        "a/two": [Self.service("a/two:80", vip: "10.96.0.22")]])
        let one = try #require(Self.balancer(daemon, "10.96.0.21"))
        let two = try #require(Self.balancer(daemon, "10.96.0.22"))
        _ = daemon.applyExternalChange(["a/two": [Self.service("a/two:80", vip: "10.96.0.22", endpoints: 3)]])
        #expect(Self.balancer(daemon, "10.96.0.21") === one)
        #expect(Self.balancer(daemon, "10.96.0.22") !== two)
        #expect(Self.balancer(daemon, "10.96.0.22")?.service.endpoints.count == 3)
    }

    @Test("An owner given no services is gone; the file's services stay")
    func anEmptyListRemovesTheOwner() throws {
        let daemon = try Self.daemon(try Self.file("  - {name: f, vip: 10.96.0.10, port: 80, endpoints: []}"))
        _ = daemon.applyExternalChange(["a/one": [Self.service("a/one:80", vip: "10.96.0.21")]])
        _ = daemon.applyExternalChange(["a/one": []])
        #expect(Self.balancer(daemon, "10.96.0.21") == nil)
        #expect(Self.balancer(daemon, "10.96.0.10") != nil)
    }

    @Test("A VIP claimed by the file and by an owner: the file keeps it, and the refusal names both")
    func aClaimedVIPNamesBothOwners() throws {
        let path = try Self.file("  - {name: file-web, vip: 10.96.0.10, port: 80, endpoints: [{address: 10.244.1.1, port: 80}]}")
        let daemon = try Self.daemon(path)
        _ = daemon.applyExternalChange(["default/web": [Self.service("default/web:http", vip: "10.96.0.10")],
                                        "default/other": [Self.service("default/other:http", vip: "10.96.0.11")]])
        let refused = daemon.refusedOwners
        #expect(refused.map(\.owner) == ["default/web"])
        #expect(refused.first?.description.contains("default/web") == true)
        #expect(refused.first?.description.contains("\(path): services[0]") == true, "\(refused)")
        #expect(Self.balancer(daemon, "10.96.0.10")?.service.name == "file-web")
        #expect(Self.balancer(daemon, "10.96.0.11") != nil, "another owner must not suffer")
    }

    @Test("An owner whose cluster IP is outside serviceCIDRs is refused, and says why")
    func aVIPOutsideTheServiceCIDRsIsRefused() throws {
        let daemon = try Self.daemon(try Self.file())
        _ = daemon.applyExternalChange(["x/y": [Self.service("x/y:80", vip: "172.30.0.1")]])
        #expect(daemon.refusedOwners.first?.reason.contains("outside serviceCIDRs") == true)
        #expect(daemon.state.current.services.isEmpty)
    }

    @Test("An owner whose new state cannot be built keeps its previous one, and the rest of the change goes in")
    func anUnbuildableOwnerKeepsItsPreviousState() throws {
        let daemon = try Self.daemon(try Self.file())
        _ = daemon.applyExternalChange(["a/maglev": [Self.service("a/maglev:80", vip: "10.96.0.30", strategy: "maglev", options: ["tableSize": "7"], endpoints: 3)]])
        #expect(Self.balancer(daemon, "10.96.0.30")?.service.endpoints.count == 3)
        // 9 endpoints do not fit a Maglev table of 7 entries.
        let result = daemon.applyExternalChange([
            "a/maglev": [Self.service("a/maglev:80", vip: "10.96.0.30", strategy: "maglev", options: ["tableSize": "7"], endpoints: 9)],
            "a/fine": [Self.service("a/fine:80", vip: "10.96.0.31")],
        ])
        #expect(try result.get().failedOwners == ["a/maglev"])
        #expect(Self.balancer(daemon, "10.96.0.30")?.service.endpoints.count == 3)
        #expect(Self.balancer(daemon, "10.96.0.31") != nil)
    }

    @Test("A reload of the file keeps every owner's services in force")
    func aFileReloadKeepsTheOwners() throws {
        let path = try Self.file("  - {name: f, vip: 10.96.0.10, port: 80, endpoints: []}")
        let daemon = try Self.daemon(path)
        _ = daemon.applyExternalChange(["a/one": [Self.service("a/one:80", vip: "10.96.0.21")]])
        let one = try #require(Self.balancer(daemon, "10.96.0.21"))
        try """
            queues: "0:0"
            serviceCIDRs: [10.96.0.0/12]
            tcpMode: conntrack
            metrics: {enabled: false}
            services:
              - {name: g, vip: 10.96.0.12, port: 80, endpoints: []}

            """.write(toFile: path, atomically: true, encoding: .utf8)
        _ = try daemon.reload(reason: "test").get()
        #expect(Self.balancer(daemon, "10.96.0.21") === one)
        #expect(Self.balancer(daemon, "10.96.0.12") != nil)
        #expect(Self.balancer(daemon, "10.96.0.10") == nil)
    }
}
