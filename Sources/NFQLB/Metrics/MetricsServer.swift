#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import Prometheus
import Synchronization

/// A small HTTP/1.1 server for `GET /metrics` (Prometheus text format), `GET /status` (the JSON
/// `nfq-lb status` reads), `GET /healthz` and `GET /readyz`.
///
/// Each client is served on a thread of its own, and each request is bounded by an overall
/// deadline (not a per-read timeout: a client sending a byte a second must not hold a thread
/// for longer) and by the size of its head. At most `maxClients` are served at once; one more
/// is closed at once, so a flood of slow clients costs a few threads, never the daemon. A
/// scrape every few seconds needs no event loop, and this keeps SwiftNIO out of the daemon's
/// build. Binds 127.0.0.1 by default: metrics name the node's services and endpoints, which is
/// not for the whole network.
public final class MetricsServer: Sendable {
    /// How much one client may take.
    public struct Limits: Sendable {
        /// From accept to the last byte of the response.
        public var requestDeadline: Duration = .seconds(5)
        /// The request line and headers together.
        public var maxHeadBytes = 8192
        /// Clients served at the same time.
        public var maxClients = 16

        public init() {}
    }

    public let host: String
    public let port: UInt16
    public let limits: Limits
    private let listener: Int32
    private let registry: PrometheusCollectorRegistry
    private let extraText: @Sendable () -> String
    private let statusJSON: @Sendable (_ service: String?) -> String
    private let health: DaemonHealth?
    /// Answers every request instead of the paths above (a health-check node port's server).
    private let answer: (@Sendable (HTTPRequestHead) -> (status: String, contentType: String, body: [UInt8]))?
    private let stopped = Atomic<Bool>(false)
    private let activeClients = Atomic<Int>(0)

    /// Binds and listens now, so that a port conflict fails the start, not a later scrape.
    /// - Parameters:
    ///   - host: an IPv4 or IPv6 address; `::` serves IPv6 and IPv4 both.
    ///   - extraText: exposition text appended to the registry's (series the registry
    ///     cannot hold, such as per-endpoint state rebuilt on every scrape).
    ///   - health: answers `/healthz` and `/readyz`; without it both answer `ok`.
    public init(host: String, port: UInt16, registry: PrometheusCollectorRegistry,
                extraText: @escaping @Sendable () -> String = { "" },
                statusJSON: @escaping @Sendable (_ service: String?) -> String = { _ in "{}" },
                health: DaemonHealth? = nil, limits: Limits = Limits(),
                answer: (@Sendable (HTTPRequestHead) -> (status: String, contentType: String, body: [UInt8]))? = nil) throws(MetricsServerError) {
        self.answer = answer
        self.host = host
        self.registry = registry
        self.extraText = extraText
        self.statusJSON = statusJSON
        self.health = health
        self.limits = limits
        let (fd, bound) = try Self.listen(host: host, port: port)
        listener = fd
        self.port = bound
    }

    /// Serves until `stop()`; returns then (clients still in progress end by their deadline).
    /// Run it on a thread of its own.
    public func serve(logger: Logger) {
        var pollDescriptor = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        while !stopped.load(ordering: .relaxed) {
            guard poll(&pollDescriptor, 1, 200) > 0 else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
            guard activeClients.wrappingAdd(1, ordering: .relaxed).newValue <= limits.maxClients else {
                activeClients.wrappingSubtract(1, ordering: .relaxed)
                close(client)
                logger.warning("metrics: too many clients at once; one closed", metadata: ["limit": "\(limits.maxClients)"])
                continue
            }
            let thread = Thread { [self] in
                defer {
                    close(client)
                    activeClients.wrappingSubtract(1, ordering: .relaxed)
                }
                handle(client, deadline: ContinuousClock.now + limits.requestDeadline)
            }
            thread.name = "nfq-lb http"
            thread.stackSize = 256 << 10
            thread.start()
        }
        close(listener)
    }

    public func stop() { stopped.store(true, ordering: .relaxed) }

