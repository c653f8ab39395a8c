import Balancer

/// Keeps mode mark's nftables map (endpoint id -> address . port) equal to the endpoints in
/// force. `apply` gets the whole wanted content and changes only what differs, in one
/// netlink transaction.
public protocol EndpointMapWriter: Sendable {
    func apply(_ wanted: [EndpointKey: UInt32]) throws(NetlinkError)
}
