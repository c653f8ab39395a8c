import Balancer

/// Keeps mode mark's nftables map (endpoint id -> address . port) equal to the endpoints in
/// force. `apply` gets the whole wanted content and changes only what differs, in one
/// netlink transaction.
public protocol EndpointMapWriter: Sendable {
    /// Makes the map hold exactly `wanted` (at start: whatever a previous run left goes).
    func apply(_ wanted: [EndpointKey: UInt32]) throws(NetlinkError)
    /// Adds and removes elements in one transaction: a reload's change, costing only its size.
    func update(adding: [(EndpointKey, UInt32)], removing: [(EndpointKey, UInt32)]) throws(NetlinkError)
}
