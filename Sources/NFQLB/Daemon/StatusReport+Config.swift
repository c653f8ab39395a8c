import Balancer
import PacketRewrite

extension StatusReport {
    /// What the config alone says, when no daemon answers.
    public static func fromConfig(_ config: NFQLBConfig) -> StatusReport {
        StatusReport(
            tcpMode: config.tcpMode.rawValue, queues: "\(config.queues.lowerBound):\(config.queues.upperBound)", marks: config.marks.description,
            services: config.services.map { entry in
                let service = entry.service
                return ServiceStatus(
                    name: service.name, vip: service.vip.description, port: service.port, protocol: service.proto.description,
                    strategy: service.strategy, sessionAffinitySeconds: service.sessionAffinity?.timeoutSeconds, masquerade: service.masquerade,
                    answersPing: service.answersPing, usesTerminatingEndpoints: false, source: entry.origin,
                    kind: service.kind == .clusterIP ? nil : service.kind.rawValue,
                    internalTrafficPolicyLocal: service.internalTrafficPolicyLocal ? true : nil,
                    topology: service.topology == .none ? nil : service.topology.rawValue,
                    endpoints: service.endpoints.map {
                        EndpointStatus(address: $0.address.description, port: $0.port, weight: $0.weight, ready: $0.conditions.ready,
                                       serving: $0.conditions.serving, terminating: $0.conditions.terminating, takesNewFlows: $0.conditions.ready && $0.weight > 0,
                                       healthy: nil, healthError: nil, id: nil, activeFlows: 0, newFlows: 0)
                    })
            })
    }
}
