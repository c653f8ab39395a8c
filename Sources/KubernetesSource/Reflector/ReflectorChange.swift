/// What a `Reflector` tells its consumer, in the order it learned it.
///
/// - `replaced(all:deleted:)` after each complete LIST (the first one, and each relist after a
///   410): `all` is the whole current set, to be taken as the truth (drop anything not in it);
///   `deleted` names the objects the consumer had from this reflector that the list no longer
///   has (deletions missed while the watch was down). The first one has `deleted` empty.
/// - `upserted` for ADDED and MODIFIED (the consumer need not tell them apart), `deleted` for
///   DELETED (the object as it was last, with its final state).
public enum ReflectorChange<Object: KubernetesObject>: Sendable {
    case replaced(all: [Object], deleted: [Object])
    case upserted(Object)
    case deleted(Object)
}
