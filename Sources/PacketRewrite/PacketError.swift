/// Why a buffer is not a packet that PacketRewrite will parse or rewrite.
///
/// One case per way a packet can be malformed or out of scope, so that a worker can count
/// each reason separately and a test can prove each is reached. The cases carry at most a
/// small integer: with typed throws (`throws(PacketError)`) an error is a plain value and
/// throwing one never allocates, which keeps the per-packet path allocation-free even for a
/// flood of garbage.
@frozen
public enum PacketError: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    /// The buffer is shorter than the fixed IP header (20 bytes for IPv4, 40 for IPv6), or than
    /// the IPv4 header length (IHL) it declares.
    case truncatedIPHeader
    /// The version nibble is neither 4 nor 6.
    case unsupportedIPVersion(UInt8)
    /// IPv4 IHL below 5: the header would be shorter than its fixed part.
    case badIPv4HeaderLength
    /// IPv4 total length is more than the buffer holds (the kernel handed us less than the
    /// packet: a short copy range, or a lie).
    case ipv4TotalLengthBeyondBuffer
    /// IPv4 total length is less than the header length it declares.
    case ipv4TotalLengthShorterThanHeader
    /// IPv6 payload length is more than the buffer holds after the fixed header.
    case ipv6PayloadLengthBeyondBuffer
    /// An IPv6 extension header runs past the payload length.
    case truncatedExtensionHeader
    /// More IPv6 extension headers than the walk accepts (`PacketView.maximumExtensionHeaders`):
    /// a bounded walk keeps the per-packet cost bounded against crafted chains.
    case tooManyExtensionHeaders
    /// A fragment that is not the first one (IPv4 fragment offset or IPv6 Fragment header
    /// offset not 0): it carries no transport header, so there is no port to read or rewrite.
    case nonFirstFragment
    /// The transport protocol is neither TCP nor UDP (after any IPv6 extension headers).
    case unsupportedProtocol(IPProtocolNumber)
    /// The transport header is cut short (fewer than 20 TCP or 8 UDP bytes).
    case truncatedTransportHeader
    /// TCP data offset below 5 words, or reaching past the end of the packet.
    case badTCPDataOffset
    /// UDP length below 8, or beyond the IP payload.
    case badUDPLength
    /// A rewrite asked to put an IPv4 address into an IPv6 packet or the reverse.
    case addressFamilyMismatch
    /// An IPv6 Routing header still has segments left: the transport checksum then covers the
    /// final destination, which is not in the IPv6 header, so changing the destination (or
    /// computing the checksum from scratch) would corrupt the packet. Refused instead.
    case routingHeaderSegmentsLeft
    /// A full transport checksum was asked of a first fragment: the checksum covers the whole
    /// datagram, most of which is in later fragments. Only the incremental update is possible.
    case checksumNeedsWholeDatagram

    public var description: String {
        switch self {
        case .truncatedIPHeader: "truncated IP header"
        case .unsupportedIPVersion(let v): "unsupported IP version \(v)"
        case .badIPv4HeaderLength: "IPv4 header length below 20 bytes"
        case .ipv4TotalLengthBeyondBuffer: "IPv4 total length beyond the buffer"
        case .ipv4TotalLengthShorterThanHeader: "IPv4 total length shorter than its header"
        case .ipv6PayloadLengthBeyondBuffer: "IPv6 payload length beyond the buffer"
        case .truncatedExtensionHeader: "truncated IPv6 extension header"
        case .tooManyExtensionHeaders: "too many IPv6 extension headers"
        case .nonFirstFragment: "non-first fragment"
        case .unsupportedProtocol(let p): "unsupported transport protocol \(p)"
        case .truncatedTransportHeader: "truncated transport header"
        case .badTCPDataOffset: "bad TCP data offset"
        case .badUDPLength: "bad UDP length"
        case .addressFamilyMismatch: "address family mismatch"
        case .routingHeaderSegmentsLeft: "IPv6 routing header with segments left"
        case .checksumNeedsWholeDatagram: "checksum of a fragment needs the whole datagram"
        }
    }
}
