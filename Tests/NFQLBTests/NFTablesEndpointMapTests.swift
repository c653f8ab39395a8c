import Balancer
import PacketRewrite
import Testing
@testable import NFQLB

/// The pure parts of mode mark's map writer: the difference it transacts, and the sequence
/// numbers it waits for.
@Suite struct NFTablesEndpointMapTests {
    static func endpoint(_ last: UInt32, port: UInt16 = 80) -> EndpointKey {
        EndpointKey(address: .v4(IPv4Address(rawValue: 0x0AF4_0100 | last)), port: port)
    }

    @Test func sequenceNumbersWrapPastTheLargestValueInsteadOfTrapping() {
        #expect(NFTablesEndpointMap.sequences(after: .max - 1, count: 3) == [.max, 0, 1])
        #expect(NFTablesEndpointMap.sequences(after: .max, count: 2) == [0, 1])
        #expect(NFTablesEndpointMap.sequences(after: 7, count: 2) == [8, 9])
    }

    @Test func requestSequenceNumbersAreDistinctAcrossManyCalls() {
        // 2^28 calls wrap the counter; its start is arbitrary, so wrapping must never trap.
        var seen = Set<UInt32>()
        for _ in 0..<1000 { seen.insert(MonotonicSequence.next()) }
        #expect(seen.count == 1000)
    }

    @Test func aMapEqualToWhatIsWantedNeedsNoChange() {
        let map: [UInt32: EndpointKey] = [0x0001_0000: Self.endpoint(1), 0x0002_0000: Self.endpoint(2)]
        let (deletions, additions) = NFTablesEndpointMap.changes(from: map, to: map)
        #expect(deletions.isEmpty && additions.isEmpty)
    }

    @Test func anEmptiedMapGetsEveryWantedElementBackAndNothingDeleted() {
        let wanted: [UInt32: EndpointKey] = [0x0001_0000: Self.endpoint(1), 0x0002_0000: Self.endpoint(2)]
        let (deletions, additions) = NFTablesEndpointMap.changes(from: [:], to: wanted)
        #expect(deletions.isEmpty)
        #expect(additions.map(\.0) == [0x0001_0000, 0x0002_0000])
    }

    @Test func strayElementsAreDeletedAndAChangedEndpointIsReplacedInOneTransaction() {
        let current: [UInt32: EndpointKey] = [0x0001_0000: Self.endpoint(1), 0x0002_0000: Self.endpoint(2), 0x7FF0_0000: Self.endpoint(9)]
        let wanted: [UInt32: EndpointKey] = [0x0001_0000: Self.endpoint(1), 0x0002_0000: Self.endpoint(3)]
        let (deletions, additions) = NFTablesEndpointMap.changes(from: current, to: wanted)
        #expect(deletions.map(\.0) == [0x0002_0000, 0x7FF0_0000])
        #expect(deletions.map(\.1) == [Self.endpoint(2), Self.endpoint(9)])
        #expect(additions.map(\.0) == [0x0002_0000])
        #expect(additions.map(\.1) == [Self.endpoint(3)])
    }
}
