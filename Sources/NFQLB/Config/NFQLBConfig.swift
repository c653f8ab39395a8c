import Balancer
import PacketRewrite

/// The daemon's whole configuration, validated: what `check-config` accepts and `run` uses.
public struct NFQLBConfig: Sendable, Equatable {
    /// How a TCP flow's first packet gets its NAT (docs/ARCHITECTURE.md, "TCP mode ...").
    public enum TCPMode: String, Sendable, CaseIterable {
        /// The default: the worker only marks the packet; our nftables map turns the mark into
        /// the NAT (the fastest in bench/RESULTS.md: no netlink call per flow).
        case mark
        /// The worker creates a conntrack entry with the NAT; the kernel rewrites the SYN.
        case conntrack
        /// The worker rewrites the SYN in place, creates the entry, reinjects the SYN untracked.
        case rewrite
    }

    /// What happens to a queued packet that cannot be parsed or is not a flow's first packet.
    public enum MalformedPacketPolicy: String, Sendable, CaseIterable {
        case accept
        case drop
    }

    /// Where the queue numbers bound by the workers start and end (`--queue-balance A:B`).
    public var queues: ClosedRange<UInt16>
    public var serviceCIDRs: [IPPrefix]
    public var tcpMode: TCPMode
    public var queue: QueueConfiguration
    /// The hooks' `--queue-bypass`: with no worker bound, packets pass instead of being dropped.
    public var queueBypass: Bool
    public var malformedPackets: MalformedPacketPolicy
    public var marks: MarkLayout
    public var tcpTimeoutSeconds: UInt32
    public var udpTimeoutSeconds: UInt32
    /// Source address for masqueraded flows; nil: the node address the kernel would use to
    /// reach each endpoint.
    public var masqueradeAddress: IPAddress?
    /// How long a flow's pick is remembered (TCP by 5-tuple and initial sequence number, UDP by
    /// 5-tuple), so that retransmits and a flow's early datagrams keep its backend in every mode
    /// (mode mark has no other way): longer than a client's whole SYN retransmit schedule
    /// (127 s on Linux). 0 turns the memory off.
    public var pickCacheMilliseconds: UInt32
    public var metrics: MetricsSettings
    /// How often the active-flow counts are set to what the conntrack table holds
    /// (`ActiveFlowResynchronizer`).
    public var activeFlowResyncMilliseconds: UInt32 = 10_000
    /// Files and directories `include` names, resolved: the reloader watches them too.
    public var includes: [String] = []
    /// The `kubernetes:` block: services also come from the API server. nil: file only.
    public var kubernetes: KubernetesSettings?
    /// This node's name: endpoints whose `node` is it are local (`externalTrafficPolicy: Local`).
    public var nodeName: String?
    /// This node's zone (`topology.kubernetes.io/zone`): zone hints are matched against it.
    public var zone: String?
    /// The ports the hooks queue for node ports (`--node-port-range`).
    public var nodePortRange: ClosedRange<UInt16> = 30000...32767
    /// Local addresses node ports answer on; empty: all but loopback.
    public var nodePortAddresses: [IPPrefix] = []
    /// The ranges of external and load-balancer IPs the hooks queue (`--external-cidr`).
    public var externalCIDRs: [IPPrefix] = []
    public var services: [ServiceConfig]

    public init(queues: ClosedRange<UInt16> = 0...0, serviceCIDRs: [IPPrefix], tcpMode: TCPMode = .mark,
                queue: QueueConfiguration = QueueConfiguration(), queueBypass: Bool = true,
                malformedPackets: MalformedPacketPolicy = .accept, marks: MarkLayout = .default,
                tcpTimeoutSeconds: UInt32 = 120, udpTimeoutSeconds: UInt32 = 30,
                masqueradeAddress: IPAddress? = nil, pickCacheMilliseconds: UInt32 = 130_000,
                metrics: MetricsSettings = MetricsSettings(), services: [ServiceConfig]) {
        self.queues = queues
        self.serviceCIDRs = serviceCIDRs
        self.tcpMode = tcpMode
        self.queue = queue
        self.queueBypass = queueBypass
        self.malformedPackets = malformedPackets
        self.marks = marks
        self.tcpTimeoutSeconds = tcpTimeoutSeconds
        self.udpTimeoutSeconds = udpTimeoutSeconds
        self.masqueradeAddress = masqueradeAddress
        self.pickCacheMilliseconds = pickCacheMilliseconds
        self.metrics = metrics
        self.services = services
    }

