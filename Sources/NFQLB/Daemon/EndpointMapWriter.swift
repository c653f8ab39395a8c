import Balancer

/// Keeps mode mark's nftables map (endpoint id -> address . port) equal to the endpoints in
/// force. `apply` gets the whole wanted content and changes only what differs, in one
/// netlink transaction.
public protocol EndpointMapWriter: Sendable {
    /// Makes the map hold exactly `wanted` (at start: whatever a previous run left goes).
    func apply(_ wanted: [EndpointKey: UInt32]) throws(NetlinkError)
    /// Adds and removes elements in one transaction: a reload's change, costing only its size.
    func update(adding: [(EndpointKey, UInt32)], removing: [(EndpointKey, UInt32)]) throws(NetlinkError)
    /// Nil while the kernel's map holds what it must; otherwise why not and for how long, e.g.
    /// "nftables map out of sync for 2.3 s: table ip nfqlb missing (...)". For `/healthz`.
    var syncProblem: String? { get }
    /// When the kernel's map stopped holding what it must; nil while in sync.
    var outOfSyncSince: ContinuousClock.Instant? { get }
}
