import Balancer
import Foundation
import PacketRewrite
import Synchronization
import Testing

@Suite("AffinityTable")
struct AffinityTableTests {
    let service = ServiceKey(address: IPAddress("10.96.0.10")!, port: 80, proto: .tcp).stableHash

    @Test func aRecordedClientIsFoundWithinTheTimeout() {
        let table = AffinityTable(capacity: 64)
        let key = AffinityTable.key(service: service, client: Fixture.clientAddress(1))
        #expect(table.touch(key: key, now: 100, timeout: 10) == nil)
        table.record(key: key, fingerprint: 0xABCD_0123, now: 100)
        #expect(table.touch(key: key, now: 100, timeout: 10) == 0xABCD_0123)
        #expect(table.touch(key: key, now: 110, timeout: 10) == 0xABCD_0123)
    }

    @Test func anEntryExpiresAfterTheTimeoutLikeRecentSeconds() {
        let table = AffinityTable(capacity: 64)
        let key = AffinityTable.key(service: service, client: Fixture.clientAddress(2))
        table.record(key: key, fingerprint: 7, now: 1000)
        #expect(table.touch(key: key, now: 1011, timeout: 10) == nil)
    }

    @Test func eachHitRenewsTheEntry() {
        let table = AffinityTable(capacity: 64)
        let key = AffinityTable.key(service: service, client: Fixture.clientAddress(3))
        table.record(key: key, fingerprint: 7, now: 100)
        for now in stride(from: UInt32(108), through: 200, by: 8) {
            #expect(table.touch(key: key, now: now, timeout: 10) == 7, "at \(now)")
        }
        #expect(table.touch(key: key, now: 211, timeout: 10) == nil)
    }

    @Test func timeWrapsAround() {
        let table = AffinityTable(capacity: 64)
        let key = AffinityTable.key(service: service, client: Fixture.clientAddress(4))
        table.record(key: key, fingerprint: 9, now: UInt32.max - 2)
        #expect(table.touch(key: key, now: 3, timeout: 10) == 9)
        #expect(table.touch(key: key, now: 14, timeout: 10) == nil)
    }

    @Test func differentServicesDoNotShareEntries() {
        let other = ServiceKey(address: IPAddress("10.96.0.10")!, port: 443, proto: .tcp).stableHash
        let client = Fixture.clientAddress(5)
        #expect(AffinityTable.key(service: service, client: client) != AffinityTable.key(service: other, client: client))
        let table = AffinityTable(capacity: 64)
        table.record(key: AffinityTable.key(service: service, client: client), fingerprint: 1, now: 0)
        #expect(table.touch(key: AffinityTable.key(service: other, client: client), now: 0, timeout: 10) == nil)
    }

    @Test func aFullBucketEvictsTheLeastRecentlyUsedEntry() {
        let table = AffinityTable(capacity: 4)  // one bucket of four slots
        let keys = (0..<5).map { AffinityTable.key(service: service, client: Fixture.clientAddress(100 + $0)) }
        for (i, key) in keys.prefix(4).enumerated() {
            table.record(key: key, fingerprint: UInt32(i), now: UInt32(10 + i))
        }
        _ = table.touch(key: keys[0], now: 20, timeout: 100)  // renews the oldest
        table.record(key: keys[4], fingerprint: 4, now: 21)
        #expect(table.touch(key: keys[1], now: 21, timeout: 100) == nil)
        for i in [0, 2, 3, 4] {
            #expect(table.touch(key: keys[i], now: 21, timeout: 100) == UInt32(i))
        }
    }

    @Test func recordingAgainReplacesTheEndpoint() {
        let table = AffinityTable(capacity: 64)
        let key = AffinityTable.key(service: service, client: Fixture.clientAddress(6))
        table.record(key: key, fingerprint: 1, now: 0)
        table.record(key: key, fingerprint: 2, now: 1)
        #expect(table.touch(key: key, now: 1, timeout: 10) == 2)
        #expect(table.liveEntries(now: 1, timeout: 10) == 1)
    }

    final class Tally: Sendable {
        let wrong = Atomic<Int>(0)
        let hits = Atomic<Int>(0)
    }

    /// Readers racing writers on a tiny table (heavy collisions and evictions) may miss, but
    /// must never see a fingerprint that was not written for the key they asked for.
    @Test func concurrentReadersNeverSeeAnotherKeysEndpoint() {
        let table = AffinityTable(capacity: 16)
        let keys = (0..<64).map { AffinityTable.key(service: service, client: Fixture.clientAddress(1000 + $0)) }
        // Each key has two legitimate fingerprints; writers alternate between them.
        @Sendable func legit(_ key: UInt64) -> Set<UInt32> {
            [UInt32(truncatingIfNeeded: key), UInt32(truncatingIfNeeded: key >> 32)]
        }
        let tally = Tally()
        runOnThreads(4) { worker in
            var random = Xoshiro256StarStar(seed: UInt64(worker))
            for i in 0..<100_000 {
                let key = keys[random.next(below: keys.count)]
                if i & 1 == 0 {
                    let print = random.next() & 1 == 0 ? UInt32(truncatingIfNeeded: key) : UInt32(truncatingIfNeeded: key >> 32)
                    table.record(key: key, fingerprint: print, now: UInt32(i / 1000))
                } else if let print = table.touch(key: key, now: UInt32(i / 1000), timeout: 1000) {
                    tally.hits.wrappingAdd(1, ordering: .relaxed)
                    if !legit(key).contains(print) { tally.wrong.wrappingAdd(1, ordering: .relaxed) }
                }
            }
        }
        #expect(tally.wrong.load(ordering: .relaxed) == 0)
        #expect(tally.hits.load(ordering: .relaxed) > 1000)
    }
}
