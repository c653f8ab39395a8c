/// What a queue socket did so that every packet still got its verdict: counted, because each
/// one means the fast path did not hold (a send refused, a datagram with more packets than a
/// batch, a packet without an id), and an operator should see it in the metrics.
struct QueueFallbacks {
    /// Verdict sends that failed and were split in two (`nfqlb_verdict_fallbacks_total{kind="split"}`).
    var splitSends = 0
    /// Verdicts that had to be sent one per message.
    var singleSends = 0
    /// Verdicts replaced by a drop without payload because the kernel refused them even alone.
    var droppedUnsendable = 0
    /// Verdicts that could not be sent at all: their packets stay queued until the kernel drops them.
    var lost = 0
    /// Packets beyond a batch's capacity in one datagram, handed back with `NF_REPEAT`.
    var requeuedBeyondBatch = 0
    /// Packets that arrived while a queue setting waited for its ack, handed back with `NF_REPEAT`.
    var requeuedWhileConfiguring = 0
    /// Packet messages without a packet id: nothing to answer.
    var unanswerable = 0
    /// The error of the last failed send, for the log.
    var lastSendError: NetlinkError?
}
