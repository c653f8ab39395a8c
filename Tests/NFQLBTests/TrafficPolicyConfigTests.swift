import Balancer
import Foundation
import PacketRewrite
import Testing
@testable import NFQLB

/// `internalTrafficPolicy` and topology in the file config, with kube-proxy's names and rule:
/// the cluster IP gets this node's endpoints (policy Local) or its zone's (hints in force),
/// external addresses follow `externalTrafficPolicy`, and every mistake is reported with its
/// file, line and field.
@Suite struct TrafficPolicyConfigTests {
    static let header = """
        queues: "0:1"
        serviceCIDRs: [10.96.0.0/12]
        nodeName: node1
        zone: zone-a
        services:
        """

    func load(_ services: String, header: String = Self.header) throws(ConfigError) -> NFQLBConfig {
        try ConfigLoader().parse(header + "\n" + services, file: "nfq-lb.yaml")
    }

    func issues(_ services: String, header: String = Self.header) -> [String] {
        do {
            _ = try load(services, header: header)
            return []
        } catch {
            return error.issues.map(\.description)
        }
    }

    func addresses(_ service: Service?) -> [String] { service?.endpoints.map(\.address.description) ?? [] }

    @Test func internalTrafficPolicyLocalKeepsOnlyThisNodesEndpointsAndDropsWhenNoneIsHere() throws {
        let config = try load("""
              - name: web
                vip: 10.96.0.10
                port: 80
                internalTrafficPolicy: Local
                endpoints:
                  - {address: 10.244.1.11, port: 8080, node: node1}
                  - {address: 10.244.2.11, port: 8080, node: node2}
                  - {address: 10.244.3.11, port: 8080, local: true}
              - name: remote
                vip: 10.96.0.11
                port: 80
                internalTrafficPolicy: Local
                endpoints:
                  - {address: 10.244.2.12, port: 8080, node: node2}
            """)
        let web = config.services[0].service
        #expect(addresses(web) == ["10.244.1.11", "10.244.3.11"])
        #expect(web.internalTrafficPolicyLocal)
        #expect(web.dropsWithoutEndpoints)
        let remote = config.services[1].service
        #expect(remote.endpoints.isEmpty)
        #expect(remote.dropsWithoutEndpoints, "endpoints elsewhere but none here: dropped, as kube-proxy does")
    }

    @Test func internalTrafficPolicyLocalWithNoEndpointAnywhereIsRejectedNotDropped() throws {
        let config = try load("""
              - name: web
                vip: 10.96.0.10
                port: 80
                internalTrafficPolicy: Local
                endpoints: []
            """)
        #expect(!config.services[0].service.dropsWithoutEndpoints)
    }

    @Test func clusterPolicyIsTheDefaultAndKeepsEveryEndpoint() throws {
        let config = try load("""
              - name: web
                vip: 10.96.0.10
                port: 80
                internalTrafficPolicy: Cluster
                endpoints:
                  - {address: 10.244.1.11, port: 8080, node: node1}
                  - {address: 10.244.2.11, port: 8080, node: node2}
            """)
        #expect(addresses(config.services[0].service) == ["10.244.1.11", "10.244.2.11"])
        #expect(!config.services[0].service.dropsWithoutEndpoints)
        #expect(config.services[0].trafficPolicy == nil, "Cluster without hints is no policy at all")
    }

    @Test func preferCloseUsesTheZonesEndpointsWhenEveryEndpointHasAZone() throws {
        let config = try load("""
              - name: web
                vip: 10.96.0.10
                port: 80
                trafficDistribution: PreferClose
                endpoints:
                  - {address: 10.244.1.11, port: 8080, zone: zone-a}
                  - {address: 10.244.2.11, port: 8080, zone: zone-b}
                  - {address: 10.244.3.11, port: 8080, zone: zone-a}
            """)
        #expect(addresses(config.services[0].service) == ["10.244.1.11", "10.244.3.11"])
        #expect(config.services[0].service.topology == .preferSameZone)
        #expect(config.zone == "zone-a")
    }

