import Foundation

/// Services and EndpointSlices as a client (kubectl) would create them, as JSON for the fake
/// API server's control API: only the fields the test means, the server adds the rest.
enum KubernetesObjects {
    /// The label that makes a Service nfq-lb's (the default `serviceProxyName`).
    static let proxyLabel = ["service.kubernetes.io/service-proxy-name": "nfq-lb"]

    struct Port {
        var name: String
        var port: Int
        /// A number, or a container port's name.
        var targetPort: Any
        var proto = "TCP"
        var nodePort: Int? = nil
    }

    struct SliceEndpoint {
        var pod: String
        var ready: Bool? = true
        var serving: Bool? = nil
        var terminating: Bool? = nil
        /// The EndpointSlice controller's topology fields: the endpoint's zone and `hints.forZones`.
        var zone: String? = nil
        var hintZones: [String]? = nil

        /// The pod's node as the cluster names it (`n2p1` -> `node2`).
        var nodeName: String { "node\(Cluster.podNumbers(pod).node)" }
    }

    static func service(_ name: String, namespace: String = "default", clusterIP: String, ports: [Port],
                        labels: [String: String] = proxyLabel, annotations: [String: String] = [:],
                        affinitySeconds: Int? = nil, internalTrafficPolicy: String? = nil,
                        trafficDistribution: String? = nil, clusterIPs: [String]? = nil, ipFamilyPolicy: String? = nil,
                        extraSpec: [String: Any] = [:], status: [String: Any]? = nil) -> String {
        var spec: [String: Any] = [
            "type": "ClusterIP", "clusterIP": clusterIP, "clusterIPs": clusterIPs ?? [clusterIP],
            "ports": ports.map { port -> [String: Any] in
                var fields: [String: Any] = ["name": port.name, "port": port.port, "targetPort": port.targetPort, "protocol": port.proto]
                if let nodePort = port.nodePort { fields["nodePort"] = nodePort }
                return fields
            },
        ]
        if let affinitySeconds {
            spec["sessionAffinity"] = "ClientIP"
            spec["sessionAffinityConfig"] = ["clientIP": ["timeoutSeconds": affinitySeconds]]
        }
        if let internalTrafficPolicy { spec["internalTrafficPolicy"] = internalTrafficPolicy }
        if let trafficDistribution { spec["trafficDistribution"] = trafficDistribution }
        if let ipFamilyPolicy { spec["ipFamilyPolicy"] = ipFamilyPolicy }
        spec.merge(extraSpec) { _, new in new }
        var object: [String: Any] = [
            "apiVersion": "v1", "kind": "Service",
            "metadata": ["name": name, "namespace": namespace, "labels": labels, "annotations": annotations] as [String: Any],
            "spec": spec,
        ]
        if let status { object["status"] = status }
        return json(object)
    }

    /// A slice of `service` (labelled `kubernetes.io/service-name`) with the pods' cluster
    /// addresses (IPv6 ones for `addressType: "IPv6"`).
    static func slice(_ name: String, service: String, namespace: String = "default", ports: [(name: String, port: Int, proto: String)],
                      endpoints: [SliceEndpoint], annotations: [String: String] = [:], addressType: String = "IPv4") -> String {
        json([
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": addressType,
            "metadata": ["name": name, "namespace": namespace, "annotations": annotations,
                         "labels": ["kubernetes.io/service-name": service, "endpointslice.kubernetes.io/managed-by": "nfq-lb-tests"]] as [String: Any],
            "ports": ports.map { ["name": $0.name, "port": $0.port, "protocol": $0.proto] as [String: Any] },
            "endpoints": endpoints.map { endpoint -> [String: Any] in
                var conditions: [String: Any] = [:]
                if let ready = endpoint.ready { conditions["ready"] = ready }
                if let serving = endpoint.serving { conditions["serving"] = serving }
                if let terminating = endpoint.terminating { conditions["terminating"] = terminating }
                let address = addressType == "IPv6" ? Cluster.ip6(endpoint.pod) : Cluster.ip(endpoint.pod)
                var fields: [String: Any] = ["addresses": [address], "conditions": conditions, "nodeName": endpoint.nodeName]
                if let zone = endpoint.zone { fields["zone"] = zone }
                if let hintZones = endpoint.hintZones { fields["hints"] = ["forZones": hintZones.map { ["name": $0] }] }
                return fields
            },
        ])
    }

    /// The tests' web service: `name` on `vip`:80 -> the pods' nginx on 8080, port name `http`.
    static func web(_ name: String = "web", vip: String = KernelTests.webVIP, labels: [String: String] = proxyLabel,
                    annotations: [String: String] = ["nfq-lb.io/strategy": "round-robin"], affinitySeconds: Int? = nil,
                    internalTrafficPolicy: String? = nil, trafficDistribution: String? = nil) -> String {
        service(name, clusterIP: vip, ports: [Port(name: "http", port: 80, targetPort: 8080)], labels: labels,
                annotations: annotations, affinitySeconds: affinitySeconds, internalTrafficPolicy: internalTrafficPolicy,
                trafficDistribution: trafficDistribution)
    }

    /// A Node as the kubelet registers it, with its zone label.
    static func node(_ name: String, zone: String) -> String {
        json(["apiVersion": "v1", "kind": "Node",
              "metadata": ["name": name, "labels": ["kubernetes.io/hostname": name, "topology.kubernetes.io/zone": zone]]])
    }

    static func webSlice(_ endpoints: [SliceEndpoint], name: String = "web-1", service: String = "web",
                         annotations: [String: String] = [:]) -> String {
        slice(name, service: service, ports: [("http", 8080, "TCP")], endpoints: endpoints, annotations: annotations)
    }

    static func ready(_ pods: [String]) -> [SliceEndpoint] { pods.map { SliceEndpoint(pod: $0) } }

    private static func json(_ object: [String: Any]) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }
}
