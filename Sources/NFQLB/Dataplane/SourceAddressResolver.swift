#if canImport(Glibc)
import Glibc
#endif
import PacketRewrite

/// The node address a masqueraded flow gets as its source: the configured one when it is of the
/// endpoint's family, or the address the kernel itself would use to reach the endpoint (found
/// by connecting a UDP socket of the endpoint's family, which sends nothing, and reading its
/// local address): so an IPv6 flow of a dual-stack node gets the node's IPv6 address even when
/// `masqueradeAddress` is an IPv4 one. Cached per worker; only masquerading services ever ask.
struct SourceAddressResolver {
    let configured: IPAddress?
    private var cache: [IPAddress: (address: IPAddress, at: UInt64)] = [:]
    private let lifetimeMilliseconds: UInt64 = 30_000

    init(configured: IPAddress?) {
        self.configured = configured
    }

    mutating func source(toward destination: IPAddress, now: UInt64) -> IPAddress? {
        if let configured, configured.isIPv4 == destination.isIPv4 { return configured }
        if let cached = cache[destination], now &- cached.at < lifetimeMilliseconds { return cached.address }
        guard let found = Self.routeSource(toward: destination) else { return nil }
        if cache.count > 4096 { cache.removeAll(keepingCapacity: true) }
        cache[destination] = (found, now)
        return found
    }

    static func routeSource(toward destination: IPAddress) -> IPAddress? {
        guard case .v4(let v4) = destination else { return routeSource6(toward: destination) }
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var remote = sockaddr_in()
        remote.sin_family = sa_family_t(AF_INET)
        remote.sin_port = UInt16(9).bigEndian
        remote.sin_addr.s_addr = v4.rawValue.bigEndian
        let connected = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        var local = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { return nil }
        return .v4(IPv4Address(rawValue: UInt32(bigEndian: local.sin_addr.s_addr)))
    }

    private static func routeSource6(toward destination: IPAddress) -> IPAddress? {
        guard case .v6(let v6) = destination else { return nil }
        let fd = socket(AF_INET6, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var remote = sockaddr_in6()
        remote.sin6_family = sa_family_t(AF_INET6)
        remote.sin6_port = UInt16(9).bigEndian
        withUnsafeMutableBytes(of: &remote.sin6_addr) { bytes in
            bytes.storeBytes(of: v6.high.bigEndian, toByteOffset: 0, as: UInt64.self)
            bytes.storeBytes(of: v6.low.bigEndian, toByteOffset: 8, as: UInt64.self)
        }
        let connected = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
        guard connected == 0 else { return nil }
        var local = sockaddr_in6()
        var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        let named = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { return nil }
        return withUnsafeBytes(of: local.sin6_addr) { bytes in
            .v6(IPv6Address(high: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                            low: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))))
        }
    }
}
