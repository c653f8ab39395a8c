import Balancer
import PacketRewrite
import Testing

@Suite("FlowTracker")
struct FlowTrackerTests {
    let key = EndpointKey(address: IPAddress("10.244.1.5")!, port: 8080)

    @Test func oneEndpointAndProtocolHaveOneSharedCounter() {
        let tracker = FlowTracker()
        let a = tracker.counter(for: key, proto: .tcp)
        #expect(a === tracker.counter(for: key, proto: .tcp))
        #expect(a !== tracker.counter(for: key, proto: .udp))
        tracker.flowOpened(key: key, proto: .tcp)
        tracker.flowOpened(key: key, proto: .tcp)
        #expect(a.active == 2)
        tracker.flowClosed(key: key, proto: .tcp)
        #expect(tracker.activeFlows(key: key, proto: .tcp) == 1)
    }

    @Test func openedCountsEveryFlowEverOpened() {
        let counter = FlowCounter()
        for _ in 0..<3 { counter.increment() }
        counter.decrement()
        counter.increment()
        #expect(counter.active == 3)
        #expect(counter.opened == 4)
    }

    @Test func countsNeverGoBelowZero() {
        let tracker = FlowTracker()
        tracker.flowOpened(key: key, proto: .udp)
        for _ in 0..<3 { tracker.flowClosed(key: key, proto: .udp) }
        #expect(tracker.activeFlows(key: key, proto: .udp) == 0)
        let counter = FlowCounter(active: 1)
        counter.decrement()
        counter.decrement()
        #expect(counter.active == 0)
    }

    @Test func aCloseForAnUnknownEndpointCreatesNothing() {
        let tracker = FlowTracker()
        tracker.flowClosed(key: key, proto: .tcp)
        #expect(tracker.count == 0)
    }

    @Test func idleCountersOfRemovedEndpointsArePruned() throws {
        let tracker = FlowTracker()
        let busy = EndpointKey(address: IPAddress("10.244.9.9")!, port: 80)
        let idle = EndpointKey(address: IPAddress("10.244.9.8")!, port: 80)
        tracker.flowOpened(key: busy, proto: .tcp)
        _ = tracker.counter(for: idle, proto: .tcp)
        _ = try BalancerSnapshot.build(
            services: [Fixture.service(endpoints: Fixture.endpoints(2))], serviceCIDRs: [],
            flows: tracker, affinity: AffinityTable(capacity: 16))
        #expect(tracker.count == 4)
        // Both removed endpoints are offered for pruning; only the idle one goes.
        tracker.removeIdleCounters([(busy, .tcp), (idle, .tcp)])
        #expect(tracker.count == 3)
        #expect(tracker.activeFlows(key: busy, proto: .tcp) == 1)
    }

    @Test func concurrentOpensAndClosesBalanceOut() async {
        let tracker = FlowTracker()
        let counter = tracker.counter(for: key, proto: .tcp)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<10_000 { counter.increment() }
                    for _ in 0..<10_000 { tracker.flowClosed(key: key, proto: .tcp) }
                }
            }
        }
        #expect(counter.active == 0)
    }
}
