import Balancer
import PacketRewrite

/// A new flow between its pick and its verdict, inside one worker batch.
struct FlowInFlight {
    var tuple: FlowTuple
    /// A TCP SYN's initial sequence number (0 for UDP): tells a retransmit from a new
    /// connection on the same 5-tuple.
    var sequence: UInt32 = 0
    /// Where the pick sent the flow; a conntrack conflict may replace it with the backend an
    /// existing entry already carries.
    var backendAddress: IPAddress
    var backendPort: UInt16
    /// The endpoint's id in our mark field (mark mode's map key, every mode's ct mark).
    var endpointID: UInt32
    /// Source NAT for masquerading services; nil when the flow keeps its source.
    var sourceNAT: IPAddress?
    /// Position of this flow's staged CT_NEW in the conntrack batch, or -1.
    var createPosition: Int = -1
    /// The kernel's answer to the staged CT_NEW: 0 or a negative errno.
    var createResult: Int32 = 0
    /// Set by the path when the flow is new (not a retransmit or a datagram of a known flow):
    /// only then does the endpoint's active-flow count go up.
    var isNewFlow = false
    /// True when the backend came from the path's memory of this 5-tuple, not a fresh pick.
    var recalled = false
    /// Where the pick came from, for `flowOpened`.
    var candidate: Int
}
