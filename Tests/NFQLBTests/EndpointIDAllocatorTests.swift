import Balancer
import PacketRewrite
import Testing
@testable import NFQLB

/// Endpoint ids: one per endpoint for as long as some service names it, stable across
/// reloads, freed with its last use, and an exhausted field changes nothing.
@Suite struct EndpointIDAllocatorTests {
    func service(_ name: String, _ ports: [UInt16]) -> Service {
        Service(name: name, vip: IPAddress("10.96.0.1")!, port: 80,
                endpoints: ports.map { Endpoint(address: IPAddress("10.244.1.11")!, port: $0) })
    }

    @Test func anEndpointKeepsItsIdWhileAnyServiceNamesIt() throws {
        let ids = EndpointIDAllocator(marks: .default)
        let first = try ids.retain([service("a", [80, 81])])
        #expect(first.services[0].endpoints.map(\.tag) == [8, 9])
        #expect(first.added.map(\.1) == [8, 9])
        // A second service naming port 81 shares its id and adds none.
        let second = try ids.retain([service("b", [81])])
        #expect(second.services[0].endpoints.map(\.tag) == [9])
        #expect(second.added.isEmpty)
        // Releasing the first service frees port 80 only: 81 is still used by b.
        let freed = ids.release(first.services)
        #expect(freed.map(\.1) == [8])
        #expect(ids.id(of: EndpointKey(address: IPAddress("10.244.1.11")!, port: 81)) == 9)
        #expect(ids.release(second.services).map(\.1) == [9])
        #expect(ids.assignments.isEmpty)
    }

    @Test func freedIdsAreReusedOnlyWhenTheFieldRunsOut() throws {
        let ids = EndpointIDAllocator(marks: try #require(MarkLayout(mask: 0x0000_FF00)))  // ids 8...127
        let all = try ids.retain([service("a", Array(1...120))])
        #expect(all.services[0].endpoints.last?.tag == 127)
        #expect(ids.release(all.services).count == 120)
        let again = try ids.retain([service("b", [500])])
        #expect(again.services[0].endpoints[0].tag == 8, "the field was full: the oldest freed id comes back")
    }

    @Test func anExhaustedFieldThrowsAndCountsNothing() throws {
        let ids = EndpointIDAllocator(marks: try #require(MarkLayout(mask: 0x0000_FF00)))  // 120 ids
        _ = try ids.retain([service("a", Array(1...100))])
        let before = ids.assignments
        #expect(throws: EndpointIDExhausted.self) { try ids.retain([service("b", Array(101...130))]) }
        #expect(ids.assignments == before, "a refused retain left ids behind")
    }

    @Test func adoptedIdsSurviveARestartAndUnusedOnesAreFreed() throws {
        let ids = EndpointIDAllocator(marks: .default)
        let kept = EndpointKey(address: IPAddress("10.244.1.11")!, port: 80)
        let gone = EndpointKey(address: IPAddress("10.244.1.11")!, port: 99)
        ids.adopt([(kept, 42), (gone, 43)])
        let taken = try ids.retain([service("a", [80, 81])])
        #expect(taken.services[0].endpoints.map(\.tag) == [42, 44], "the adopted id is kept; a new one comes after it")
        #expect(ids.releaseUnused().map(\.1) == [43])
    }
}
