import Logging
import Metrics
import Synchronization

/// client-go's `ListAndWatch` for one kind: keeps a `Store` equal to the server's view and
/// tells a consumer every change, losing none across dropped connections and expired
/// resourceVersions.
///
/// The cycle:
/// 1. LIST in pages of `pageSize` (`limit`/`continue`); the last page's `resourceVersion` is
///    where the watch starts. The store is replaced and `.replaced(all:deleted:)` sent;
///    `hasSynced` is true from the first one on.
/// 2. WATCH from that resourceVersion with `allowWatchBookmarks=true`: each event updates the
///    store and the resourceVersion and is sent as `.upserted`/`.deleted`; a BOOKMARK only
///    advances the resourceVersion.
/// 3. When the watch ends (the server's `timeoutSeconds`) or breaks (connection cut, API
///    server restart), the watch is opened again from the last resourceVersion, without a
///    relist, after a capped exponential backoff with jitter when it failed.
/// 4. A `410 Gone` (HTTP status or ERROR event: the resourceVersion left the server's
///    history) goes back to 1. The relist's diff against the store gives the deletions that
///    happened meanwhile, in `.replaced(all:deleted:)`.
///
/// Consume `changes` from one task while `run()` runs in another; cancelling `run()` ends
/// `changes`. While the API server is away, the store and the consumer keep the last known
/// state (kube-proxy's behaviour); the metrics and the log show the staleness.
///
/// Metrics (dimension `resource`, e.g. `endpointslices`; named after client-go's reflector
/// metrics): `nfqlb_kubernetes_lists_total` (complete LISTs), `nfqlb_kubernetes_relists_total`
/// (LISTs after the first, by `reason`: `expired` for a 410, `error` for a failed list),
/// `nfqlb_kubernetes_watches_total` (WATCH requests opened), `nfqlb_kubernetes_watch_restarts_total`
/// (watches that ended, by `reason`: `timeout` normal end, `error` cut or failure, `expired`
/// 410), `nfqlb_kubernetes_last_sync_timestamp_seconds` (Unix time the view was last known
/// current: a complete list, an event or a bookmark).
public final class Reflector<Object: KubernetesObject>: Sendable {
    public struct Options: Sendable {
        /// Objects per LIST page (client-go's default is 500).
        public var pageSize: Int
        /// The server ends each watch after this long (client-go picks 5-10 min).
        public var watchTimeoutSeconds: Int
        public var backoff: Backoff
        /// A watch that ends normally this soon after it opened, having delivered nothing,
        /// counts as a failure (backoff), so a server that closes at once is not hammered.
        public var shortestNormalWatch: Duration

        public init(pageSize: Int = 500, watchTimeoutSeconds: Int = 300, backoff: Backoff = Backoff(), shortestNormalWatch: Duration = .seconds(1)) {
            self.pageSize = pageSize
            self.watchTimeoutSeconds = watchTimeoutSeconds
            self.backoff = backoff
            self.shortestNormalWatch = shortestNormalWatch
        }
    }

    /// The changes, in order; ends when `run()` returns.
    public let changes: AsyncStream<ReflectorChange<Object>>
    public let resource: String

    private let source: any ListerWatcher<Object>
    private let options: Options
    private let logger: Logger
    private let continuation: AsyncStream<ReflectorChange<Object>>.Continuation
    private let state = Mutex(State())
    private let metrics: ReflectorMetrics

    private struct State: Sendable {
        var store = Store<Object>()
        var resourceVersion: String?
        var hasSynced = false
        var lists = 0
    }

    public init(source: any ListerWatcher<Object>, resource: String, options: Options = Options(), logger: Logger) {
        self.source = source
        self.resource = resource
        self.options = options
        var logger = logger
        logger[metadataKey: "resource"] = "\(resource)"
        self.logger = logger
        (changes, continuation) = AsyncStream.makeStream(of: ReflectorChange<Object>.self, bufferingPolicy: .unbounded)
        metrics = ReflectorMetrics(resource: resource)
    }

    /// A reflector over `path` on `client`, named after the path's last component.
    public convenience init(
        client: KubernetesClient, path: String = Object.collectionPath, labelSelector: String? = nil,
        fieldSelector: String? = nil, options: Options = Options(), logger: Logger
    ) {
        let resource = path.split(separator: "/").last.map(String.init) ?? path
        self.init(
            source: KubernetesListerWatcher<Object>(client: client, path: path, labelSelector: labelSelector, fieldSelector: fieldSelector),
            resource: resource, options: options, logger: logger)
    }

