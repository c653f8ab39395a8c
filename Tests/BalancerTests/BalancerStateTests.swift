import Balancer
import Foundation
import PacketRewrite
import Synchronization
import Testing

@Suite("BalancerState")
struct BalancerStateTests {
    static let markerVIP = IPAddress("10.96.0.1")!
    static let tagVIP = IPAddress("10.96.0.2")!

    /// Snapshot number `tag`: a marker service with `tag + 1` endpoints, and a service on
    /// port 1000 + tag; a reader that finds the marker's count and the matching port has seen
    /// one whole snapshot, not parts of two. Filler services make the table non-trivial.
    static func snapshot(tag: Int, flows: FlowTracker, affinity: AffinityTable) throws -> BalancerSnapshot {
        var services = [
            Service(name: "marker", vip: markerVIP, port: 80, strategy: tag % 2 == 0 ? "round-robin" : "maglev",
                    strategyOptions: tag % 2 == 0 ? [:] : ["tableSize": "1021"],
                    endpoints: Fixture.endpoints(tag + 1)),
            Service(name: "tag", vip: tagVIP, port: UInt16(1000 + tag), endpoints: Fixture.endpoints(1)),
        ]
        services += (0..<50).map { i in
            Fixture.service("filler-\(i)", vip: "10.96.1.\(i + 1)", endpoints: Fixture.endpoints(2))
        }
        return try BalancerSnapshot.build(services: services, serviceCIDRs: [IPPrefix("10.96.0.0/12")!],
                                          flows: flows, affinity: affinity)
    }

    @Test func aReaderSeesTheSameSnapshotUntilOneIsPublished() throws {
        let state = BalancerState()
        var reader = state.reader()
        #expect(reader.snapshot() === BalancerSnapshot.empty)
        let next = try Self.snapshot(tag: 0, flows: FlowTracker(), affinity: AffinityTable(capacity: 16))
        #expect(state.publish(next) == 1)
        #expect(reader.snapshot() === next)
        #expect(reader.generation == 1)
        #expect(reader.snapshot() === reader.snapshot())
        #expect(state.current === next)
    }

    @Test func withSnapshotLendsTheCurrentSnapshot() throws {
        let state = BalancerState()
        var reader = state.reader()
        let next = try Self.snapshot(tag: 3, flows: FlowTracker(), affinity: AffinityTable(capacity: 16))
        state.publish(next)
        #expect(reader.withSnapshot { $0 === next })
        #expect(reader.generation == 1)
    }

    /// What the threads of the swap test report.
    final class Tally: Sendable {
        let failures = Atomic<Int>(0)
        let readersDone = Atomic<Int>(0)
        /// Reader iterations so far, summed over readers (updated every 1024): paces the writer.
        let progress = Atomic<Int>(0)
        let snapshotsSeen = Atomic<Int>(0)
        let published = Atomic<Int>(0)

        func fail() { failures.wrappingAdd(1, ordering: .relaxed) }
    }

    /// 4 readers x 200,000 lookups and picks while a writer builds and publishes 500
    /// snapshots, paced by the readers' progress so that swaps happen throughout their run:
    /// no crash, and every snapshot a reader gets is complete and no older than the last.
    @Test func concurrentReadersAlwaysSeeACompleteSnapshotDuringSwaps() throws {
        let flows = FlowTracker()
        let affinity = AffinityTable(capacity: 1024)
        let state = BalancerState(try Self.snapshot(tag: 0, flows: flows, affinity: affinity))
        let tally = Tally()
        let publishes = 500
        let readers = 4
        let lookups = 200_000

        runOnThreads(readers + 1) { worker in
            if worker == readers {
                for tag in 1...publishes {
                    while tally.progress.load(ordering: .relaxed) < tag * readers * lookups / (publishes + 1),
                          tally.readersDone.load(ordering: .relaxed) < readers {
                        Thread.sleep(forTimeInterval: 0.000_05)
                    }
                    guard let next = try? Self.snapshot(tag: tag, flows: flows, affinity: affinity) else {
                        tally.fail()
                        return
                    }
                    state.publish(next)
                    tally.published.wrappingAdd(1, ordering: .relaxed)
                }
                return
            }
            var reader = state.reader()
            var context = PickContext(seed: UInt64(worker))
            var lastTag = -1
            var distinct = 0
            for i in 0..<lookups {
                if i & 1023 == 1023 { tally.progress.wrappingAdd(1024, ordering: .relaxed) }
                let snapshot = reader.snapshot()
                guard case .service(let marker) = snapshot.lookup(address: Self.markerVIP, port: 80, proto: .tcp) else {
                    tally.fail()
                    continue
                }
                let tag = marker.candidates.count - 1
                guard case .service = snapshot.lookup(address: Self.tagVIP, port: UInt16(1000 + tag), proto: .tcp),
                      tag >= lastTag else {
                    tally.fail()
                    continue
                }
                if tag != lastTag { distinct += 1 }
                lastTag = tag
                let flow = Fixture.flow(client: i, port: UInt16(truncatingIfNeeded: i), to: Self.markerVIP)
                guard let choice = marker.pick(flow, hash: flow.stableHash, context: &context),
                      choice.index <= tag, marker.candidates[choice.index] == choice.endpoint else {
                    tally.fail()
                    continue
                }
            }
            tally.snapshotsSeen.wrappingAdd(distinct, ordering: .relaxed)
            tally.readersDone.wrappingAdd(1, ordering: .relaxed)
        }
        #expect(tally.failures.load(ordering: .relaxed) == 0)
        #expect(tally.published.load(ordering: .relaxed) == publishes)
        #expect(state.generation == UInt64(publishes))
        // Swaps happened while readers ran: each saw many snapshots, not just the first and last.
        #expect(tally.snapshotsSeen.load(ordering: .relaxed) > readers * 10)
    }
}
