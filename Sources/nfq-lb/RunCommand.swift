import ArgumentParser
import Balancer
import Logging
import Metrics
import NFQLB
import Prometheus
import ServiceLifecycle
import UnixSignals

/// `nfq-lb run --config FILE`: the daemon, in the foreground.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the balancer in the foreground until SIGTERM or SIGINT; SIGHUP reloads the config.")

    @Option(name: .shortAndLong, help: "The YAML config file (watched: a change reloads it).")
    var config: String

    @Flag(help: "Install the iptables/nftables hooks for this config first (deploy/iptables-hooks.sh).")
    var installHooks = false

    @Option(help: "Path of iptables-hooks.sh (default: <binary's dir>/../share/nfq-lb/, or deploy/ of the repository whose build tree holds the binary; never the working directory).")
    var hooksScript: String?

    @Option(help: "A kubeconfig file for the Kubernetes source (outside a pod); overrides kubernetes.kubeconfig.")
    var kubeconfig: String?

    @Option(help: "This node's name for the Kubernetes source (kube-proxy's flag); default: kubernetes.nodeName, then $NODE_NAME, then the host name.")
    var hostnameOverride: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    @Option(help: "Log format on standard error, one record per line: text or json.")
    var logFormat: LineLogHandler.Format = .text

    func run() async throws {
        let level = logLevel
        let format = logFormat
        LoggingSystem.bootstrap { label in
            var handler = LineLogHandler(label: label, format: format)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "nfq-lb")
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        let controlPath: [Duration] = [.milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                                       .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5), .seconds(30)]
        factory.durationHistogramBuckets["nfqlb_kubernetes_sync_duration_seconds"] = controlPath
        factory.durationHistogramBuckets["nfqlb_kubernetes_network_programming_duration_seconds"] = controlPath
        factory.durationHistogramBuckets["nfqlb_decision_seconds"] = [
            .microseconds(5), .microseconds(10), .microseconds(25), .microseconds(50), .microseconds(100),
            .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(5), .milliseconds(25),
        ]
        MetricsSystem.bootstrap(factory)

        let loaded: NFQLBDaemon?
        do throws(ConfigError) {
            loaded = try NFQLBDaemon(configPath: config, logger: logger)
        } catch {
            for issue in error.issues { printError(issue.description) }
            loaded = nil
        }
        guard let daemon = loaded else { throw ExitCode(1) }
        let settings = daemon.config
        let kubernetesSource: KubernetesServiceSource?
        if let kubernetes = settings.kubernetes {
            do {
                kubernetesSource = try KubernetesServiceSource(daemon: daemon, settings: kubernetes, kubeconfig: kubeconfig,
                                                               hostnameOverride: hostnameOverride, logger: logger)
            } catch {
                printError("\(config): kubernetes: \(error)")
                throw ExitCode(1)
            }
        } else {
            kubernetesSource = nil
        }
        if settings.kubernetes == nil, kubeconfig != nil {
            printError("--kubeconfig: \(config) has no kubernetes: block, so nothing would use it")
            throw ExitCode(1)
        }
        if installHooks {
            guard let script = HooksInstaller.locate(explicit: hooksScript) else {
                printError("--install-hooks: iptables-hooks.sh not found; pass --hooks-script PATH")
                throw ExitCode(1)
            }
            try HooksInstaller(script: script).install(settings)
            logger.info("hooks installed", metadata: ["script": "\(script)"])
        }
        try daemon.activate(adoptingIDs: daemon.idsFromKernel())

        let environment = WorkerEnvironment(config: settings, state: daemon.state, metrics: daemon.metrics, logger: logger)
        // A queue another process holds is retried every second, and /readyz says so.
        let pool = try WorkerPool.start(queues: settings.queues, environment: environment, retryUnbound: true)
        let resync = ActiveFlowResynchronizer(marks: settings.marks, flows: daemon.flows, metrics: daemon.metrics, logger: logger,
                                              interval: .milliseconds(Int(settings.activeFlowResyncMilliseconds)))
        let monitor = ConntrackEventMonitor(marks: settings.marks, flows: daemon.flows, metrics: daemon.metrics, logger: logger,
                                            eventsLost: { resync.requestNow() })
        try monitor.start()
        resync.start()
        var services: [any ServiceLifecycle.Service] = [WorkerService(pool: pool), ConntrackEventService(monitor: monitor, resynchronizer: resync),
                                                        ConfigReloader(daemon: daemon), StaleEntryRetryService(daemon: daemon)]
        if let map = daemon.endpointMap as? DualStackEndpointMap { services.append(EndpointMapReconciler(maps: map.maps, logger: logger)) }
        if settings.metrics.enabled {
            // The first config is in force: `activate` above succeeded.
            let endpointMap = daemon.endpointMap
            let health = DaemonHealth(sources: .init(
                configInForce: { true }, queues: { pool.states },
                eventMonitorProblem: {
                    let state = monitor.state
                    guard !state.isRunning else { return nil }
                    return "conntrack event monitor stopped" + (state.lastError.map { ": \($0)" } ?? "")
                },
                mapSyncProblem: { endpointMap?.syncProblem },
                sourceNotReady: { kubernetesSource?.readinessProblem }, sourceStalled: { kubernetesSource?.livenessProblem }))
            let server = try MetricsServer(host: settings.metrics.address, port: settings.metrics.port, registry: registry,
                                           extraText: { daemon.metricsText() }, statusJSON: { daemon.statusJSON(service: $0) },
                                           health: health)
            services.append(MetricsService(server: server, logger: logger))
            let shown = settings.metrics.address.contains(":") ? "[\(settings.metrics.address)]" : settings.metrics.address
            logger.info("serving metrics, status, healthz and readyz", metadata: ["url": "http://\(shown):\(server.port)/"])
        }
        services.append(HealthCheckService(daemon: daemon))
        services.append(HealthCheckNodePortService(daemon: daemon))
        if let kubernetesSource { services.append(kubernetesSource) }
        logger.info("nfq-lb running", metadata: [
            "version": "\(NFQLBVersion.current)", "queues": "\(settings.queues.lowerBound):\(settings.queues.upperBound)",
            "tcpMode": "\(settings.tcpMode.rawValue)", "services": "\(settings.services.count)",
        ])
        let group = ServiceGroup(configuration: .init(
            services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
        logger.info("nfq-lb stopped: every queue answered and unbound")
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
extension LineLogHandler.Format: ExpressibleByArgument {}