    @Test func explicitForZonesHintsWinOverTheEndpointsZone() throws {
        let config = try load("""
              - name: web
                vip: 10.96.0.10
                port: 80
                endpoints:
                  - {address: 10.244.1.11, port: 8080, zone: zone-b, forZones: [zone-a, zone-b]}
                  - {address: 10.244.2.11, port: 8080, zone: zone-b, forZones: [zone-b]}
            """)
        #expect(addresses(config.services[0].service) == ["10.244.1.11"])
    }

    @Test func oneReadyEndpointWithoutAHintFallsBackToEveryEndpoint() throws {
        let config = try load("""
              - name: web
                vip: 10.96.0.10
                port: 80
                trafficDistribution: PreferClose
                endpoints:
                  - {address: 10.244.1.11, port: 8080, zone: zone-a}
                  - {address: 10.244.2.11, port: 8080}
            """)
        #expect(addresses(config.services[0].service) == ["10.244.1.11", "10.244.2.11"])
        #expect(config.services[0].service.topology == TopologyMode.none)
    }

    @Test func noHintForThisZoneFallsBackToEveryEndpoint() throws {
        let config = try load("""
              - name: web
                vip: 10.96.0.10
                port: 80
                trafficDistribution: PreferClose
                endpoints:
                  - {address: 10.244.1.11, port: 8080, zone: zone-b}
                  - {address: 10.244.2.11, port: 8080, zone: zone-c}
            """)
        #expect(addresses(config.services[0].service) == ["10.244.1.11", "10.244.2.11"])
    }

    @Test func localPolicyIgnoresHintsAndExternalAddressesFollowExternalTrafficPolicy() throws {
        let config = try load("""
              - name: web
                vip: 10.96.0.10
                port: 80
                internalTrafficPolicy: Local
                trafficDistribution: PreferClose
                nodePort: 30080
                endpoints:
                  - {address: 10.244.1.11, port: 8080, node: node1, zone: zone-b}
                  - {address: 10.244.2.11, port: 8080, node: node2, zone: zone-a}
                  - {address: 10.244.3.11, port: 8080, node: node3, zone: zone-b}
              - name: both-local
                vip: 10.96.0.11
                port: 80
                internalTrafficPolicy: Local
                externalTrafficPolicy: Local
                nodePort: 30081
                endpoints:
                  - {address: 10.244.1.12, port: 8080, node: node1}
                  - {address: 10.244.2.12, port: 8080, node: node2}
            """)
        let clusterIP = try #require(config.services.first { $0.service.name == "web" && $0.service.kind == .clusterIP })
        #expect(addresses(clusterIP.service) == ["10.244.1.11"])
        // The node port has externalTrafficPolicy Cluster: every endpoint, narrowed by the hints.
        let nodePort = try #require(config.services.first { $0.service.name == "web" && $0.service.kind == .nodePort })
        #expect(addresses(nodePort.service) == ["10.244.2.11"])
        #expect(!nodePort.service.dropsWithoutEndpoints)
        #expect(!nodePort.service.internalTrafficPolicyLocal)
        #expect(nodePort.service.topology == .preferSameZone)
        let bothNodePort = try #require(config.services.first { $0.service.name == "both-local" && $0.service.kind == .nodePort })
        #expect(addresses(bothNodePort.service) == ["10.244.1.12"])
        #expect(bothNodePort.service.dropsWithoutEndpoints)
    }

    @Test func externalTrafficPolicyLocalUsesEveryLocalEndpointWhateverTheHints() throws {
        let config = try load("""
              - name: web
                vip: 10.96.0.10
                port: 80
                trafficDistribution: PreferClose
                externalTrafficPolicy: Local
                nodePort: 30080
                endpoints:
                  - {address: 10.244.1.11, port: 8080, node: node1, zone: zone-b}
                  - {address: 10.244.2.11, port: 8080, node: node2, zone: zone-a}
            """)
        #expect(addresses(config.services[0].service) == ["10.244.2.11"])
        #expect(addresses(config.services[1].service) == ["10.244.1.11"])
    }

