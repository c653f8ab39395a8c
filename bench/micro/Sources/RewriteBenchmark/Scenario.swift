import Balancer
import CReference
import PacketRewrite

/// One cell's world: `serviceCount` TCP services, each with `endpointsPerService` equal-weight
/// endpoints and the same strategy, as a Balancer snapshot (what the daemon's workers read).
///
/// Addresses: service i is VIP `10.96.0.0 + 1 + i` (the Kubernetes default service CIDR),
/// port 80, 443, 8080 or 53 by i; its endpoint j is pod `10.128.0.0 + i * E + j`, port 8080.
/// So any rewritten destination names its service and candidate, which `RingCheck` uses.
final class Scenario {
    static let serviceCIDR = IPPrefix(address: .v4(IPv4Address(10, 96, 0, 0)), length: 12)!
    static let firstVIP = IPv4Address(10, 96, 0, 1)
    static let firstEndpoint = IPv4Address(10, 128, 0, 0)
    static let endpointPort: UInt16 = 8080
    static let servicePorts: [UInt16] = [80, 443, 8080, 53]

    let serviceCount: Int
    let endpointsPerService: Int
    let strategy: String
    let strategyOptions: StrategyOptions
    let snapshot: BalancerSnapshot
    /// Kept for the snapshot's lifetime, as the daemon keeps them across reloads.
    let flows: FlowTracker
    let affinity: AffinityTable

    init(serviceCount: Int, endpointsPerService: Int, strategy: String) throws {
        self.serviceCount = serviceCount
        self.endpointsPerService = endpointsPerService
        self.strategy = strategy
        strategyOptions = Self.options(strategy: strategy, serviceCount: serviceCount)
        var services: [Service] = []
        services.reserveCapacity(serviceCount)
        for i in 0..<serviceCount {
            let vip = Self.vip(service: i)
            let endpoints = (0..<endpointsPerService).map { j in
                Endpoint(address: .v4(Self.endpointAddress(service: i, candidate: j, per: endpointsPerService)),
                         port: Self.endpointPort, tag: UInt32(j))
            }
            services.append(Service(name: "svc-\(i)", vip: .v4(vip), port: Self.servicePort(service: i),
                                    proto: .tcp, strategy: strategy, strategyOptions: strategyOptions,
                                    endpoints: endpoints))
        }
        flows = FlowTracker()
        affinity = AffinityTable(capacity: 1024)
        snapshot = try BalancerSnapshot.build(services: services, serviceCIDRs: [Self.serviceCIDR],
                                              flows: flows, affinity: affinity)
    }

    /// Every strategy with its defaults, as an operator would leave them: Maglev's table is
    /// sized per service (809 entries for 8 endpoints), so 10,000 services fit in 16 MB.
    static func options(strategy: String, serviceCount: Int) -> StrategyOptions {
        [:]
    }

    static func vip(service i: Int) -> IPv4Address {
        IPv4Address(rawValue: firstVIP.rawValue + UInt32(i))
    }

    static func servicePort(service i: Int) -> UInt16 {
        servicePorts[i % servicePorts.count]
    }

    static func endpointAddress(service i: Int, candidate j: Int, per: Int) -> IPv4Address {
        IPv4Address(rawValue: firstEndpoint.rawValue + UInt32(i * per + j))
    }

    /// What the snapshot's services look like to the C reference; `body` gets the specs while
    /// the endpoint arrays they point into are alive (C copies them).
    func withReferenceSpecs<R>(twin: cref_strategy, _ body: ([cref_service_spec]) -> R) -> R {
        let balancers = snapshot.services
        let total = balancers.reduce(0) { $0 + $1.candidates.count }
        let addresses = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: max(total, 1))
        let ports = UnsafeMutableBufferPointer<UInt16>.allocate(capacity: max(total, 1))
        defer {
            addresses.deallocate()
            ports.deallocate()
        }
        var specs: [cref_service_spec] = []
        specs.reserveCapacity(balancers.count)
        var next = 0
        for balancer in balancers {
            let first = next
            for endpoint in balancer.candidates {
                guard case .v4(let a) = endpoint.address else { fatalError("IPv4 endpoints only") }
                addresses[next] = a.rawValue
                ports[next] = endpoint.port
                next += 1
            }
            guard case .v4(let vip) = balancer.service.vip else { fatalError("IPv4 services only") }
            // The bucket tables are built once, by Balancer, and C copies them: both sides pick
            // from the same table, so their rewrites can be compared byte for byte.
            let table: UnsafeBufferPointer<UInt16>
            if let maglev = balancer.strategy as? MaglevStrategy {
                table = maglev.table.entries
            } else if let sourceHash = balancer.strategy as? SourceHashStrategy {
                table = sourceHash.table.entries
            } else {
                table = UnsafeBufferPointer(start: nil, count: 0)
            }
            specs.append(cref_service_spec(
                vip: vip.rawValue, port: balancer.service.port, proto: balancer.service.proto.rawValue,
                strategy: twin, endpoint_count: UInt32(balancer.candidates.count),
                endpoint_addresses: UnsafePointer(addresses.baseAddress! + first),
                endpoint_ports: UnsafePointer(ports.baseAddress! + first),
                table: table.baseAddress, table_size: UInt64(table.count)))
        }
        return withExtendedLifetime(balancers) { body(specs) }
    }
}
