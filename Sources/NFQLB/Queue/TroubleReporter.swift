import Logging

/// Logs the troubles a worker survives (conntrack table full, other conntrack refusals, socket
/// overruns), at most once per interval per kind, with how many happened since the last line:
/// a full conntrack table at 20,000 SYNs/s must not become 20,000 log lines per second.
struct TroubleReporter {
    private var logged = WorkerStatistics()
    private var lastLogAt: UInt64 = 0
    let intervalMilliseconds: UInt64 = 10_000

    mutating func report(_ now: WorkerStatistics, queue: UInt16, now time: UInt64, logger: Logger) {
        guard time &- lastLogAt >= intervalMilliseconds || lastLogAt == 0 else { return }
        var said = false
        if now.conntrackTableFull > logged.conntrackTableFull {
            logger.warning("queue \(queue): conntrack table full: \(now.conntrackTableFull - logged.conntrackTableFull) new flows refused (SYN dropped, the client retransmits); raise nf_conntrack_max")
            said = true
        }
        if now.conntrackErrors > logged.conntrackErrors {
            logger.warning("queue \(queue): \(now.conntrackErrors - logged.conntrackErrors) conntrack creates refused by the kernel (packets dropped; see nfqlb_conntrack_operations_total)")
            said = true
        }
        if now.socketOverruns > logged.socketOverruns {
            logger.warning("queue \(queue): \(now.socketOverruns - logged.socketOverruns) receive overruns (the kernel dropped packets for this worker; raise queue.receiveBufferBytes)")
            said = true
        }
        let fallbacks = now.queueFallbacks, before = logged.queueFallbacks
        if fallbacks.splitSends > before.splitSends || fallbacks.lost > before.lost {
            logger.warning("queue \(queue): \(fallbacks.splitSends - before.splitSends) verdict sends refused and retried in smaller messages, \(fallbacks.droppedUnsendable - before.droppedUnsendable) packets dropped as unsendable, \(fallbacks.lost - before.lost) verdicts lost; last error: \(fallbacks.lastSendError.map { "\($0)" } ?? "-")")
            said = true
        }
        if now.foreignDatagrams > logged.foreignDatagrams {
            logger.warning("queue \(queue): \(now.foreignDatagrams - logged.foreignDatagrams) netlink datagrams from a process, not the kernel, dropped unread")
            said = true
        }
        if said {
            logged = now
            lastLogAt = time
        }
    }
}
