import Balancer
import PacketRewrite

/// Mode mark's endpoint maps of both address families as one writer: `ip nfqlb endpoints` for
/// IPv4 endpoints and `ip6 nfqlb endpoints` for IPv6 ones, each an `NFTablesEndpointMap` that
/// holds only its family. A family gets a map only when `serviceCIDRs` has a range of it: the
/// hooks install that family's table only then, and a map with no table would be reported
/// out of sync forever.
///
/// Each family's map is written, verified and healed on its own (docs/ARCHITECTURE.md says why
/// two tables): a change of both families is one transaction per family, IPv4 first. When the
/// IPv6 transaction fails after the IPv4 one went in, the change is reported failed and not
/// published; the IPv4 map then holds elements for ids no worker uses yet, which is harmless,
/// and the next change or repair brings both maps to what is in force.
public final class DualStackEndpointMap: EndpointMapWriter {
    /// The per-family writers, IPv4 first.
    public let maps: [NFTablesEndpointMap]

    public init(marks: MarkLayout, ipv4: Bool, ipv6: Bool) {
        var maps: [NFTablesEndpointMap] = []
        if ipv4 { maps.append(NFTablesEndpointMap(marks: marks)) }
        if ipv6 { maps.append(NFTablesEndpointMap(marks: marks, ipv6: true)) }
        self.maps = maps
    }

    /// The maps the service ranges call for.
    public convenience init(marks: MarkLayout, serviceCIDRs: [IPPrefix]) {
        self.init(marks: marks, ipv4: serviceCIDRs.contains { $0.address.isIPv4 },
                  ipv6: serviceCIDRs.contains { !$0.address.isIPv4 })
    }

    public func apply(_ wanted: [EndpointKey: UInt32]) throws(NetlinkError) {
        for map in maps { try map.apply(wanted) }
    }

    public func update(adding: [(EndpointKey, UInt32)], removing: [(EndpointKey, UInt32)]) throws(NetlinkError) {
        for map in maps { try map.update(adding: adding, removing: removing) }
    }

    /// Every family's elements as endpoint ids, from the kernel.
    public func read() throws(NetlinkError) -> [EndpointKey: UInt32] {
        var result: [EndpointKey: UInt32] = [:]
        for map in maps { result.merge(try map.read()) { first, _ in first } }
        return result
    }

    public var syncProblem: String? {
        let problems = maps.compactMap(\.syncProblem)
        return problems.isEmpty ? nil : problems.joined(separator: "; ")
    }

    public var outOfSyncSince: ContinuousClock.Instant? { maps.compactMap(\.outOfSyncSince).min() }

    /// How many repairs were made, both families together.
    public var repairsDone: Int { maps.reduce(0) { $0 + $1.repairsDone } }
}
