import ArgumentParser
import Balancer
import Foundation
import NFQLB
import PacketRewrite

/// `nfq-lb status`: services, endpoints, weights, health and connections per endpoint, like
/// `ipvsadm -Ln --stats`. The daemon's view comes from its `/status` endpoint; the connection
/// counts come from the kernel (our marked conntrack entries), so they are true even for
/// flows older than the daemon.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show services, endpoints, weights, health and active connections per endpoint.")

    @Option(name: .shortAndLong, help: "The daemon's config file (for its metrics address, and as a fallback view).")
    var config: String?

    @Option(help: "The daemon's status URL (default: from the config's metrics settings).")
    var url: String?

    @Flag(help: "Print the daemon's raw JSON instead of the table.")
    var json = false

    @Option(help: "Show only the service of this name.")
    var service: String?

    func run() throws {
        var settings: NFQLBConfig?
        if let config {
            do throws(ConfigError) {
                settings = try ConfigLoader().load(path: config)
            } catch {
                for issue in error.issues { printError(issue.description) }
                throw ExitCode(1)
            }
        }
        let marks = settings?.marks ?? .default
        var address = url ?? settings.map { "http://\(Self.urlHost($0.metrics.address)):\($0.metrics.port)/status" } ?? "http://127.0.0.1:9464/status"
        if let service, let encoded = service.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed.subtracting(["&", "="])) {
            address += "?service=\(encoded)"
        }
        let report = StatusFetcher.fetch(address)
        if json {
            guard let report else {
                printError("nfq-lb status: no daemon answered at \(address)")
                throw ExitCode(1)
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        let connections: ConnectionCounts?
        switch ConnectionCounts.read(marks: marks) {
        case .success(let counts): connections = counts
        case .failure(let unavailable):
            connections = nil
            print("(\(unavailable))")
        }
        guard var view = report ?? settings.map(StatusReport.fromConfig) else {
            printError("nfq-lb status: no daemon answered at \(address) and no --config was given")
            throw ExitCode(1)
        }
        if report == nil {
            print("(daemon not reachable at \(address): showing the config file; health unknown)")
            if let service { view.services.removeAll { $0.name != service } }
        }
        print(StatusTable.render(view, connections: connections))
    }

    /// A metrics address as a URL's host: an IPv6 address in brackets; `::` and `0.0.0.0`
    /// (every address) as loopback, the one the daemon surely answers on.
    static func urlHost(_ address: String) -> String {
        switch address {
        case "0.0.0.0": "127.0.0.1"
        case "::": "[::1]"
        default: address.contains(":") ? "[\(address)]" : address
        }
    }
}
