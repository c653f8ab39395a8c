import Balancer
import PacketRewrite
import Testing
@testable import KubernetesSource

/// Each of kube-proxy's mapping rules, on constructed objects.
@Suite struct ServiceMapperTests {
    let mapper = ServiceMapper(settings: MappingSettings(nodeName: "node1"))

    func addresses(_ mapping: ServiceMapper.Mapping) -> [String] {
        mapping.services.first?.service.endpoints.map(\.address.description) ?? []
    }

    @Test func byDefaultOnlyServicesLabelledForNfqLbAreTaken() {
        #expect(mapper.selects(Make.service("mine")))
        #expect(!mapper.selects(Make.service("plain", labels: [:])))
        #expect(!mapper.selects(Make.service("other", labels: [ServiceMapper.serviceProxyNameLabel: "cilium"])))
    }

    @Test func anEmptyProxyNameTakesEveryUnlabelledServiceAsKubeProxyDoes() {
        let replacing = ServiceMapper(settings: MappingSettings(nodeName: "node1", serviceProxyName: ""))
        #expect(replacing.selects(Make.service("plain", labels: [:])))
        #expect(!replacing.selects(Make.service("mine")))
    }

    @Test func headlessLabelledHeadlessAndExternalNameServicesAreSkipped() {
        let labelled = Make.service("h", labels: [ServiceMapper.serviceProxyNameLabel: "nfq-lb", ServiceMapper.headlessLabel: ""])
        #expect(mapper.map(labelled, slices: []).services.isEmpty)
        let headless = mapper.map(Make.service("h", clusterIP: "None"), slices: [])
        #expect(headless.services.isEmpty && headless.skipped == [.headless])
        let external = mapper.map(Make.service("e") { $0.type = "ExternalName" }, slices: [])
        #expect(external.services.isEmpty && external.skipped == [.externalName])
    }

    @Test func aDualStackServiceIsOneServicePerFamilyEachOverTheSlicesOfItsFamily() {
        let dual = Make.service("d") {
            $0.clusterIPs = ["10.96.0.10", "fd00:10:96::10"]
            $0.ipFamilies = ["IPv4", "IPv6"]
            $0.ipFamilyPolicy = "RequireDualStack"
        }
        let slices = [Make.slice("d-v4", service: "d", endpoints: [Make.endpoint("10.244.1.2")]),
                      Make.slice("d-v6", service: "d", addressType: "IPv6", endpoints: [Make.endpoint("fd00:10:244:1::2"), Make.endpoint("fd00:10:244:2::2")])]
        let mapping = mapper.map(dual, slices: slices)
        #expect(mapping.services.map(\.service.key.description) == ["tcp 10.96.0.10:80", "tcp [fd00:10:96::10]:80"])
        #expect(mapping.services.map { $0.service.endpoints.map(\.key.description) } == [["10.244.1.2:8080"], ["[fd00:10:244:1::2]:8080", "[fd00:10:244:2::2]:8080"]])
        #expect(mapping.skipped.isEmpty)
    }

    @Test func aSingleStackIPv6ServiceIsBalancedOverItsIPv6SlicesOnly() {
        let v6 = Make.service("s", clusterIP: "fd00:10:96::11") { $0.ipFamilies = ["IPv6"]; $0.ipFamilyPolicy = "SingleStack" }
        let slices = [Make.slice("s-v4", service: "s", endpoints: [Make.endpoint("10.244.1.2")]),
                      Make.slice("s-v6", service: "s", addressType: "IPv6", endpoints: [Make.endpoint("fd00:10:244:1::2")])]
        let mapping = mapper.map(v6, slices: slices)
        #expect(mapping.services.map { $0.service.endpoints.map(\.address.description) } == [["fd00:10:244:1::2"]])
    }

