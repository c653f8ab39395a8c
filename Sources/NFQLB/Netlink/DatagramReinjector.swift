#if canImport(Glibc)
import Glibc
#endif
import PacketRewrite

/// Sends a queued IPv4 or IPv6 datagram again, unchanged, from the node itself (a raw socket
/// with the header included: IPPROTO_RAW, which for IPv6 implies IPV6_HDRINCL), so that it
/// meets conntrack a second time.
///
/// Why: a masqueraded UDP flow's first datagram is queued after conntrack has given it an
/// un-NATed entry of its own, and rewriting its source to the node's address makes it a
/// martian on input (the kernel drops a packet arriving with a local source). Sent again
/// from the node, it goes through the OUTPUT hooks, where conntrack finds the entry the
/// worker just created and NATs it both ways, as it does the flow's later datagrams.
///
/// Owned by one worker (each family's socket opened on first use, kept for the worker's
/// life): no lock.
struct DatagramReinjector {
    private var descriptor: Int32 = -1
    private var descriptor6: Int32 = -1

    init() {}

    /// Sends `packet` (a whole IP datagram of `route`'s family) with `mark` as its packet mark;
    /// `route` is the address the kernel routes the send by (the backend: a service address
    /// may have no route on the node). False when the packet could not be sent.
    mutating func send(_ packet: UnsafeRawBufferPointer, route: IPAddress, mark: UInt32) -> Bool {
        guard let base = packet.baseAddress, packet.count >= 20 else { return false }
        switch route {
        case .v4(let destination):
            guard let fd = Self.open(&descriptor, family: AF_INET), Self.setMark(fd, mark) else { return false }
            var remote = sockaddr_in()
            remote.sin_family = sa_family_t(AF_INET)
            remote.sin_addr.s_addr = destination.rawValue.bigEndian
            let sent = withUnsafePointer(to: &remote) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, base, packet.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            return sent == packet.count
        case .v6(let destination):
            guard packet.count >= 40, let fd = Self.open(&descriptor6, family: AF_INET6), Self.setMark(fd, mark) else { return false }
            var remote = sockaddr_in6()
            remote.sin6_family = sa_family_t(AF_INET6)
            withUnsafeMutableBytes(of: &remote.sin6_addr) { bytes in
                bytes.storeBytes(of: destination.high.bigEndian, toByteOffset: 0, as: UInt64.self)
                bytes.storeBytes(of: destination.low.bigEndian, toByteOffset: 8, as: UInt64.self)
            }
            let sent = withUnsafePointer(to: &remote) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, base, packet.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
            return sent == packet.count
        }
    }

    private static func open(_ descriptor: inout Int32, family: Int32) -> Int32? {
        if descriptor < 0 {
            let fd = socket(family, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Int32(IPPROTO_RAW))
            guard fd >= 0 else { return nil }
            descriptor = fd
        }
        return descriptor
    }

    private static func setMark(_ fd: Int32, _ mark: UInt32) -> Bool {
        var value = mark
        return setsockopt(fd, SOL_SOCKET, SO_MARK, &value, socklen_t(MemoryLayout<UInt32>.size)) == 0
    }
}
