import Balancer
import PacketRewrite
import Testing

@Suite("EndpointEligibility")
struct EndpointEligibilityTests {
    func endpoint(_ last: UInt8, weight: UInt32 = 1, ready: Bool = true, serving: Bool = true,
                  terminating: Bool = false) -> Endpoint {
        Endpoint(address: .v4(IPv4Address(10, 244, 0, last)), port: 80, weight: weight,
                 conditions: EndpointConditions(ready: ready, serving: serving, terminating: terminating))
    }

    @Test func readyEndpointsAreTheCandidates() {
        let all = [endpoint(1), endpoint(2, ready: false, serving: false), endpoint(3)]
        let selection = EndpointEligibility.select(from: all, unhealthy: [])
        #expect(selection.candidates == [all[0], all[2]])
        #expect(!selection.usesTerminatingEndpoints)
    }

    @Test func weightZeroTakesNoNewFlows() {
        let all = [endpoint(1, weight: 0), endpoint(2)]
        #expect(EndpointEligibility.select(from: all, unhealthy: []).candidates == [all[1]])
    }

    @Test func unhealthyEndpointsTakeNoNewFlows() {
        let all = [endpoint(1), endpoint(2)]
        #expect(EndpointEligibility.select(from: all, unhealthy: [all[0].key]).candidates == [all[1]])
    }

    @Test func terminatingEndpointsAreUsedOnlyWhenNoneIsReady() {
        let terminating = endpoint(1, ready: false, serving: true, terminating: true)
        let ready = endpoint(2)
        #expect(EndpointEligibility.select(from: [terminating, ready], unhealthy: []).candidates == [ready])
        let fallback = EndpointEligibility.select(from: [terminating, endpoint(3, ready: false, serving: false)], unhealthy: [])
        #expect(fallback.candidates == [terminating])
        #expect(fallback.usesTerminatingEndpoints)
    }

    @Test func theTerminatingFallbackStillRespectsServingWeightAndHealth() {
        let notServing = endpoint(1, ready: false, serving: false, terminating: true)
        let weightless = endpoint(2, weight: 0, ready: false, serving: true, terminating: true)
        let unhealthy = endpoint(3, ready: false, serving: true, terminating: true)
        let selection = EndpointEligibility.select(from: [notServing, weightless, unhealthy], unhealthy: [unhealthy.key])
        #expect(selection.candidates.isEmpty)
        #expect(!selection.usesTerminatingEndpoints)
    }

    @Test func servingButNotTerminatingIsNotAFallback() {
        // ready=false, serving=true, terminating=false: not ready for new traffic.
        let e = endpoint(1, ready: false, serving: true, terminating: false)
        #expect(EndpointEligibility.select(from: [e], unhealthy: []).candidates.isEmpty)
    }

    @Test func aServiceWithNoCandidateRejectsNewFlows() throws {
        let service = Fixture.service(endpoints: [endpoint(1, ready: false, serving: false)])
        let balancer = try ServiceBalancer(service: service, flows: FlowTracker(), affinity: nil)
        var context = PickContext(seed: 1)
        let flow = Fixture.flow(client: 1)
        #expect(balancer.pick(flow, hash: flow.stableHash, context: &context) == nil)
    }
}
