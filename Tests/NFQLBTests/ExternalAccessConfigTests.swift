import Balancer
import Foundation
import PacketRewrite
import Testing
@testable import NFQLB

/// Node ports, external and load-balancer IPs and `externalTrafficPolicy` in the file config:
/// each address becomes an entry of its own with the right masquerade, endpoints and ranges,
/// and every conflict is reported with its file, line and field.
@Suite struct ExternalAccessConfigTests {
    static let header = """
        queues: "0:1"
        serviceCIDRs: [10.96.0.0/12]
        nodeName: node1
        externalCIDRs: [192.168.70.0/24]
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

    @Test func aNodePortBecomesAMasqueradedEntryKeyedByTheUnspecifiedAddress() throws {
        let config = try load("""
              - name: web
                vip: 10.96.0.10
                port: 80
                nodePort: 30080
                endpoints:
                  - {address: 10.244.2.11, port: 8080, node: node2}
            """)
        #expect(config.services.count == 2)
        let nodePort = try #require(config.services.last)
        #expect(nodePort.service.kind == .nodePort)
        #expect(nodePort.service.key == ServiceKey(address: IPAddress("0.0.0.0")!, port: 30080, proto: .tcp))
        #expect(nodePort.service.masquerade)
        #expect(!nodePort.service.dropsWithoutEndpoints)
        #expect(nodePort.service.endpoints.count == 1)
        #expect(nodePort.service.name == "web")
        #expect(config.nodePortRange == 30000...32767)
        #expect(config.nodeName == "node1")
    }

    @Test func trafficPolicyLocalKeepsTheClientAndOnlyThisNodesEndpoints() throws {
        let config = try load("""
              - name: web
                vip: 10.96.0.10
                port: 80
                nodePort: 30080
                externalTrafficPolicy: Local
                healthCheckNodePort: 30180
                endpoints:
                  - {address: 10.244.1.11, port: 8080, node: node1}
                  - {address: 10.244.2.11, port: 8080, node: node2}
                  - {address: 10.244.3.11, port: 8080, local: true}
            """)
        let nodePort = try #require(config.services.last)
        #expect(!nodePort.service.masquerade)
        #expect(nodePort.service.dropsWithoutEndpoints)
        #expect(nodePort.service.endpoints.map(\.address.description) == ["10.244.1.11", "10.244.3.11"])
        // The cluster IP keeps every endpoint: the policy is for external traffic only.
        #expect(config.services.first?.service.endpoints.count == 3)
        #expect(config.services.first?.external?.healthCheckNodePort == 30180)
    }

    @Test func loadBalancerIPsCarryTheSourceRangesAndExternalIPsDoNot() throws {
        let config = try load("""
              - name: web
                vip: 10.96.0.10
                port: 80
                loadBalancerIPs: [192.168.70.10]
                loadBalancerSourceRanges: [192.168.60.0/24]
                externalIPs: [192.168.70.20]
                endpoints: [{address: 10.244.2.11, port: 8080}]
            """)
        let byKind = Dictionary(uniqueKeysWithValues: config.services.map { ($0.service.kind, $0.service) })
        #expect(byKind[.loadBalancerIP]?.vip == IPAddress("192.168.70.10"))
        #expect(byKind[.loadBalancerIP]?.port == 80)
        #expect(byKind[.loadBalancerIP]?.sourceRanges == [IPPrefix("192.168.60.0/24")!])
        #expect(byKind[.externalIP]?.sourceRanges == [])
        #expect(byKind[.loadBalancerIP]?.admits(IPAddress("192.168.60.9")!) == true)
        #expect(byKind[.loadBalancerIP]?.admits(IPAddress("192.168.61.9")!) == false)
    }

    @Test func conflictsAreReportedWithFileLineAndField() {
        let found = issues("""
              - name: a
                vip: 10.96.0.10
                port: 80
                nodePort: 20080
                endpoints: []
              - name: b
                vip: 10.96.0.11
                port: 80
                nodePort: 30080
                externalIPs: [10.96.0.99]
                endpoints: []
              - name: c
                vip: 10.96.0.12
                port: 80
                nodePort: 30080
                loadBalancerIPs: [192.168.99.1]
                healthCheckNodePort: 30080
                endpoints: []
            """)
        #expect(found == [
            "nfq-lb.yaml:9: services[0].nodePort: 20080 is outside nodePortRange 30000-32767: the hooks would never queue it",
            "nfq-lb.yaml:15: services[1].externalIPs[0]: 10.96.0.99 is inside the service CIDR 10.96.0.0/12: an external address must not be a cluster IP",
            "nfq-lb.yaml:21: services[2].loadBalancerIPs[0]: 192.168.99.1 is outside externalCIDRs (192.168.70.0/24): the hooks would never queue it",
            "nfq-lb.yaml:22: services[2].healthCheckNodePort: needs externalTrafficPolicy: Local (it reports the node's local endpoints)",
            "nfq-lb.yaml:22: services[2].healthCheckNodePort: port 30080 used twice: services[2].nodePort is a TCP node port already",
            "nfq-lb.yaml:20: services[2].nodePort: node port 30080/tcp used twice: services[1] has it already",
        ], "\(found)")
    }

    @Test func theNodePortRangeIsConfigurable() {
        let header = Self.header.replacingOccurrences(of: "services:", with: "nodePortRange: 8000-8999\nservices:")
        let found = issues("""
              - name: a
                vip: 10.96.0.10
                port: 80
                nodePort: 30080
                endpoints: []
            """, header: header)
        #expect(found == ["nfq-lb.yaml:10: services[0].nodePort: 30080 is outside nodePortRange 8000-8999: the hooks would never queue it"], "\(found)")
    }

    @Test func theSameNodePortMayServeTCPAndUDP() throws {
        let config = try load("""
              - name: dns-tcp
                vip: 10.96.0.53
                port: 53
                nodePort: 30053
                endpoints: []
              - name: dns-udp
                vip: 10.96.0.53
                port: 53
                protocol: udp
                nodePort: 30053
                endpoints: []
            """)
        #expect(config.services.filter { $0.service.kind == .nodePort }.count == 2)
    }
}
