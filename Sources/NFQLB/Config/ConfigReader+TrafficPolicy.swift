import Balancer
import PacketRewrite
import Yams

extension ConfigReader {
    static let trafficPolicyKeys = ["internalTrafficPolicy", "trafficDistribution"]
    static let endpointTopologyKeys = ["zone", "forZones"]

    /// `zone` from the top level: this node's zone, which zone hints are matched against.
    mutating func readZone(_ top: Fields) -> String? {
        string(top["zone"], "zone")
    }

    /// A service's `internalTrafficPolicy` and `trafficDistribution`, with its endpoints'
    /// `zone` and `forZones`; nil when it asks for neither a policy nor hints.
    mutating func readTrafficPolicy(_ fields: Fields, path: String, nodes: EndpointNodes) -> TrafficPolicySettings? {
        var settings = TrafficPolicySettings()
        settings.nodes = nodes
        if let node = fields["internalTrafficPolicy"] {
            settings.internalPolicy = choice(node, "\(path).internalTrafficPolicy", default: TrafficPolicySettings.InternalPolicy.Cluster)
            settings.internalPolicyLine = node.mark?.line ?? 0
        }
        if let node = fields["trafficDistribution"] {
            let text = node.scalar?.string ?? ""
            if let distribution = TrafficPolicySettings.Distribution(rawValue: text) {
                settings.distribution = distribution
            } else {
                report(node, "\(path).trafficDistribution", "must be PreferClose (or its newer name PreferSameZone); got '\(text)'")
            }
            settings.distributionLine = node.mark?.line ?? 0
        }
        for (j, item) in (fields["endpoints"]?.sequence ?? []).enumerated() {
            guard let endpoint = item.mapping,
                  let address = endpoint["address"]?.scalar.flatMap({ IPAddress($0.string) }),
                  let port = endpoint["port"]?.scalar.flatMap({ UInt16($0.string) }) else { continue }
            let key = EndpointKey(address: address, port: port)
            if let zone = endpoint["zone"] { settings.zones[key] = string(zone, "\(path).endpoints[\(j)].zone") }
            if let node = endpoint["forZones"], let items = sequence(node, "\(path).endpoints[\(j)].forZones") {
                var zones = Set<String>()
                for (k, item) in items.enumerated() {
                    if let zone = string(item, "\(path).endpoints[\(j)].forZones[\(k)]") { zones.insert(zone) }
                }
                if zones.isEmpty {
                    report(node, "\(path).endpoints[\(j)].forZones", "must name at least one zone (leave it out for no hint)")
                }
                settings.forZones[key] = zones
                if settings.forZonesLine == 0 { settings.forZonesLine = node.mark?.line ?? 0 }
            }
        }
        if settings.internalPolicy == .Cluster && !settings.usesZones { return nil }
        return settings
    }

    /// Puts every service's traffic policy in force, with kube-proxy's rule
    /// (`EndpointCategories`): the cluster IP gets this node's endpoints with
    /// `internalTrafficPolicy: Local` (dropping flows when there are none here but some
    /// elsewhere), or the zone's when every ready endpoint is hinted and one hint names `zone`;
    /// external addresses get theirs from `externalTrafficPolicy` (`expandExternalAccess`).
    /// Policy Local without `nodeName` and without a `local: true` endpoint, and zone hints
    /// without a top-level `zone`, are errors naming the file, line and field.
    mutating func applyTrafficPolicies(_ services: [ServiceConfig], nodeName: String?, zone: String?) -> [ServiceConfig] {
        guard services.contains(where: { $0.trafficPolicy != nil }) else { return services }
        var result = services
        // A service's endpoints now depend on the top level too: an included file that did
        // not change must not be taken over from the last reload whole when they do.
        var renumbered: [UInt64: UInt64] = [:]
        for index in result.indices {
            guard let policy = result[index].trafficPolicy else { continue }
            let entry = result[index]
            func issue(line: Int, _ field: String, _ message: String) {
                issues.append(ConfigIssue(file: entry.file.isEmpty ? file : entry.file, line: line > 0 ? line : entry.line,
                                          field: "\(entry.path).\(field)", message: message))
            }
            let local = policy.internalPolicy == .Local
            if local, nodeName == nil, policy.nodes.local.isEmpty {
                issue(line: policy.internalPolicyLine, "internalTrafficPolicy",
                      "Local needs the top-level nodeName (endpoints whose node is it are this node's) or endpoints marked local: true; without either no endpoint is local and every flow would be dropped")
            }
            if policy.usesZones, (zone ?? "").isEmpty {
                let (line, field) = policy.distribution != nil ? (policy.distributionLine, "trafficDistribution") : (policy.forZonesLine, "endpoints.forZones")
                issue(line: line, field, "zone hints need the top-level zone (this node's zone, which the hints are matched against)")
            }
            let categories = EndpointCategories(policy.placed(entry.service.endpoints, nodeName: nodeName), nodeName: nodeName, zone: zone)
            var service = entry.service
            service.endpoints = categories.endpoints(localPolicy: local)
            if local {
                // kube-proxy: endpoints elsewhere but none here drop; none at all reject.
                service.internalTrafficPolicyLocal = true
                service.dropsWithoutEndpoints = categories.hasUsableEndpoints
            } else {
                service.topology = categories.topology
            }
            result[index].service = service
            if var access = entry.external {
                if access.trafficPolicy == .Local {
                    access.localEndpointList = categories.local
                } else if local {
                    access.clusterEndpointList = categories.cluster
                    access.clusterTopology = categories.topology
                }
                result[index].external = access
            }
            if entry.file != file, renumbered[entry.sourceVersion] == nil {
                renumbered[entry.sourceVersion] = Self.nextSourceVersion()
            }
        }
        if !renumbered.isEmpty {
            for index in result.indices {
                if let version = renumbered[result[index].sourceVersion] { result[index].sourceVersion = version }
            }
        }
        return result
    }
}
