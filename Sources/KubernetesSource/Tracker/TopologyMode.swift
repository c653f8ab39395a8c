/// Which endpoints of a `Cluster`-policy service port this node uses, decided from the
/// EndpointSlice hints as kube-proxy decides it (pkg/proxy/topology.go).
///
/// The EndpointSlice controller writes the hints (for `trafficDistribution: PreferClose` /
/// `PreferSameZone`, `PreferSameNode`, or the `service.kubernetes.io/topology-mode: Auto`
/// annotation); a proxy only reads them. They are all-or-nothing: a hint is trusted only when
/// every ready endpoint carries one and at least one names this node (or its zone), because
/// a partly hinted slice means the controller is mid-update or gave up, and then falling back
/// to every endpoint is what keeps traffic flowing.
public enum TopologyMode: String, Sendable, Equatable {
    /// No hints in force: every endpoint.
    case none = ""
    /// Only the ready endpoints whose `hints.forNodes` names this node.
    case preferSameNode = "PreferSameNode"
    /// Only the ready endpoints whose `hints.forZones` names this node's zone.
    case preferSameZone = "PreferSameZone"

    /// The mode for one service port's endpoints (deduplicated, as mapped), on the node
    /// `nodeName` in `zone`.
    static func from(_ endpoints: [HintedEndpoint], nodeName: String, zone: String?) -> TopologyMode {
        var hasReady = false
        var allHaveNodeHints = true
        var hasEndpointForNode = false
        var allHaveZoneHints = true
        var hasEndpointForZone = false
        for endpoint in endpoints where endpoint.ready {
            hasReady = true
            if endpoint.nodeHints.isEmpty {
                allHaveNodeHints = false
            } else if endpoint.nodeHints.contains(nodeName) {
                hasEndpointForNode = true
            }
            if endpoint.zoneHints.isEmpty {
                allHaveZoneHints = false
            } else if let zone, !zone.isEmpty, endpoint.zoneHints.contains(zone) {
                hasEndpointForZone = true
            }
        }
        guard hasReady else { return .none }
        if allHaveNodeHints, hasEndpointForNode { return .preferSameNode }
        if allHaveZoneHints, hasEndpointForZone { return .preferSameZone }
        return .none
    }

    /// Whether a ready endpoint is used in this mode (not-ready ones never are while a mode
    /// is in force: a mode implies a ready endpoint for this node or zone exists).
    func admits(_ endpoint: HintedEndpoint, nodeName: String, zone: String?) -> Bool {
        switch self {
        case .none: true
        case .preferSameNode: endpoint.ready && endpoint.nodeHints.contains(nodeName)
        case .preferSameZone: endpoint.ready && zone.map { endpoint.zoneHints.contains($0) } == true
        }
    }
}

/// What topology needs to know of one endpoint: its readiness and its hints.
struct HintedEndpoint: Sendable, Equatable {
    var ready: Bool
    var zoneHints: Set<String>
    var nodeHints: Set<String>

    init(ready: Bool, zoneHints: Set<String> = [], nodeHints: Set<String> = []) {
        self.ready = ready
        self.zoneHints = zoneHints
        self.nodeHints = nodeHints
    }

    init(_ endpoint: EndpointSlice.Endpoint) {
        ready = endpoint.conditions?.ready ?? true
        zoneHints = Set(endpoint.hints?.forZones?.map(\.name) ?? [])
        nodeHints = Set(endpoint.hints?.forNodes?.map(\.name) ?? [])
    }
}
