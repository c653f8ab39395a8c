/// Deletes the conntrack entries of one stale-entry target: the seam between
/// `StaleEntryRetrier` (what to delete, when to try again) and the kernel.
public protocol StaleEntryDeleting: Sendable {
    /// Deletes every matching entry; returns how many went. Throws when the kernel could not
    /// be asked or refused (the target is then tried again later).
    func deleteEntries(of target: StaleEntryCleaner.Target) throws -> Int
}
