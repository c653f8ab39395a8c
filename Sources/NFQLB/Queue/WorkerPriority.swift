#if canImport(Glibc)
import Glibc
#endif
import Logging

/// The queue workers' scheduling priority (nice value), set on purpose rather than inherited
/// by accident.
///
/// A new thread takes the nice value of the thread that creates it, and the daemon creates its
/// workers from a Swift concurrency task. That task runs on a libdispatch worker thread, and on
/// Linux libdispatch resets each of its worker threads to the nice value of its QoS class
/// (`_dispatch_worker_thread` calls `setpriority`; 0 for the default class). Left alone, the
/// workers, the whole packet path, would run at nice 0 whatever the daemon was started with
/// (`nice -n -10 nfq-lb run`, systemd's `Nice=`), below everything else the operator raised.
/// So each worker sets its own nice value when it starts: `queue.workerNice` when configured,
/// otherwise the one the process was started with (the main thread's, which libdispatch does
/// not touch). Real-time policies are not offered: measured on 2 cores, SCHED_FIFO workers
/// trimmed the median connect by 10-20 µs but cost 5-10% connections per second.
enum WorkerPriority {
    /// The nice value the process was started with (its main thread's), nil if unreadable.
    static func processNice() -> Int32? {
        nice(ofThread: id_t(getpid()))
    }

    /// The calling thread's nice value (on Linux, `PRIO_PROCESS` with 0 names the calling
    /// thread, not the whole process), nil if unreadable.
    static func currentThreadNice() -> Int32? {
        nice(ofThread: 0)
    }

    private static func nice(ofThread thread: id_t) -> Int32? {
        errno = 0
        let value = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), thread)
        return value == -1 && errno != 0 ? nil : value
    }

    /// Sets the calling thread's nice value; false when the kernel refuses (raising priority,
    /// a negative value, needs CAP_SYS_NICE).
    @discardableResult
    static func setCurrentThread(nice value: Int32) -> Bool {
        setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, value) == 0
    }

    /// Gives the calling worker thread `configured`, or else the process's nice value; a
    /// refusal is logged once and the worker runs on at the value it has.
    static func applyToCurrentThread(configured: Int32?, queue: UInt16, logger: Logger) {
        guard let wanted = configured ?? processNice(), currentThreadNice() != wanted else { return }
        if !setCurrentThread(nice: wanted) {
            let reason = String(cString: strerror(errno))
            logger.warning("queue \(queue): could not set the worker's nice value to \(wanted) (\(reason)); it runs at \(currentThreadNice().map { "\($0)" } ?? "?")")
        }
    }
}
