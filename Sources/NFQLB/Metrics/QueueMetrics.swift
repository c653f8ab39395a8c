import Metrics

/// One worker's metric handles. The worker keeps plain counters (`WorkerStatistics`) and
/// hands the increase since the last flush to these now and then, so the per-packet path
/// never touches a shared metric.
struct QueueMetrics {
    private let packets: Counter
    private let batches: Counter
    private let accepted: Counter
    private let dropped: Counter
    private let repeated: Counter
    private let malformed: Counter
    private let notService: Counter
    private let rejectedNoEndpoint: Counter
    private let rejectedUnallocated: Counter
    private let droppedSourceRange: Counter
    private let droppedNoLocalEndpoint: Counter
    private let created: Counter
    private let existing: Counter
    private let reused: Counter
    private let recreated: Counter
    private let errors: Counter
    private let tableFull: Counter
    private let pickCacheHits: Counter
    private let pingsAnswered: Counter
    private let pingsPassed: Counter
    private let overruns: Counter
    private let splitSends: Counter
    private let singleSends: Counter
    private let droppedUnsendable: Counter
    private let lostVerdicts: Counter
    private let requeuedBeyondBatch: Counter
    private let requeuedWhileConfiguring: Counter
    private let unanswerable: Counter
    private let foreign: Counter
    private let decision: Metrics.Timer
    private var flushed = WorkerStatistics()

    init(queue: UInt16) {
        let q = [("queue", String(queue))]
        packets = Counter(label: "nfqlb_queue_packets_total", dimensions: q)
        batches = Counter(label: "nfqlb_queue_batches_total", dimensions: q)
        accepted = Counter(label: "nfqlb_verdicts_total", dimensions: q + [("verdict", "accept")])
        dropped = Counter(label: "nfqlb_verdicts_total", dimensions: q + [("verdict", "drop")])
        repeated = Counter(label: "nfqlb_verdicts_total", dimensions: q + [("verdict", "repeat")])
        malformed = Counter(label: "nfqlb_packets_malformed_total", dimensions: q)
        notService = Counter(label: "nfqlb_packets_not_service_total", dimensions: q)
        rejectedNoEndpoint = Counter(label: "nfqlb_flows_rejected_total", dimensions: q + [("reason", "no_endpoint")])
        rejectedUnallocated = Counter(label: "nfqlb_flows_rejected_total", dimensions: q + [("reason", "unallocated")])
        droppedSourceRange = Counter(label: "nfqlb_flows_dropped_total", dimensions: q + [("reason", "source_range")])
        droppedNoLocalEndpoint = Counter(label: "nfqlb_flows_dropped_total", dimensions: q + [("reason", "no_local_endpoint")])
        created = Counter(label: "nfqlb_conntrack_operations_total", dimensions: q + [("result", "created")])
        existing = Counter(label: "nfqlb_conntrack_operations_total", dimensions: q + [("result", "eexist")])
        reused = Counter(label: "nfqlb_conntrack_operations_total", dimensions: q + [("result", "reused")])
        recreated = Counter(label: "nfqlb_conntrack_operations_total", dimensions: q + [("result", "recreated")])
        errors = Counter(label: "nfqlb_conntrack_operations_total", dimensions: q + [("result", "error")])
        tableFull = Counter(label: "nfqlb_conntrack_operations_total", dimensions: q + [("result", "table_full")])
        pickCacheHits = Counter(label: "nfqlb_pick_cache_hits_total", dimensions: q)
        overruns = Counter(label: "nfqlb_socket_overruns_total", dimensions: q)
        pingsAnswered = Counter(label: "nfqlb_pings_total", dimensions: q + [("result", "answered")])
        pingsPassed = Counter(label: "nfqlb_pings_total", dimensions: q + [("result", "passed")])
        splitSends = Counter(label: "nfqlb_verdict_fallbacks_total", dimensions: q + [("kind", "split")])
        singleSends = Counter(label: "nfqlb_verdict_fallbacks_total", dimensions: q + [("kind", "single")])
        droppedUnsendable = Counter(label: "nfqlb_verdict_fallbacks_total", dimensions: q + [("kind", "dropped_unsendable")])
        lostVerdicts = Counter(label: "nfqlb_verdict_fallbacks_total", dimensions: q + [("kind", "lost")])
        requeuedBeyondBatch = Counter(label: "nfqlb_packets_requeued_total", dimensions: q + [("reason", "beyond_batch")])
        requeuedWhileConfiguring = Counter(label: "nfqlb_packets_requeued_total", dimensions: q + [("reason", "configuring")])
        unanswerable = Counter(label: "nfqlb_packets_unanswerable_total", dimensions: q)
        foreign = Counter(label: "nfqlb_netlink_foreign_datagrams_total", dimensions: q)
        decision = Metrics.Timer(label: "nfqlb_decision_seconds", dimensions: q, preferredDisplayUnit: .seconds)
    }

