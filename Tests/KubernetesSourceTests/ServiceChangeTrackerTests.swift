import Balancer
import PacketRewrite
import Testing
@testable import KubernetesSource

/// The tracker: nothing before both first lists, one change per batch listing only what
/// changed, slices merged and moved, relists that apply missed deletions.
@Suite struct ServiceChangeTrackerTests {
    func synced(_ services: [KubernetesService] = [], _ slices: [EndpointSlice] = []) -> ServiceChangeTracker {
        var tracker = ServiceChangeTracker(settings: MappingSettings(nodeName: "node1"))
        tracker.replaceServices(services)
        tracker.replaceSlices(slices)
        return tracker
    }

    @Test func nothingIsGivenOutUntilBothFirstListsAreIn() {
        var tracker = ServiceChangeTracker(settings: MappingSettings(nodeName: "node1"))
        #expect(tracker.syncProblem != nil)
        tracker.update(Make.service("web"))
        tracker.replaceServices([Make.service("web")])
        #expect(tracker.takeChange() == nil)
        #expect(tracker.syncProblem?.contains("EndpointSlices") == true)
        tracker.replaceSlices([])
        #expect(tracker.syncProblem == nil)
        #expect(tracker.takeChange()?.services.keys.sorted() == ["default/web"])
    }

    @Test func manyEventsBetweenTwoTakesAreOneChangeListingOnlyTheChangedServices() {
        var tracker = synced([Make.service("a", clusterIP: "10.96.0.1"), Make.service("b", clusterIP: "10.96.0.2")])
        _ = tracker.takeChange()
        tracker.update(Make.slice("a-1", service: "a", endpoints: [Make.endpoint("10.244.1.1")]))
        tracker.update(Make.slice("a-1", service: "a", endpoints: [Make.endpoint("10.244.1.1"), Make.endpoint("10.244.1.2")]))
        let change = tracker.takeChange()
        #expect(change?.services.keys.sorted() == ["default/a"])
        #expect(change?.services["default/a"]?.first?.service.endpoints.count == 2)
        #expect(tracker.takeChange() == nil)
    }

    @Test func aSecondSliceIsMergedAndAnEndpointMovingBetweenSlicesChangesNothing() {
        var tracker = synced([Make.service("a")], [Make.slice("a-1", service: "a", endpoints: [Make.endpoint("10.244.1.1"), Make.endpoint("10.244.1.2")])])
        _ = tracker.takeChange()
        tracker.update(Make.slice("a-2", service: "a", endpoints: [Make.endpoint("10.244.1.3")]))
        #expect(tracker.takeChange()?.services["default/a"]?.first?.service.endpoints.count == 3)
        // 10.244.1.2 moves from a-1 to a-2: the merged endpoints are the same.
        tracker.update(Make.slice("a-2", service: "a", endpoints: [Make.endpoint("10.244.1.3"), Make.endpoint("10.244.1.2")]))
        tracker.update(Make.slice("a-1", service: "a", endpoints: [Make.endpoint("10.244.1.1")]))
        #expect(tracker.takeChange() == nil)
    }

    @Test func aDeletedServiceIsGivenOutWithNoServices() {
        var tracker = synced([Make.service("a")])
        _ = tracker.takeChange()
        tracker.delete(Make.service("a"))
        #expect(tracker.takeChange()?.services["default/a"] == [])
        #expect(tracker.current.isEmpty)
    }

    @Test func aRelistAppliesTheDeletionsThatHappenedDuringAWatchGap() {
        var tracker = synced([Make.service("a", clusterIP: "10.96.0.1"), Make.service("b", clusterIP: "10.96.0.2")],
                             [Make.slice("b-1", service: "b", endpoints: [Make.endpoint("10.244.1.1")])])
        _ = tracker.takeChange()
        tracker.replaceServices([Make.service("b", clusterIP: "10.96.0.2")])
        tracker.replaceSlices([])
        let change = tracker.takeChange()
        #expect(change?.services["default/a"] == [])
        #expect(change?.services["default/b"]?.first?.service.endpoints == [])
    }

    @Test func aServiceLabelledForAnotherProxyIsIgnored() {
        var tracker = synced([Make.service("theirs", labels: [ServiceMapper.serviceProxyNameLabel: "kube-proxy-other"])])
        #expect(tracker.takeChange() == nil)
        #expect(tracker.current.isEmpty)
    }

    @Test func aSliceWhoseLabelMovesItToAnotherServiceChangesBoth() {
        var tracker = synced([Make.service("a", clusterIP: "10.96.0.1"), Make.service("b", clusterIP: "10.96.0.2")],
                             [Make.slice("s", service: "a", endpoints: [Make.endpoint("10.244.1.1")])])
        _ = tracker.takeChange()
        tracker.update(Make.slice("s", service: "b", endpoints: [Make.endpoint("10.244.1.1")]))
        let change = tracker.takeChange()
        #expect(change?.services["default/a"]?.first?.service.endpoints == [])
        #expect(change?.services["default/b"]?.first?.service.endpoints.count == 1)
    }

    @Test func theTriggerTimeOfAChangedSliceComesWithTheChange() {
        var tracker = synced([Make.service("a")])
        _ = tracker.takeChange()
        tracker.update(Make.slice("a-1", service: "a", endpoints: [Make.endpoint("10.244.1.1")],
                                  annotations: [EndpointSlice.lastChangeTriggerTimeAnnotation: "2026-12-05T08:14:38Z"]))
        #expect(tracker.takeChange()?.triggerTimes.count == 1)
    }
}

/// The reflectors' changes drive the tracker: the first lists sync it, a relist's missing
/// objects are deleted.
@Suite struct ServiceChangeTrackerReflectorTests {
    @Test func reflectorListsSyncTheTrackerAndARelistDeletesWhatItNoLongerHas() {
        var tracker = ServiceChangeTracker(settings: MappingSettings(nodeName: "node1"))
        tracker.apply(ReflectorChange<KubernetesService>.replaced(all: [Make.service("a", clusterIP: "10.96.0.1"), Make.service("b", clusterIP: "10.96.0.2")], deleted: []))
        #expect(tracker.syncProblem != nil)
        tracker.apply(ReflectorChange<EndpointSlice>.replaced(all: [], deleted: []))
        #expect(tracker.takeChange()?.services.keys.sorted() == ["default/a", "default/b"])
        tracker.apply(ReflectorChange<EndpointSlice>.upserted(Make.slice("a-1", service: "a", endpoints: [Make.endpoint("10.244.1.1")])))
        tracker.apply(ReflectorChange<KubernetesService>.replaced(all: [Make.service("a", clusterIP: "10.96.0.1")], deleted: [Make.service("b", clusterIP: "10.96.0.2")]))
        let change = tracker.takeChange()
        #expect(change?.services["default/b"] == [])
        #expect(change?.services["default/a"]?.first?.service.endpoints.count == 1)
    }
}
