import Balancer
import Foundation
import Synchronization
import Yams

/// The parsed services of included files, kept while a file's identity (inode, size,
/// modification time) and the service ranges stay the same.
///
/// This is what makes a reload after one endpoint change cheap at 10,000 services: the
/// services live in a `services.d` of small files, and only the changed file is parsed again.
final class IncludeCache: Sendable {
    struct Parsed: Sendable {
        var services: [ServiceConfig]
        var issues: [ConfigIssue]
    }

    private struct Entry {
        var identity: FileIdentity
        var cidrs: [IPPrefix]
        var parsed: Parsed
    }

    private let entries = Mutex<[String: Entry]>([:])

    func services(of path: String, cidrs: [IPPrefix], registry: StrategyRegistry) -> Parsed {
        guard let identity = FileIdentity(path: path) else {
            return Parsed(services: [], issues: [ConfigIssue(file: path, line: 0, field: "", message: "cannot read")])
        }
        if let entry = entries.withLock({ $0[path] }), entry.identity == identity, entry.cidrs == cidrs {
            return entry.parsed
        }
        let parsed = Self.parse(path, cidrs: cidrs, registry: registry)
        entries.withLock { $0[path] = Entry(identity: identity, cidrs: cidrs, parsed: parsed) }
        return parsed
    }

    /// `parse` of every path, on every core, in the order of `paths`. Files are independent,
    /// and at start 100 files of 1,000 services each would otherwise be parsed one after the
    /// other while the other cores wait.
    static func parseAll(_ paths: [String], _ parse: @Sendable (String) -> Parsed) -> [Parsed] {
        guard paths.count > 1 else { return paths.map(parse) }
        let results = UnsafeMutableBufferPointer<Parsed>.allocate(capacity: paths.count)
        defer { results.deallocate() }
        // Each iteration initializes its own slot, and the buffer is read only after all have.
        nonisolated(unsafe) let slots = results
        DispatchQueue.concurrentPerform(iterations: paths.count) { i in
            (slots.baseAddress! + i).initialize(to: parse(paths[i]))
        }
        return (0..<paths.count).map { (results.baseAddress! + $0).move() }
    }

    /// An included file: a mapping with one key, `services`.
    static func parse(_ path: String, cidrs: [IPPrefix], registry: StrategyRegistry) -> Parsed {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            return Parsed(services: [], issues: [ConfigIssue(file: path, line: 0, field: "", message: "cannot read: \(error.localizedDescription)")])
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text, .basic)
        } catch let error as YamlError {
            return Parsed(services: [], issues: [ConfigLoader.issue(for: error, file: path)])
        } catch {
            return Parsed(services: [], issues: [ConfigIssue(file: path, line: 0, field: "", message: "not YAML: \(error)")])
        }
        guard let root else { return Parsed(services: [], issues: []) }  // an empty file adds nothing
        var reader = ConfigReader(file: path, registry: registry)
        guard let top = reader.mapping(root, "", keys: ["services"]) else { return Parsed(services: [], issues: reader.issues) }
        let services = reader.readServices(top["services"], cidrs: cidrs)
        return Parsed(services: services, issues: reader.issues)
    }
}
