import Foundation
import Testing
import Balancer
import PacketRewrite
@testable import KubernetesSource

/// The models read what a real API server sends (the recorded samples), including the odd
/// shapes: bookmarks with null lists, `{}` conditions, int-or-string ports.
@Suite struct SampleDecodingTests {
    @Test func aRecordedServiceDecodesWithItsClusterIPAndBothPorts() throws {
        let service = try Samples.decode(KubernetesService.self, "service-demo.json")
        #expect(service.storeKey == "default/demo")
        #expect(service.spec?.clusterIPs == ["10.102.201.116"])
        #expect(service.spec?.ports?.map(\.port) == [80, 53])
        #expect(service.spec?.ports?.map(\.targetPort) == [.int(8080), .int(5353)])
        #expect(service.spec?.ports?.map(\.protocol) == ["TCP", "UDP"])
        #expect(service.spec?.internalTrafficPolicy == "Cluster")
        #expect(service.spec?.sessionAffinity == "None")
    }

    @Test func aRecordedEndpointSliceDecodesEndpointsConditionsHintsAndPorts() throws {
        let slice = try Samples.decode(EndpointSlice.self, "endpointslice-demo-abc12.json")
        #expect(slice.serviceKey == "default/demo")
        #expect(slice.addressType == "IPv4")
        let endpoints = try #require(slice.endpoints)
        #expect(endpoints.map { $0.addresses[0] } == ["10.244.1.10", "10.244.2.11", "10.244.3.12"])
        #expect(endpoints[2].conditions == .init(ready: false, serving: true, terminating: true))
        #expect(endpoints[0].hints?.forZones == [.init(name: "zone-a")])
        #expect(endpoints[0].nodeName == "node-a")
        #expect(slice.ports?.map(\.name) == ["http", "dns"])
    }

    @Test func recordedListsDecodeWithTheirResourceVersion() throws {
        let services = try Samples.decode(ObjectList<KubernetesService>.self, "services-list.json")
        #expect(services.items.map(\.storeKey).sorted() == ["default/demo", "default/kubernetes"])
        #expect(services.metadata.resourceVersion != nil)
        let slices = try Samples.decode(ObjectList<EndpointSlice>.self, "endpointslices-list.json")
        #expect(slices.metadata.resourceVersion == "85")
        #expect(slices.items.map(\.storeKey) == ["default/demo-abc12"])
    }

    @Test func bookmarksDecodeThoughTheyCarryOnlyAResourceVersion() throws {
        let slices = try Samples.events(EndpointSlice.self, "endpointslices-watch.jsonl")
        let bookmark = try #require(slices.last)
        #expect(bookmark.type == .bookmark)
        #expect(bookmark.object.metadata.resourceVersion == "93")
        #expect(bookmark.object.endpoints == nil)
        #expect(bookmark.object.serviceKey == nil)
        let services = try Samples.events(KubernetesService.self, "services-watch.jsonl")
        #expect(services.map(\.type) == [.modified, .bookmark])
    }

    @Test func anIPv6SliceDecodesAndIsNotUsedForAnIPv4Service() throws {
        let events = try Samples.events(EndpointSlice.self, "endpointslices-watch.jsonl")
        let found = events.first(where: { event in event.object.metadata.name == "demo-v6-xyz89" })
        let v6 = try #require(found?.object)
        #expect(v6.addressType == "IPv6")
        let service = try Samples.decode(KubernetesService.self, "service-demo.json")
        let mapper = ServiceMapper(settings: MappingSettings(nodeName: "node-a", serviceProxyName: ""))
        let mapped = mapper.map(service, slices: [v6])
        #expect(mapped.services.count == 2)
        #expect(mapped.services.allSatisfy { $0.service.endpoints.isEmpty })
    }

    @Test func theRecordedServiceMadeDualStackIsBalancedOverTheRecordedSlicesOfEachFamily() throws {
        var service = try Samples.decode(KubernetesService.self, "service-demo.json")
        service.spec?.clusterIPs = ["10.102.201.116", "fd00:10:96::74"]
        service.spec?.ipFamilies = ["IPv4", "IPv6"]
        service.spec?.ipFamilyPolicy = "PreferDualStack"
        let v4 = try Samples.decode(EndpointSlice.self, "endpointslice-demo-abc12.json")
        let events = try Samples.events(EndpointSlice.self, "endpointslices-watch.jsonl")
        let v6 = try #require(events.first { $0.object.metadata.name == "demo-v6-xyz89" }?.object)
        let mapper = ServiceMapper(settings: MappingSettings(nodeName: "node-a", serviceProxyName: ""))
        let mapped = mapper.map(service, slices: [v4, v6])
        let byKey = Dictionary(uniqueKeysWithValues: mapped.services.map { ($0.service.key.description, $0.service) })
        #expect(byKey.keys.sorted() == ["tcp 10.102.201.116:80", "tcp [fd00:10:96::74]:80", "udp 10.102.201.116:53", "udp [fd00:10:96::74]:53"])
        #expect(byKey["tcp [fd00:10:96::74]:80"]?.endpoints.map(\.key.description) == ["[fd00:10:244::20]:8080"])
        #expect(byKey["tcp 10.102.201.116:80"]?.endpoints.map(\.address.description) == ["10.244.1.10", "10.244.2.11", "10.244.3.12"])
        // The IPv6 slice has no dns port: the IPv6 dns VIP has no endpoints (rejected, as kube-proxy does).
        #expect(byKey["udp [fd00:10:96::74]:53"]?.endpoints == [])
        #expect(byKey["tcp 10.102.201.116:80"]?.name == byKey["tcp [fd00:10:96::74]:80"]?.name)
    }

