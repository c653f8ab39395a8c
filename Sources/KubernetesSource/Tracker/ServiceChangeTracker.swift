import Foundation

/// The Kubernetes side of nfq-lb's state: every Service and EndpointSlice seen, the services
/// made of them, and which of those changed since the last time the daemon took them
/// (kube-proxy's ServiceChangeTracker and EndpointsChangeTracker in one, since nfq-lb maps a
/// service and its endpoints together).
///
/// Events only mark services as pending; `takeChange()` maps the pending ones and returns
/// those whose result differs from what the daemon has, so any number of events between two
/// takes cost one mapping per touched service and reach the daemon as one change.
public struct ServiceChangeTracker: Sendable {
    public var mapper: ServiceMapper
    private var services: [String: KubernetesService] = [:]
    private var slices = EndpointSliceCache()
    private var pending: Set<String> = []
    /// What the daemon was given last, per Service (`namespace/name`).
    private var installed: [String: [MappedService]] = [:]
    /// `endpoints.kubernetes.io/last-change-trigger-time` of the slices changed since the
    /// last take: where network programming latency is measured from.
    private var triggerTimes: [Date] = []
    public private(set) var servicesSynced = false
    public private(set) var slicesSynced = false

    public init(settings: MappingSettings) {
        mapper = ServiceMapper(settings: settings)
    }

    /// Why nothing may be programmed yet: nil once the first complete list of Services and of
    /// EndpointSlices is in (from then on changes flow, and an API server that goes away
    /// leaves the last state in force).
    public var syncProblem: String? {
        switch (servicesSynced, slicesSynced) {
        case (true, true): nil
        case (false, false): "waiting for the first complete list of Services and EndpointSlices from the API server"
        case (false, true): "waiting for the first complete list of Services from the API server"
        case (true, false): "waiting for the first complete list of EndpointSlices from the API server"
        }
    }

    public var serviceCount: Int { services.count }
    public var sliceCount: Int { slices.count }

    // MARK: Services

    public mutating func update(_ service: KubernetesService) {
        services[service.storeKey] = service
        pending.insert(service.storeKey)
    }

    public mutating func delete(_ service: KubernetesService) {
        services[service.storeKey] = nil
        pending.insert(service.storeKey)
    }

    /// A complete list (the first, or a relist after 410): anything not in it is deleted.
    public mutating func replaceServices(_ list: [KubernetesService]) {
        let fresh = Dictionary(list.map { ($0.storeKey, $0) }, uniquingKeysWith: { _, last in last })
        for (key, old) in services where fresh[key] != old { pending.insert(key) }
        for (key, new) in fresh where services[key] != new { pending.insert(key) }
        services = fresh
        servicesSynced = true
    }

    // MARK: EndpointSlices

    public mutating func update(_ slice: EndpointSlice) {
        noteTrigger(slice)
        pending.formUnion(slices.update(slice))
    }

    public mutating func delete(_ slice: EndpointSlice) {
        pending.formUnion(slices.delete(slice))
    }

    public mutating func replaceSlices(_ list: [EndpointSlice]) {
        let changed = slices.replaceAll(list)
        pending.formUnion(changed)
        slicesSynced = true
    }

    private mutating func noteTrigger(_ slice: EndpointSlice) {
        guard let text = slice.metadata.annotations?[EndpointSlice.lastChangeTriggerTimeAnnotation],
              let date = Self.parseTime(text) else { return }
        triggerTimes.append(date)
    }

    static func parseTime(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: .iso8601) { return date }
        return try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    // MARK: This node

    /// This node's zone (`topology.kubernetes.io/zone` of its Node), as the mapping uses it.
    public var nodeZone: String? { mapper.settings.zone }

    /// Sets this node's zone. Zone hints are per endpoint in every slice, so a new zone may
    /// change any service: all of them are marked pending (the take maps them and gives out
    /// only those whose result differs). Returns whether the zone changed.
    @discardableResult
    public mutating func setNodeZone(_ zone: String?) -> Bool {
        let zone = zone.flatMap { $0.isEmpty ? nil : $0 }
        guard zone != mapper.settings.zone else { return false }
        mapper.settings.zone = zone
        pending.formUnion(services.keys)
        return true
    }

    // MARK: Taking changes

    /// What changed since the last take, mapped; nil before both first lists are in (nothing
    /// is programmed from a half-synced view) or when nothing the daemon has would change.
    public mutating func takeChange() -> TrackerChange? {
        guard servicesSynced, slicesSynced else { return nil }
        var change = TrackerChange()
        for key in pending.sorted() {
            let mapping: ServiceMapper.Mapping
            if let service = services[key] {
                mapping = mapper.map(service, slices: slices.slices(of: key))
            } else {
                mapping = ServiceMapper.Mapping()
            }
            change.skipped += mapping.skipped
            change.problems += mapping.problems
            if (installed[key] ?? []) != mapping.services {
                change.services[key] = mapping.services
                installed[key] = mapping.services.isEmpty ? nil : mapping.services
            }
        }
        pending = []
        change.triggerTimes = triggerTimes
        triggerTimes = []
        return change.services.isEmpty && change.problems.isEmpty && change.skipped.isEmpty ? nil : change
    }

    /// Everything the daemon has now, by Service.
    public var current: [String: [MappedService]] { installed }
}

/// One batch of changes for the daemon: the new services of every Service whose services
/// changed (an empty list: it has none any more), and what the mapping reported on the way.
public struct TrackerChange: Sendable, Equatable {
    public var services: [String: [MappedService]] = [:]
    public var skipped: [SkipReason] = []
    public var problems: [AnnotationProblem] = []
    public var triggerTimes: [Date] = []

    public init() {}
}
