import Foundation
import Balancer
import PacketRewrite
@testable import KubernetesSource

/// The responses recorded from a real kube-apiserver v1.36, read where they are kept (beside
/// the repository, `../shared/k8s/samples/`): they are third-party data and never copied in.
enum Samples {
    static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/k8s/samples")

    struct Missing: Error, CustomStringConvertible {
        var path: String
        var description: String { "sample \(path) not found: the recorded responses must be in ../shared/k8s/samples/ beside the repository" }
    }

    static func data(_ name: String) throws -> Data {
        let url = directory.appendingPathComponent(name)
        guard let data = FileManager.default.contents(atPath: url.path) else { throw Missing(path: url.path) }
        return data
    }

    static func decode<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        try JSONDecoder().decode(type, from: data(name))
    }

    /// One line of a recorded watch stream.
    struct Event<Object: Decodable>: Decodable {
        var type: WatchEventType
        var object: Object
    }

    static func events<Object: Decodable>(_ type: Object.Type, _ name: String) throws -> [Event<Object>] {
        let text = String(decoding: try data(name), as: UTF8.self)
        return try text.split(separator: "\n").map { try JSONDecoder().decode(Event<Object>.self, from: Data($0.utf8)) }
    }
}

/// Objects built in tests: only what each test is about is spelled out.
enum Make {
    static func service(_ name: String, namespace: String = "default", clusterIP: String = "10.96.0.10",
                        ports: [KubernetesService.Port] = [.init(name: "http", protocol: "TCP", port: 80, targetPort: .int(8080))],
                        labels: [String: String] = ["service.kubernetes.io/service-proxy-name": "nfq-lb"],
                        annotations: [String: String]? = nil, configure: (inout KubernetesService.Spec) -> Void = { _ in }) -> KubernetesService {
        var spec = KubernetesService.Spec(type: "ClusterIP", clusterIP: clusterIP, clusterIPs: [clusterIP], ports: ports)
        configure(&spec)
        return KubernetesService(metadata: ObjectMeta(name: name, namespace: namespace, labels: labels, annotations: annotations), spec: spec)
    }

    static func slice(_ name: String, service: String, namespace: String = "default", addressType: String = "IPv4",
                      endpoints: [EndpointSlice.Endpoint],
                      ports: [EndpointSlice.Port] = [.init(name: "http", port: 8080, protocol: "TCP")],
                      annotations: [String: String]? = nil) -> EndpointSlice {
        EndpointSlice(metadata: ObjectMeta(name: name, namespace: namespace, labels: [EndpointSlice.serviceNameLabel: service],
                                           annotations: annotations),
                      addressType: addressType, endpoints: endpoints, ports: ports)
    }

    static func endpoint(_ address: String, ready: Bool? = true, serving: Bool? = nil, terminating: Bool? = nil,
                         node: String? = "node1") -> EndpointSlice.Endpoint {
        EndpointSlice.Endpoint(addresses: [address], conditions: .init(ready: ready, serving: serving, terminating: terminating), nodeName: node)
    }
}
