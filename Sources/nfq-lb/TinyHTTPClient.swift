#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A blocking HTTP/1.1 GET over a TCP socket, for talking to the daemon on the node
/// (FoundationNetworking would pull in libcurl for one local request). The host may be a
/// name (`localhost`), an IPv4 or an IPv6 address; every address it resolves to is tried.
enum TinyHTTPClient {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func get(host: String, port: UInt16, path: String, timeoutSeconds: Int = 3) throws(Failure) -> String {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw Failure(description: "cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(first) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            entry = current.pointee.ai_next
            let fd = socket(current.pointee.ai_family, current.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            guard connect(fd, current.pointee.ai_addr, current.pointee.ai_addrlen) == 0 else {
                lastError = String(cString: strerror(errno))
                continue
            }
            return try exchange(fd, host: host, path: path)
        }
        throw Failure(description: "cannot connect to \(host):\(port): \(lastError)")
    }

    private static func exchange(_ fd: Int32, host: String, path: String) throws(Failure) -> String {
        let hostHeader = host.contains(":") ? "[\(host)]" : host
        var request = Array("GET \(path) HTTP/1.1\r\nHost: \(hostHeader)\r\nConnection: close\r\n\r\n".utf8)
        guard send(fd, &request, request.count, Int32(MSG_NOSIGNAL)) == request.count else {
            throw Failure(description: "cannot send the request: \(String(cString: strerror(errno)))")
        }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { break }
            response.append(contentsOf: chunk[..<n])
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw Failure(description: "no HTTP response") }
        guard text.hasPrefix("HTTP/1.1 200") else {
            throw Failure(description: String(text[..<split.lowerBound].prefix { $0 != "\r" }))
        }
        return String(text[split.upperBound...])
    }
}
