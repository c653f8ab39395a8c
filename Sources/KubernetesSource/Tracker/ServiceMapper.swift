import Balancer
import Foundation
import PacketRewrite

/// Turns one Kubernetes Service and its EndpointSlices into the services nfq-lb balances, with
/// kube-proxy's semantics (pkg/proxy/servicechangetracker.go, endpointslicecache.go): one
/// service per cluster IP and port, endpoints from every slice of the service matched to the
/// port by name, conditions as the API defines their defaults.
///
/// Dual stack: a Service's `clusterIPs` hold one address per family (the API server allocates
/// them as `ipFamilyPolicy` asks: SingleStack one, PreferDualStack one or two,
/// RequireDualStack two); each becomes its own service, balanced over the endpoints of the
/// EndpointSlices of its family (`addressType` IPv4 or IPv6), under the same name. A family
/// this node does not serve is skipped, and the other family still goes in.
public struct ServiceMapper: Sendable {
    public static let headlessLabel = "service.kubernetes.io/headless"
    public static let serviceProxyNameLabel = "service.kubernetes.io/service-proxy-name"

    public var settings: MappingSettings
    public var registry: StrategyRegistry

    public init(settings: MappingSettings, registry: StrategyRegistry = .standard) {
        self.settings = settings
        self.registry = registry
    }

    /// What one Service becomes: its services (empty when none), what was skipped and why,
    /// and the annotations that could not be used.
    public struct Mapping: Sendable, Equatable {
        public var services: [MappedService] = []
        public var skipped: [SkipReason] = []
        public var problems: [AnnotationProblem] = []
    }

    /// kube-proxy's label rules: headless-labelled services are never taken; a service is
    /// this proxy's when its `service-proxy-name` label equals `serviceProxyName` (empty: when
    /// it has no such label).
    public func selects(_ service: KubernetesService) -> Bool {
        let labels = service.metadata.labels ?? [:]
        if labels[Self.headlessLabel] != nil { return false }
        if settings.serviceProxyName.isEmpty { return labels[Self.serviceProxyNameLabel] == nil }
        return labels[Self.serviceProxyNameLabel] == settings.serviceProxyName
    }

    public func map(_ object: KubernetesService, slices: [EndpointSlice]) -> Mapping {
        var mapping = Mapping()
        guard selects(object), let spec = object.spec else { return mapping }
        if spec.type == "ExternalName" {
            mapping.skipped.append(.externalName)
            return mapping
        }
        let clusterIPs = spec.clusterIPs ?? spec.clusterIP.map { [$0] } ?? []
        if clusterIPs.first == "None" {
            mapping.skipped.append(.headless)
            return mapping
        }
        var vips: [IPAddress] = []
        for text in clusterIPs {
            guard let address = IPAddress(text) else {
                mapping.skipped.append(.noClusterIP)
                continue
            }
            guard address.isIPv4 ? settings.servesIPv4 : settings.servesIPv6 else {
                mapping.skipped.append(.familyNotServed)
                continue
            }
            vips.append(address)
        }
        if clusterIPs.isEmpty { mapping.skipped.append(.noClusterIP) }
        guard !vips.isEmpty else { return mapping }

        let owner = object.storeKey
        let annotations = ServiceAnnotations(object.metadata.annotations ?? [:], owner: owner, registry: registry)
        mapping.problems = annotations.problems
        var affinity: SessionAffinity?
        if spec.sessionAffinity == "ClientIP" {
            let timeout = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? Int(SessionAffinity.defaultTimeoutSeconds)
            let valid = (1...Int(SessionAffinity.maximumTimeoutSeconds)).contains(timeout)
            affinity = SessionAffinity(timeoutSeconds: valid ? UInt32(timeout) : SessionAffinity.defaultTimeoutSeconds)
        }
        let localOnly = spec.internalTrafficPolicy == "Local"
        let external = externalAccess(object)

        for port in spec.ports ?? [] {
            let proto: IPProtocolNumber
            switch (port.protocol ?? "TCP").uppercased() {
            case "TCP": proto = .tcp
            case "UDP": proto = .udp
            default:
                mapping.skipped.append(.unsupportedProtocol)
                continue
            }
            guard let number = UInt16(exactly: port.port), number > 0 else { continue }
            let portName = port.name ?? ""
            for vip in vips {
                let categories = self.endpoints(for: port, proto: proto, family: vip.isIPv4 ? "IPv4" : "IPv6", slices: slices)
                let label = portName.isEmpty ? "\(port.port)" : portName
                var service = Service(name: "\(owner):\(label)", vip: vip, port: number, proto: proto,
                                      strategy: annotations.strategy, strategyOptions: annotations.strategyOptions,
                                      sessionAffinity: affinity, masquerade: annotations.masquerade,
                                      answersPing: annotations.answerPing && vip.isIPv4, endpoints: categories.endpoints(localPolicy: localOnly))
                if localOnly {
                    // kube-proxy: endpoints elsewhere but none here drop; none at all reject.
                    service.internalTrafficPolicyLocal = true
                    service.dropsWithoutEndpoints = categories.hasUsableEndpoints
                } else {
                    service.topology = categories.topology
                }
                var mapped = MappedService(owner: owner, service: service, endpointRemoval: annotations.endpointRemoval,
                                           healthCheck: annotations.healthCheck)
                if var access = external {
                    let hasNodePorts = spec.type == "NodePort" || spec.type == "LoadBalancer"
                    access.nodePort = hasNodePorts ? port.nodePort.flatMap { UInt16(exactly: $0) }.flatMap { $0 > 0 ? $0 : nil } : nil
                    access.externalIPs = access.externalIPs.filter { $0.isIPv4 == vip.isIPv4 }
                    access.loadBalancerIPs = access.loadBalancerIPs.filter { $0.isIPv4 == vip.isIPv4 }
                    // External addresses follow externalTrafficPolicy, the cluster IP
                    // internalTrafficPolicy (kube-proxy's two policy chains).
                    if access.trafficPolicyLocal {
                        access.localEndpoints = categories.local
                    } else if localOnly {
                        access.clusterEndpoints = categories.cluster
                        access.clusterTopology = categories.topology
                    }
                    if access.nodePort != nil || !access.externalIPs.isEmpty || !access.loadBalancerIPs.isEmpty {
                        mapped.external = access
                    }
                }
                mapping.services.append(mapped)
            }
        }
        return mapping
    }