    /// Reads one request head (within the deadline and size), answers it, and returns.
    private func handle(_ client: Int32, deadline: ContinuousClock.Instant) {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 2048)
        var outcome = HTTPRequestHead.Outcome.incomplete
        while outcome == .incomplete {
            guard Self.wait(client, for: Int16(POLLIN), until: deadline) else {
                // The answer gets a short time of its own: the request's deadline has passed.
                send(client, status: "408 Request Timeout", body: "request not complete within the deadline\n",
                     deadline: ContinuousClock.now + .milliseconds(500))
                return
            }
            let n = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress!, $0.count, 0) }
            if n < 0, errno == EAGAIN || errno == EINTR { continue }
            guard n > 0 else { return }
            received.append(contentsOf: chunk[..<n])
            outcome = HTTPRequestHead.parse(received, limit: limits.maxHeadBytes)
        }
        switch outcome {
        case .complete(let head):
            let (status, type, body) = respond(to: head)
            send(client, status: status, contentType: type, body: body, deadline: deadline)
        case .tooLarge:
            send(client, status: "431 Request Header Fields Too Large", body: "request head larger than \(limits.maxHeadBytes) bytes\n", deadline: deadline)
        case .malformed, .incomplete:
            send(client, status: "400 Bad Request", body: "not an HTTP/1.x request\n", deadline: deadline)
        }
    }

    private func respond(to head: HTTPRequestHead) -> (status: String, contentType: String, body: [UInt8]) {
        if let answer { return answer(head) }
        guard head.method == "GET" else {
            return ("405 Method Not Allowed", "text/plain", Array("only GET\n".utf8))
        }
        switch head.path {
        case "/metrics":
            var body: [UInt8] = []
            registry.emit(into: &body)
            body.append(contentsOf: extraText().utf8)
            return ("200 OK", "text/plain; version=0.0.4; charset=utf-8", body)
        case "/status":
            // `/status?service=NAME`: one service only (the whole table at 10,000 services is
            // megabytes of JSON).
            return ("200 OK", "application/json", Array(statusJSON(head.queryValue("service")).utf8))
        case "/healthz", "/readyz":
            guard let health else { return ("200 OK", "text/plain", Array("ok\n".utf8)) }
            let verdict = head.path == "/healthz" ? health.liveness() : health.readiness()
            return (verdict.isHealthy ? "200 OK" : "503 Service Unavailable", "text/plain", Array(verdict.body.utf8))
        default:
            return ("404 Not Found", "text/plain", Array("not found\n".utf8))
        }
    }

    private func send(_ client: Int32, status: String, contentType: String = "text/plain", body: [UInt8],
                      deadline: ContinuousClock.Instant) {
        let head = "HTTP/1.1 \(status)\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        let bytes = Array(head.utf8) + body
        var sent = 0
        while sent < bytes.count {
            guard Self.wait(client, for: Int16(POLLOUT), until: deadline) else { return }
            let n = bytes.withUnsafeBytes { Glibc.send(client, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0, errno == EAGAIN || errno == EINTR { continue }
            guard n > 0 else { return }
            sent += n
        }
    }

    private func send(_ client: Int32, status: String, body: String, deadline: ContinuousClock.Instant) {
        send(client, status: status, body: Array(body.utf8), deadline: deadline)
    }

    /// Waits until `client` is ready for `events` or the deadline passes (false then).
    private static func wait(_ client: Int32, for events: Int16, until deadline: ContinuousClock.Instant) -> Bool {
        while true {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { return false }
            let milliseconds = Int32(clamping: left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1)
            var descriptor = pollfd(fd: client, events: events, revents: 0)
            let ready = poll(&descriptor, 1, milliseconds)
            if ready > 0 { return true }
            if ready < 0, errno != EINTR { return false }
        }
    }

    /// A listening socket on `host` (IPv4 or IPv6) and the port it got.
    private static func listen(host: String, port: UInt16) throws(MetricsServerError) -> (Int32, UInt16) {
        var v4 = in_addr()
        var v6 = in6_addr()
        let family: Int32
        if inet_pton(AF_INET, host, &v4) == 1 {
            family = AF_INET
        } else if inet_pton(AF_INET6, host, &v6) == 1 {
            family = AF_INET6
        } else {
            throw .badAddress(host)
        }
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .socket(errno: errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var storage = sockaddr_storage()
        var length: socklen_t
        if family == AF_INET {
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
            withUnsafeMutableBytes(of: &storage) { raw in
                let address = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self)
                address.pointee.sin_family = sa_family_t(AF_INET)
                address.pointee.sin_port = port.bigEndian
                address.pointee.sin_addr = v4
            }
        } else {
            // `::` serves IPv4 as well (mapped addresses), whatever the sysctl's default.
            var dualStack: Int32 = 0
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &dualStack, socklen_t(MemoryLayout<Int32>.size))
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            withUnsafeMutableBytes(of: &storage) { raw in
                let address = raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self)
                address.pointee.sin6_family = sa_family_t(AF_INET6)
                address.pointee.sin6_port = port.bigEndian
                address.pointee.sin6_addr = v6
            }
        }
        let bound = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0, Glibc.listen(fd, 64) == 0 else {
            let error = errno
            close(fd)
            throw .bind(host: host, port: port, errno: error)
        }
        var actual = sockaddr_storage()
        var actualLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &actualLength) }
        }
        // sin_port and sin6_port sit at the same offset.
        let actualPort = withUnsafeBytes(of: &actual) { UInt16(bigEndian: $0.loadUnaligned(fromByteOffset: 2, as: UInt16.self)) }
        return (fd, actualPort)
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
        case .badAddress(let host): "metrics: '\(host)' is not an IPv4 or IPv6 address"
        case .bind(let host, let port, let e): "metrics: cannot listen on \(host):\(port): \(String(cString: strerror(e)))"
        }
    }
}
