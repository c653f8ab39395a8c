import Balancer
import CoreMetrics
import Foundation
import Logging
import PacketRewrite
import Synchronization

/// Sets the active-flow counts (what `least-connections` and `power-of-two` compare) to what
/// the conntrack table holds, every `interval` and whenever the event monitor may have lost
/// events (an overrun, a restart).
///
/// The counts follow conntrack destroy events; an event the kernel drops (ENOBUFS), an entry
/// created without events, or a SYN dropped after its verdict (mode mark counts the flow, the
/// kernel never confirms its entry) would otherwise leave an endpoint looking busy for ever.
/// One dump of the table, counted per endpoint (ours are the entries whose mark carries an
/// endpoint id; the endpoint is the reply tuple's source) and applied by
/// `FlowTracker.resynchronize`, whose doc comment states the race rule.
public final class ActiveFlowResynchronizer: Sendable {
    private let marks: MarkLayout
    private let flows: FlowTracker
    private let metrics: NFQLBMetrics
    private let logger: Logger
    public let interval: Duration
    private let stopping = Atomic<Bool>(false)
    private let requested = Atomic<Bool>(false)
    private let running = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)

    public init(marks: MarkLayout, flows: FlowTracker, metrics: NFQLBMetrics, logger: Logger, interval: Duration) {
        self.marks = marks
        self.flows = flows
        self.metrics = metrics
        self.logger = logger
        self.interval = interval
    }

    /// Resynchronises on a thread of its own until `stop`, the first time one interval from now.
    public func start() {
        running.store(true, ordering: .relaxed)
        let milliseconds = Int(interval.components.seconds * 1000 + interval.components.attoseconds / 1_000_000_000_000_000)
        let thread = Thread { [self] in
            defer { done.signal() }
            while !stopping.load(ordering: .relaxed) {
                _ = wake.wait(timeout: .now() + .milliseconds(max(1, milliseconds)))
                if stopping.load(ordering: .relaxed) { return }
                requested.store(false, ordering: .relaxed)
                resynchronizeNow()
            }
        }
        thread.name = "nfq-lb flow resync"
        thread.start()
    }

    /// Asks for a resynchronisation now (events were lost); requests made before it starts
    /// are served by one.
    public func requestNow() {
        if !requested.exchange(true, ordering: .relaxed) { wake.signal() }
    }

    public func stop() {
        stopping.store(true, ordering: .relaxed)
        wake.signal()
        if running.load(ordering: .relaxed) { done.wait() }
    }

    /// One dump of the conntrack table (IPv4 and IPv6), applied to the counters. Returns nil
    /// (and counts a failure) when the table cannot be read: the counts are then left as they
    /// are until the next round.
    @discardableResult
    public func resynchronizeNow() -> FlowTracker.ResyncOutcome? {
        let baseline = flows.resyncBaseline()
        var kernel: [EndpointKey: [IPProtocolNumber: Int]] = [:]
        do {
            let client = try ConntrackClient(batchCapacity: 1)
            for ipv6 in [false, true] {
                try client.dump(ipv6: ipv6, markValue: 0, markMask: 0) { entry in
                    guard marks.endpointID(ofMark: entry.mark) >= MarkLayout.firstEndpointID else { return }
                    kernel[EndpointKey(address: entry.backendAddress, port: entry.backendPort), default: [:]][entry.original.proto, default: 0] += 1
                }
            }
        } catch {
            metrics.activeFlowResyncFailures.increment()
            logger.error("resynchronising active-flow counts with the conntrack table failed (counts kept until the next try): \(error)")
            return nil
        }
        let outcome = flows.resynchronize(kernel: kernel, baseline: baseline)
        metrics.activeFlowResyncs.increment()
        if outcome.flowsCorrected > 0 {
            metrics.activeFlowsCorrected.increment(by: outcome.flowsCorrected)
            logger.info("active-flow counts resynchronised with the conntrack table: \(outcome.countersCorrected) endpoints corrected by \(outcome.flowsCorrected) flows in all")
        }
        return outcome
    }
}
