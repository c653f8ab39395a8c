import NFQLB

/// Renders status like `ipvsadm -Ln`: a service line, then one line per endpoint.
enum StatusTable {
    /// `connections` nil: conntrack could not be read, and the counts show as `?`, never 0.
    static func render(_ report: StatusReport, connections: ConnectionCounts?) -> String {
        var lines = ["nfq-lb: tcpMode \(report.tcpMode), queues \(report.queues), mark mask \(report.marks)"]
        let header = ["Prot", "LocalAddress:Port", "Strategy", "", "RemoteAddress:Port", "Weight", "State", "Health", "ActiveConn", "InActConn", "NewFlows"]
        var rows: [[String]] = [header]
        for service in report.services {
            var strategy = service.strategy
            if let affinity = service.sessionAffinitySeconds { strategy += " affinity=\(affinity)s" }
            if service.masquerade { strategy += " masq" }
            if service.answersPing { strategy += " ping" }
            if service.internalTrafficPolicyLocal == true { strategy += " itp-local" }
            if service.topology != nil { strategy += " topology" }
            if let source = service.source { strategy += "  (\(source))" }
            // A node port answers on every node address: shown as `*:PORT nodePort`.
            let address = service.kind == "nodePort" ? "*:\(service.port)" : "\(service.vip):\(service.port)"
            if let kind = service.kind { strategy = "\(kind) " + strategy }
            rows.append([service.protocol.uppercased(), address, strategy, "", "", "", "", "", "", "", ""])
            for endpoint in service.endpoints {
                let key = "\(endpoint.address):\(endpoint.port)"
                let counts = connections.map { $0.counts["\(service.protocol) \(key)"] ?? (0, 0) }
                var state = endpoint.terminating ? "terminating" : (endpoint.ready ? "ready" : "not-ready")
                if !endpoint.takesNewFlows { state += ",no-new" }
                let health = endpoint.healthy.map { $0 ? "healthy" : "UNHEALTHY" } ?? "-"
                rows.append(["", "", "", "->", key, String(endpoint.weight), state, health,
                             counts.map { String($0.active) } ?? "?", counts.map { String($0.inactive) } ?? "?", String(endpoint.newFlows)])
            }
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for row in rows {
            lines.append(row.indices.map { row[$0].padding(toLength: widths[$0]) }.joined(separator: "  ").trimmingTrailingSpaces)
        }
        return lines.joined(separator: "\n")
    }
}

extension String {
    fileprivate func padding(toLength length: Int) -> String {
        count >= length ? self : self + String(repeating: " ", count: length - count)
    }

    fileprivate var trimmingTrailingSpaces: String {
        var copy = self
        while copy.last == " " { copy.removeLast() }
        return copy
    }
}
