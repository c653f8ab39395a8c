import Logging

extension Reflector where Object == Node {
    /// A reflector over this node's own Node object only (`/api/v1/nodes` with
    /// `fieldSelector=metadata.name=<node>`, as kube-proxy watches it): one small object, so a
    /// cluster of thousands of nodes costs each daemon one object's events, not every node's.
    /// Feed its changes to `ServiceChangeTracker.apply(_:)` for the zone; read `zone` for the
    /// current one.
    public static func node(
        named nodeName: String, client: KubernetesClient, options: Options = Options(), logger: Logger
    ) -> Reflector<Node> {
        Reflector(client: client, path: Node.collectionPath, fieldSelector: "metadata.name=\(nodeName)",
                  options: options, logger: logger)
    }

    /// The zone label of the Node in the store (nil before the first list, when the Node is
    /// missing, or when it has no zone label).
    public var zone: String? {
        objects.values.first?.zone.flatMap { $0.isEmpty ? nil : $0 }
    }
}