    /// The Service's external addresses and policy, common to all its ports (the node port is
    /// per port); nil when it has none: kube-proxy gives node ports to types NodePort and
    /// LoadBalancer, ingress IPs and source ranges to LoadBalancer, external IPs to any type.
    func externalAccess(_ object: KubernetesService) -> MappedService.External? {
        guard let spec = object.spec else { return nil }
        var access = MappedService.External()
        let type = spec.type ?? "ClusterIP"
        access.externalIPs = (spec.externalIPs ?? []).compactMap { IPAddress($0) }
        if type == "LoadBalancer" {
            access.loadBalancerIPs = (object.status?.loadBalancer?.ingress ?? []).compactMap { $0.ip.flatMap { IPAddress($0) } }
            access.loadBalancerSourceRanges = (spec.loadBalancerSourceRanges ?? []).compactMap { text in
                IPPrefix(text.trimmingCharacters(in: .whitespaces))
            }
        }
        access.trafficPolicyLocal = spec.externalTrafficPolicy == "Local"
        if type == "LoadBalancer", access.trafficPolicyLocal {
            access.healthCheckNodePort = spec.healthCheckNodePort.flatMap { UInt16(exactly: $0) }.flatMap { $0 > 0 ? $0 : nil }
        }
        let hasNodePorts = (type == "NodePort" || type == "LoadBalancer") && (spec.ports ?? []).contains { ($0.nodePort ?? 0) > 0 }
        guard hasNodePorts || !access.externalIPs.isEmpty || !access.loadBalancerIPs.isEmpty else { return nil }
        return access
    }

    /// The endpoints of one service port: from every slice of the address family, the slice
    /// port of the same name (kube-proxy's rule; failing that, the one named by a named
    /// `targetPort`), each address once (a ready copy wins over a not-ready one), sorted into
    /// the `Cluster` and `Local` policy lists by kube-proxy's rule (`EndpointCategories`).
    func endpoints(for port: KubernetesService.Port, proto: IPProtocolNumber, family: String,
                   slices: [EndpointSlice]) -> EndpointCategories {
        var byKey: [EndpointKey: PlacedEndpoint] = [:]
        let wanted = port.name ?? ""
        for slice in slices where slice.addressType == family {
            let candidates = (slice.ports ?? []).filter { ($0.protocol ?? "TCP").uppercased() == proto.kubernetesName }
            var match = candidates.first { ($0.name ?? "") == wanted }
            if match == nil, case .string(let named)? = port.targetPort {
                match = candidates.first { $0.name == named }
            }
            guard let slicePort = match?.port, let number = UInt16(exactly: slicePort), number > 0 else { continue }
            for item in slice.endpoints ?? [] {
                guard let first = item.addresses.first, let address = IPAddress(first) else { continue }
                let conditions = EndpointConditions(ready: item.conditions?.ready ?? true,
                                                    serving: item.conditions?.serving ?? true,
                                                    terminating: item.conditions?.terminating ?? false)
                let endpoint = Endpoint(address: address, port: number, conditions: conditions)
                if let existing = byKey[endpoint.key], existing.endpoint.conditions.ready || !conditions.ready { continue }
                byKey[endpoint.key] = PlacedEndpoint(endpoint, item, nodeName: settings.nodeName)
            }
        }
        // In address order, not slice order: an endpoint moving between slices changes nothing.
        let placed = byKey.values.sorted { ($0.endpoint.address, $0.endpoint.port) < ($1.endpoint.address, $1.endpoint.port) }
        return EndpointCategories(placed, nodeName: settings.nodeName, zone: settings.zone)
    }
}

extension IPProtocolNumber {
    /// The protocol's name in Kubernetes' API (`TCP`, `UDP`).
    var kubernetesName: String { self == .udp ? "UDP" : "TCP" }
}
