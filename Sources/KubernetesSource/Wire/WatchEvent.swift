import Foundation

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

/// A decoded watch line: the object of the watched kind, a bookmark's resourceVersion, or the
/// `Status` of an `ERROR` event.
///
/// A bookmark is not decoded as `Object`: the server sends the kind with its required fields
/// empty or null (`"endpoints": null`, `"addressType": ""`), which a model with non-optional
/// fields would reject, and only its `metadata` means anything.
public enum WatchEvent<Object: KubernetesObject>: Sendable {
    case added(Object)
    case modified(Object)
    case deleted(Object)
    /// `resourceVersion` to resume from; `annotations` holds `k8s.io/initial-events-end` on
    /// the bookmark that ends a `sendInitialEvents` stream.
    case bookmark(resourceVersion: String?, annotations: [String: String])
    case error(Status)

    /// A line that is not a watch event of this kind.
    public struct DecodingError: Error, CustomStringConvertible {
        public var description: String
    }

    private struct Envelope: Decodable { var type: String }
    private struct Payload<Content: Decodable>: Decodable { var object: Content }
    private struct MetadataOnly: Decodable { var metadata: ObjectMeta? }

    /// Decodes one line (without its newline). Two passes over the line: the type first, then
    /// the object as the type says; this is the control path, and it keeps each model simple.
    public static func decode(line: some Collection<UInt8>, decoder: JSONDecoder = JSONDecoder()) throws -> WatchEvent {
        let data = Data(line)
        let type: String
        do {
            type = try decoder.decode(Envelope.self, from: data).type
        } catch {
            throw DecodingError(description: "watch line is not an event: \(error); line: \(excerpt(data))")
        }
        do {
            switch WatchEventType(rawValue: type) {
            case .added: return .added(try decoder.decode(Payload<Object>.self, from: data).object)
            case .modified: return .modified(try decoder.decode(Payload<Object>.self, from: data).object)
            case .deleted: return .deleted(try decoder.decode(Payload<Object>.self, from: data).object)
            case .bookmark:
                let meta = try decoder.decode(Payload<MetadataOnly>.self, from: data).object.metadata
                return .bookmark(resourceVersion: meta?.resourceVersion, annotations: meta?.annotations ?? [:])
            case .error: return .error(try decoder.decode(Payload<Status>.self, from: data).object)
            case nil: throw DecodingError(description: "unknown watch event type \(type)")
            }
        } catch let error as DecodingError {
            throw error
        } catch {
            throw DecodingError(description: "\(type) event of \(Object.self) did not decode: \(error); line: \(excerpt(data))")
        }
    }

    private static func excerpt(_ data: Data) -> String {
        String(decoding: data.prefix(200), as: UTF8.self)
    }
}
