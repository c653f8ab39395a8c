/// What the reflectors deliver, fed to the tracker: a complete list is the truth (the first
/// one marks the kind as synced; a relist drops what it no longer has), single events mark
/// their service pending.
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
}
