import Balancer
import Foundation
import NFQLB
import PacketRewrite

/// Reads the daemon's `/status` JSON over plain HTTP/1.1 on loopback.
enum StatusFetcher {
    static func fetch(_ url: String) -> StatusReport? {
        guard let parsed = URL(string: url), let host = parsed.host, let port = parsed.port else { return nil }
        guard let body = try? TinyHTTPClient.get(host: host, port: UInt16(port), path: (parsed.path.isEmpty ? "/status" : parsed.path) + (parsed.query.map { "?" + $0 } ?? "")) else { return nil }
        return try? JSONDecoder().decode(StatusReport.self, from: Data(body.utf8))
    }
}

/// Established and other conntrack entries per endpoint, from our marked entries: the same
/// split as ipvsadm's ActiveConn / InActConn.
struct ConnectionCounts {
    /// Keyed by "proto address:port".
    var counts: [String: (active: Int, inactive: Int)] = [:]

    static func read(marks: MarkLayout) -> ConnectionCounts {
        var result = ConnectionCounts()
        guard let client = try? ConntrackClient(batchCapacity: 1),
              let entries = try? StaleEntryCleaner(marks: marks).ourEntries(conntrack: client) else { return result }
        for entry in entries {
            let key = "\(entry.original.proto) \(entry.backendAddress):\(entry.backendPort)"
            var count = result.counts[key] ?? (0, 0)
            let established = entry.original.proto == .tcp ? entry.tcpState == .established : true
            if established { count.active += 1 } else { count.inactive += 1 }
            result.counts[key] = count
        }
        return result
    }
}

