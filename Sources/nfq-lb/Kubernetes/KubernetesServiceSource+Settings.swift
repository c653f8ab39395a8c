import Balancer
import Foundation
import KubernetesSource
import Logging
import NFQLB
import PacketRewrite

extension KubernetesServiceSource {
    /// The source the `kubernetes:` block describes. `kubeconfig` (the flag) wins over the
    /// block's; without either, the in-cluster token and CA files with the block's `apiServer`.
    convenience init(daemon: NFQLBDaemon, settings: KubernetesSettings, kubeconfig: String?, hostnameOverride: String?,
                     environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger) throws {
        let configuration: KubernetesClientConfiguration
        if let path = kubeconfig ?? settings.kubeconfig {
            configuration = try .kubeconfig(path: path, server: settings.apiServer)
        } else if let server = settings.apiServer {
            let ca: [UInt8]
            do {
                ca = Array(try Data(contentsOf: URL(fileURLWithPath: settings.caFile)))
            } catch {
                throw KubernetesClientConfiguration.Error("caFile \(settings.caFile) cannot be read (\(error.localizedDescription)); outside a pod, use kubeconfig")
            }
            configuration = try KubernetesClientConfiguration(server: server, certificateAuthorityPEM: ca, credentials: .tokenFile(settings.tokenFile))
        } else {
            throw KubernetesClientConfiguration.Error("needs apiServer or kubeconfig")
        }
        let node = Self.nodeName(configured: settings.nodeName, override: hostnameOverride, environment: environment)
        var logger = logger
        logger[metadataKey: "source"] = "kubernetes"
        logger.info("following the Kubernetes API", metadata: [
            "server": "\(configuration.server)", "node": "\(node)",
            "serviceProxyName": "\(settings.serviceProxyName.isEmpty ? "(every unlabelled service)" : settings.serviceProxyName)",
        ])
        self.init(daemon: daemon, client: try KubernetesClient(configuration: configuration),
                  mapping: MappingSettings(nodeName: node, serviceProxyName: settings.serviceProxyName,
                                           servesIPv4: daemon.config.serviceCIDRs.contains { $0.address.isIPv4 },
                                           servesIPv6: daemon.config.serviceCIDRs.contains { !$0.address.isIPv4 }),
                  coalesce: .milliseconds(Int(settings.coalesceMilliseconds)), logger: logger)
    }

    /// kube-proxy's order: the configured name, `--hostname-override`, `NODE_NAME` (the
    /// DaemonSet sets it from `spec.nodeName`), then the host name, lower-cased as kube-proxy does.
    static func nodeName(configured: String?, override: String?, environment: [String: String]) -> String {
        for candidate in [configured, override, environment["NODE_NAME"]] {
            if let name = candidate?.trimmingCharacters(in: .whitespaces), !name.isEmpty { return name.lowercased() }
        }
        return ProcessInfo.processInfo.hostName.lowercased()
    }
}
