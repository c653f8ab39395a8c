import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// LIST and WATCH against the API server over one shared `HTTPClient` (async-http-client:
/// TLS by swift-nio-ssl, connection pooling, HTTP/2 when the server offers it).
///
/// Every failure the server explains comes back as a thrown `Status`: an HTTP error's body
/// (a `Status` object; one is made from the HTTP code when the body is not one), so a 410 is
/// the same `Status.isGone` whether it came as HTTP 410 or as an `ERROR` watch event.
/// A refused certificate or failed handshake is thrown as `TLSFailure` (naming the server);
/// other transport failures (refused, reset) as async-http-client's own errors.
///
/// Call `shutdown()` before dropping the last reference: async-http-client requires it.
public final class KubernetesClient: Sendable {
    public let configuration: KubernetesClientConfiguration
    private let http: HTTPClient
    private let listDeadline: TimeAmount
    private let maximumListBytes: Int

    public init(
        configuration: KubernetesClientConfiguration,
        eventLoopGroup: any EventLoopGroup = HTTPClient.defaultEventLoopGroup,
        connectTimeout: TimeAmount = .seconds(10),
        listDeadline: TimeAmount = .seconds(60),
        maximumListBytes: Int = 256 << 20
    ) throws {
        self.configuration = configuration
        self.listDeadline = listDeadline
        self.maximumListBytes = maximumListBytes
        var httpConfiguration = HTTPClient.Configuration(
            tlsConfiguration: try configuration.makeTLSConfiguration(),
            redirectConfiguration: .disallow,
            timeout: .init(connect: connectTimeout, read: nil),
            decompression: .disabled
        )
        httpConfiguration.httpVersion = .automatic
        http = HTTPClient(eventLoopGroup: eventLoopGroup, configuration: httpConfiguration)
    }

    public func shutdown() async throws {
        try await http.shutdown()
    }

    /// One page of a LIST. Pass the previous page's `metadata.continue` to get the next one.
    public func list<Object: KubernetesObject>(
        _ type: Object.Type = Object.self,
        path: String = Object.collectionPath,
        labelSelector: String? = nil,
        fieldSelector: String? = nil,
        limit: Int? = nil,
        continue continueToken: String? = nil
    ) async throws -> ObjectList<Object> {
        var query: [(String, String)] = []
        if let labelSelector, !labelSelector.isEmpty { query.append(("labelSelector", labelSelector)) }
        if let fieldSelector, !fieldSelector.isEmpty { query.append(("fieldSelector", fieldSelector)) }
        if let limit { query.append(("limit", String(limit))) }
        if let continueToken, !continueToken.isEmpty { query.append(("continue", continueToken)) }
        let response = try await send(try request(path: path, query: query), deadline: .now() + listDeadline)
        let body = try await response.body.collect(upTo: maximumListBytes)
        guard response.status == .ok else { throw Self.status(of: response.status, body: body) }
        do {
            return try JSONDecoder().decode(ObjectList<Object>.self, from: Data(body.readableBytesView))
        } catch {
            throw Status(status: "Failure", message: "the list of \(path) did not decode: \(error)", reason: "DecodeError", code: nil)
        }
    }

    /// Opens a WATCH and returns its events as they arrive. The server ends the stream after
    /// `timeoutSeconds` (a normal end: resume from the last resourceVersion); a client-side
    /// deadline 30 s later catches a server that went silent without closing the connection.
    public func watch<Object: KubernetesObject>(
        _ type: Object.Type = Object.self,
        path: String = Object.collectionPath,
        labelSelector: String? = nil,
        fieldSelector: String? = nil,
        resourceVersion: String?,
        allowWatchBookmarks: Bool = true,
        timeoutSeconds: Int? = nil,
        maximumLineLength: Int = 16 << 20
    ) async throws -> WatchStream<Object> {
        var query: [(String, String)] = [("watch", "true")]
        if let labelSelector, !labelSelector.isEmpty { query.append(("labelSelector", labelSelector)) }
        if let fieldSelector, !fieldSelector.isEmpty { query.append(("fieldSelector", fieldSelector)) }
        if let resourceVersion, !resourceVersion.isEmpty { query.append(("resourceVersion", resourceVersion)) }
        if allowWatchBookmarks { query.append(("allowWatchBookmarks", "true")) }
        if let timeoutSeconds { query.append(("timeoutSeconds", String(timeoutSeconds))) }
        let deadline: NIODeadline = .now() + .seconds(Int64(timeoutSeconds ?? 3600) + 30)
        let response = try await send(try request(path: path, query: query), deadline: deadline)
        guard response.status == .ok else {
            let body = try await response.body.collect(upTo: 1 << 20)
            throw Self.status(of: response.status, body: body)
        }
        return WatchStream(body: response.body, maximumLineLength: maximumLineLength)
    }

    /// A TLS failure says which server and what to check, not only BoringSSL's code.
    private func send(_ request: HTTPClientRequest, deadline: NIODeadline) async throws -> HTTPClientResponse {
        do {
            return try await http.execute(request, deadline: deadline)
        } catch let error where error is NIOSSLError || error is NIOSSLExtraError {
            throw TLSFailure(server: configuration.server, underlying: error)
        }
    }

    /// The API server's certificate was refused (or the handshake failed): nothing was sent.
    public struct TLSFailure: Error, CustomStringConvertible {
        public var server: String
        public var underlying: any Error

        public var description: String {
            "TLS with the API server \(server) failed, nothing was sent: \(underlying). Its certificate must be signed by the "
                + "configured certificate authority (the kubeconfig's certificate-authority, or ca.crt of the service account) "
                + "and name the address used; TLS is never skipped"
        }
    }

    private func request(path: String, query: [(String, String)]) throws -> HTTPClientRequest {
        var url = configuration.server + path
        if !query.isEmpty {
            url += "?" + query.map { Self.percentEncoded($0.0) + "=" + Self.percentEncoded($0.1) }.joined(separator: "&")
        }
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "nfq-lb")
        if let authorization = try configuration.authorizationHeader() {
            request.headers.add(name: "Authorization", value: authorization)
        }
        return request
    }

    /// The body as a `Status` when it is one, else a `Status` carrying the HTTP code.
    static func status(of code: HTTPResponseStatus, body: ByteBuffer) -> Status {
        let data = Data(body.readableBytesView)
        if var status = try? JSONDecoder().decode(Status.self, from: data), status.code != nil || status.reason != nil {
            if status.code == nil { status.code = Int(code.code) }
            return status
        }
        let text = String(decoding: data.prefix(200), as: UTF8.self)
        return Status(status: "Failure", message: "HTTP \(code.code) \(code.reasonPhrase): \(text)", reason: nil, code: Int(code.code))
    }

    /// Query encoding of every byte outside RFC 3986's unreserved set, so label selectors
    /// (`!a,b=c,d in (e)`) and continue tokens reach the server unchanged.
    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }
}
