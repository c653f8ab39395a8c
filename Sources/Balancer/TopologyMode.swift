/// Which endpoints of a `Cluster`-policy service port this node uses, decided from the
/// endpoints' topology hints as kube-proxy decides it (pkg/proxy/topology.go,
/// `topologyModeFromHints`).
///
/// Kubernetes' EndpointSlice controller writes the hints (for `trafficDistribution:
/// PreferClose` / `PreferSameZone`, `PreferSameNode`, or the `service.kubernetes.io/topology-mode:
/// Auto` annotation), the file config writes them as `forZones`; a proxy only reads them. They
/// are all-or-nothing: a hint is trusted only when every ready endpoint carries one and at
/// least one names this node (or its zone), because a partly hinted service means the
/// controller is mid-update or gave up, and then falling back to every endpoint is what keeps
/// traffic flowing.
public enum TopologyMode: String, Sendable, Hashable {
    /// No hints in force: every endpoint.
    case none = ""
    /// Only the ready endpoints whose node hints name this node.
    case preferSameNode = "PreferSameNode"
    /// Only the ready endpoints whose zone hints name this node's zone.
    case preferSameZone = "PreferSameZone"

    /// The mode for one service port's endpoints (deduplicated), on the node `nodeName` in
    /// `zone` (nil or empty: the node's zone is unknown, and zone hints are never used).
    public static func from(_ endpoints: [PlacedEndpoint], nodeName: String?, zone: String?) -> TopologyMode {
        var hasReady = false
        var allHaveNodeHints = true
        var hasEndpointForNode = false
        var allHaveZoneHints = true
        var hasEndpointForZone = false
        for placed in endpoints where placed.endpoint.conditions.ready {
            hasReady = true
            if placed.nodeHints.isEmpty {
                allHaveNodeHints = false
            } else if let nodeName, !nodeName.isEmpty, placed.nodeHints.contains(nodeName) {
                hasEndpointForNode = true
            }
            if placed.zoneHints.isEmpty {
                allHaveZoneHints = false
            } else if let zone, !zone.isEmpty, placed.zoneHints.contains(zone) {
                hasEndpointForZone = true
            }
        }
        guard hasReady else { return .none }
        if allHaveNodeHints, hasEndpointForNode { return .preferSameNode }
        if allHaveZoneHints, hasEndpointForZone { return .preferSameZone }
        return .none
    }

    /// Whether an endpoint is used in this mode (not-ready ones never are while a mode is in
    /// force: a mode implies a ready endpoint for this node or zone exists).
    public func admits(_ placed: PlacedEndpoint, nodeName: String?, zone: String?) -> Bool {
        switch self {
        case .none: true
        case .preferSameNode: placed.endpoint.conditions.ready && nodeName.map { placed.nodeHints.contains($0) } == true
        case .preferSameZone: placed.endpoint.conditions.ready && zone.map { placed.zoneHints.contains($0) } == true
        }
    }
}
