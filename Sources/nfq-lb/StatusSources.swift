import Balancer
import Foundation
import NFQLB
import PacketRewrite

/// Reads the daemon's `/status` JSON over plain HTTP/1.1; the URL's host may be a name
/// (`localhost`), an IPv4 address or a bracketed IPv6 address.
enum StatusFetcher {
    static func fetch(_ url: String) -> StatusReport? {
        guard let parsed = URL(string: url), var host = parsed.host, !host.isEmpty else { return nil }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let port = parsed.port ?? 80
        guard (1...65535).contains(port) else { return nil }
        let path = (parsed.path.isEmpty ? "/status" : parsed.path) + (parsed.query.map { "?" + $0 } ?? "")
        guard let body = try? TinyHTTPClient.get(host: host, port: UInt16(port), path: path) else { return nil }
        return try? JSONDecoder().decode(StatusReport.self, from: Data(body.utf8))
    }
}

/// Established and other conntrack entries per endpoint, from our marked entries: the same
/// split as ipvsadm's ActiveConn / InActConn.
struct ConnectionCounts {
    /// Keyed by "proto address:port".
    var counts: [String: (active: Int, inactive: Int)] = [:]

    /// Nil, with the reason, when conntrack cannot be read (no CAP_NET_ADMIN): the caller says
    /// so instead of showing zeros.
    static func read(marks: MarkLayout) -> Result<ConnectionCounts, ConnectionCountsUnavailable> {
        var result = ConnectionCounts()
        let entries: [ConntrackEntry]
        do {
            let client = try ConntrackClient(batchCapacity: 1)
            entries = try StaleEntryCleaner(marks: marks).ourEntries(conntrack: client)
        } catch {
            return .failure(ConnectionCountsUnavailable(reason: "\(error)"))
        }
        for entry in entries {
            let key = "\(entry.original.proto) \(entry.backendAddress):\(entry.backendPort)"
            var count = result.counts[key] ?? (0, 0)
            let established = entry.original.proto == .tcp ? entry.tcpState == .established : true
            if established { count.active += 1 } else { count.inactive += 1 }
            result.counts[key] = count
        }
        return .success(result)
    }
}

/// Why the connection counts are not shown.
struct ConnectionCountsUnavailable: Error, CustomStringConvertible {
    var reason: String
    var description: String {
        "cannot read conntrack (\(reason)); ActiveConn and InActConn are unknown: run as root or with CAP_NET_ADMIN"
    }
}

