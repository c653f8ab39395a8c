/// An object of one API kind that a reflector lists and watches.
///
/// The static paths are what a reflector needs to build its LIST and WATCH requests, so one
/// generic `Reflector<Object>` serves Services, EndpointSlices and Nodes alike.
public protocol KubernetesObject: Codable, Sendable, Equatable {
    var metadata: ObjectMeta { get }
    /// The collection path for all namespaces, e.g. `/api/v1/services` or
    /// `/apis/discovery.k8s.io/v1/endpointslices`.
    static var collectionPath: String { get }
}

extension KubernetesObject {
    /// `namespace/name` (or `name` for cluster-scoped kinds): the key of client-go's stores.
    public var storeKey: String {
        let name = metadata.name ?? ""
        if let namespace = metadata.namespace, !namespace.isEmpty { return "\(namespace)/\(name)" }
        return name
    }
}
