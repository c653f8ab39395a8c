/// One line of a WATCH stream: `{"type": "ADDED", "object": {...}}`.
///
/// An `ERROR` event carries a `Status` (e.g. code 410 `Expired` for a too-old resourceVersion,
/// sent as HTTP 200 plus this event); a `BOOKMARK` carries an object of the watched kind that
/// holds only `metadata.resourceVersion`. The object is therefore decoded by the type, in
/// `WatchEvent.decode(line:)`, not here.
public enum WatchEventType: String, Codable, Sendable {
    case added = "ADDED"
    case modified = "MODIFIED"
    case deleted = "DELETED"
    case bookmark = "BOOKMARK"
    case error = "ERROR"
}