    @Test func aFamilyTheNodeDoesNotServeIsSkippedWithAReasonAndTheOtherKept() {
        let ipv4Only = ServiceMapper(settings: MappingSettings(nodeName: "node1", servesIPv4: true, servesIPv6: false))
        let dual = Make.service("d") { $0.clusterIPs = ["10.96.0.10", "fd00::10"] }
        let mapping = ipv4Only.map(dual, slices: [])
        #expect(mapping.services.map(\.service.vip.description) == ["10.96.0.10"])
        #expect(mapping.skipped == [.familyNotServed])
        let ipv6Only = ServiceMapper(settings: MappingSettings(nodeName: "node1", servesIPv4: false, servesIPv6: true))
        #expect(ipv6Only.map(dual, slices: []).services.map(\.service.vip.description) == ["fd00::10"])
    }

    @Test func everyTCPAndUDPPortIsAServiceAndSCTPIsCountedUnsupported() {
        let service = Make.service("multi", ports: [.init(name: "a", protocol: "TCP", port: 80), .init(name: "b", protocol: "UDP", port: 53),
                                                    .init(name: "c", protocol: "SCTP", port: 9)])
        let mapping = mapper.map(service, slices: [])
        #expect(mapping.services.map(\.service.key.description) == ["tcp 10.96.0.10:80", "udp 10.96.0.10:53"])
        #expect(mapping.skipped == [.unsupportedProtocol])
    }

    @Test func slicePortsAreMatchedByTheServicePortName() {
        let service = Make.service("web", ports: [.init(name: "http", port: 80, targetPort: .string("web")), .init(name: "admin", port: 81)])
        let slice = Make.slice("web-1", service: "web", endpoints: [Make.endpoint("10.244.1.2")],
                               ports: [.init(name: "admin", port: 9000), .init(name: "http", port: 8080)])
        let mapping = mapper.map(service, slices: [slice])
        #expect(mapping.services.map { $0.service.endpoints.map(\.port) } == [[8080], [9000]])
    }

    @Test func aNamedTargetPortIsResolvedThroughTheSlicesNamedPortsWhenNoPortHasTheServicePortsName() {
        let service = Make.service("web", ports: [.init(name: "http", port: 80, targetPort: .string("web-port"))])
        let slice = Make.slice("web-1", service: "web", endpoints: [Make.endpoint("10.244.1.2")], ports: [.init(name: "web-port", port: 8443)])
        #expect(mapper.map(service, slices: [slice]).services.first?.service.endpoints.map(\.port) == [8443])
    }

    @Test func clientIPAffinityTakesItsTimeoutFromTheSpec() {
        let service = Make.service("sticky") {
            $0.sessionAffinity = "ClientIP"
            $0.sessionAffinityConfig = .init(clientIP: .init(timeoutSeconds: 60))
        }
        #expect(mapper.map(service, slices: []).services.first?.service.sessionAffinity == SessionAffinity(timeoutSeconds: 60))
        let defaulted = Make.service("sticky") { $0.sessionAffinity = "ClientIP" }
        #expect(mapper.map(defaulted, slices: []).services.first?.service.sessionAffinity == SessionAffinity())
        #expect(mapper.map(Make.service("plain"), slices: []).services.first?.service.sessionAffinity == nil)
    }

    @Test func internalTrafficPolicyLocalKeepsOnlyThisNodesEndpoints() {
        let service = Make.service("local") { $0.internalTrafficPolicy = "Local" }
        let slice = Make.slice("local-1", service: "local", endpoints: [Make.endpoint("10.244.1.2", node: "node1"),
                                                                       Make.endpoint("10.244.2.2", node: "node2")])
        #expect(addresses(mapper.map(service, slices: [slice])) == ["10.244.1.2"])
        #expect(addresses(mapper.map(Make.service("local"), slices: [slice])) == ["10.244.1.2", "10.244.2.2"])
    }

