#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import Prometheus
import Synchronization

/// A minimal HTTP/1.1 server for `GET /metrics` (Prometheus text format) and `GET /status`
/// (the JSON `nfq-lb status` reads), on its own thread.
///
/// Deliberately tiny and blocking: one scrape every few seconds needs no event loop, and it
/// keeps SwiftNIO out of the daemon's build. Binds 127.0.0.1 by default: metrics name the
/// node's services and endpoints, which is not for the whole network.
public final class MetricsServer: Sendable {
    public let host: String
    private let listener: Int32
    public let port: UInt16
    private let registry: PrometheusCollectorRegistry
    private let extraText: @Sendable () -> String
    private let statusJSON: @Sendable (_ service: String?) -> String
    private let stopped = Atomic<Bool>(false)

    /// Binds and listens now, so that a port conflict fails the start, not a later scrape.
    /// - Parameter extraText: exposition text appended to the registry's (series the registry
    ///   cannot hold, such as per-endpoint state rebuilt on every scrape).
    public init(host: String, port: UInt16, registry: PrometheusCollectorRegistry,
                extraText: @escaping @Sendable () -> String = { "" },
                statusJSON: @escaping @Sendable (_ service: String?) -> String = { _ in "{}" }) throws(MetricsServerError) {
        self.host = host
        self.registry = registry
        self.extraText = extraText
        self.statusJSON = statusJSON
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .socket(errno: errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            close(fd)
            throw .badAddress(host)
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            let error = errno
            close(fd)
            throw .bind(host: host, port: port, errno: error)
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.port = UInt16(bigEndian: actual.sin_port)
        listener = fd
    }

    /// Serves until `stop()`; returns then. Run it on a thread of its own.
    public func serve(logger: Logger) {
        var pollDescriptor = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        while !stopped.load(ordering: .relaxed) {
            guard poll(&pollDescriptor, 1, 200) > 0 else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            handle(client, logger: logger)
            close(client)
        }
        close(listener)
    }

    public func stop() { stopped.store(true, ordering: .relaxed) }

    private func handle(_ client: Int32, logger: Logger) {
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var request = [UInt8](repeating: 0, count: 4096)
        var received = 0
        // Read until the end of the request head (or the buffer is full): we need only its first line.
        while received < request.count {
            let n = request.withUnsafeMutableBytes { recv(client, $0.baseAddress! + received, $0.count - received, 0) }
            if n <= 0 { break }
            received += n
            if request[..<received].containsCRLFCRLF { break }
        }
        let head = String(decoding: request[..<received], as: UTF8.self)
        let line = head.split(separator: "\r\n", maxSplits: 1).first.map(String.init) ?? ""
        let parts = line.split(separator: " ")
        let response: String
        if parts.count >= 2, parts[0] == "GET", parts[1] == "/metrics" || parts[1].hasPrefix("/metrics?") {
            var body: [UInt8] = []
            registry.emit(into: &body)
            body.append(contentsOf: extraText().utf8)
            response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
                + String(decoding: body, as: UTF8.self)
        } else if parts.count >= 2, parts[0] == "GET", parts[1] == "/status" || parts[1].hasPrefix("/status?") {
            // `/status?service=NAME`: one service only (the whole table at 10,000 services is
            // megabytes of JSON).
            let query = parts[1].split(separator: "?", maxSplits: 1).dropFirst().first ?? ""
            let service = query.split(separator: "&").first { $0.hasPrefix("service=") }
                .map { String($0.dropFirst("service=".count)).removingPercentEncoding ?? String($0.dropFirst("service=".count)) }
            let body = statusJSON(service)
            response = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
        } else if parts.count >= 2, parts[1] == "/healthz" {
            response = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"
        } else {
            response = "HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\nConnection: close\r\n\r\nnot found\n"
        }
        var bytes = Array(response.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeMutableBytes { send(client, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }
            sent += n
        }
    }
}

/// Why the metrics endpoint could not start.
public enum MetricsServerError: Error, CustomStringConvertible {
    case socket(errno: Int32)
    case badAddress(String)
    case bind(host: String, port: UInt16, errno: Int32)

    public var description: String {
        switch self {
        case .socket(let e): "metrics: socket() failed: \(String(cString: strerror(e)))"
        case .badAddress(let host): "metrics: '\(host)' is not an IPv4 address"
        case .bind(let host, let port, let e): "metrics: cannot listen on \(host):\(port): \(String(cString: strerror(e)))"
        }
    }
}

extension ArraySlice<UInt8> {
    fileprivate var containsCRLFCRLF: Bool {
        guard count >= 4 else { return false }
        var i = startIndex
        while i + 3 < endIndex {
            if self[i] == 13, self[i + 1] == 10, self[i + 2] == 13, self[i + 3] == 10 { return true }
            i += 1
        }
        return false
    }
}
