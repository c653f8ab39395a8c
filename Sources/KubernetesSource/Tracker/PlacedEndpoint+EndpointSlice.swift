import Balancer

extension PlacedEndpoint {
    /// An EndpointSlice endpoint on the node `nodeName`, with its hints.
    init(_ endpoint: Endpoint, _ item: EndpointSlice.Endpoint, nodeName: String) {
        self.init(endpoint, isLocal: item.nodeName == nodeName,
                  zoneHints: Set(item.hints?.forZones?.map(\.name) ?? []),
                  nodeHints: Set(item.hints?.forNodes?.map(\.name) ?? []))
    }
}
