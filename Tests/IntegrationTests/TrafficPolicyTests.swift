import NFQLB
import Testing

extension KernelTests {
    /// `internalTrafficPolicy: Local` and zone hints from the file config, on node1 in zone-a,
    /// from a pod on node1: kube-proxy's rule decides the endpoints, and a Local service with
    /// no endpoint on node1 drops the flow (the client times out; no reset).
    @Suite("internalTrafficPolicy Local and topology hints")
    struct TrafficPolicy {
        static let localVIP = "10.96.0.40"
        static let remoteVIP = "10.96.0.41"
        static let zonedVIP = "10.96.0.42"
        static let client = "n1p3"

        init() throws { try KernelEnvironment.require() }

        /// nginx (:8080) of `pods` behind `vip`:80, each endpoint with its node and the extra
        /// fields `endpointFields` gives it.
        static func web(_ name: String, vip: String, pods: [String], fields: [String],
                        endpointFields: (String) -> [String] = { _ in [] }) -> ServiceSpec {
            var service = ServiceSpec.web(name, vip: vip, pods: pods)
            service.extraFields = fields
            service.endpoints = pods.map { pod in
                var endpoint = EndpointSpec.pod(pod, port: 8080)
                endpoint.node = "node\(Cluster.podNumbers(pod).node)"
                endpoint.extraFields = endpointFields(pod)
                return endpoint
            }
            return service
        }

        /// n2p1 alone in zone-a (node1's zone), n1p1 and n2p2 in zone-b; `hinted` pods get a zone.
        static func config(hinted: [String]) -> DaemonConfig {
            let local = web("itp-local", vip: localVIP, pods: ["n1p1", "n1p2", "n2p1", "n2p2"], fields: ["internalTrafficPolicy: Local"])
            let remote = web("itp-remote", vip: remoteVIP, pods: ["n2p1"], fields: ["internalTrafficPolicy: Local"])
            let zoned = web("zoned", vip: zonedVIP, pods: ["n1p1", "n2p1", "n2p2"], fields: ["trafficDistribution: PreferClose"]) { pod in
                guard hinted.contains(pod) else { return [] }
                return [pod == "n2p1" ? "zone: zone-a" : "zone: zone-b"]
            }
            var config = DaemonConfig(mode: .mark, services: [local, remote, zoned])
            config.extraLines = ["nodeName: node1", "zone: zone-a"]
            return config
        }

        @Test("A Local service reached from a pod on node1 only ever answers from node1's pods and, with none there, drops the flow; a zone-hinted service answers from the zone's pod until a reload removes one hint")
        func internalTrafficPolicyLocalAndZoneHints() throws {
            let daemon = try DaemonProcess.start(Self.config(hinted: ["n1p1", "n2p1", "n2p2"]))
            defer { daemon.stop() }

            let local = try Client.curlLoop(from: Self.client, "http://\(Self.localVIP)/", count: 30, maxTime: 2)
            #expect(local.count == 30 && local.allSatisfy(\.succeeded), "\(local.failures)\n\(daemon.stateDescription)")
            #expect(Set(local.map(\.body)) == ["n1p1", "n1p2"], "node2's pods answered a Local service: \(local.countsByBody)")

            let dropped = try Client.curl(from: Self.client, "http://\(Self.remoteVIP)/", maxTime: 1)
            #expect(dropped.exitCode == 28, "no endpoint on node1: the SYN must be dropped (curl times out, exit 28), not reset: \(dropped)")
            let counted = try daemon.metrics(within: 3) { $0.sum("nfqlb_flows_dropped_total", ["reason": "no_local_endpoint"]) >= 1 }
            #expect(counted.sum("nfqlb_flows_dropped_total", ["reason": "no_local_endpoint"]) >= 1, "\(counted)")

            let zoned = try Client.curlLoop(from: Self.client, "http://\(Self.zonedVIP)/", count: 10, maxTime: 2)
            #expect(zoned.count == 10 && zoned.allSatisfy { $0.succeeded && $0.body == "n2p1" }, "\(zoned.countsByBody)\n\(daemon.stateDescription)")

            let status = try daemon.status()
            #expect(status.services.first { $0.name == "itp-local" }?.internalTrafficPolicyLocal == true)
            #expect(status.services.first { $0.name == "zoned" }?.topology == "PreferSameZone")

            // n2p2 loses its zone, so not every endpoint is hinted: kube-proxy uses them all.
            try #require(try daemon.reconfigure(Self.config(hinted: ["n1p1", "n2p1"])), "reload not applied\n\(daemon.stateDescription)")
            let unzoned = try Client.curlLoop(from: Self.client, "http://\(Self.zonedVIP)/", count: 12, maxTime: 2)
            #expect(unzoned.count == 12 && unzoned.allSatisfy(\.succeeded), "\(unzoned.failures)")
            #expect(Set(unzoned.map(\.body)) == ["n1p1", "n2p1", "n2p2"], "\(unzoned.countsByBody)\n\(daemon.stateDescription)")
            #expect(try daemon.status().services.first { $0.name == "zoned" }?.topology == nil)
        }
    }
}
