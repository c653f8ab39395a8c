import Balancer
import Foundation
import Logging
import PacketRewrite
import Prometheus
import ServiceLifecycle
import Synchronization

/// kube-proxy's service health server (pkg/proxy/healthcheck/service_health.go): for every
/// `healthCheckNodePort` of an `externalTrafficPolicy: Local` service, an HTTP server on all
/// of this node's addresses answering any GET with 200 when the node has local endpoints for
/// the service and 503 when it has none, with the count in a JSON body. A cloud load balancer
/// probes it to send traffic only to nodes that will not drop it.
///
/// The ports follow the config: every 250 ms the wanted set is compared with the servers
/// running, new ones are bound and removed ones stopped. A port that cannot be bound is
/// logged (once per distinct error) and tried again at the next pass.
public struct HealthCheckNodePortService: ServiceLifecycle.Service {
    let daemon: NFQLBDaemon

    public init(daemon: NFQLBDaemon) { self.daemon = daemon }

    /// The services (by owner name) that share each health-check node port.
    static func wantedPorts(_ config: NFQLBConfig) -> [UInt16: Set<String>] {
        var ports: [UInt16: Set<String>] = [:]
        for entry in config.services {
            guard let port = entry.external?.healthCheckNodePort, entry.external?.trafficPolicy == .Local else { continue }
            ports[port, default: []].insert(owner(of: entry))
        }
        return ports
    }

    /// `namespace/name` of a Kubernetes Service, the name of a file service.
    static func owner(of entry: ServiceConfig) -> String {
        entry.file == ServiceSources.kubernetesFile ? entry.path : entry.service.name
    }

    /// Local endpoints able to take flows, over every external address of the services
    /// `names`: what kube-proxy calls the service's local endpoints (distinct addresses).
    static func localEndpoints(names: Set<String>, config: NFQLBConfig, snapshot: BalancerSnapshot) -> Int {
        var keys = Set<ServiceKey>()
        for entry in config.services where entry.service.dropsWithoutEndpoints && names.contains(owner(of: entry)) {
            keys.insert(entry.service.key)
        }
        var addresses = Set<String>()
        for key in keys {
            guard let balancer = snapshot.table.lookup(key) else { continue }
            for candidate in balancer.candidates { addresses.insert(candidate.address.description) }
        }
        return addresses.count
    }

    /// The answer for one port: kube-proxy's JSON body and status.
    static func answer(names: Set<String>, count: Int) -> (status: String, contentType: String, body: [UInt8]) {
        let owner = names.sorted().first ?? ""
        let parts = owner.split(separator: "/", maxSplits: 1).map(String.init)
        let (namespace, name) = parts.count == 2 ? (parts[0], parts[1]) : ("", owner)
        func quoted(_ text: String) -> String {
            "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        let body = "{\"service\":{\"namespace\":\(quoted(namespace)),\"name\":\(quoted(name))},\"localEndpoints\":\(count),\"serviceProxyHealthy\":true}\n"
        return (count > 0 ? "200 OK" : "503 Service Unavailable", "application/json", Array(body.utf8))
    }

    public func run() async throws {
        let stopping = Atomic<Bool>(false)
        let daemon = self.daemon
        async let serving: Void = onDedicatedThread(name: "nfq-lb hc ports") {
            var servers: [UInt16: MetricsServer] = [:]
            var lastErrors: [UInt16: String] = [:]
            let registry = PrometheusCollectorRegistry()
            while !stopping.load(ordering: .relaxed) {
                let wanted = Self.wantedPorts(daemon.config)
                for (port, server) in servers where wanted[port] == nil {
                    server.stop()
                    servers[port] = nil
                    daemon.logger.info("health-check node port closed", metadata: ["port": "\(port)"])
                }
                for port in wanted.keys where servers[port] == nil {
                    do {
                        let server = try MetricsServer(host: "0.0.0.0", port: port, registry: registry, answer: { _ in
                            let config = daemon.config
                            let names = Self.wantedPorts(config)[port] ?? []
                            return Self.answer(names: names, count: Self.localEndpoints(names: names, config: config, snapshot: daemon.state.current))
                        })
                        let thread = Thread { server.serve(logger: daemon.logger) }
                        thread.name = "nfq-lb hc \(port)"
                        thread.start()
                        servers[port] = server
                        lastErrors[port] = nil
                        daemon.logger.info("serving health-check node port", metadata: ["port": "\(port)"])
                    } catch {
                        if lastErrors[port] != "\(error)" {
                            daemon.logger.error("cannot serve health-check node port (retrying)", metadata: ["port": "\(port)", "error": "\(error)"])
                            lastErrors[port] = "\(error)"
                        }
                    }
                }
                Thread.sleep(forTimeInterval: 0.25)
            }
            for server in servers.values { server.stop() }
        }
        try? await gracefulShutdown()
        stopping.store(true, ordering: .relaxed)
        await serving
    }
}
