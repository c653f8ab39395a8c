import Balancer
import PacketRewrite
import Testing

/// kube-proxy's `CategorizeEndpoints` (pkg/proxy/topology.go), the one rule both service
/// sources use: which endpoints `Cluster` and `Local` traffic policy get on node1 in zone-a.
@Suite struct EndpointCategoriesTests {
    /// 10.1.0.<n>:8080 on `node`, hinted for `zones` (nil: no hint), ready unless told.
    static func placed(_ n: UInt8, node: String, zones: [String]?, ready: Bool = true, terminating: Bool = false) -> PlacedEndpoint {
        let endpoint = Endpoint(address: .v4(IPv4Address(10, 1, 0, n)), port: 8080,
                                conditions: EndpointConditions(ready: ready, serving: true, terminating: terminating))
        return PlacedEndpoint(endpoint, isLocal: node == "node1", zoneHints: Set(zones ?? []))
    }

    static func categorize(_ endpoints: [PlacedEndpoint], zone: String? = "zone-a") -> EndpointCategories {
        EndpointCategories(endpoints, nodeName: "node1", zone: zone)
    }

    static func last(_ endpoints: [Endpoint]) -> [UInt8] {
        endpoints.map { endpoint in
            guard case .v4(let address) = endpoint.address else { return 0 }
            return UInt8(truncatingIfNeeded: address.rawValue)
        }
    }

    @Test func everyReadyEndpointHintedAndOneForThisZoneGivesTheZonesEndpoints() {
        let categories = Self.categorize([Self.placed(1, node: "node1", zones: ["zone-a"]), Self.placed(2, node: "node2", zones: ["zone-b"]),
                                          Self.placed(3, node: "node3", zones: ["zone-a"])])
        #expect(categories.topology == .preferSameZone)
        #expect(Self.last(categories.cluster) == [1, 3])
    }

    @Test func oneReadyEndpointWithoutAHintGivesEveryEndpoint() {
        let categories = Self.categorize([Self.placed(1, node: "node1", zones: ["zone-a"]), Self.placed(2, node: "node2", zones: nil),
                                          Self.placed(3, node: "node3", zones: ["zone-a"])])
        #expect(categories.topology == .none)
        #expect(Self.last(categories.cluster) == [1, 2, 3])
    }

    @Test func noHintNamingThisZoneGivesEveryEndpoint() {
        let categories = Self.categorize([Self.placed(1, node: "node2", zones: ["zone-b"]), Self.placed(2, node: "node3", zones: ["zone-c"])])
        #expect(categories.topology == .none)
        #expect(Self.last(categories.cluster) == [1, 2])
    }

    @Test func anUnknownZoneIgnoresTheHints() {
        let endpoints = [Self.placed(1, node: "node2", zones: ["zone-a"]), Self.placed(2, node: "node3", zones: ["zone-b"])]
        #expect(Self.last(Self.categorize(endpoints, zone: nil).cluster) == [1, 2])
        #expect(Self.last(Self.categorize(endpoints, zone: "").cluster) == [1, 2])
    }

    @Test func aNotReadyEndpointWithoutAHintDoesNotStopTheHints() {
        let categories = Self.categorize([Self.placed(1, node: "node2", zones: ["zone-a"]), Self.placed(2, node: "node3", zones: ["zone-b"]),
                                          Self.placed(3, node: "node4", zones: nil, ready: false)])
        #expect(Self.last(categories.cluster) == [1])
    }

    @Test func localPolicyGetsThisNodesEndpointsWhateverTheHints() {
        let categories = Self.categorize([Self.placed(1, node: "node1", zones: ["zone-b"]), Self.placed(2, node: "node2", zones: ["zone-a"]),
                                          Self.placed(3, node: "node1", zones: ["zone-a"])])
        #expect(Self.last(categories.endpoints(localPolicy: true)) == [1, 3])
        #expect(Self.last(categories.endpoints(localPolicy: false)) == [2, 3])
        #expect(categories.hasUsableEndpoints)
    }

    @Test func noLocalEndpointButSomeElsewhereIsADropAndNoneAnywhereIsAReject() {
        let elsewhere = Self.categorize([Self.placed(1, node: "node2", zones: nil)])
        #expect(elsewhere.local.isEmpty)
        #expect(elsewhere.hasUsableEndpoints, "endpoints elsewhere: kube-proxy drops")
        let terminatingElsewhere = Self.categorize([Self.placed(1, node: "node2", zones: nil, ready: false, terminating: true)])
        #expect(terminatingElsewhere.hasUsableEndpoints, "a serving-terminating endpoint elsewhere still counts")
        let notReady = Self.categorize([Self.placed(1, node: "node2", zones: nil, ready: false)])
        #expect(!notReady.hasUsableEndpoints, "no usable endpoint anywhere: kube-proxy rejects")
        #expect(!Self.categorize([]).hasUsableEndpoints)
    }

    @Test func localPolicyKeepsNotReadyLocalEndpointsForTheBalancersTerminatingFallback() {
        let categories = Self.categorize([Self.placed(1, node: "node1", zones: nil, ready: false, terminating: true),
                                          Self.placed(2, node: "node2", zones: nil)])
        #expect(Self.last(categories.local) == [1])
    }
}
