/// The part of `metadata` that nfq-lb reads from every object (`meta/v1 ObjectMeta`).
///
/// Only the fields the source uses are decoded; everything else on the wire is ignored, so a
/// newer API server's additions never break decoding.
public struct ObjectMeta: Codable, Sendable, Equatable {
    public var name: String?
    public var namespace: String?
    public var uid: String?
    public var resourceVersion: String?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    /// Set once a graceful deletion has started.
    public var deletionTimestamp: String?

    public init(name: String? = nil, namespace: String? = nil, uid: String? = nil, resourceVersion: String? = nil,
                labels: [String: String]? = nil, annotations: [String: String]? = nil, deletionTimestamp: String? = nil) {
        self.name = name
        self.namespace = namespace
        self.uid = uid
        self.resourceVersion = resourceVersion
        self.labels = labels
        self.annotations = annotations
        self.deletionTimestamp = deletionTimestamp
    }
}
