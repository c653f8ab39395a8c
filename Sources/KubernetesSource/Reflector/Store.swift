/// The reflector's cache: the objects of one kind by `namespace/name` (client-go's Store).
///
/// `replace(with:)` is what makes a relist lose nothing: objects that were deleted while the
/// watch was down never arrive as DELETED events, so they are found here, as the keys the new
/// list no longer has (cilium/cilium#48050 is the bug of a cache that skipped this).
public struct Store<Object: KubernetesObject>: Sendable {
    public private(set) var objects: [String: Object] = [:]

    public init() {}

    public var count: Int { objects.count }
    public subscript(key: String) -> Object? { objects[key] }

    public mutating func upsert(_ object: Object) { objects[object.storeKey] = object }

    @discardableResult
    public mutating func remove(_ object: Object) -> Object? { objects.removeValue(forKey: object.storeKey) }

    /// Replaces everything with a fresh list and returns what it deleted: the objects whose
    /// key is gone, and those whose key came back with another `uid` (deleted and created
    /// again during the gap: the old one is deleted, the new one is in `items`).
    public mutating func replace(with items: [Object]) -> [Object] {
        var fresh: [String: Object] = [:]
        fresh.reserveCapacity(items.count)
        for item in items { fresh[item.storeKey] = item }
        var deleted: [Object] = []
        for (key, old) in objects {
            guard let new = fresh[key] else { deleted.append(old); continue }
            if let oldUID = old.metadata.uid, let newUID = new.metadata.uid, oldUID != newUID { deleted.append(old) }
        }
        objects = fresh
        return deleted.sorted { $0.storeKey < $1.storeKey }
    }
}
