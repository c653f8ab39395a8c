/// How a rewrite brings the checksums up to date.
@frozen
public enum ChecksumUpdate: Hashable, Sendable {
    /// RFC 1624 eqn. 3 over the changed words only: O(1), and exact when the checksums in the
    /// packet were right. The default.
    case incremental
    /// Every checksum from scratch: the IPv4 header's, and the transport one over pseudo-header
    /// and segment, so that they verify whatever the fields held before (an IPv4 UDP checksum
    /// of 0, "none", stays 0). Needed when the transport field is not a finished checksum:
    /// locally generated packets that the kernel queues with `NFQA_SKB_CSUMNOTREADY` carry only
    /// the pseudo-header sum there, and the kernel takes a returned payload as complete (see
    /// docs/ARCHITECTURE.md, "Checksum pitfall"). Costs a pass over the segment.
    case full
}
