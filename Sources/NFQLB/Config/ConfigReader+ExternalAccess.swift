import Balancer
import Foundation
import PacketRewrite
import Yams

/// The node-wide settings node ports and external addresses need.
struct NodeAccessSettings {
    var nodeName: String?
    var nodePortRange: ClosedRange<UInt16> = 30000...32767
    var nodePortAddresses: [IPPrefix] = []
    var externalCIDRs: [IPPrefix] = []
    var rangeLine = 0
}

extension ConfigReader {
    static let externalAccessKeys = ["nodePort", "externalIPs", "loadBalancerIPs", "loadBalancerSourceRanges",
                                     "externalTrafficPolicy", "healthCheckNodePort"]

    /// `nodeName`, `nodePortRange` ("30000-32767", kube-proxy's default), `nodePortAddresses`
    /// and `externalCIDRs` from the top level.
    mutating func readNodeAccess(_ top: Fields) -> NodeAccessSettings {
        var settings = NodeAccessSettings()
        settings.nodeName = string(top["nodeName"], "nodeName")
        if let node = top["nodePortRange"] {
            let text = node.scalar?.string ?? ""
            let parts = text.split(separator: "-").map { UInt16($0.trimmingCharacters(in: .whitespaces)) }
            if parts.count == 2, let low = parts[0], let high = parts[1], low >= 1, low <= high {
                settings.nodePortRange = low...high
            } else {
                report(node, "nodePortRange", "must be a port range such as 30000-32767; got '\(text)'")
            }
            settings.rangeLine = node.mark?.line ?? 0
        }
        settings.nodePortAddresses = prefixes(top["nodePortAddresses"], "nodePortAddresses")
        settings.externalCIDRs = prefixes(top["externalCIDRs"], "externalCIDRs")
        return settings
    }

    private mutating func prefixes(_ node: Node?, _ field: String) -> [IPPrefix] {
        guard let node, let items = sequence(node, field) else { return [] }
        var result: [IPPrefix] = []
        for (i, item) in items.enumerated() {
            let text = item.scalar?.string ?? ""
            if let prefix = IPPrefix(text) {
                result.append(prefix)
            } else if let address = IPAddress(text), let prefix = IPPrefix(address: address, length: address.isIPv4 ? 32 : 128) {
                result.append(prefix)
            } else {
                report(item, "\(field)[\(i)]", "not a CIDR such as 192.168.0.0/16; got '\(text)'")
            }
        }
        return result
    }

    /// A service's node port, external and load-balancer addresses, traffic policy and
    /// health-check node port, with the node of each endpoint; nil when it has none of them.
    mutating func readExternalAccess(_ fields: Fields, path: String, nodes: EndpointNodes) -> ExternalAccess? {
        var access = ExternalAccess()
        access.endpointNodes = nodes
        if let node = fields["nodePort"] {
            access.nodePort = integer(node, "\(path).nodePort", in: 1...65535).map(UInt16.init)
            access.nodePortLine = node.mark?.line ?? 0
        }
        func addresses(_ name: String, line: inout Int) -> [IPAddress] {
            guard let node = fields[name], let items = sequence(node, "\(path).\(name)") else { return [] }
            line = node.mark?.line ?? 0
            return items.enumerated().compactMap { i, item in address(item, "\(path).\(name)[\(i)]") }
        }
        access.externalIPs = addresses("externalIPs", line: &access.externalIPsLine)
        access.loadBalancerIPs = addresses("loadBalancerIPs", line: &access.loadBalancerIPsLine)
        access.loadBalancerSourceRanges = prefixes(fields["loadBalancerSourceRanges"], "\(path).loadBalancerSourceRanges")
        access.trafficPolicy = choice(fields["externalTrafficPolicy"], "\(path).externalTrafficPolicy", default: ExternalAccess.TrafficPolicy.Cluster)
        if let node = fields["healthCheckNodePort"] {
            access.healthCheckNodePort = integer(node, "\(path).healthCheckNodePort", in: 1...65535).map(UInt16.init)
            access.healthCheckNodePortLine = node.mark?.line ?? 0
        }
        if access.isEmpty && access.trafficPolicy == .Cluster && access.loadBalancerSourceRanges.isEmpty { return nil }
        return access
    }

