import ArgumentParser
import Balancer
import NFQLB

/// `nfq-lb check-config FILE`: every problem with file, line and field, exit 1 if any. The
/// balancers are built too, so that whatever a reload would refuse is refused here.
struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a config file and build its balancers; print each problem as FILE:LINE: FIELD: MESSAGE.")

    @Argument(help: "The YAML config file.")
    var file: String

    func run() throws {
        let loader = ConfigLoader()
        let config: NFQLBConfig
        do {
            config = try loader.load(path: file)
        } catch {
            for issue in error.issues { printError(issue.description) }
            throw ExitCode(1)
        }
        let issues = config.balancerIssues(registry: loader.registry, file: file)
        guard issues.isEmpty else {
            for issue in issues { printError(issue.description) }
            throw ExitCode(1)
        }
        // Node ports and external addresses are entries of their own, derived from a service.
        let configured = config.services.filter { $0.service.kind == .clusterIP }
        let endpoints = configured.reduce(0) { $0 + $1.service.endpoints.count }
        let derived = config.services.count - configured.count
        let extra = derived == 0 ? "" : " (+\(derived) node port or external addresses)"
        // Traffic policies change which endpoints a service has: say so, or the count surprises.
        let localPolicy = configured.filter { $0.service.internalTrafficPolicyLocal }.count
        let zoned = configured.filter { $0.service.topology != .none }.count
        var policies = localPolicy == 0 ? "" : ", \(localPolicy) with internalTrafficPolicy Local (node \(config.nodeName ?? "unnamed"))"
        if zoned > 0 { policies += ", \(zoned) narrowed by zone hints (zone \(config.zone ?? ""))" }
        print("\(file): OK: \(configured.count) services\(extra), \(endpoints) endpoints\(policies), tcpMode \(config.tcpMode.rawValue), queues \(config.queues.lowerBound):\(config.queues.upperBound)")
    }
}
