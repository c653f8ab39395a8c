/// What the reflectors deliver, fed to the tracker: a complete list is the truth (the first
/// one marks the kind as synced; a relist drops what it no longer has), single events mark
/// their service pending, and this node's Node sets the zone.
extension ServiceChangeTracker {
    public mutating func apply(_ change: ReflectorChange<KubernetesService>) {
        switch change {
        case .replaced(let all, _): replaceServices(all)
        case .upserted(let service): update(service)
        case .deleted(let service): delete(service)
        }
    }

    public mutating func apply(_ change: ReflectorChange<EndpointSlice>) {
        switch change {
        case .replaced(let all, _): replaceSlices(all)
        case .upserted(let slice): update(slice)
        case .deleted(let slice): delete(slice)
        }
    }

    /// This node's Node (from `Reflector.node(named:client:)`): its zone label becomes the
    /// zone topology hints are matched against. A Node that is gone or not (yet) listed has
    /// no zone, so hints are not used. Returns whether the zone changed.
    @discardableResult
    public mutating func apply(_ change: ReflectorChange<Node>) -> Bool {
        let name = mapper.settings.nodeName
        switch change {
        case .replaced(let all, _): return setNodeZone(all.first { $0.metadata.name == name }?.zone)
        case .upserted(let node): return node.metadata.name == name ? setNodeZone(node.zone) : false
        case .deleted(let node): return node.metadata.name == name ? setNodeZone(nil) : false
        }
    }
}