    @Test func mistakesAreReportedWithFileLineAndField() {
        #expect(issues("""
              - name: web
                vip: 10.96.0.10
                port: 80
                internalTrafficPolicy: local
                trafficDistribution: PreferNearby
                endpoints:
                  - {address: 10.244.1.11, port: 8080, forZones: []}
                  - {address: 10.244.1.12, port: 8080, zone: ""}
            """) == [
                "nfq-lb.yaml:9: services[0].internalTrafficPolicy: must be one of Cluster, Local; got 'local'",
                "nfq-lb.yaml:10: services[0].trafficDistribution: must be PreferClose (or its newer name PreferSameZone); got 'PreferNearby'",
                "nfq-lb.yaml:12: services[0].endpoints[0].forZones: must name at least one zone (leave it out for no hint)",
                "nfq-lb.yaml:13: services[0].endpoints[1].zone: must be a non-empty text value",
            ])
    }

    @Test func localPolicyWithoutNodeNameOrLocalEndpointIsAnError() {
        let header = """
            queues: "0:1"
            serviceCIDRs: [10.96.0.0/12]
            services:
            """
        #expect(issues("""
              - name: web
                vip: 10.96.0.10
                port: 80
                internalTrafficPolicy: Local
                endpoints:
                  - {address: 10.244.1.11, port: 8080, node: node1}
            """, header: header) == [
                "nfq-lb.yaml:7: services[0].internalTrafficPolicy: Local needs the top-level nodeName (endpoints whose node is it are this node's) or endpoints marked local: true; without either no endpoint is local and every flow would be dropped",
            ])
        #expect(issues("""
              - name: web
                vip: 10.96.0.10
                port: 80
                internalTrafficPolicy: Local
                endpoints:
                  - {address: 10.244.1.11, port: 8080, local: true}
            """, header: header).isEmpty)
    }

    @Test func zoneHintsWithoutTheTopLevelZoneAreAnError() {
        let header = """
            queues: "0:1"
            serviceCIDRs: [10.96.0.0/12]
            services:
            """
        #expect(issues("""
              - name: web
                vip: 10.96.0.10
                port: 80
                trafficDistribution: PreferClose
                endpoints:
                  - {address: 10.244.1.11, port: 8080, zone: zone-a}
              - name: hinted
                vip: 10.96.0.11
                port: 80
                endpoints:
                  - {address: 10.244.1.12, port: 8080, forZones: [zone-a]}
            """, header: header) == [
                "nfq-lb.yaml:7: services[0].trafficDistribution: zone hints need the top-level zone (this node's zone, which the hints are matched against)",
                "nfq-lb.yaml:14: services[1].endpoints.forZones: zone hints need the top-level zone (this node's zone, which the hints are matched against)",
            ])
    }

    @Test func anIncludedFilesServicesFollowTheMainFilesNodeAndZone() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("nfqlb-topology-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try """
            services:
              - name: web
                vip: 10.96.0.10
                port: 80
                trafficDistribution: PreferClose
                endpoints:
                  - {address: 10.244.1.11, port: 8080, zone: zone-a}
                  - {address: 10.244.2.11, port: 8080, zone: zone-b}
            """.write(to: directory.appendingPathComponent("web.yaml"), atomically: true, encoding: .utf8)
        let main = directory.appendingPathComponent("nfq-lb.yaml").path
        let loader = ConfigLoader()
        func load(zone: String) throws -> NFQLBConfig {
            try "queues: \"0:1\"\nserviceCIDRs: [10.96.0.0/12]\nzone: \(zone)\ninclude: [web.yaml]\n".write(toFile: main, atomically: true, encoding: .utf8)
            return try loader.load(path: main)
        }
        let inZoneA = try load(zone: "zone-a")
        let inZoneB = try load(zone: "zone-b")
        #expect(addresses(inZoneA.services.first?.service) == ["10.244.1.11"])
        #expect(addresses(inZoneB.services.first?.service) == ["10.244.2.11"])
        // The daemon takes an unchanged parse over whole: the new zone must make it a new one.
        #expect(inZoneA.services.first?.sourceVersion != inZoneB.services.first?.sourceVersion)
    }
}
