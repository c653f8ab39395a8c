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

@Suite("FlowTracker resynchronisation with the conntrack table")
struct FlowTrackerResyncTests {
    let a = EndpointKey(address: IPAddress("10.244.1.5")!, port: 8080)
    let b = EndpointKey(address: IPAddress("10.244.1.6")!, port: 8080)

    @Test func aResyncSetsEachCounterToTheKernelsCount() {
        let tracker = FlowTracker()
        for _ in 0..<5 { tracker.flowOpened(key: a, proto: .tcp) }
        tracker.flowOpened(key: b, proto: .tcp)
        let baseline = tracker.resyncBaseline()
        let outcome = tracker.resynchronize(kernel: [a: [.tcp: 2], b: [.tcp: 3]], baseline: baseline)
        #expect(tracker.activeFlows(key: a, proto: .tcp) == 2)
        #expect(tracker.activeFlows(key: b, proto: .tcp) == 3)
        #expect(outcome == FlowTracker.ResyncOutcome(countersCorrected: 2, flowsCorrected: 5))
    }

    @Test func flowsOpenedDuringTheDumpAreAddedToTheKernelsCount() {
        let tracker = FlowTracker()
        for _ in 0..<4 { tracker.flowOpened(key: a, proto: .tcp) }
        let baseline = tracker.resyncBaseline()
        // Two flows start while the table is read; the dump saw one old flow only.
        tracker.flowOpened(key: a, proto: .tcp)
        tracker.flowOpened(key: a, proto: .tcp)
        tracker.resynchronize(kernel: [a: [.tcp: 1]], baseline: baseline)
        #expect(tracker.activeFlows(key: a, proto: .tcp) == 3)
    }

    @Test func aCounterAbsentFromTheDumpDropsToZero() {
        let tracker = FlowTracker()
        for _ in 0..<7 { tracker.flowOpened(key: a, proto: .udp) }
        tracker.flowOpened(key: a, proto: .tcp)
        let outcome = tracker.resynchronize(kernel: [a: [.tcp: 1]], baseline: tracker.resyncBaseline())
        #expect(tracker.activeFlows(key: a, proto: .udp) == 0)
        #expect(tracker.activeFlows(key: a, proto: .tcp) == 1)
        #expect(outcome == FlowTracker.ResyncOutcome(countersCorrected: 1, flowsCorrected: 7))
    }

    @Test func aCountThatMatchesTheKernelIsNotACorrection() {
        let tracker = FlowTracker()
        tracker.flowOpened(key: a, proto: .tcp)
        let outcome = tracker.resynchronize(kernel: [a: [.tcp: 1]], baseline: tracker.resyncBaseline())
        #expect(outcome == FlowTracker.ResyncOutcome())
    }

    @Test func theDumpCreatesNoCounterForAnEndpointNobodyBalancesTo() {
        let tracker = FlowTracker()
        tracker.resynchronize(kernel: [b: [.tcp: 4]], baseline: tracker.resyncBaseline())
        #expect(tracker.count == 0)
    }

    @Test func openedKeepsCountingEveryFlowThroughAResync() {
        let counter = FlowCounter()
        for _ in 0..<3 { counter.increment() }
        let result = counter.resynchronize(kernel: 0, openedBefore: 3)
        #expect(result == (replaced: 3, set: 0))
        #expect(counter.opened == 3)
        #expect(counter.active == 0)
    }
}
