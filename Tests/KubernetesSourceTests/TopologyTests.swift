import Balancer
import Foundation
import PacketRewrite
import Testing
@testable import KubernetesSource

/// kube-proxy's topology rule (pkg/proxy/topology.go, its cases in topology_test.go): hints
/// are used only when every ready endpoint has one and at least one names this node's zone
/// (or this node); otherwise every endpoint. Each case is one service on node1 in `zone`.
@Suite struct TopologyTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var zone: String?
        var internalTrafficPolicyLocal = false
        /// address, ready, zone hints (nil: no hints at all), node name
        var endpoints: [(String, Bool, [String]?, String)]
        var expected: [String]
        var testDescription: String { name }
    }

    static func endpoint(_ address: String, ready: Bool, zones: [String]?, node: String) -> EndpointSlice.Endpoint {
        EndpointSlice.Endpoint(addresses: [address], conditions: .init(ready: ready), nodeName: node,
                               hints: zones.map { EndpointSlice.Hints(forZones: $0.map { .init(name: $0) }) })
    }

    static let cases: [Case] = [
        Case(name: "every ready endpoint hinted: only the ones for this node's zone",
             zone: "zone-a",
             endpoints: [("10.1.2.3", true, ["zone-a"], "node2"), ("10.1.2.4", true, ["zone-b"], "node3"),
                         ("10.1.2.5", true, ["zone-c"], "node4"), ("10.1.2.6", true, ["zone-a"], "node5")],
             expected: ["10.1.2.3", "10.1.2.6"]),
        Case(name: "the node has no zone label: hints ignored, every endpoint",
             zone: nil,
             endpoints: [("10.1.2.3", true, ["zone-a"], "node2")],
             expected: ["10.1.2.3"]),
        Case(name: "the node's zone label is empty: hints ignored, every endpoint",
             zone: "",
             endpoints: [("10.1.2.3", true, ["zone-a"], "node2"), ("10.1.2.4", true, ["zone-b"], "node3")],
             expected: ["10.1.2.3", "10.1.2.4"]),
        Case(name: "no hint names this node's zone: no filtering",
             zone: "zone-b",
             endpoints: [("10.1.2.3", true, ["zone-a"], "node2")],
             expected: ["10.1.2.3"]),
        Case(name: "one ready endpoint without hints: no filtering",
             zone: "zone-a",
             endpoints: [("10.1.2.3", true, ["zone-a"], "node2"), ("10.1.2.4", true, ["zone-b"], "node3"),
                         ("10.1.2.5", true, nil, "node4"), ("10.1.2.6", true, ["zone-a"], "node5")],
             expected: ["10.1.2.3", "10.1.2.4", "10.1.2.5", "10.1.2.6"]),
        Case(name: "an unready endpoint in this zone is not used while hints are in force",
             zone: "zone-a",
             endpoints: [("10.1.2.3", true, ["zone-a"], "node2"), ("10.1.2.4", true, ["zone-b"], "node3"),
                         ("10.1.2.5", true, ["zone-c"], "node4"), ("10.1.2.6", false, ["zone-a"], "node5")],
             expected: ["10.1.2.3"]),
        Case(name: "only unready endpoints in this zone: no filtering",
             zone: "zone-a",
             endpoints: [("10.1.2.3", false, ["zone-a"], "node2"), ("10.1.2.4", true, ["zone-b"], "node3"),
                         ("10.1.2.5", true, ["zone-c"], "node4"), ("10.1.2.6", false, ["zone-a"], "node5")],
             expected: ["10.1.2.3", "10.1.2.4", "10.1.2.5", "10.1.2.6"]),
        Case(name: "an unready endpoint without hints does not stop the filtering",
             zone: "zone-a",
             endpoints: [("10.1.2.3", true, ["zone-a"], "node2"), ("10.1.2.4", true, ["zone-b"], "node3"),
                         ("10.1.2.5", false, nil, "node4")],
             expected: ["10.1.2.3"]),
        Case(name: "several hints per endpoint: any endpoint whose hints include this zone",
             zone: "zone-c",
             endpoints: [("10.1.2.3", true, ["zone-a", "zone-b", "zone-c"], "node2"), ("10.1.2.4", true, ["zone-b", "zone-c"], "node3"),
                         ("10.1.2.5", true, ["zone-b", "zone-d"], "node4"), ("10.1.2.6", true, ["zone-c"], "node5")],
             expected: ["10.1.2.3", "10.1.2.4", "10.1.2.6"]),
        Case(name: "internalTrafficPolicy Local: topology ignored, this node's endpoints",
             zone: "zone-a", internalTrafficPolicyLocal: true,
             endpoints: [("10.1.2.3", true, ["zone-a"], "node1"), ("10.1.2.4", true, ["zone-b"], "node1"),
                         ("10.1.2.5", true, ["zone-c"], "node2"), ("10.1.2.6", true, ["zone-a"], "node3")],
             expected: ["10.1.2.3", "10.1.2.4"]),
        Case(name: "no endpoints: nothing to filter",
             zone: "zone-a", endpoints: [], expected: []),
    ]

    @Test("kube-proxy's topology cases", arguments: cases)
    func topologyCase(_ testCase: Case) {
        let mapper = ServiceMapper(settings: MappingSettings(nodeName: "node1", zone: testCase.zone))
        let service = Make.service("web") {
            $0.trafficDistribution = "PreferClose"
            if testCase.internalTrafficPolicyLocal { $0.internalTrafficPolicy = "Local" }
        }
        let slice = Make.slice("web-1", service: "web",
                               endpoints: testCase.endpoints.map { Self.endpoint($0.0, ready: $0.1, zones: $0.2, node: $0.3) })
        let endpoints = mapper.map(service, slices: [slice]).services.first?.service.endpoints ?? []
        #expect(endpoints.map(\.address.description) == testCase.expected)
    }

    @Test func nodeHintsNamingThisNodeWinOverZoneHints() {
        let mapper = ServiceMapper(settings: MappingSettings(nodeName: "node1", zone: "zone-a"))
        func hinted(_ address: String, zone: String, node: String) -> EndpointSlice.Endpoint {
            EndpointSlice.Endpoint(addresses: [address], conditions: .init(ready: true), nodeName: node,
                                   hints: .init(forZones: [.init(name: zone)], forNodes: [.init(name: node)]))
        }
        let slice = Make.slice("web-1", service: "web", endpoints: [hinted("10.1.2.3", zone: "zone-a", node: "node1"),
                                                                   hinted("10.1.2.4", zone: "zone-a", node: "node2"),
                                                                   hinted("10.1.2.5", zone: "zone-b", node: "node3")])
        let endpoints = mapper.map(Make.service("web") { $0.trafficDistribution = "PreferSameNode" }, slices: [slice])
        #expect(endpoints.services.first?.service.endpoints.map(\.address.description) == ["10.1.2.3"])
        let elsewhere = ServiceMapper(settings: MappingSettings(nodeName: "node9", zone: "zone-a"))
        #expect(elsewhere.map(Make.service("web"), slices: [slice]).services.first?.service.endpoints.map(\.address.description)
            == ["10.1.2.3", "10.1.2.4"])
    }

    @Test func hintsInTwoSlicesOfOneServiceAreJudgedTogether() {
        let mapper = ServiceMapper(settings: MappingSettings(nodeName: "node1", zone: "zone-a"))
        let first = Make.slice("web-1", service: "web", endpoints: [Self.endpoint("10.1.2.3", ready: true, zones: ["zone-a"], node: "node2")])
        let second = Make.slice("web-2", service: "web", endpoints: [Self.endpoint("10.1.2.4", ready: true, zones: nil, node: "node3")])
        #expect(mapper.map(Make.service("web"), slices: [first, second]).services.first?.service.endpoints.count == 2)
        let hintedSecond = Make.slice("web-2", service: "web", endpoints: [Self.endpoint("10.1.2.4", ready: true, zones: ["zone-b"], node: "node3")])
        #expect(mapper.map(Make.service("web"), slices: [first, hintedSecond]).services.first?.service.endpoints.map(\.address.description)
            == ["10.1.2.3"])
    }

    @Test func aZoneChangeMarksEveryServicePendingAndGivesOutThoseWhoseEndpointsChanged() {
        var tracker = ServiceChangeTracker(settings: MappingSettings(nodeName: "node1"))
        let zoned = Make.slice("a-1", service: "a", endpoints: [Self.endpoint("10.244.1.1", ready: true, zones: ["zone-a"], node: "node2"),
                                                               Self.endpoint("10.244.2.1", ready: true, zones: ["zone-b"], node: "node3")])
        tracker.replaceServices([Make.service("a", clusterIP: "10.96.0.1"), Make.service("b", clusterIP: "10.96.0.2")])
        tracker.replaceSlices([zoned])
        #expect(tracker.takeChange()?.services["default/a"]?.first?.service.endpoints.count == 2)

        let movedToZoneB = tracker.setNodeZone("zone-b")
        #expect(movedToZoneB)
        let change = tracker.takeChange()
        #expect(change?.services.keys.sorted() == ["default/a"])
        #expect(change?.services["default/a"]?.first?.service.endpoints.map(\.address.description) == ["10.244.2.1"])
        let sameZoneAgain = tracker.setNodeZone("zone-b")
        #expect(!sameZoneAgain)
        #expect(tracker.takeChange() == nil)

        let zoneForgotten = tracker.setNodeZone(nil)
        #expect(zoneForgotten)
        #expect(tracker.takeChange()?.services["default/a"]?.first?.service.endpoints.count == 2)
    }

    @Test func thisNodesNodeObjectSetsTheZoneAndAnotherNodesDoesNot() {
        var tracker = ServiceChangeTracker(settings: MappingSettings(nodeName: "node1"))
        func node(_ name: String, zone: String?) -> Node {
            Node(metadata: ObjectMeta(name: name, labels: zone.map { [Node.zoneLabel: $0] } ?? [:]))
        }
        let listedWithZoneA = tracker.apply(ReflectorChange<Node>.replaced(all: [node("node1", zone: "zone-a")], deleted: []))
        #expect(listedWithZoneA)
        #expect(tracker.nodeZone == "zone-a")
        let otherNodeChanged = tracker.apply(ReflectorChange<Node>.upserted(node("node2", zone: "zone-b")))
        #expect(!otherNodeChanged)
        let relabelledZoneC = tracker.apply(ReflectorChange<Node>.upserted(node("node1", zone: "zone-c")))
        #expect(relabelledZoneC)
        #expect(tracker.nodeZone == "zone-c")
        let labelRemoved = tracker.apply(ReflectorChange<Node>.upserted(node("node1", zone: nil)))
        #expect(labelRemoved)
        #expect(tracker.nodeZone == nil)
        tracker.apply(ReflectorChange<Node>.upserted(node("node1", zone: "zone-a")))
        let nodeDeleted = tracker.apply(ReflectorChange<Node>.deleted(node("node1", zone: "zone-a")))
        #expect(nodeDeleted)
        #expect(tracker.nodeZone == nil)
    }

    /// The recorded slice (v1.36): two ready endpoints hinted for zone-a and zone-b, a
    /// terminating one without hints (not ready, so it does not stop the hints).
    @Test func theRecordedSlicesHintsKeepANodeInZoneAOnItsZonesEndpoint() throws {
        let slice = try Samples.decode(EndpointSlice.self, "endpointslice-demo-abc12.json")
        let service = try Samples.decode(KubernetesService.self, "service-demo.json")
        func http(zone: String?) -> [String] {
            let mapper = ServiceMapper(settings: MappingSettings(nodeName: "node-x", serviceProxyName: "", zone: zone))
            let mapped = mapper.map(service, slices: [slice]).services.first { $0.service.proto == .tcp }
            return mapped?.service.endpoints.map(\.address.description) ?? []
        }
        #expect(http(zone: "zone-a") == ["10.244.1.10"])
        #expect(http(zone: "zone-b") == ["10.244.2.11"])
        #expect(http(zone: "zone-c") == ["10.244.1.10", "10.244.2.11", "10.244.3.12"])
        #expect(http(zone: nil) == ["10.244.1.10", "10.244.2.11", "10.244.3.12"])
    }

    /// The fields a v1.36 API server sends for a Node and an EndpointSlice endpoint with hints
    /// (no Node was recorded in ../shared/k8s/samples, so the shape is written out here).
    @Test func aNodesZoneLabelAndAnEndpointsHintsDecode() throws {
        let nodeJSON = #"""
        {"kind":"Node","apiVersion":"v1","metadata":{"name":"node1","uid":"5f0c","resourceVersion":"812",
         "creationTimestamp":"2026-01-01T00:00:00Z","labels":{"kubernetes.io/hostname":"node1",
         "topology.kubernetes.io/region":"eu-1","topology.kubernetes.io/zone":"eu-1a"}},
         "spec":{"podCIDR":"10.244.1.0/24","podCIDRs":["10.244.1.0/24"]},
         "status":{"conditions":[{"type":"Ready","status":"True"}],"addresses":[{"type":"InternalIP","address":"192.168.1.2"}],
                   "daemonEndpoints":{"kubeletEndpoint":{"Port":10250}},"nodeInfo":{"kubeletVersion":"v1.36.2"}}}
        """#
        let node = try JSONDecoder().decode(Node.self, from: Data(nodeJSON.utf8))
        #expect(node.zone == "eu-1a")
        let endpointJSON = #"""
        {"addresses":["10.244.1.5"],"conditions":{"ready":true,"serving":true,"terminating":false},"nodeName":"node1",
         "zone":"eu-1a","hints":{"forZones":[{"name":"eu-1a"}],"forNodes":[{"name":"node1"}]}}
        """#
        let endpoint = try JSONDecoder().decode(EndpointSlice.Endpoint.self, from: Data(endpointJSON.utf8))
        #expect(endpoint.zone == "eu-1a")
        #expect(endpoint.hints == .init(forZones: [.init(name: "eu-1a")], forNodes: [.init(name: "node1")]))
    }
}
