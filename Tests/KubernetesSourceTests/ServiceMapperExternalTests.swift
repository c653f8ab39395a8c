import Balancer
import PacketRewrite
import Testing
@testable import KubernetesSource

/// kube-proxy's rules for the addresses outside the cluster: node ports for types NodePort and
/// LoadBalancer, ingress IPs and source ranges for LoadBalancer, external IPs for any type,
/// `externalTrafficPolicy: Local` with this node's endpoints and the health-check node port.
@Suite struct ServiceMapperExternalTests {
    let mapper = ServiceMapper(settings: MappingSettings(nodeName: "node1"))
    let ports: [KubernetesService.Port] = [.init(name: "http", protocol: "TCP", port: 80, targetPort: .int(8080), nodePort: 30080)]
    var slices: [EndpointSlice] {
        [Make.slice("web-1", service: "web", endpoints: [Make.endpoint("10.244.1.2", node: "node1"), Make.endpoint("10.244.2.2", node: "node2")])]
    }

    @Test func aNodePortServiceGetsItsNodePortAndAClusterIPServiceNone() {
        let nodePort = mapper.map(Make.service("web", ports: ports) { $0.type = "NodePort" }, slices: slices)
        #expect(nodePort.services.first?.external?.nodePort == 30080)
        #expect(nodePort.services.first?.external?.trafficPolicyLocal == false)
        #expect(nodePort.services.first?.external?.loadBalancerIPs == [])
        let clusterIP = mapper.map(Make.service("web", ports: ports), slices: slices)
        #expect(clusterIP.services.first?.external == nil)
    }

    @Test func aLoadBalancerServiceGetsItsIngressIPsSourceRangesAndWithPolicyLocalItsHealthCheckPortAndLocalEndpoints() {
        var object = Make.service("web", ports: ports) { spec in
            spec.type = "LoadBalancer"
            spec.externalTrafficPolicy = "Local"
            spec.healthCheckNodePort = 31000
            spec.loadBalancerSourceRanges = ["192.168.60.0/24"]
        }
        object.status = KubernetesService.Status(loadBalancer: .init(ingress: [.init(ip: "192.168.70.10", hostname: nil), .init(ip: nil, hostname: "lb.example")]))
        let external = mapper.map(object, slices: slices).services.first?.external
        #expect(external?.nodePort == 30080)
        #expect(external?.loadBalancerIPs == [IPAddress("192.168.70.10")!])
        #expect(external?.loadBalancerSourceRanges == [IPPrefix("192.168.60.0/24")!])
        #expect(external?.trafficPolicyLocal == true)
        #expect(external?.healthCheckNodePort == 31000)
        #expect(external?.localEndpoints.map(\.address.description) == ["10.244.1.2"])
        // The cluster IP keeps both endpoints: the policy is for external traffic only.
        #expect(mapper.map(object, slices: slices).services.first?.service.endpoints.count == 2)
    }

    @Test func internalTrafficPolicyLocalNarrowsTheClusterIPAndDropsWhileTheNodePortKeepsEveryEndpoint() {
        let object = Make.service("web", ports: ports) { spec in
            spec.type = "NodePort"
            spec.internalTrafficPolicy = "Local"
        }
        let mapped = mapper.map(object, slices: slices).services.first
        #expect(mapped?.service.endpoints.map(\.address.description) == ["10.244.1.2"])
        #expect(mapped?.service.internalTrafficPolicyLocal == true)
        #expect(mapped?.service.dropsWithoutEndpoints == true)
        // externalTrafficPolicy Cluster: the node port gets the Cluster-policy endpoints.
        #expect(mapped?.external?.clusterEndpoints?.map(\.address.description) == ["10.244.1.2", "10.244.2.2"])
        let elsewhere = ServiceMapper(settings: MappingSettings(nodeName: "node9")).map(object, slices: slices).services.first?.service
        #expect(elsewhere?.endpoints == [])
        #expect(elsewhere?.dropsWithoutEndpoints == true, "endpoints elsewhere but none here: kube-proxy drops")
        let empty = mapper.map(object, slices: []).services.first?.service
        #expect(empty?.dropsWithoutEndpoints == false, "no endpoints at all: rejected like any service")
    }

    @Test func externalIPsApplyToAnyTypeAndIngressIPsOnlyToLoadBalancers() {
        var object = Make.service("web", ports: ports) { $0.externalIPs = ["192.168.70.20"] }
        object.status = KubernetesService.Status(loadBalancer: .init(ingress: [.init(ip: "192.168.70.10", hostname: nil)]))
        let external = mapper.map(object, slices: slices).services.first?.external
        #expect(external?.externalIPs == [IPAddress("192.168.70.20")!])
        #expect(external?.loadBalancerIPs == [])
        #expect(external?.nodePort == nil)
    }

    @Test func theHealthCheckNodePortNeedsTypeLoadBalancerAndPolicyLocal() {
        let cluster = mapper.map(Make.service("web", ports: ports) { spec in
            spec.type = "LoadBalancer"
            spec.healthCheckNodePort = 31000
        }, slices: slices)
        #expect(cluster.services.first?.external?.healthCheckNodePort == nil)
    }
}
