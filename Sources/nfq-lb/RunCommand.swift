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

    @Option(help: "Path of iptables-hooks.sh (default: found next to the binary or in ./deploy).")
    var hooksScript: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "nfq-lb")
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
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
        if installHooks {
            guard let script = HooksInstaller.locate(explicit: hooksScript) else {
                printError("--install-hooks: iptables-hooks.sh not found; pass --hooks-script PATH")
                throw ExitCode(1)
            }
            try HooksInstaller(script: script).install(settings)
            logger.info("hooks installed by \(script)")
        }
        try daemon.activate(adoptingIDs: daemon.idsFromKernel())

        let environment = WorkerEnvironment(config: settings, state: daemon.state, metrics: daemon.metrics, logger: logger)
        let pool = try WorkerPool.start(queues: settings.queues, environment: environment)
        let resync = ActiveFlowResynchronizer(marks: settings.marks, flows: daemon.flows, metrics: daemon.metrics, logger: logger,
                                              interval: .milliseconds(Int(settings.activeFlowResyncMilliseconds)))
        let monitor = ConntrackEventMonitor(marks: settings.marks, flows: daemon.flows, metrics: daemon.metrics, logger: logger,
                                            eventsLost: { resync.requestNow() })
        try monitor.start()
        resync.start()
        var services: [any ServiceLifecycle.Service] = [WorkerService(pool: pool), ConntrackEventService(monitor: monitor, resynchronizer: resync),
                                                        ConfigReloader(daemon: daemon)]
        if settings.metrics.enabled {
            let server = try MetricsServer(host: settings.metrics.address, port: settings.metrics.port, registry: registry,
                                           extraText: { daemon.metricsText() }, statusJSON: { daemon.statusJSON(service: $0) })
            services.append(MetricsService(server: server, logger: logger))
            logger.info("metrics on http://\(settings.metrics.address):\(server.port)/metrics")
        }
        services.append(HealthCheckService(daemon: daemon))
        logger.info("nfq-lb \(NFQLBVersion.current) running: queues \(settings.queues.lowerBound):\(settings.queues.upperBound), tcpMode \(settings.tcpMode.rawValue), \(settings.services.count) services")
        let group = ServiceGroup(configuration: .init(
            services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
        logger.info("nfq-lb stopped: every queue answered and unbound")
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
