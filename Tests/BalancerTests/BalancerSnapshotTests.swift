import Balancer
import PacketRewrite
import Testing

@Suite("BalancerSnapshot")
struct BalancerSnapshotTests {
    let flows = FlowTracker()
    let affinity = AffinityTable(capacity: 64)
    let cidrs = [IPPrefix("10.96.0.0/12")!]

    func build(_ services: [Service], unhealthy: Set<EndpointKey> = [],
               reusing previous: BalancerSnapshot? = nil) throws(BalancerBuildError) -> BalancerSnapshot {
        try BalancerSnapshot.build(services: services, serviceCIDRs: cidrs, unhealthy: unhealthy,
                                   reusing: previous, flows: flows, affinity: affinity)
    }

    func balancer(_ snapshot: BalancerSnapshot, _ service: Service) -> ServiceBalancer? {
        snapshot.table.lookup(service.key)
    }

    let a = Fixture.service("a", vip: "10.96.0.1", strategy: "maglev", options: ["tableSize": "251"],
                            endpoints: Fixture.endpoints(3))
    let b = Fixture.service("b", vip: "10.96.0.2", endpoints: Fixture.endpoints(2))

    @Test func anUnchangedServiceKeepsItsBalancerAndAChangedOneDoesNot() throws {
        let first = try build([a, b])
        var changed = b
        changed.endpoints.append(Endpoint(address: IPAddress("10.1.9.9")!, port: 8080))
        let second = try build([a, changed], reusing: first)
        #expect(balancer(second, a) === balancer(first, a))
        #expect(balancer(second, changed) !== balancer(first, b))
        #expect(balancer(second, changed)?.candidates.count == 3)
    }

    @Test func anAddressAnswersPingsWhenOneOfItsServicesSaysSoAndOnlyThen() throws {
        var pingable = b
        pingable.answersPing = true
        var otherPort = b
        otherPort.port = 8443
        let snapshot = try build([a, pingable, otherPort])
        #expect(snapshot.answersPing(to: b.vip))
        #expect(!snapshot.answersPing(to: a.vip))
        #expect(!snapshot.answersPing(to: IPAddress("10.96.0.99")!))
        let reloaded = try build([a, b, otherPort], reusing: snapshot)
        #expect(!reloaded.answersPing(to: b.vip), "turning answerPing off takes effect at the reload")
    }

    @Test func reuseDoesNotDependOnServiceOrder() throws {
        let first = try build([a, b])
        let second = try build([b, a], reusing: first)
        #expect(balancer(second, a) === balancer(first, a))
        #expect(balancer(second, b) === balancer(first, b))
        #expect(second.services.map(\.service.name) == ["b", "a"])
    }

    @Test(arguments: ["weight", "options", "strategy", "affinity", "conditions", "tag"])
    func anyChangeOfDefinitionRebuilds(change: String) throws {
        let first = try build([a])
        var changed = a
        switch change {
        case "weight": changed.endpoints[0].weight = 2
        case "options": changed.strategyOptions = ["tableSize": "257"]
        case "strategy": changed.strategy = "random"; changed.strategyOptions = [:]
        case "affinity": changed.sessionAffinity = SessionAffinity()
        case "tag": changed.endpoints[0].tag = 42
        default: changed.endpoints[1].conditions.ready = false
        }
        let second = try build([changed], reusing: first)
        #expect(balancer(second, changed) !== balancer(first, a))
    }

    @Test func aChangeOfHealthRebuildsOnlyTheServicesItConcerns() throws {
        let first = try build([a, Fixture.service("c", vip: "10.96.0.3", endpoints: Fixture.endpoints(2, port: 9090))])
        let second = try build([a, Fixture.service("c", vip: "10.96.0.3", endpoints: Fixture.endpoints(2, port: 9090))],
                               unhealthy: [a.endpoints[2].key], reusing: first)
        #expect(balancer(second, a) !== balancer(first, a))
        #expect(balancer(second, a)?.candidates.count == 2)
        #expect(second.services[1] === first.services[1])
    }

    @Test func reloadingTenThousandUnchangedServicesReusesEveryBalancer() throws {
        let services = (0..<10_000).map { i in
            Fixture.service("s\(i)", vip: "10.97.\(i / 250).\(i % 250 + 1)", endpoints: Fixture.endpoints(3))
        }
        let first = try build(services)
        let second = try build(services, reusing: first)
        #expect(zip(first.services, second.services).allSatisfy { $0 === $1 })
    }

    @Test func flowCountsSurviveAReload() throws {
        let first = try build([b])
        try #require(balancer(first, b)).flowOpened(candidate: 0)
        var changed = b
        changed.strategy = "least-connections"
        let second = try build([changed], reusing: first)
        #expect(try #require(balancer(second, changed)).counters[0].active == 1)
    }

    @Test func anUnknownStrategyIsReportedWithTheServiceAndField() {
        var bad = b
        bad.strategy = "maglv"
        #expect(throws: BalancerBuildError(serviceIndex: 1, serviceName: "b", field: "strategy", reason: .strategy(
            StrategyError(strategy: "maglv", problem: .unknownStrategy(known: StrategyRegistry.standard.names))))) {
            try build([a, bad])
        }
    }

    @Test func aBadStrategyOptionIsReportedWithItsPath() {
        var bad = a
        bad.strategyOptions = ["tableSize": "250"]
        do {
            _ = try build([b, bad])
            Issue.record("a table size of 250 was accepted")
        } catch {
            #expect(error.path == "services[1].strategyOptions.tableSize")
            #expect(error.description == "services[1].strategyOptions.tableSize (service 'a'): strategy 'maglev': "
                + "option 'tableSize' must be a prime number (e.g. 251, 4093, 65537); got '250'")
        }
    }

    @Test func aDuplicateServiceIsAnError() {
        var twin = a
        twin.name = "twin"
        #expect(throws: BalancerBuildError(serviceIndex: 2, serviceName: "twin", field: "vip",
                                           reason: .duplicateService(firstIndex: 0, firstName: "a"))) {
            try build([a, b, twin])
        }
        // Same address and port with the other protocol is another service.
        twin.proto = .udp
        #expect(throws: Never.self) { try build([a, b, twin]) }
    }

    @Test func invalidFieldsAreReportedByPath() {
        func path(_ mutate: (inout Service) -> Void) -> String? {
            var service = b
            mutate(&service)
            do {
                _ = try build([service])
                return nil
            } catch {
                return error.path
            }
        }
        #expect(path { $0.proto = .icmp } == "services[0].proto")
        #expect(path { $0.port = 0 } == "services[0].port")
        #expect(path { $0.sessionAffinity = SessionAffinity(timeoutSeconds: 0) } == "services[0].sessionAffinity.timeoutSeconds")
        #expect(path { $0.sessionAffinity = SessionAffinity(timeoutSeconds: 86_401) } == "services[0].sessionAffinity.timeoutSeconds")
        #expect(path { $0.endpoints[1].address = IPAddress("fd00::1")! } == "services[0].endpoints[1].address")
        #expect(path { $0.endpoints[0].port = 0 } == "services[0].endpoints[0].port")
        #expect(path { $0.endpoints.append($0.endpoints[0]) } == "services[0].endpoints[2]")
        #expect(path { _ in } == nil)
    }
}
