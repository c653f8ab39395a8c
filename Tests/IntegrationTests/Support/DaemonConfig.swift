import NFQLB

/// One endpoint line of a test config.
struct EndpointSpec: Sendable {
    var address: String
    var port: Int
    var weight: Int?
    var ready: Bool?
    var serving: Bool?
    var terminating: Bool?
    /// The endpoint's node (`node:`), for externalTrafficPolicy Local.
    var node: String?
    /// More fields of the endpoint, as written (`zone: zone-a`).
    var extraFields: [String] = []

    /// The endpoint of `pod` (its cluster address) on `port`.
    static func pod(_ pod: String, port: Int, weight: Int? = nil, ready: Bool? = nil) -> EndpointSpec {
        EndpointSpec(address: Cluster.ip(pod), port: port, weight: weight, ready: ready)
    }

    /// The endpoint of `pod` at its IPv6 address on `port`.
    static func pod6(_ pod: String, port: Int, ready: Bool? = nil) -> EndpointSpec {
        EndpointSpec(address: Cluster.ip6(pod), port: port, ready: ready)
    }
}

struct HealthCheckSpec: Sendable {
    var intervalMilliseconds = 200
    var timeoutMilliseconds = 100
    var rise = 2
    var fall = 2
}

/// One service of a test config.
struct ServiceSpec: Sendable {
    var name: String
    var vip: String
    var port: Int
    var proto = "tcp"
    var strategy = "round-robin"
    var masquerade: Bool?
    var answerPing: Bool?
    var endpointRemoval: String?
    var healthCheck: HealthCheckSpec?
    /// More field lines of the service, as written (`nodePort: 30080`).
    var extraFields: [String] = []
    var endpoints: [EndpointSpec]

    /// nginx (:8080, answers its pod name) in each of `pods`, behind `vip`:80.
    static func web(_ name: String = "web", vip: String = "10.96.0.10", port: Int = 80, strategy: String = "round-robin",
                    pods: [String], weights: [Int]? = nil) -> ServiceSpec {
        ServiceSpec(name: name, vip: vip, port: port, strategy: strategy,
                    endpoints: pods.enumerated().map { i, pod in .pod(pod, port: 8080, weight: weights?[i]) })
    }

    /// dnsmasq (:53) in each of `pods`, behind `vip`:53/udp.
    static func dns(_ name: String = "dns", vip: String = "10.96.0.53", pods: [String]) -> ServiceSpec {
        ServiceSpec(name: name, vip: vip, port: 53, proto: "udp", endpoints: pods.map { .pod($0, port: 53) })
    }

    /// The UDP echo (:9000) in each of `pods`, behind `vip`:9000/udp.
    static func udpEcho(_ name: String = "udp-echo", vip: String = "10.96.0.90", pods: [String]) -> ServiceSpec {
        ServiceSpec(name: name, vip: vip, port: 9000, proto: "udp", endpoints: pods.map { .pod($0, port: 9000) })
    }

    /// The tests' TCP echo (:9100) in each of `pods`, behind `vip`:9100.
    static func tcpEcho(_ name: String = "tcp-echo", vip: String = "10.96.0.91", pods: [String]) -> ServiceSpec {
        ServiceSpec(name: name, vip: vip, port: Cluster.tcpEchoPort, endpoints: pods.map { .pod($0, port: Cluster.tcpEchoPort) })
    }
}

/// A daemon config as the tests write it: YAML in the format of ConfigLoader.swift.
struct DaemonConfig: Sendable {
    var mode: NFQLBConfig.TCPMode = .conntrack
    var bypass = true
    var metricsPort = 0
    var pickCacheMilliseconds: Int?
    /// `queue.maxLength` and `queue.failOpen`, when a test needs a queue that fills.
    var queueMaxLength: Int?
    var failOpen: Bool?
    /// `queue.copyRange`, when a test needs truncated copies.
    var copyRange: Int?
    /// `conntrack.activeFlowResyncMilliseconds`, when a test needs a short one.
    var activeFlowResyncMilliseconds: Int?
    /// The `kubernetes:` block's fields, as a YAML flow mapping's content.
    var kubernetes: String?
    /// Dual stack: the IPv6 service range in `serviceCIDRs` and in the hooks.
    var ipv6 = false
    /// More top-level lines, as written (`nodeName: node1`).
    var extraLines: [String] = []
    var services: [ServiceSpec]

    init(mode: NFQLBConfig.TCPMode = .conntrack, bypass: Bool = true, services: [ServiceSpec]) {
        self.mode = mode
        self.bypass = bypass
        self.services = services
    }

    var yaml: String {
        var lines = [
            "# written by the nfq-lb integration tests",
            "queues: \"0:1\"",
            "serviceCIDRs: [\(Cluster.serviceCIDR)\(ipv6 ? ", \"\(Cluster.serviceCIDR6)\"" : "")]",
            "tcpMode: \(mode.rawValue)",
            "queue: {bypass: \(bypass)\(queueMaxLength.map { ", maxLength: \($0)" } ?? "")\(failOpen.map { ", failOpen: \($0)" } ?? "")\(copyRange.map { ", copyRange: \($0)" } ?? "")}",
            "metrics: {enabled: true, address: 127.0.0.1, port: \(metricsPort)}",
        ]
        if let pickCacheMilliseconds { lines.append("pickCacheMilliseconds: \(pickCacheMilliseconds)") }
        if let activeFlowResyncMilliseconds { lines.append("conntrack: {activeFlowResyncMilliseconds: \(activeFlowResyncMilliseconds)}") }
        if let kubernetes { lines.append("kubernetes: {\(kubernetes)}") }
        lines += extraLines
        lines.append(services.isEmpty ? "services: []" : "services:")
        for service in services {
            lines.append("  - name: \(service.name)")
            lines.append("    vip: \"\(service.vip)\"")
            lines.append("    port: \(service.port)")
            lines.append("    protocol: \(service.proto)")
            lines.append("    strategy: \(service.strategy)")
            if let masquerade = service.masquerade { lines.append("    masquerade: \(masquerade)") }
            if let answerPing = service.answerPing { lines.append("    answerPing: \(answerPing)") }
            if let removal = service.endpointRemoval { lines.append("    endpointRemoval: \(removal)") }
            lines += service.extraFields.map { "    \($0)" }
            if let check = service.healthCheck {
                lines.append("    healthCheck: {intervalMilliseconds: \(check.intervalMilliseconds), timeoutMilliseconds: \(check.timeoutMilliseconds), rise: \(check.rise), fall: \(check.fall)}")
            }
            if service.endpoints.isEmpty {
                lines.append("    endpoints: []")
            } else {
                lines.append("    endpoints:")
                for endpoint in service.endpoints {
                    var fields = ["address: \"\(endpoint.address)\"", "port: \(endpoint.port)"]
                    if let weight = endpoint.weight { fields.append("weight: \(weight)") }
                    if let ready = endpoint.ready { fields.append("ready: \(ready)") }
                    if let serving = endpoint.serving { fields.append("serving: \(serving)") }
                    if let terminating = endpoint.terminating { fields.append("terminating: \(terminating)") }
                    if let node = endpoint.node { fields.append("node: \(node)") }
                    fields += endpoint.extraFields
                    lines.append("      - {\(fields.joined(separator: ", "))}")
                }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
