#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// Reloads the config on SIGHUP and whenever the file changes.
///
/// The file is watched by polling its identity (inode, size, modification time) rather than
/// with inotify: that also sees the config swapped by rename or by a symlink flip (a
/// Kubernetes ConfigMap update), and costs one `stat` per interval.
public struct ConfigReloader: Service {
    let daemon: NFQLBDaemon
    let interval: Duration

    public init(daemon: NFQLBDaemon, interval: Duration = .milliseconds(500)) {
        self.daemon = daemon
        self.interval = interval
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
                var last = ConfigFiles(daemon.configPath, includes: daemon.config.includes)
                while !Task.isCancelled, !Task.isShuttingDownGracefully {
                    try? await Task.sleep(for: interval)
                    let now = ConfigFiles(daemon.configPath, includes: daemon.config.includes)
                    if now != last {
                        last = now
                        if now.mainExists { daemon.reload(reason: "config file changed") }
                    }
                }
            }
            await group.waitForAll()
        }
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
}

/// What tells one version of a file from the next without reading it.
struct FileIdentity: Equatable, Sendable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modifiedSeconds: Int
    var modifiedNanoseconds: Int

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
