import Foundation
import Testing
@testable import NFQLB

/// The reload rule: a change seen by polling is applied only once it has settled, so that a
/// config file caught in the middle of a write is never parsed.
@Suite struct ConfigChangeWatchTests {
    /// One poll (a function, so that `#expect` sees a value, not a mutation).
    func poll(_ watch: inout ConfigChangeWatch, _ files: ConfigFiles) -> Bool { watch.poll(files) }

    static let main = "/etc/nfq-lb/nfq-lb.yaml"

    static func files(inode: UInt64, size: Int64, time: Int) -> ConfigFiles {
        ConfigFiles(identities: [main: FileIdentity(device: 1, inode: inode, size: size, modifiedSeconds: time, modifiedNanoseconds: 0)],
                    main: main)
    }

    @Test func aFileReplacedByRenameIsReloadedOnceTwoPollsInARowSeeIt() {
        var watch = ConfigChangeWatch(current: Self.files(inode: 1, size: 100, time: 10), inPlacePolls: 8)
        #expect(!poll(&watch, Self.files(inode: 1, size: 100, time: 10)))
        #expect(!poll(&watch, Self.files(inode: 2, size: 120, time: 11)))
        #expect(poll(&watch, Self.files(inode: 2, size: 120, time: 11)))
        #expect(!poll(&watch, Self.files(inode: 2, size: 120, time: 11)), "the same version is reloaded once")
    }

    @Test func aFileWrittenInPlaceIsReloadedOnlyAfterItStayedUnchangedForTheWholeSettleTime() {
        var watch = ConfigChangeWatch(current: Self.files(inode: 1, size: 100, time: 10), inPlacePolls: 4)
        let half = Self.files(inode: 1, size: 50, time: 11)
        #expect(!poll(&watch, half))
        for _ in 0..<3 { #expect(!poll(&watch, half), "a half-written file was reloaded") }
        let whole = Self.files(inode: 1, size: 130, time: 12)
        #expect(!poll(&watch, whole))
        for _ in 0..<3 { #expect(!poll(&watch, whole)) }
        #expect(poll(&watch, whole))
    }

    @Test func aChangeUndoneBeforeItSettledIsNotReloaded() {
        let original = Self.files(inode: 1, size: 100, time: 10)
        var watch = ConfigChangeWatch(current: original, inPlacePolls: 2)
        #expect(!poll(&watch, Self.files(inode: 3, size: 10, time: 11)))
        #expect(!poll(&watch, original))
        #expect(!poll(&watch, original))
    }

    @Test("A real file written in two halves, with a pause four poll intervals long, is reloaded once, whole")
    func aRealFileWrittenInTwoHalvesIsNeverReloadedHalfWritten() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("nfqlb-watch-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("nfq-lb.yaml").path
        try "old: version\n".write(toFile: path, atomically: false, encoding: .utf8)
        let interval = 0.05
        var watch = ConfigChangeWatch(current: ConfigFiles(path, includes: []), inPlacePolls: 10)
        var reloads: [String] = []
        func poll(_ times: Int) {
            for _ in 0..<times {
                Thread.sleep(forTimeInterval: interval)
                if watch.poll(ConfigFiles(path, includes: [])) { reloads.append((try? String(contentsOfFile: path, encoding: .utf8)) ?? "") }
            }
        }
        let first = String(repeating: "a: 1\n", count: 200), second = String(repeating: "b: 2\n", count: 200)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: Data(first.utf8))
        poll(4)
        try handle.write(contentsOf: Data(second.utf8))
        try handle.close()
        poll(20)
        #expect(reloads == [first + second], "reloads: \(reloads.map { "\($0.count) bytes" })")
    }
}
