/// A LIST response (`ServiceList`, `EndpointSliceList`, ...): its items and the list's
/// `resourceVersion` (where the watch starts) and `continue` token (the next page).
public struct ObjectList<Object: KubernetesObject>: Decodable, Sendable {
    public struct ListMeta: Codable, Sendable, Equatable {
        public var resourceVersion: String?
        public var `continue`: String?
        public var remainingItemCount: Int?

        public init(resourceVersion: String? = nil, continue continueToken: String? = nil, remainingItemCount: Int? = nil) {
            self.resourceVersion = resourceVersion
            self.continue = continueToken
            self.remainingItemCount = remainingItemCount
        }
    }

    public var metadata: ListMeta
    /// `null` on the wire when the list is empty on some servers: decoded as empty.
    public var items: [Object]

    public init(metadata: ListMeta, items: [Object]) {
        self.metadata = metadata
        self.items = items
    }

    enum CodingKeys: String, CodingKey { case metadata, items }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        metadata = try container.decodeIfPresent(ListMeta.self, forKey: .metadata) ?? ListMeta()
        items = try container.decodeIfPresent([Object].self, forKey: .items) ?? []
    }
}
