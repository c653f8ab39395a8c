/// Client-IP session affinity, as kube-proxy's `sessionAffinity: ClientIP`: a new flow from a
/// client that used the service less than `timeoutSeconds` ago goes to the same endpoint.
@frozen
public struct SessionAffinity: Hashable, Sendable, CustomStringConvertible {
    /// Kubernetes' default for `sessionAffinityConfig.clientIP.timeoutSeconds` (3 hours).
    public static let defaultTimeoutSeconds: UInt32 = 10_800
    /// Kubernetes' upper bound for the same field (1 day).
    public static let maximumTimeoutSeconds: UInt32 = 86_400

    /// How long after the last new flow from a client its choice is remembered. Valid range
    /// 1...86400 as in Kubernetes; `BalancerSnapshot.build` rejects anything else.
    public var timeoutSeconds: UInt32

    @inlinable
    public init(timeoutSeconds: UInt32 = SessionAffinity.defaultTimeoutSeconds) {
        self.timeoutSeconds = timeoutSeconds
    }

    public var description: String { "ClientIP(\(timeoutSeconds)s)" }
}
