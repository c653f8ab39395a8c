/// The `kubernetes:` block: where the API server is, how to authenticate, which services are
/// ours, and how changes are batched. Plain settings: the daemon module reads no Kubernetes
/// object and links no HTTP client; the executable hands these to the Kubernetes source.
public struct KubernetesSettings: Sendable, Equatable {
    /// `https://host:port` of the API server. In a pod it must be given: the `kubernetes`
    /// service's own VIP is served by nfq-lb itself and cannot bootstrap it.
    public var apiServer: String?
    /// A kubeconfig file (outside a pod); its server, CA and credentials are used.
    public var kubeconfig: String?
    /// The bearer token file, re-read when the kubelet rotates it.
    public var tokenFile: String
    public var caFile: String
    /// This node's name; nil: `--hostname-override`, then the `NODE_NAME` environment variable.
    public var nodeName: String?
    /// kube-proxy's service-proxy-name rule: `nfq-lb` (default) takes the services labelled
    /// `service.kubernetes.io/service-proxy-name: nfq-lb`; `""` takes every unlabelled one.
    public var serviceProxyName: String
    /// How long changes are gathered into one snapshot change after the first of them: one
    /// rollout's many slice updates become one rebuild, at a bounded cost in latency.
    public var coalesceMilliseconds: UInt32

    public static let inClusterTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"
    public static let inClusterCAFile = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"

    public init(apiServer: String? = nil, kubeconfig: String? = nil, tokenFile: String = KubernetesSettings.inClusterTokenFile,
                caFile: String = KubernetesSettings.inClusterCAFile, nodeName: String? = nil, serviceProxyName: String = "nfq-lb",
                coalesceMilliseconds: UInt32 = 10) {
        self.apiServer = apiServer
        self.kubeconfig = kubeconfig
        self.tokenFile = tokenFile
        self.caFile = caFile
        self.nodeName = nodeName
        self.serviceProxyName = serviceProxyName
        self.coalesceMilliseconds = coalesceMilliseconds
    }
}
