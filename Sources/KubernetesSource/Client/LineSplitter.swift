/// Cuts a byte stream into newline-terminated lines, whatever the chunk boundaries: the API
/// server writes one JSON watch event per line, but TCP and TLS deliver them in any split.
///
/// A line longer than `maximumLineLength` is an error rather than unbounded memory: a
/// misbehaving server (or a man in the middle before TLS was verified) cannot make the daemon
/// grow without limit. One object of Kubernetes is at most ~1.5 MiB in etcd, so the default
/// of 16 MiB leaves room for any real event.
public struct LineSplitter: Sendable {
    public struct LineTooLong: Error, CustomStringConvertible {
        public var limit: Int
        public var description: String { "a watch line exceeded \(limit) bytes" }
    }

    public let maximumLineLength: Int
    private var partial: [UInt8] = []

    public init(maximumLineLength: Int = 16 << 20) {
        self.maximumLineLength = maximumLineLength
    }

    /// The complete lines this chunk finishes, without their `\n` (and without a `\r` before
    /// it); empty lines are dropped. The unfinished tail is kept for the next chunk.
    public mutating func append(_ chunk: some Collection<UInt8>) throws -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var start = chunk.startIndex
        var index = start
        while index != chunk.endIndex {
            if chunk[index] == UInt8(ascii: "\n") {
                partial.append(contentsOf: chunk[start..<index])
                try checkLength()
                if partial.last == UInt8(ascii: "\r") { partial.removeLast() }
                if !partial.isEmpty { lines.append(partial) }
                partial = []
                start = chunk.index(after: index)
            }
            index = chunk.index(after: index)
        }
        partial.append(contentsOf: chunk[start..<chunk.endIndex])
        try checkLength()
        return lines
    }

    /// What is left when the stream ends: a last line the server did not terminate.
    public mutating func finish() -> [UInt8]? {
        defer { partial = [] }
        if partial.last == UInt8(ascii: "\r") { partial.removeLast() }
        return partial.isEmpty ? nil : partial
    }

    private func checkLength() throws {
        if partial.count > maximumLineLength { throw LineTooLong(limit: maximumLineLength) }
    }
}
