#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// Reloads the config on SIGHUP and whenever the file changes, never from a file caught in
/// the middle of a write.
///
/// The files are watched by polling their identity (device, inode, size, modification time)
/// rather than with inotify: that also sees the config swapped by rename or by a symlink flip
/// (a Kubernetes ConfigMap update), and costs one `stat` per file per interval.
///
/// The rule for a change seen by polling (SIGHUP reloads at once: the operator asked):
/// - a file *replaced* (a new inode at its path: a rename, a symlink flip, a new or removed
///   file) is applied once its identity is the same on two polls in a row, one `interval`
///   apart: a rename puts a finished file in place;
/// - a file *written in place* (same inode, new size or time: `cp`, `>`, an editor that does
///   not rename) is applied only once nothing changed for `inPlaceSettle`: a writer that
///   pauses for less than that in the middle of its write is never read half-way.
///   Until then the half file is not even parsed, so it is not reported as a failed reload.
public struct ConfigReloader: Service {
    let daemon: NFQLBDaemon
    let interval: Duration
    let inPlaceSettle: Duration

    public init(daemon: NFQLBDaemon, interval: Duration = .milliseconds(250), inPlaceSettle: Duration = .seconds(2)) {
        self.daemon = daemon
        self.interval = interval
        self.inPlaceSettle = inPlaceSettle
    }

    public func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in signals.cancelOnGracefulShutdown() {
                    daemon.reload(reason: "SIGHUP")
                }
            }
            group.addTask {
                var watch = ConfigChangeWatch(current: ConfigFiles(daemon.configPath, includes: daemon.config.includes),
                                              inPlacePolls: Int((inPlaceSettle / interval).rounded(.up)))
                while !Task.isCancelled, !Task.isShuttingDownGracefully {
                    try? await Task.sleep(for: interval)
                    let now = ConfigFiles(daemon.configPath, includes: daemon.config.includes)
                    if watch.poll(now), now.mainExists { daemon.reload(reason: "config file changed") }
                }
            }
            await group.waitForAll()
        }
    }
}

/// The reload rule of `ConfigReloader` as a state machine over successive polls, so that it
/// can be tested without a clock.
struct ConfigChangeWatch: Equatable {
    /// What the last reload (or the start) saw.
    private(set) var current: ConfigFiles
    /// A change seen but not applied yet, and how many polls in a row it has stayed the same.
    private(set) var candidate: ConfigFiles?
    private(set) var stablePolls = 0
    /// How many unchanged polls a change written in place needs (a replaced file needs one).
    let inPlacePolls: Int

    init(current: ConfigFiles, inPlacePolls: Int) {
        self.current = current
        self.inPlacePolls = max(1, inPlacePolls)
    }

    /// One poll's view of the files; true when it is time to reload them.
    mutating func poll(_ now: ConfigFiles) -> Bool {
        if now == current {
            candidate = nil
            return false
        }
        guard now == candidate else {
            candidate = now
            stablePolls = 0
            return false
        }
        stablePolls += 1
        guard stablePolls >= (current.writtenInPlace(becoming: now) ? inPlacePolls : 1) else { return false }
        current = now
        candidate = nil
        return true
    }
}

/// The identities of the config file, of every included file and directory, and of every
/// `*.yaml` in the included directories: any change among them is a reason to reload.
struct ConfigFiles: Equatable {
    var identities: [String: FileIdentity?]
    var mainExists: Bool

    init(_ main: String, includes: [String]) {
        var identities: [String: FileIdentity?] = [main: FileIdentity(path: main)]
        for path in includes {
            identities[path] = FileIdentity(path: path)
            if let names = try? FileManager.default.contentsOfDirectory(atPath: path) {
                for name in names where name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
                    let file = (path as NSString).appendingPathComponent(name)
                    identities[file] = FileIdentity(path: file)
                }
            }
        }
        self.identities = identities
        mainExists = identities[main] != nil && identities[main]! != nil
    }

    init(identities: [String: FileIdentity?], main: String) {
        self.identities = identities
        mainExists = identities[main] != nil && identities[main]! != nil
    }

    /// Whether some file of `next` is the same inode as here with other contents: written in
    /// place, so possibly still being written.
    func writtenInPlace(becoming next: ConfigFiles) -> Bool {
        next.identities.contains { path, identity in
            guard let identity, let old = identities[path] ?? nil else { return false }
            return old.device == identity.device && old.inode == identity.inode && old != identity
        }
    }
}

/// What tells one version of a file from the next without reading it.
struct FileIdentity: Equatable, Sendable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modifiedSeconds: Int
    var modifiedNanoseconds: Int

    init(device: UInt64, inode: UInt64, size: Int64, modifiedSeconds: Int, modifiedNanoseconds: Int) {
        self.device = device
        self.inode = inode
        self.size = size
        self.modifiedSeconds = modifiedSeconds
        self.modifiedNanoseconds = modifiedNanoseconds
    }

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        modifiedSeconds = info.st_mtim.tv_sec
        modifiedNanoseconds = info.st_mtim.tv_nsec
    }
}
