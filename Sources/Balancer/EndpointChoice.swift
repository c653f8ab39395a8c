/// The endpoint chosen for a new flow: its index among the service balancer's candidates
/// (for `flowOpened(candidate:)`) and the endpoint itself (for the NAT).
@frozen
public struct EndpointChoice: Hashable, Sendable {
    public var index: Int
    public var endpoint: Endpoint

    @inlinable
    public init(index: Int, endpoint: Endpoint) {
        self.index = index
        self.endpoint = endpoint
    }
}
