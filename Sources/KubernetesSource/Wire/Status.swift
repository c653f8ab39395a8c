/// `meta/v1 Status`: what the API server sends for an error, as an HTTP body or as the object
/// of an `ERROR` watch event. Code 410 (`reason: Expired` or `Gone`) means "relist".
public struct Status: Codable, Sendable, Equatable, Error {
    public var status: String?
    public var message: String?
    public var reason: String?
    public var code: Int?

    public init(status: String? = nil, message: String? = nil, reason: String? = nil, code: Int? = nil) {
        self.status = status
        self.message = message
        self.reason = reason
        self.code = code
    }

    /// The resourceVersion asked for is older than the server's history: list again.
    public var isGone: Bool { code == 410 }
}
