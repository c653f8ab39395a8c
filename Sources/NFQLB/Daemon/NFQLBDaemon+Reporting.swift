import Balancer
import Foundation
import Logging
import PacketRewrite

extension NFQLBDaemon {
    /// Endpoint ids a previous run left in the kernel: mode mark's map, or the marks of our
    /// conntrack entries. Adopting them keeps a restart from renumbering live endpoints.
    public func idsFromKernel() -> [(EndpointKey, UInt32)] {
        if let map = endpointMap as? DualStackEndpointMap {
            do {
                return try map.read().map { ($0.key, $0.value) }
            } catch {
                logger.warning("reading the endpoint map failed (ids start afresh): \(error)")
                return []
            }
        }
        do {
            let client = try ConntrackClient(batchCapacity: 1)
            let entries = try StaleEntryCleaner(marks: config.marks).ourEntries(conntrack: client)
            var found: [EndpointKey: UInt32] = [:]
            for entry in entries {
                found[EndpointKey(address: entry.backendAddress, port: entry.backendPort)] = config.marks.endpointID(ofMark: entry.mark)
            }
            return found.map { ($0.key, $0.value) }
        } catch {
            logger.warning("reading our conntrack entries failed (ids start afresh): \(error)")
            return []
        }
    }

    /// Exposition text for what the metrics registry cannot hold: per-endpoint series rebuilt
    /// from the snapshot on each scrape, and the kernel's queue counters.
    public func metricsText() -> String {
        var text = ""
        let snapshot = state.current
        let healthByEndpoint = Dictionary(health.map { ($0.endpoint, $0.healthy) }, uniquingKeysWith: { a, b in a && b })
        func series(_ name: String, _ type: String, _ help: String, _ rows: [(String, String)]) {
            guard !rows.isEmpty else { return }
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (labels, value) in rows { text += "\(name){\(labels)} \(value)\n" }
        }
        var opened: [(String, String)] = [], active: [(String, String)] = [], healthy: [(String, String)] = [], weights: [(String, String)] = []
        var addressKinds: [ServiceAddressKind: Int] = [:]
        for balancer in snapshot.services {
            let service = balancer.service
            addressKinds[service.kind, default: 0] += 1
            // The flow counts are per endpoint: a node port or external address of a service
            // would repeat its cluster IP's series under the same labels.
            guard service.kind == .clusterIP else { continue }
            let candidates = Set(balancer.candidates.map(\.key))
            for endpoint in service.endpoints {
                let labels = "service=\"\(service.name)\",endpoint=\"\(endpoint.key)\",protocol=\"\(service.proto)\""
                let counter = flows.counts(key: endpoint.key, proto: service.proto)
                opened.append((labels, String(counter.opened)))
                active.append((labels, String(counter.active)))
                weights.append((labels, candidates.contains(endpoint.key) ? String(endpoint.weight) : "0"))
                if let isHealthy = healthByEndpoint[endpoint.key] { healthy.append((labels, isHealthy ? "1" : "0")) }
            }
        }
        series("nfqlb_endpoint_new_flows_total", "counter", "New flows sent to the endpoint (since the daemon started).", opened)
        series("nfqlb_endpoint_active_flows", "gauge", "Flows to the endpoint whose conntrack entry is alive (TIME_WAIT included), as least-connections and power-of-two count them.", active)
        series("nfqlb_endpoint_effective_weight", "gauge", "The endpoint's weight for new flows; 0 when it takes none (not ready, unhealthy, weight 0).", weights)
        series("nfqlb_endpoint_healthy", "gauge", "1 when the endpoint's health check passes, 0 when it fails.", healthy)
        series("nfqlb_service_addresses", "gauge", "Balanced addresses in the published snapshot, by kind (a node port counts once for all node addresses).",
               ServiceAddressKind.allCases.map { ("kind=\"\($0.rawValue)\"", String(addressKinds[$0] ?? 0)) })
        let queues = KernelQueueStatistics.read()
        series("nfqlb_kernel_queue_dropped_total", "counter", "Packets the kernel dropped because the queue was full (/proc/net/netfilter/nfnetlink_queue).",
               queues.map { ("queue=\"\($0.queue)\"", String($0.queueDropped)) })
        series("nfqlb_kernel_queue_user_dropped_total", "counter", "Packets the kernel could not deliver to the worker's socket (receive buffer full).",
               queues.map { ("queue=\"\($0.queue)\"", String($0.userDropped)) })
        series("nfqlb_kernel_queue_length", "gauge", "Packets waiting in the kernel queue for a verdict.",
               queues.map { ("queue=\"\($0.queue)\"", String($0.waiting)) })
        series("nfqlb_services", "gauge", "Services in the published snapshot.", [("", String(snapshot.services.count))].map { (_, v) in ("scope=\"node\"", v) })
        return text
    }

