import KubernetesSource
import NFQLB

extension ServiceConfig {
    /// A Kubernetes Service's port as the daemon takes it: the health check's unset fields get
    /// the file config's defaults, so an annotation means what the same YAML field would.
    init(_ mapped: MappedService) {
        let defaults = HealthCheckSettings()
        let check = mapped.healthCheck.map { check in
            HealthCheckSettings(intervalMilliseconds: check.intervalMilliseconds ?? defaults.intervalMilliseconds,
                                timeoutMilliseconds: check.timeoutMilliseconds ?? defaults.timeoutMilliseconds,
                                rise: check.rise ?? defaults.rise, fall: check.fall ?? defaults.fall, port: check.port)
        }
        self.init(service: mapped.service, endpointRemoval: mapped.endpointRemoval == .reset ? .reset : .drain, healthCheck: check)
        if let external = mapped.external {
            var access = ExternalAccess()
            access.nodePort = external.nodePort
            access.externalIPs = external.externalIPs
            access.loadBalancerIPs = external.loadBalancerIPs
            access.loadBalancerSourceRanges = external.loadBalancerSourceRanges
            access.trafficPolicy = external.trafficPolicyLocal ? .Local : .Cluster
            access.healthCheckNodePort = external.healthCheckNodePort
            access.localEndpointList = external.trafficPolicyLocal ? external.localEndpoints : nil
            access.clusterEndpointList = external.clusterEndpoints
            access.clusterTopology = external.clusterTopology
            self.external = access
        }
    }
}
