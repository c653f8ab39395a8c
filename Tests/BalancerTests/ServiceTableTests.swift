import Balancer
import PacketRewrite
import Testing

@Suite("ServiceTable")
struct ServiceTableTests {
    /// 10,000 IPv4 services 10.96.<i/200>.<i%200+1>, ports 80 + i%3, alternating TCP and UDP,
    /// plus 100 IPv6 services.
    static let services: [Service] = {
        let backend = [Endpoint(address: IPAddress("10.244.0.1")!, port: 8080)]
        var services: [Service] = []
        for i in 0..<10_000 {
            let vip = IPAddress.v4(IPv4Address(10, 96, UInt8(i / 200), UInt8(i % 200 + 1)))
            let proto: IPProtocolNumber = i % 2 == 0 ? .tcp : .udp
            services.append(Service(name: "svc-\(i)", vip: vip, port: UInt16(80 + i % 3), proto: proto,
                                    endpoints: backend))
        }
        let backend6 = [Endpoint(address: IPAddress("fd00:10:244::1")!, port: 8080)]
        services += (0..<100).map { i in
            Service(name: "svc6-\(i)", vip: IPAddress("fd00:10:96::\(String(i + 1, radix: 16))")!, port: 443,
                    endpoints: backend6)
        }
        return services
    }()

    static let snapshot: BalancerSnapshot = {
        try! BalancerSnapshot.build(services: services,
                                    serviceCIDRs: [IPPrefix("10.96.0.0/12")!, IPPrefix("fd00:10:96::/108")!],
                                    flows: FlowTracker(), affinity: AffinityTable(capacity: 16))
    }()

    @Test func everyOneOfTenThousandServicesIsFound() {
        let table = Self.snapshot.table
        #expect(table.count == Self.services.count)
        #expect(table.capacity >= 2 * table.count)
        for service in Self.services {
            let found = table.lookup(address: service.vip, port: service.port, proto: service.proto)
            #expect(found?.service == service)
        }
    }

    @Test func absentServicesAreNotFound() {
        let table = Self.snapshot.table
        for service in Self.services.prefix(2000) {
            #expect(table.lookup(address: service.vip, port: service.port &+ 3, proto: service.proto) == nil)
            #expect(table.lookup(address: service.vip, port: service.port,
                                 proto: service.proto == .tcp ? .udp : .tcp) == nil)
        }
        #expect(table.lookup(address: IPAddress("10.96.100.1")!, port: 80, proto: .tcp) == nil)
        // An IPv4-mapped IPv6 address is not the IPv4 service.
        #expect(table.lookup(address: IPAddress("::ffff:10.96.0.1")!, port: 80, proto: .tcp) == nil)
        #expect(table.lookup(address: IPAddress("fd00:10:96::1")!, port: 80, proto: .tcp) == nil)
    }

    @Test func ipv6ServicesAreFound() throws {
        let found = try #require(Self.snapshot.table.lookup(address: IPAddress("fd00:10:96::64")!, port: 443, proto: .tcp))
        #expect(found.service.name == "svc6-99")
    }

    @Test func anAddressInAServiceCIDRWithoutAServiceIsUnallocated() {
        let snapshot = Self.snapshot
        guard case .service(let b) = snapshot.lookup(address: IPAddress("10.96.0.1")!, port: 80, proto: .tcp) else {
            Issue.record("10.96.0.1:80/tcp is a service")
            return
        }
        #expect(b.service.name == "svc-0")
        guard case .unallocated = snapshot.lookup(address: IPAddress("10.96.0.1")!, port: 9999, proto: .tcp),
              case .unallocated = snapshot.lookup(address: IPAddress("10.111.1.1")!, port: 80, proto: .tcp),
              case .unallocated = snapshot.lookup(address: IPAddress("fd00:10:96::ffff")!, port: 443, proto: .tcp)
        else {
            Issue.record("addresses inside a service CIDR must be unallocated")
            return
        }
        guard case .notService = snapshot.lookup(address: IPAddress("10.112.0.1")!, port: 80, proto: .tcp),
              case .notService = snapshot.lookup(address: IPAddress("192.168.1.1")!, port: 80, proto: .tcp),
              case .notService = snapshot.lookup(address: IPAddress("fd00:10:97::1")!, port: 443, proto: .tcp)
        else {
            Issue.record("addresses outside the service CIDRs are not services")
            return
        }
    }

    @Test func theBorrowingLookupAnswersAsLookupDoes() {
        func answer(_ lookup: ServiceLookup) -> String {
            switch lookup {
            case .service(let b): b.service.name
            case .unallocated: "unallocated"
            case .notService: "not a service"
            }
        }
        let snapshot = Self.snapshot
        for (address, port) in [("10.96.0.1", UInt16(80)), ("10.96.0.1", 9999), ("192.168.1.1", 80), ("fd00:10:96::1", 443)] {
            let ip = IPAddress(address)!
            #expect(snapshot.withLookup(address: ip, port: port, proto: .tcp, answer)
                    == answer(snapshot.lookup(address: ip, port: port, proto: .tcp)))
        }
    }

    @Test func aServiceOutsideTheCIDRsIsStillAService() throws {
        let snapshot = try BalancerSnapshot.build(
            services: [Fixture.service(vip: "192.0.2.10", endpoints: Fixture.endpoints(1))],
            serviceCIDRs: [IPPrefix("10.96.0.0/12")!], flows: FlowTracker(), affinity: AffinityTable(capacity: 16))
        guard case .service = snapshot.lookup(address: IPAddress("192.0.2.10")!, port: 80, proto: .tcp) else {
            Issue.record("an external address with a service is a service")
            return
        }
    }

    @Test func anEmptyTableFindsNothing() {
        let table = ServiceTable([])
        #expect(table.lookup(address: IPAddress("10.96.0.1")!, port: 80, proto: .tcp) == nil)
        guard case .notService = BalancerSnapshot.empty.lookup(address: IPAddress("10.96.0.1")!, port: 80, proto: .tcp) else {
            Issue.record("the empty snapshot has no service")
            return
        }
    }
}
