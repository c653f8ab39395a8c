import SystemPackage
/// A worker's counters, plain integers owned by its thread and handed to the metrics in
/// bulk now and then: the per-packet path touches no shared cache line for bookkeeping.
struct WorkerStatistics {
    var packets = 0
    var batches = 0
    var accepted = 0
    var dropped = 0
    var repeated = 0
    var malformed = 0
    var notService = 0
    var rejectedNoEndpoint = 0
    var rejectedUnallocated = 0
    /// Flows from outside a service's `loadBalancerSourceRanges`.
    var droppedSourceRange = 0
    /// Flows of an `externalTrafficPolicy: Local` address on a node without a local endpoint.
    var droppedNoLocalEndpoint = 0
    var conntrackCreated = 0
    var conntrackExisting = 0
    var conntrackReused = 0
    var conntrackRecreated = 0
    var conntrackErrors = 0
    var conntrackTableFull = 0
    var pickCacheHits = 0
    /// Echo requests to an `answerPing` service address, answered by turning them around.
    var pingsAnswered = 0
    /// Echo requests to any other address in a service CIDR, passed on unanswered.
    var pingsPassed = 0
    var socketOverruns = 0
    /// Verdict send fallbacks and packets answered outside a batch (the queue socket's own count).
    var queueFallbacks = QueueFallbacks()
    /// Netlink datagrams from processes rather than the kernel, dropped unread.
    var foreignDatagrams = 0

    mutating func count(_ verdict: QueueVerdict) {
        switch verdict.kind {
        case .accept: accepted += 1
        case .drop: dropped += 1
        case .repeat: repeated += 1
        }
    }

    /// Counts a kernel refusal of a create (conntrack table full is its own counter).
    mutating func countCreateFailure(_ error: NetlinkError) {
        if error.errno == .noMemory { conntrackTableFull += 1 } else { conntrackErrors += 1 }
    }
}
