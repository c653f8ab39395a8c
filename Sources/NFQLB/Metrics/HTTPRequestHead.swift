/// The first line of an HTTP/1.x request, read from a head that the server has bounded in size.
///
/// Only what the metrics server routes on: method, path and query. Headers are read past,
/// never kept: no route needs them.
public struct HTTPRequestHead: Sendable, Equatable {
    public var method: String
    public var path: String
    public var query: String?

    /// What reading a request head can end in.
    public enum Outcome: Sendable, Equatable {
        /// The head is complete (ends in an empty line) and its request line is valid.
        case complete(HTTPRequestHead)
        /// More bytes are needed, and the limit allows them.
        case incomplete
        /// The head exceeds `limit` bytes without ending: answered 431.
        case tooLarge
        /// Not an HTTP request line: answered 400.
        case malformed
    }

    /// Judges the bytes received so far.
    public static func parse(_ bytes: some Collection<UInt8>, limit: Int) -> Outcome {
        guard let end = headEnd(bytes) else { return bytes.count >= limit ? .tooLarge : .incomplete }
        guard end <= limit else { return .tooLarge }
        let head = Array(bytes.prefix(end))
        let lineEnd = head.firstIndex(of: 13) ?? head.firstIndex(of: 10) ?? head.count
        let parts = head[..<lineEnd].split(separator: 32, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[1].first == UInt8(ascii: "/"),
              parts[2].starts(with: Array("HTTP/1.".utf8)) else { return .malformed }
        let method = String(decoding: parts[0], as: UTF8.self)
        let target = String(decoding: parts[1], as: UTF8.self)
        let split = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        return .complete(HTTPRequestHead(method: method, path: String(split[0]), query: split.count > 1 ? String(split[1]) : nil))
    }

    /// The value of `name` in the query (`a=1&b=2`), percent-decoded.
    public func queryValue(_ name: String) -> String? {
        guard let query else { return nil }
        for pair in query.split(separator: "&") where pair.hasPrefix(name + "=") {
            let raw = String(pair.dropFirst(name.count + 1))
            return raw.removingPercentEncodingASCII ?? raw
        }
        return nil
    }

    /// The length of the head up to and including its empty line (CRLF CRLF, or LF LF).
    private static func headEnd(_ bytes: some Collection<UInt8>) -> Int? {
        let a = Array(bytes)
        var i = 0
        while i < a.count {
            if a[i] == 10 {
                if i >= 1, a[i - 1] == 10 { return i + 1 }
                if i >= 3, a[i - 1] == 13, a[i - 2] == 10, a[i - 3] == 13 { return i + 1 }
            }
            i += 1
        }
        return nil
    }
}

extension String {
    /// `%XX` decoded (no Foundation needed for the few bytes of a query value).
    fileprivate var removingPercentEncodingASCII: String? {
        var out: [UInt8] = []
        var iterator = Array(utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next(), let low = iterator.next(),
                      let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) else { return nil }
                out.append(value)
            } else {
                out.append(byte)
            }
        }
        return String(validating: out, as: UTF8.self)
    }
}