    /// The `Service` values the balancer builds its snapshot from.
    public var balancerServices: [Service] { services.map(\.service) }

    /// The services in runs of one parse each (`ServiceConfig.sourceVersion`), in order.
    var sourceGroups: [(version: UInt64, range: Range<Int>)] {
        var groups: [(version: UInt64, range: Range<Int>)] = []
        var start = 0
        for i in services.indices where i == services.count - 1 || services[i + 1].sourceVersion != services[i].sourceVersion {
            groups.append((services[start].sourceVersion, start..<(i + 1)))
            start = i + 1
        }
        return groups
    }
}

/// A service as configured: the balancer's `Service` plus what only the daemon uses.
public struct ServiceConfig: Sendable, Equatable {
    /// What happens to established flows of an endpoint that leaves the config.
    public enum EndpointRemoval: String, Sendable, CaseIterable {
        /// TCP flows finish undisturbed (kube-proxy's behaviour); UDP entries are deleted.
        case drain
        /// TCP and UDP entries to the endpoint are deleted: its flows are cut at once.
        case reset
    }

    public var service: Service
    public var endpointRemoval: EndpointRemoval
    public var healthCheck: HealthCheckSettings?
    /// Line of the service's entry in its config file, for errors found later (e.g. at build).
    public var line: Int
    /// Where the service is written: its file (the main config or an included one), its path
    /// in that file (`services[3]`) and the lines of the fields that must be unique.
    public var file = ""
    public var path = ""
    public var vipLine = 0
    public var nameLine = 0
    /// Which parse of its file the service came from: an included file that did not change
    /// keeps its parse (and this number) from one reload to the next, so the daemon can take
    /// over everything it made of that file's services without looking at them again.
    public var sourceVersion: UInt64 = 0
    /// Node port, external and load-balancer addresses of the service (on its cluster-IP
    /// entry only; `expanded(nodeName:)` derives their entries).
    public var external: ExternalAccess?
    /// `internalTrafficPolicy` and zone hints as read; `ConfigReader.applyTrafficPolicies`
    /// has already put them in force in `service.endpoints`.
    public var trafficPolicy: TrafficPolicySettings?
    /// The field that gives this entry its address and port, for duplicate errors: `vip` for
    /// a cluster IP, `nodePort` or `externalIPs[0]` for a derived entry.
    public var keyField = "vip"

    /// Where the service is defined, as `status` shows it: `kubernetes namespace/name`, or
    /// `file:line` of its entry.
    public var origin: String {
        file == ServiceSources.kubernetesFile ? "kubernetes \(path)" : "\(file):\(line)"
    }

    public init(service: Service, endpointRemoval: EndpointRemoval = .drain, healthCheck: HealthCheckSettings? = nil, line: Int = 0) {
        self.service = service
        self.endpointRemoval = endpointRemoval
        self.healthCheck = healthCheck
        self.line = line
    }
}

/// An active TCP connect check of every endpoint of a service.
public struct HealthCheckSettings: Sendable, Equatable {
    public var intervalMilliseconds: UInt32
    public var timeoutMilliseconds: UInt32
    /// Consecutive successes that make an unhealthy endpoint healthy again.
    public var rise: UInt32
    /// Consecutive failures that make a healthy endpoint unhealthy.
    public var fall: UInt32
    /// The port to connect to; nil: the endpoint's own port.
    public var port: UInt16?

    public init(intervalMilliseconds: UInt32 = 2000, timeoutMilliseconds: UInt32 = 1000, rise: UInt32 = 2, fall: UInt32 = 3, port: UInt16? = nil) {
        self.intervalMilliseconds = intervalMilliseconds
        self.timeoutMilliseconds = timeoutMilliseconds
        self.rise = rise
        self.fall = fall
        self.port = port
    }
}

/// Where the Prometheus endpoint listens.
public struct MetricsSettings: Sendable, Equatable {
    public var enabled: Bool
    public var address: String
    public var port: UInt16

    public init(enabled: Bool = true, address: String = "127.0.0.1", port: UInt16 = 9464) {
        self.enabled = enabled
        self.address = address
        self.port = port
    }
}