    /// The endpoints' `node` and `local` (their other fields are read by readEndpoints).
    mutating func readEndpointNodes(_ fields: Fields, path: String) -> EndpointNodes {
        var nodes = EndpointNodes()
        for item in fields["endpoints"]?.sequence ?? [] {
            guard let endpoint = item.mapping,
                  let address = endpoint["address"]?.scalar.flatMap({ IPAddress($0.string) }),
                  let port = endpoint["port"]?.scalar.flatMap({ UInt16($0.string) }) else { continue }
            let key = EndpointKey(address: address, port: port)
            if let node = endpoint["node"]?.scalar?.string { nodes.nodes[key] = node }
            if let local = endpoint["local"], boolean(local, "\(path).endpoints.local") == true { nodes.local.insert(key) }
        }
        return nodes
    }

    /// Checks every service's external access against the node settings and adds the derived
    /// entries after each service: a node port outside the range, an external address inside
    /// the service CIDRs or outside `externalCIDRs`, a health-check node port without policy
    /// Local or on a TCP node port are errors naming the file, line and field.
    mutating func expandExternalAccess(_ services: [ServiceConfig], access settings: NodeAccessSettings, cidrs: [IPPrefix]) -> [ServiceConfig] {
        guard services.contains(where: { $0.external != nil }) else { return services }
        var result: [ServiceConfig] = []
        result.reserveCapacity(services.count)
        var tcpNodePorts: [UInt16: String] = [:]
        var healthPorts: [(ServiceConfig, UInt16)] = []
        func issue(_ entry: ServiceConfig, line: Int, _ field: String, _ message: String) {
            issues.append(ConfigIssue(file: entry.file.isEmpty ? file : entry.file, line: line > 0 ? line : entry.line,
                                      field: "\(entry.path).\(field)", message: message))
        }
        let range = "\(settings.nodePortRange.lowerBound)-\(settings.nodePortRange.upperBound)"
        for entry in services {
            guard let access = entry.external else {
                result.append(entry)
                continue
            }
            if let port = access.nodePort {
                if !settings.nodePortRange.contains(port) {
                    issue(entry, line: access.nodePortLine, "nodePort", "\(port) is outside nodePortRange \(range): the hooks would never queue it")
                }
                if entry.service.proto == .tcp { tcpNodePorts[port] = entry.path }
            }
            for (name, list, line) in [("externalIPs", access.externalIPs, access.externalIPsLine),
                                       ("loadBalancerIPs", access.loadBalancerIPs, access.loadBalancerIPsLine)] {
                for (i, address) in list.enumerated() {
                    if address.isIPv4 != entry.service.vip.isIPv4 {
                        issue(entry, line: line, "\(name)[\(i)]", "\(address) is not of the service address's family (\(entry.service.vip))")
                    } else if let inside = cidrs.first(where: { $0.contains(address) }) {
                        issue(entry, line: line, "\(name)[\(i)]", "\(address) is inside the service CIDR \(inside): an external address must not be a cluster IP")
                    } else if !settings.externalCIDRs.contains(where: { $0.contains(address) }) {
                        let ranges = settings.externalCIDRs.isEmpty ? "none set" : settings.externalCIDRs.map(\.description).joined(separator: ", ")
                        issue(entry, line: line, "\(name)[\(i)]", "\(address) is outside externalCIDRs (\(ranges)): the hooks would never queue it")
                    }
                }
            }
            if let port = access.healthCheckNodePort {
                if access.trafficPolicy != .Local {
                    issue(entry, line: access.healthCheckNodePortLine, "healthCheckNodePort", "needs externalTrafficPolicy: Local (it reports the node's local endpoints)")
                }
                healthPorts.append((entry, port))
            }
            result += entry.expanded(nodeName: settings.nodeName)
        }
        for (entry, port) in healthPorts {
            if let holder = tcpNodePorts[port] {
                issue(entry, line: entry.external?.healthCheckNodePortLine ?? 0, "healthCheckNodePort",
                      "port \(port) used twice: \(holder).nodePort is a TCP node port already")
            }
        }
        return result
    }
}
