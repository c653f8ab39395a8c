import Balancer
import PacketRewrite
import Testing
@testable import NFQLB

/// Which stale conntrack entries go when an endpoint stops taking new flows: kube-proxy's
/// rule (only endpoints that are gone or no longer serving lose their UDP entries).
@Suite struct StaleEntryPolicyTests {
    typealias Use = StaleEntryPolicy.EndpointUse
    let both: Set<IPProtocolNumber> = [.tcp, .udp]

    @Test func anEndpointThatIsGoneLosesItsUDPEntriesAndKeepsItsTCPOnes() {
        #expect(StaleEntryPolicy.protocolsToDelete(stopped: both, resetting: false, use: Use()) == [.udp])
    }

    @Test func aTerminatingButServingEndpointKeepsItsUDPEntries() {
        let use = Use(candidate: [], serving: [.udp])
        #expect(StaleEntryPolicy.protocolsToDelete(stopped: [.udp], resetting: false, use: use).isEmpty)
    }

    @Test func servingForTCPOnlyDoesNotKeepTheUDPEntries() {
        let use = Use(candidate: [], serving: [.tcp])
        #expect(StaleEntryPolicy.protocolsToDelete(stopped: [.udp], resetting: false, use: use) == [.udp])
    }

    @Test func aResetServiceCutsEverythingOfAnEndpointThatStoppedEvenIfStillServing() {
        let use = Use(candidate: [], serving: [.tcp, .udp])
        #expect(StaleEntryPolicy.protocolsToDelete(stopped: both, resetting: true, use: use) == both)
    }

    @Test func anEndpointThatTakesNewFlowsAgainLosesNothing() {
        let use = Use(candidate: [.tcp, .udp], serving: [.tcp, .udp])
        #expect(StaleEntryPolicy.protocolsToDelete(stopped: both, resetting: true, use: use).isEmpty)
        #expect(StaleEntryPolicy.protocolsToDelete(stopped: both, resetting: false, use: use).isEmpty)
    }

    @Test func usesComeFromTheConditionsInTheSnapshotAndOurHealthChecks() throws {
        func endpoint(_ last: Int, _ conditions: EndpointConditions = .init()) -> Endpoint {
            Endpoint(address: IPAddress("10.244.1.\(last)")!, port: 53, conditions: conditions)
        }
        let ready = endpoint(1)
        let terminating = endpoint(2, .init(ready: false, serving: true, terminating: true))
        let notServing = endpoint(3, .init(ready: false, serving: false, terminating: true))
        let unhealthy = endpoint(4)
        let service = Service(name: "dns", vip: IPAddress("10.96.0.53")!, port: 53, proto: .udp,
                              endpoints: [ready, terminating, notServing, unhealthy])
        let snapshot = try BalancerSnapshot.build(services: [service], serviceCIDRs: [IPPrefix("10.96.0.0/12")!],
                                                  unhealthy: [unhealthy.key], flows: FlowTracker(), affinity: AffinityTable(capacity: 16))
        let uses = StaleEntryPolicy.use(of: snapshot.services, unhealthy: [unhealthy.key])
        #expect(uses[ready.key] == Use(candidate: [.udp], serving: [.udp]))
        #expect(uses[terminating.key] == Use(candidate: [], serving: [.udp]))
        #expect(uses[notServing.key] == nil)
        #expect(uses[unhealthy.key] == nil)
    }
}
