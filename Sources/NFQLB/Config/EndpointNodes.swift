import Balancer

/// Which endpoints of a file-config service run on this node: those marked `local: true`,
/// and those whose `node` is the top-level `nodeName`. The one notion of "local" that both
/// `externalTrafficPolicy: Local` and `internalTrafficPolicy: Local` use.
public struct EndpointNodes: Sendable, Equatable {
    /// The node of each endpoint that names one (file `node:`).
    public var nodes: [EndpointKey: String] = [:]
    /// Endpoints the file marks `local: true`, whatever the node name.
    public var local: Set<EndpointKey> = []

    public init() {}

    /// Whether an endpoint runs on the node named `nodeName`.
    public func isLocal(_ endpoint: EndpointKey, nodeName: String?) -> Bool {
        if local.contains(endpoint) { return true }
        guard let nodeName, let node = nodes[endpoint] else { return false }
        return node == nodeName
    }
}
