import Foundation

/// One line of `/proc/net/netfilter/nfnetlink_queue`: the kernel's own count of what it
/// dropped, which no counter of ours can see (a full queue drops before we are asked).
public struct KernelQueueStatistics: Sendable, Equatable {
    public var queue: UInt16
    public var portID: UInt32
    public var waiting: Int
    public var copyMode: Int
    public var copyRange: Int
    public var queueDropped: Int
    public var userDropped: Int
    public var lastID: UInt32

    /// Columns: queue_number peer_portid queue_total copy_mode copy_range queue_dropped
    /// user_dropped id_sequence 1.
    public init?(line: some StringProtocol) {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard fields.count >= 8, let queue = UInt16(fields[0]), let portID = UInt32(fields[1]), let waiting = Int(fields[2]),
              let copyMode = Int(fields[3]), let copyRange = Int(fields[4]), let queueDropped = Int(fields[5]),
              let userDropped = Int(fields[6]), let lastID = UInt32(fields[7]) else { return nil }
        self.queue = queue
        self.portID = portID
        self.waiting = waiting
        self.copyMode = copyMode
        self.copyRange = copyRange
        self.queueDropped = queueDropped
        self.userDropped = userDropped
        self.lastID = lastID
    }

    /// The queues bound in this network namespace; empty when none is (or the file is absent).
    public static func read(path: String = "/proc/net/netfilter/nfnetlink_queue") -> [KernelQueueStatistics] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { KernelQueueStatistics(line: $0) }
    }
}
