/// Every EndpointSlice, grouped by the service it belongs to (label
/// `kubernetes.io/service-name`), as kube-proxy's `EndpointSliceCache` keeps them: a service's
/// endpoints are the merge of all its slices, so a change to any slice concerns its service,
/// and a slice whose label changed concerns both its old and its new service.
public struct EndpointSliceCache: Sendable {
    /// service key (`namespace/name`) -> slice key (`namespace/name`) -> slice.
    private var byService: [String: [String: EndpointSlice]] = [:]
    /// slice key -> the service key it was filed under.
    private var owners: [String: String] = [:]

    public init() {}

    /// The slices of a service, in slice-name order (so merging is deterministic).
    public func slices(of service: String) -> [EndpointSlice] {
        guard let slices = byService[service] else { return [] }
        return slices.keys.sorted().map { slices[$0]! }
    }

    public var count: Int { owners.count }

    /// Adds or replaces a slice; returns the services whose endpoints may have changed.
    @discardableResult
    public mutating func update(_ slice: EndpointSlice) -> Set<String> {
        let key = slice.storeKey
        if let service = slice.serviceKey, byService[service]?[key] == slice { return [] }
        var affected = remove(key: key)
        if let service = slice.serviceKey {
            byService[service, default: [:]][key] = slice
            owners[key] = service
            affected.insert(service)
        }
        return affected
    }

    /// Removes a slice; returns the service it belonged to.
    @discardableResult
    public mutating func delete(_ slice: EndpointSlice) -> Set<String> {
        remove(key: slice.storeKey)
    }

    /// Replaces every slice (a relist): returns the services of every slice that was added,
    /// changed or is gone, so deletions missed during a watch gap are applied.
    public mutating func replaceAll(_ slices: [EndpointSlice]) -> Set<String> {
        var affected: Set<String> = []
        let keep = Set(slices.map(\.storeKey))
        for key in owners.keys where !keep.contains(key) { affected.formUnion(remove(key: key)) }
        for slice in slices { affected.formUnion(update(slice)) }
        return affected
    }

    private mutating func remove(key: String) -> Set<String> {
        guard let service = owners.removeValue(forKey: key) else { return [] }
        byService[service]?[key] = nil
        if byService[service]?.isEmpty == true { byService[service] = nil }
        return [service]
    }
}
