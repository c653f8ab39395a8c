/// The two calls a `Reflector` makes, behind a protocol so the reflector's logic (paging,
/// resume, relist, diff) is tested with local data as well as against a server.
public protocol ListerWatcher<Object>: Sendable {
    associatedtype Object: KubernetesObject
    /// One page of the list.
    func list(limit: Int?, continue: String?) async throws -> ObjectList<Object>
    /// Opens a watch from `resourceVersion` and hands each event to `onEvent` until the server
    /// ends the stream (return) or it breaks (throw). `onEvent` throwing ends the watch too.
    func watch(
        resourceVersion: String?, timeoutSeconds: Int?,
        onEvent: (WatchEvent<Object>) async throws -> Void
    ) async throws
}

/// The `ListerWatcher` of one collection on a real API server, with its selectors.
public struct KubernetesListerWatcher<Object: KubernetesObject>: ListerWatcher {
    public let client: KubernetesClient
    public let path: String
    public let labelSelector: String?
    public let fieldSelector: String?

    public init(client: KubernetesClient, path: String = Object.collectionPath, labelSelector: String? = nil, fieldSelector: String? = nil) {
        self.client = client
        self.path = path
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
    }

    public func list(limit: Int?, continue continueToken: String?) async throws -> ObjectList<Object> {
        try await client.list(Object.self, path: path, labelSelector: labelSelector, fieldSelector: fieldSelector, limit: limit, continue: continueToken)
    }

    public func watch(
        resourceVersion: String?, timeoutSeconds: Int?,
        onEvent: (WatchEvent<Object>) async throws -> Void
    ) async throws {
        let stream = try await client.watch(
            Object.self, path: path, labelSelector: labelSelector, fieldSelector: fieldSelector,
            resourceVersion: resourceVersion, allowWatchBookmarks: true, timeoutSeconds: timeoutSeconds)
        for try await event in stream { try await onEvent(event) }
    }
}
