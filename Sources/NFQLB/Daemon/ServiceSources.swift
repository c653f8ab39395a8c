import Balancer

/// The services in force come from two kinds of source: the config file (with its includes),
/// and external owners such as the Kubernetes source, which hand the daemon the services of one
/// owner (a Kubernetes Service, `namespace/name`) at a time. This is how the two become one
/// config.
///
/// Each owner's services carry one `sourceVersion` of their own, given when the owner last
/// changed: the daemon's publish takes over everything it built for an unchanged owner, so a
/// change of one Kubernetes Service rebuilds that service only, at any number of services.
///
/// An owner is in force whole or not at all. It is left out (and reported) when one of its
/// services claims an address, port and protocol that the file or another owner already has
/// (the file wins: it is what the operator wrote on this node), or has a VIP outside
/// `serviceCIDRs` (the hooks would never queue it).
public struct ServiceSources: Sendable {
    /// `ServiceConfig.file` of every service an external owner gives.
    public static let kubernetesFile = "kubernetes"

    /// External owners' services, as handed in (`file` and `path` set, one version per owner).
    var owners: [String: [ServiceConfig]] = [:]

    /// An owner left out of the config in force, and why.
    public struct Refusal: Sendable, Equatable, CustomStringConvertible {
        public var owner: String
        public var reason: String
        public var description: String { "Kubernetes Service \(owner) is not installed: \(reason)" }
    }

    /// The file's config with every acceptable owner's services after the file's, owners in
    /// name order (so that each owner's services are one run of its version).
    func merged(with file: NFQLBConfig) -> (config: NFQLBConfig, refused: [Refusal]) {
        var config = file
        guard !owners.isEmpty else { return (config, []) }
        var claimed: [ServiceKey: String] = [:]
        claimed.reserveCapacity(file.services.count + owners.count)
        for index in file.services.indices {
            let entry = file.services[index]
            claimed[entry.service.key] = "\(entry.file): \(entry.path)"
        }
        var refused: [Refusal] = []
        for owner in owners.keys.sorted() {
            let services = owners[owner]!
            if let problem = problem(of: services, claimed: claimed, cidrs: file.serviceCIDRs) {
                refused.append(Refusal(owner: owner, reason: problem))
                continue
            }
            for entry in services { claimed[entry.service.key] = "Kubernetes Service \(owner)" }
            config.services += services
        }
        return (config, refused)
    }

    private func problem(of services: [ServiceConfig], claimed: [ServiceKey: String], cidrs: [IPPrefix]) -> String? {
        for entry in services {
            let key = entry.service.key
            if let holder = claimed[key] {
                return "\(key.address):\(key.port)/\(key.proto) is claimed by \(holder) as well"
            }
            if entry.service.kind == .clusterIP, !cidrs.contains(where: { $0.contains(entry.service.vip) }) {
                let ranges = cidrs.map(\.description).joined(separator: ", ")
                return "its cluster IP \(entry.service.vip) is outside serviceCIDRs (\(ranges)): the hooks would never queue it"
            }
        }
        return nil
    }
}