    /// Records the time a batch spent in the worker, from receipt to verdicts sent: what each
    /// of its packets waited in user space. One sample per batch, not per packet.
    func recordDecision(nanoseconds: UInt64) {
        decision.recordNanoseconds(Int64(clamping: nanoseconds))
    }

    mutating func flush(_ now: WorkerStatistics) {
        func add(_ counter: Counter, _ current: Int, _ previous: Int) {
            if current > previous { counter.increment(by: current - previous) }
        }
        add(packets, now.packets, flushed.packets)
        add(batches, now.batches, flushed.batches)
        add(accepted, now.accepted, flushed.accepted)
        add(dropped, now.dropped, flushed.dropped)
        add(repeated, now.repeated, flushed.repeated)
        add(malformed, now.malformed, flushed.malformed)
        add(notService, now.notService, flushed.notService)
        add(rejectedNoEndpoint, now.rejectedNoEndpoint, flushed.rejectedNoEndpoint)
        add(rejectedUnallocated, now.rejectedUnallocated, flushed.rejectedUnallocated)
        add(droppedSourceRange, now.droppedSourceRange, flushed.droppedSourceRange)
        add(droppedNoLocalEndpoint, now.droppedNoLocalEndpoint, flushed.droppedNoLocalEndpoint)
        add(created, now.conntrackCreated, flushed.conntrackCreated)
        add(existing, now.conntrackExisting, flushed.conntrackExisting)
        add(reused, now.conntrackReused, flushed.conntrackReused)
        add(recreated, now.conntrackRecreated, flushed.conntrackRecreated)
        add(errors, now.conntrackErrors, flushed.conntrackErrors)
        add(tableFull, now.conntrackTableFull, flushed.conntrackTableFull)
        add(pickCacheHits, now.pickCacheHits, flushed.pickCacheHits)
        add(overruns, now.socketOverruns, flushed.socketOverruns)
        add(pingsAnswered, now.pingsAnswered, flushed.pingsAnswered)
        add(pingsPassed, now.pingsPassed, flushed.pingsPassed)
        let fallbacks = now.queueFallbacks, before = flushed.queueFallbacks
        add(splitSends, fallbacks.splitSends, before.splitSends)
        add(singleSends, fallbacks.singleSends, before.singleSends)
        add(droppedUnsendable, fallbacks.droppedUnsendable, before.droppedUnsendable)
        add(lostVerdicts, fallbacks.lost, before.lost)
        add(requeuedBeyondBatch, fallbacks.requeuedBeyondBatch, before.requeuedBeyondBatch)
        add(requeuedWhileConfiguring, fallbacks.requeuedWhileConfiguring, before.requeuedWhileConfiguring)
        add(unanswerable, fallbacks.unanswerable, before.unanswerable)
        add(foreign, now.foreignDatagrams, flushed.foreignDatagrams)
        flushed = now
    }
}