    /// True once the first complete LIST is in the store (and sent as `.replaced`).
    public var hasSynced: Bool { state.withLock { $0.hasSynced } }
    /// The resourceVersion a resumed watch would start from.
    public var resourceVersion: String? { state.withLock { $0.resourceVersion } }
    /// Complete LISTs so far (1 after the first sync; more after each relist).
    public var listCount: Int { state.withLock { $0.lists } }
    /// The store's objects now.
    public var objects: [String: Object] { state.withLock { $0.store.objects } }

    /// Lists and watches until the task is cancelled.
    public func run() async {
        defer { continuation.finish() }
        var backoff = options.backoff
        var needsList = true
        var relistReason = "initial"
        while !Task.isCancelled {
            do {
                if needsList {
                    try await list(reason: relistReason)
                    needsList = false
                    backoff.reset()
                }
                let delivered = try await watch()
                metrics.watchRestarts(reason: "timeout").increment()
                if delivered { backoff.reset() }
            } catch let status as Status where status.isGone && !needsList {
                if Task.isCancelled { break }
                logger.info("watch resourceVersion expired (410): listing again", metadata: ["message": "\(status.message ?? "")"])
                metrics.watchRestarts(reason: "expired").increment()
                needsList = true
                relistReason = "expired"
            } catch {
                if Task.isCancelled { break }
                let delay = backoff.next()
                if needsList {
                    relistReason = "error"
                    logger.warning("list failed; retrying, keeping the last known state", metadata: ["error": "\(error)", "retryIn": "\(delay)"])
                } else {
                    metrics.watchRestarts(reason: "error").increment()
                    logger.warning("watch failed; resuming from the last resourceVersion", metadata: ["error": "\(error)", "retryIn": "\(delay)"])
                }
                do { try await Task.sleep(for: delay) } catch { break }
            }
        }
    }

    private func list(reason: String) async throws {
        var items: [Object] = []
        var continueToken: String?
        var resourceVersion: String?
        repeat {
            try Task.checkCancellation()
            let page = try await source.list(limit: options.pageSize, continue: continueToken)
            items.append(contentsOf: page.items)
            continueToken = page.metadata.continue.flatMap { $0.isEmpty ? nil : $0 }
            resourceVersion = page.metadata.resourceVersion
        } while continueToken != nil
        let (deleted, first) = state.withLock { state in
            let deleted = state.store.replace(with: items)
            state.resourceVersion = resourceVersion
            let first = !state.hasSynced
            state.hasSynced = true
            state.lists += 1
            return (deleted, first)
        }
        metrics.lists.increment()
        if !first { metrics.relists(reason: reason).increment() }
        metrics.markSynced()
        logger.debug("listed", metadata: ["objects": "\(items.count)", "deleted": "\(deleted.count)", "resourceVersion": "\(resourceVersion ?? "")"])
        continuation.yield(.replaced(all: items, deleted: deleted))
    }

    /// One watch; returns whether it delivered anything. Throws the `Status` of an ERROR event.
    private func watch() async throws -> Bool {
        let from = state.withLock { $0.resourceVersion }
        let opened = ContinuousClock.now
        var delivered = false
        metrics.watches.increment()
        try await source.watch(resourceVersion: from, timeoutSeconds: options.watchTimeoutSeconds) { event in
            delivered = true
            switch event {
            case .added(let object), .modified(let object):
                state.withLock { state in
                    state.store.upsert(object)
                    if let rv = object.metadata.resourceVersion { state.resourceVersion = rv }
                }
                continuation.yield(.upserted(object))
            case .deleted(let object):
                state.withLock { state in
                    state.store.remove(object)
                    if let rv = object.metadata.resourceVersion { state.resourceVersion = rv }
                }
                continuation.yield(.deleted(object))
            case .bookmark(let rv, _):
                if let rv, !rv.isEmpty { state.withLock { $0.resourceVersion = rv } }
            case .error(let status):
                throw status
            }
            metrics.markSynced()
        }
        if !delivered, ContinuousClock.now - opened < options.shortestNormalWatch {
            throw ShortWatch(resourceVersion: from)
        }
        return delivered
    }

    /// A watch the server ended at once without an event: treated as a failure.
    struct ShortWatch: Error, CustomStringConvertible {
        var resourceVersion: String?
        var description: String { "the watch from resourceVersion \(resourceVersion ?? "(none)") ended at once without an event" }
    }
}
