/// A `v1` Node, reduced to what nfq-lb reads: this node's zone, for topology-aware routing.
public struct Node: KubernetesObject {
    public static let collectionPath = "/api/v1/nodes"
    public static let zoneLabel = "topology.kubernetes.io/zone"

    public var metadata: ObjectMeta

    public init(metadata: ObjectMeta) {
        self.metadata = metadata
    }

    public var zone: String? { metadata.labels?[Self.zoneLabel] }
}
