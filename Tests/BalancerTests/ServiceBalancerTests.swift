import Balancer
import PacketRewrite
import Testing

@Suite("ServiceBalancer")
struct ServiceBalancerTests {
    let flows = FlowTracker()
    let affinity = AffinityTable(capacity: 1024)

    func balancer(_ service: Service, unhealthy: Set<EndpointKey> = []) throws -> ServiceBalancer {
        try ServiceBalancer(service: service, unhealthy: unhealthy, flows: flows, affinity: affinity)
    }

    func pick(_ balancer: ServiceBalancer, client: Int, port: UInt16 = 40000, now: UInt32 = 0,
              seed: UInt64 = 1) -> EndpointKey? {
        var context = PickContext(seed: seed, now: now)
        let flow = Fixture.flow(client: client, port: port)
        return balancer.pick(flow, hash: flow.stableHash, context: &context)?.endpoint.key
    }

    @Test func aClientWithAffinityStaysOnItsEndpoint() throws {
        let service = Fixture.service(affinity: SessionAffinity(), endpoints: Fixture.endpoints(10))
        let b = try balancer(service)
        for client in 0..<20 {
            let first = pick(b, client: client, port: 1000)
            for port in UInt16(1001)..<1050 {
                #expect(pick(b, client: client, port: port, seed: UInt64(port)) == first)
            }
        }
    }

    @Test func withoutAffinityAClientsFlowsSpread() throws {
        let b = try balancer(Fixture.service(endpoints: Fixture.endpoints(10)))
        let seen = Set((UInt16(1000)..<1100).map { pick(b, client: 1, port: $0, seed: UInt64($0)) })
        #expect(seen.count > 5)
    }

    @Test func affinityExpiresAfterTheTimeout() throws {
        let service = Fixture.service(strategy: "round-robin", affinity: SessionAffinity(timeoutSeconds: 10),
                                      endpoints: Fixture.endpoints(3))
        let b = try balancer(service)
        let first = pick(b, client: 1, now: 100)
        #expect(pick(b, client: 1, now: 110) == first)
        #expect(pick(b, client: 1, now: 120) == first)  // renewed at 110
        // Idle for 11 s: round robin moves on to the next endpoint.
        let later = pick(b, client: 1, now: 131)
        #expect(later != first)
        #expect(pick(b, client: 1, now: 132) == later)
    }

    @Test func anIneligibleRememberedEndpointIsReplaced() throws {
        let endpoints = Fixture.endpoints(3)
        let service = Fixture.service(strategy: "round-robin", affinity: SessionAffinity(), endpoints: endpoints)
        let first = try #require(pick(try balancer(service), client: 7))
        #expect(first == endpoints[0].key)
        // The next snapshot: the remembered endpoint fails its health check.
        let next = try balancer(service, unhealthy: [first])
        let replacement = try #require(pick(next, client: 7, now: 1))
        #expect(replacement != first)
        #expect(pick(next, client: 7, now: 2) == replacement)
        // Or it starts terminating: the same.
        var terminating = endpoints
        terminating[1].conditions = EndpointConditions(ready: false, serving: true, terminating: true)
        let third = try balancer(Fixture.service(strategy: "round-robin", affinity: SessionAffinity(), endpoints: terminating))
        if replacement == endpoints[1].key {
            #expect(pick(third, client: 7, now: 3) != replacement)
        }
    }

    @Test func differentServicesDoNotShareAffinity() throws {
        let endpoints = Fixture.endpoints(4)
        let a = try balancer(Fixture.service("a", port: 80, strategy: "round-robin", affinity: SessionAffinity(), endpoints: endpoints))
        let b = try balancer(Fixture.service("b", port: 81, strategy: "round-robin", affinity: SessionAffinity(), endpoints: endpoints))
        // Move b's rotation on by one with another client.
        #expect(pick(b, client: 99) == endpoints[0].key)
        #expect(pick(a, client: 1) == endpoints[0].key)
        #expect(pick(b, client: 1) == endpoints[1].key)
        #expect(pick(a, client: 1) == endpoints[0].key)
    }

    @Test func affinitySurvivesARebuildOfTheService() throws {
        let endpoints = Fixture.endpoints(5)
        let old = try balancer(Fixture.service(affinity: SessionAffinity(), endpoints: endpoints))
        let chosen = try #require(pick(old, client: 3))
        let grown = try balancer(Fixture.service(affinity: SessionAffinity(), endpoints: endpoints + Fixture.endpoints(8).suffix(3)))
        for port in UInt16(1)..<50 {
            #expect(pick(grown, client: 3, port: port, now: 5, seed: UInt64(port)) == chosen)
        }
    }

    @Test func openedAndClosedFlowsMoveTheSharedCounters() throws {
        let b = try balancer(Fixture.service(strategy: "least-connections", endpoints: Fixture.endpoints(2)))
        b.flowOpened(candidate: 0)
        b.flowOpened(candidate: 0)
        #expect(flows.activeFlows(key: b.candidates[0].key, proto: .tcp) == 2)
        #expect(pick(b, client: 1) == b.candidates[1].key)
        b.flowClosed(candidate: 0)
        b.flowClosed(candidate: 0)
        b.flowOpened(candidate: 1)
        #expect(pick(b, client: 1) == b.candidates[0].key)
    }

    @Test func theChoiceNamesTheCandidateIndexAndEndpointWithItsTag() throws {
        var endpoints = Fixture.endpoints(3)
        for i in endpoints.indices { endpoints[i].tag = UInt32(100 + i) }
        let b = try balancer(Fixture.service(strategy: "round-robin", endpoints: endpoints))
        var context = PickContext(seed: 1)
        let flow = Fixture.flow(client: 1)
        let choices = (0..<3).compactMap { _ in b.pick(flow, hash: flow.stableHash, context: &context) }
        #expect(choices.map(\.index) == [0, 1, 2])
        #expect(choices.map(\.endpoint) == b.candidates)
        #expect(choices.map(\.endpoint.tag) == [100, 101, 102])
    }
}
