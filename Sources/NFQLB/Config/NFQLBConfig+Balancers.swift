import Balancer

extension NFQLBConfig {
    /// Builds every service's balancer, as a reload does, and reports what a reload would
    /// refuse (a Maglev `tableSize` smaller than the endpoint count, ...) located like the
    /// loader's own problems: file, line of the service, field. `check-config` runs it so that
    /// a config it accepts is one the daemon accepts.
    ///
    /// Each service is built alone first, so every broken service is reported, not only the
    /// first; then all together, for what only the whole list can show.
    public func balancerIssues(registry: StrategyRegistry = .standard, file: String) -> [ConfigIssue] {
        var issues: [ConfigIssue] = []
        for (index, service) in services.enumerated() {
            do {
                _ = try BalancerSnapshot.build(services: [service.service], serviceCIDRs: serviceCIDRs,
                                               flows: FlowTracker(), affinity: AffinityTable(capacity: 16), registry: registry)
            } catch {
                var located = error
                located.serviceIndex = index
                issues.append(issue(for: located, file: file))
            }
        }
        guard issues.isEmpty else { return issues }
        do {
            _ = try BalancerSnapshot.build(services: balancerServices, serviceCIDRs: serviceCIDRs,
                                           flows: FlowTracker(), affinity: AffinityTable(capacity: 16), registry: registry)
        } catch {
            issues.append(issue(for: error, file: file))
        }
        return issues
    }

    /// A build error at the file and line of its service (an included file's service is
    /// reported in that file).
    func issue(for error: BalancerBuildError, file: String) -> ConfigIssue {
        guard services.indices.contains(error.serviceIndex) else {
            return ConfigIssue(file: file, line: 0, field: "", message: error.description)
        }
        let service = services[error.serviceIndex]
        let path = service.path.isEmpty ? "services[\(error.serviceIndex)]" : service.path
        return ConfigIssue(file: service.file.isEmpty ? file : service.file, line: service.line,
                           field: "\(path).\(error.field)", message: error.problem)
    }
}
