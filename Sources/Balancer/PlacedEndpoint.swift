/// One endpoint with what kube-proxy's traffic-policy and topology rules need to know of it:
/// whether it runs on this node, and its topology hints.
public struct PlacedEndpoint: Sendable, Hashable {
    public var endpoint: Endpoint
    /// On this node: `internalTrafficPolicy: Local` and `externalTrafficPolicy: Local` use
    /// only these.
    public var isLocal: Bool
    /// The zones the endpoint serves (EndpointSlice `hints.forZones`; the file's `forZones`).
    public var zoneHints: Set<String>
    /// The nodes the endpoint serves (EndpointSlice `hints.forNodes`).
    public var nodeHints: Set<String>

    public init(_ endpoint: Endpoint, isLocal: Bool = false, zoneHints: Set<String> = [], nodeHints: Set<String> = []) {
        self.endpoint = endpoint
        self.isLocal = isLocal
        self.zoneHints = zoneHints
        self.nodeHints = nodeHints
    }
}