    /// The daemon's view for `nfq-lb status`, as JSON.
    public func statusJSON(service name: String? = nil) -> String {
        let snapshot = state.current
        let settings = config
        let healthByEndpoint = Dictionary(health.map { ($0.endpoint, $0) }, uniquingKeysWith: { a, _ in a })
        let origins = Dictionary(settings.services.map { ($0.service.key, $0.origin) }, uniquingKeysWith: { a, _ in a })
        let report = StatusReport(
            tcpMode: settings.tcpMode.rawValue,
            queues: "\(settings.queues.lowerBound):\(settings.queues.upperBound)",
            marks: settings.marks.description,
            services: snapshot.services.filter { name == nil || $0.service.name == name }.map { balancer in
                let service = balancer.service
                let candidates = Set(balancer.candidates.map(\.key))
                return StatusReport.ServiceStatus(
                    name: service.name, vip: service.vip.description, port: service.port, protocol: service.proto.description,
                    strategy: service.strategy, sessionAffinitySeconds: service.sessionAffinity?.timeoutSeconds,
                    masquerade: service.masquerade, answersPing: service.answersPing, usesTerminatingEndpoints: balancer.usesTerminatingEndpoints,
                    source: origins[service.key], kind: service.kind == .clusterIP ? nil : service.kind.rawValue,
                    internalTrafficPolicyLocal: service.internalTrafficPolicyLocal ? true : nil,
                    topology: service.topology == .none ? nil : service.topology.rawValue,
                    endpoints: service.endpoints.map { endpoint in
                        let counter = flows.counts(key: endpoint.key, proto: service.proto)
                        let health = healthByEndpoint[endpoint.key]
                        return StatusReport.EndpointStatus(
                            address: endpoint.address.description, port: endpoint.port, weight: endpoint.weight,
                            ready: endpoint.conditions.ready, serving: endpoint.conditions.serving, terminating: endpoint.conditions.terminating,
                            takesNewFlows: candidates.contains(endpoint.key), healthy: health?.healthy, healthError: health?.lastError,
                            id: ids.id(of: endpoint.key), activeFlows: counter.active, newFlows: counter.opened)
                    })
            })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? String(decoding: encoder.encode(report), as: UTF8.self)) ?? "{}"
    }
}

/// `nfq-lb status`'s data, as the daemon serves it on `/status`.
public struct StatusReport: Codable, Sendable {
    public var tcpMode: String
    public var queues: String
    public var marks: String
    public var services: [ServiceStatus]

    public struct ServiceStatus: Codable, Sendable {
        public var name: String
        public var vip: String
        public var port: UInt16
        public var `protocol`: String
        public var strategy: String
        public var sessionAffinitySeconds: UInt32?
        public var masquerade: Bool
        /// The node answers pings to the service address (`answerPing`).
        public var answersPing: Bool = false
        public var usesTerminatingEndpoints: Bool
        /// Where the service is defined: `kubernetes namespace/name`, or its file and path.
        public var source: String?
        /// `nodePort`, `externalIP` or `loadBalancerIP`; nil for a cluster IP.
        public var kind: String?
        /// `internalTrafficPolicy: Local`: this node's endpoints only (nil when not).
        public var internalTrafficPolicyLocal: Bool?
        /// The topology hints narrowing the endpoints (`PreferSameZone`, `PreferSameNode`);
        /// nil when none are in force.
        public var topology: String?
        public var endpoints: [EndpointStatus]
    }

    public struct EndpointStatus: Codable, Sendable {
        public var address: String
        public var port: UInt16
        public var weight: UInt32
        public var ready: Bool
        public var serving: Bool
        public var terminating: Bool
        public var takesNewFlows: Bool
        public var healthy: Bool?
        public var healthError: String?
        public var id: UInt32?
        public var activeFlows: Int
        public var newFlows: Int
    }
}
