#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import Prometheus
import Testing
@testable import NFQLB

/// The metrics server on loopback, with real sockets: slow clients, big requests, IPv6.
@Suite(.serialized) struct MetricsServerTests {
    /// A started server and a way to stop it.
    static func withServer(host: String = "127.0.0.1", limits: MetricsServer.Limits = .init(),
                           _ body: (MetricsServer) throws -> Void) throws {
        let server = try MetricsServer(host: host, port: 0, registry: PrometheusCollectorRegistry(),
                                       extraText: { "nfqlb_test 1\n" }, limits: limits)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            server.serve(logger: Logger(label: "test"))
            done.signal()
        }
        thread.start()
        defer {
            server.stop()
            done.wait()
        }
        try body(server)
    }

    /// A connected TCP socket to the server (IPv4 or IPv6 loopback), 5 s receive timeout.
    static func connectTo(_ host: String, _ port: UInt16) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICHOST
        var list: UnsafeMutablePointer<addrinfo>?
        try #require(getaddrinfo(host, String(port), &hints, &list) == 0)
        defer { freeaddrinfo(list) }
        let info = list!.pointee
        let fd = socket(info.ai_family, info.ai_socktype, 0)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        try #require(connect(fd, info.ai_addr, info.ai_addrlen) == 0, "connect to \(host):\(port): errno \(errno)")
        return fd
    }

    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }

    static func readAll(_ fd: Int32) -> String {
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { break }
            response.append(contentsOf: chunk[..<n])
        }
        return String(decoding: response, as: UTF8.self)
    }

    static func get(_ host: String, _ port: UInt16, _ path: String) throws -> String {
        let fd = try connectTo(host, port)
        defer { close(fd) }
        sendAll(fd, Array("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        return readAll(fd)
    }

    @Test func aScrapeIsAnsweredWhileASlowLorisClientHoldsItsConnection() throws {
        try Self.withServer { server in
            // The slow client: a byte of its request every 0.5 s, never finishing within 3 s.
            let slow = try Self.connectTo("127.0.0.1", server.port)
            defer { close(slow) }
            Self.sendAll(slow, Array("G".utf8))
            for step in 0..<6 {
                let started = ContinuousClock.now
                let response = try Self.get("127.0.0.1", server.port, "/metrics")
                #expect(response.hasPrefix("HTTP/1.1 200") && response.contains("nfqlb_test 1"), "\(response.prefix(200))")
                #expect(ContinuousClock.now - started < .seconds(1), "a scrape waited behind the slow client")
                Self.sendAll(slow, Array("ET /metrics HTTP/1.1\r\n".utf8.dropFirst(step).prefix(1)))
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
    }

    @Test func aClientThatNeverFinishesItsRequestIsCutAtTheDeadline() throws {
        var limits = MetricsServer.Limits()
        limits.requestDeadline = .seconds(1)
        try Self.withServer(limits: limits) { server in
            let slow = try Self.connectTo("127.0.0.1", server.port)
            defer { close(slow) }
            let started = ContinuousClock.now
            for _ in 0..<4 {
                Self.sendAll(slow, Array("G".utf8))
                Thread.sleep(forTimeInterval: 0.3)
            }
            let response = Self.readAll(slow)
            #expect(response.hasPrefix("HTTP/1.1 408"), "\(response)")
            #expect(ContinuousClock.now - started < .seconds(3))
        }
    }

    @Test func anOversizedRequestIsRefused() throws {
        try Self.withServer { server in
            let fd = try Self.connectTo("127.0.0.1", server.port)
            defer { close(fd) }
            Self.sendAll(fd, Array("GET /metrics HTTP/1.1\r\nX-Big: \(String(repeating: "a", count: 20_000))\r\n\r\n".utf8))
            let response = Self.readAll(fd)
            #expect(response.hasPrefix("HTTP/1.1 431"), "\(response.prefix(200))")
        }
    }

    @Test func anIPv6AddressIsServed() throws {
        try Self.withServer(host: "::1") { server in
            let response = try Self.get("::1", server.port, "/metrics")
            #expect(response.hasPrefix("HTTP/1.1 200") && response.contains("nfqlb_test 1"), "\(response.prefix(200))")
        }
    }

    @Test func theAnyIPv6AddressServesIPv4Too() throws {
        try Self.withServer(host: "::") { server in
            let v4 = try Self.get("127.0.0.1", server.port, "/healthz")
            let v6 = try Self.get("::1", server.port, "/healthz")
            #expect(v4.hasPrefix("HTTP/1.1 200") && v6.hasPrefix("HTTP/1.1 200"), "\(v4)\n\(v6)")
        }
    }
}
