import Yams

extension ConfigReader {
    static let kubernetesKeys = ["apiServer", "kubeconfig", "tokenFile", "caFile", "nodeName", "serviceProxyName", "coalesceMilliseconds"]

    /// The `kubernetes:` block; nil when the config has none (or it is not a mapping).
    mutating func readKubernetes(_ node: Node?) -> KubernetesSettings? {
        guard let node, let fields = mapping(node, "kubernetes", keys: Self.kubernetesKeys) else { return nil }
        var settings = KubernetesSettings()
        if let server = string(fields["apiServer"], "kubernetes.apiServer") {
            if server.hasPrefix("https://") {
                settings.apiServer = server
            } else {
                report(fields["apiServer"], "kubernetes.apiServer", "must be an https:// URL (TLS is always verified); got '\(server)'")
            }
        }
        settings.kubeconfig = string(fields["kubeconfig"], "kubernetes.kubeconfig")
        if settings.apiServer == nil, settings.kubeconfig == nil, !issues.contains(where: { $0.field == "kubernetes.apiServer" }) {
            report(node, "kubernetes", "needs apiServer (in a pod: the API server's own address, not the kubernetes service VIP) or kubeconfig")
        }
        settings.tokenFile = string(fields["tokenFile"], "kubernetes.tokenFile") ?? settings.tokenFile
        settings.caFile = string(fields["caFile"], "kubernetes.caFile") ?? settings.caFile
        settings.nodeName = string(fields["nodeName"], "kubernetes.nodeName")
        if let nameNode = fields["serviceProxyName"] {
            // "" is meaningful here (every unlabelled service), so it is read without `string`.
            if let text = nameNode.scalar?.string {
                settings.serviceProxyName = text
            } else {
                report(nameNode, "kubernetes.serviceProxyName", "must be a text value (\"\" takes every unlabelled service)")
            }
        }
        settings.coalesceMilliseconds = UInt32(integer(fields["coalesceMilliseconds"], "kubernetes.coalesceMilliseconds", in: 0...10_000) ?? 10)
        return settings
    }
}