    @Test func conditionsKeepTheirAPIDefaults() {
        let slice = Make.slice("c-1", service: "c", endpoints: [Make.endpoint("10.244.1.1", ready: nil),
                                                               Make.endpoint("10.244.1.2", ready: false, serving: true, terminating: true),
                                                               Make.endpoint("10.244.1.3", ready: false, serving: false)])
        let endpoints = mapper.map(Make.service("c"), slices: [slice]).services.first?.service.endpoints ?? []
        #expect(endpoints.map(\.conditions) == [EndpointConditions(), EndpointConditions(ready: false, serving: true, terminating: true),
                                                 EndpointConditions(ready: false, serving: false, terminating: false)])
    }

    @Test func onlyTheFirstAddressOfAnEndpointIsUsed() {
        let endpoint = EndpointSlice.Endpoint(addresses: ["10.244.1.7", "10.244.1.8"], nodeName: "node1")
        let slice = Make.slice("a-1", service: "a", endpoints: [endpoint])
        #expect(addresses(mapper.map(Make.service("a"), slices: [slice])) == ["10.244.1.7"])
    }

    @Test func anEndpointInTwoSlicesCountsOnceAndItsReadyCopyWins() {
        let first = Make.slice("d-1", service: "d", endpoints: [Make.endpoint("10.244.1.1", ready: false), Make.endpoint("10.244.1.2")])
        let second = Make.slice("d-2", service: "d", endpoints: [Make.endpoint("10.244.1.1"), Make.endpoint("10.244.1.3")])
        let endpoints = mapper.map(Make.service("d"), slices: [first, second]).services.first?.service.endpoints ?? []
        #expect(endpoints.map(\.address.description) == ["10.244.1.1", "10.244.1.2", "10.244.1.3"])
        #expect(endpoints.allSatisfy { $0.conditions.ready })
    }

    @Test func annotationsChooseStrategyMasqueradeRemovalAndHealthCheck() {
        let service = Make.service("a", annotations: [ServiceAnnotations.strategy: "maglev", ServiceAnnotations.strategyOptions: "tableSize=251",
                                                      ServiceAnnotations.masquerade: "true", ServiceAnnotations.endpointRemoval: "reset",
                                                      ServiceAnnotations.answerPing: "yes",
                                                      ServiceAnnotations.healthCheck: "interval=1s, timeout=250ms, rise=1, fall=2"])
        let mapping = mapper.map(service, slices: [])
        let mapped = mapping.services.first
        #expect(mapping.problems == [])
        #expect(mapped?.service.strategy == "maglev")
        #expect(mapped?.service.strategyOptions == ["tableSize": "251"])
        #expect(mapped?.service.masquerade == true)
        #expect(mapped?.service.answersPing == true)
        #expect(mapped?.endpointRemoval == .reset)
        #expect(mapped?.healthCheck == .init(intervalMilliseconds: 1000, timeoutMilliseconds: 250, rise: 1, fall: 2))
    }

    @Test func aBadAnnotationIsReportedAndOnlyItsOwnFeatureKeepsTheDefault() {
        let service = Make.service("a", annotations: [ServiceAnnotations.strategy: "maglv", ServiceAnnotations.masquerade: "true",
                                                      ServiceAnnotations.endpointRemoval: "sometimes", ServiceAnnotations.answerPing: "always"])
        let mapping = mapper.map(service, slices: [])
        #expect(mapping.services.first?.service.strategy == "random")
        #expect(mapping.services.first?.service.masquerade == true)
        #expect(mapping.services.first?.endpointRemoval == .drain)
        #expect(mapping.services.first?.service.answersPing == false)
        #expect(mapping.problems.map(\.annotation).sorted() == [ServiceAnnotations.answerPing, ServiceAnnotations.endpointRemoval, ServiceAnnotations.strategy])
    }

    @Test func anUnknownStrategyOptionRevertsTheStrategyToItsDefault() {
        let service = Make.service("a", annotations: [ServiceAnnotations.strategy: "maglev", "nfq-lb.io/strategy-option.tablesize": "7"])
        let mapping = mapper.map(service, slices: [])
        #expect(mapping.services.first?.service.strategy == "random")
        #expect(mapping.problems.map(\.annotation) == [ServiceAnnotations.strategyOptions])
    }
}
