import PacketRewrite
import Testing
@testable import Balancer

/// A node port is found by protocol and port on any local address the hooks queued, except
/// loopback (kube-proxy's nftables mode) unless `nodePortAddresses` names it.
@Suite struct NodePortLookupTests {
    func snapshot(nodePortAddresses: [IPPrefix] = []) throws -> BalancerSnapshot {
        var clusterIP = Service(name: "web", vip: IPAddress("10.96.0.10")!, port: 80,
                                endpoints: [Endpoint(address: IPAddress("10.244.2.11")!, port: 8080)])
        var nodePort = clusterIP
        nodePort.kind = .nodePort
        nodePort.vip = BalancerSnapshot.nodePortAddress(ofFamilyOf: clusterIP.vip)
        nodePort.port = 30080
        clusterIP.masquerade = false
        return try BalancerSnapshot.build(services: [clusterIP, nodePort], serviceCIDRs: [IPPrefix("10.96.0.0/12")!],
                                          nodePortAddresses: nodePortAddresses, flows: FlowTracker(), affinity: AffinityTable(capacity: 16))
    }

    func kind(_ snapshot: BalancerSnapshot, _ address: String, _ port: UInt16, _ proto: IPProtocolNumber = .tcp) -> String {
        switch snapshot.lookup(address: IPAddress(address)!, port: port, proto: proto) {
        case .service(let balancer): balancer.service.kind.rawValue
        case .unallocated: "unallocated"
        case .notService: "notService"
        }
    }

    @Test func anyNodeAddressButLoopbackFindsTheNodePort() throws {
        let table = try snapshot()
        #expect(kind(table, "192.168.50.1", 30080) == "nodePort")
        #expect(kind(table, "10.244.1.1", 30080) == "nodePort")
        #expect(kind(table, "127.0.0.1", 30080) == "notService")
        #expect(kind(table, "192.168.50.1", 30081) == "notService")
        #expect(kind(table, "192.168.50.1", 30080, .udp) == "notService")
        // The service range keeps its own rules: a node port number there is not a node port.
        #expect(kind(table, "10.96.0.10", 30080) == "unallocated")
        #expect(kind(table, "10.96.0.10", 80) == "clusterIP")
    }

    @Test func nodePortAddressesRestrictTheAddressesAndMayAllowLoopback() throws {
        let table = try snapshot(nodePortAddresses: [IPPrefix("192.168.50.0/24")!, IPPrefix("127.0.0.1/32")!])
        #expect(kind(table, "192.168.50.1", 30080) == "nodePort")
        #expect(kind(table, "127.0.0.1", 30080) == "nodePort")
        #expect(kind(table, "10.244.1.1", 30080) == "notService")
    }
}