    @Test func emptyConditionsMeanReadyAndServing() throws {
        let slice = try JSONDecoder().decode(EndpointSlice.self, from: Data(#"""
            {"metadata":{"name":"s","namespace":"default","labels":{"kubernetes.io/service-name":"web"}},
             "addressType":"IPv4","endpoints":[{"addresses":["10.244.1.5"],"conditions":{}}],
             "ports":[{"name":"http","port":8080,"protocol":"TCP"}]}
            """#.utf8))
        let mapper = ServiceMapper(settings: MappingSettings(nodeName: "node1"))
        let mapped = mapper.map(Make.service("web"), slices: [slice])
        let endpoint = try #require(mapped.services.first?.service.endpoints.first)
        #expect(endpoint.conditions.ready && endpoint.conditions.serving && !endpoint.conditions.terminating)
    }

    @Test func aNamedTargetPortDecodesAsAName() throws {
        let port = try JSONDecoder().decode(KubernetesService.Port.self, from: Data(#"{"name":"web","port":80,"targetPort":"http-alt"}"#.utf8))
        #expect(port.targetPort == .string("http-alt"))
    }

    /// The recorded objects, end to end: the service list and slice list make two services
    /// (http/TCP and dns/UDP) with the slice's three endpoints, the third serving but terminating.
    @Test func theRecordedListsMapToTheDemoServicesWithTheirEndpoints() throws {
        var tracker = ServiceChangeTracker(settings: MappingSettings(nodeName: "node-a", serviceProxyName: ""))
        tracker.replaceServices(try Samples.decode(ObjectList<KubernetesService>.self, "services-list.json").items)
        tracker.replaceSlices(try Samples.decode(ObjectList<EndpointSlice>.self, "endpointslices-list.json").items)
        let taken = tracker.takeChange()
        let change = try #require(taken)
        let demo = try #require(change.services["default/demo"])
        #expect(demo.map(\.service.name) == ["default/demo:http", "default/demo:dns"])
        #expect(demo.map(\.service.port) == [80, 53])
        #expect(demo[0].service.endpoints.map(\.port) == [8080, 8080, 8080])
        #expect(demo[1].service.endpoints.map(\.port) == [5353, 5353, 5353])
        #expect(demo[0].service.endpoints.map(\.conditions.ready) == [true, true, false])
        #expect(demo[0].service.endpoints[2].conditions.terminating)
        // The `kubernetes` service has no slice in the recording: it is installed with no endpoints.
        #expect(change.services["default/kubernetes"]?.first?.service.endpoints == [])
    }

    /// The recorded watch replayed: v2 replaces the third endpoint; the IPv6 slice comes and goes
    /// without touching the IPv4 service; a slice leaving the selector and coming back (DELETED
    /// then ADDED) ends where it started.
    @Test func theRecordedWatchReplaysToTheFinalEndpoints() throws {
        var tracker = ServiceChangeTracker(settings: MappingSettings(nodeName: "node-a", serviceProxyName: ""))
        tracker.replaceServices(try Samples.decode(ObjectList<KubernetesService>.self, "services-list.json").items)
        tracker.replaceSlices(try Samples.decode(ObjectList<EndpointSlice>.self, "endpointslices-list.json").items)
        _ = tracker.takeChange()
        var addressesSeen: [[String]] = []
        for event in try Samples.events(EndpointSlice.self, "endpointslices-watch.jsonl") {
            switch event.type {
            case .added, .modified: tracker.update(event.object)
            case .deleted: tracker.delete(event.object)
            case .bookmark, .error: continue
            }
            if let change = tracker.takeChange(), let demo = change.services["default/demo"] {
                addressesSeen.append(demo.first?.service.endpoints.map(\.address.description) ?? [])
            }
        }
        #expect(addressesSeen == [
            ["10.244.1.10", "10.244.2.11", "10.244.3.13"],  // MODIFIED: the third endpoint replaced
            [],                                            // DELETED (out of the selector)
            ["10.244.1.10", "10.244.2.11", "10.244.3.13"],  // ADDED back
        ])
    }
}
