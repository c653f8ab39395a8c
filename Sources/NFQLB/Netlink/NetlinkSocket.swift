#if canImport(Glibc)
import Glibc
#endif
internal import CNFQueue
import SystemPackage

/// A `NETLINK_NETFILTER` socket owned by one thread.
///
/// Not `Sendable` on purpose: every queue worker, conntrack client and event monitor owns its
/// own socket, so sequence numbers and receive buffers never need a lock.
final class NetlinkSocket {
    let fd: Int32
    let portID: UInt32

    /// The outcome of one `recv`: either bytes, or one of the conditions a worker must survive.
    enum Receive: Equatable {
        case bytes(Int)
        /// Non-blocking read found nothing, or the receive timeout expired.
        case wouldBlock
        /// The kernel dropped messages for this socket (`ENOBUFS`): count it and carry on.
        case overrun
    }

    /// Opens and binds a netlink socket; `groups` subscribes to multicast groups (legacy bit mask).
    init(bus: Int32 = NETLINK_NETFILTER, groups: UInt32 = 0) throws(NetlinkError) {
        let fd: Int32
        switch Syscalls.socket(domain: AF_NETLINK, type: Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), protocol: bus) {
        case .success(let value): fd = value
        case .failure(let errno): throw NetlinkError(errno: errno, operation: "socket(AF_NETLINK)")
        }
        if case .failure(let errno) = Syscalls.bindNetlink(fd, groups: groups) {
            Syscalls.close(fd)
            throw NetlinkError(errno: errno, operation: "bind(netlink, groups \(groups))")
        }
        switch Syscalls.netlinkPortID(fd) {
        case .success(let id): portID = id
        case .failure(let errno):
            Syscalls.close(fd)
            throw NetlinkError(errno: errno, operation: "getsockname(netlink)")
        }
        self.fd = fd
    }

    deinit { Syscalls.close(fd) }

    func setOption(level: Int32, name: Int32, value: Int32, operation: String) throws(NetlinkError) {
        if case .failure(let errno) = Syscalls.setOption(fd, level: level, name: name, value: value) {
            throw NetlinkError(errno: errno, operation: operation)
        }
    }

    /// Sizes the receive buffer beyond `rmem_max` (needs CAP_NET_ADMIN), falling back to the
    /// capped `SO_RCVBUF` when the forced variant is refused.
    func setReceiveBuffer(bytes: Int) throws(NetlinkError) {
        let value = Int32(clamping: bytes)
        if case .failure = Syscalls.setOption(fd, level: SOL_SOCKET, name: SO_RCVBUFFORCE, value: value) {
            try setOption(level: SOL_SOCKET, name: SO_RCVBUF, value: value, operation: "setsockopt(SO_RCVBUF)")
        }
    }

    /// Sizes the send buffer beyond `wmem_max` (CAP_NET_ADMIN), falling back to `SO_SNDBUF`:
    /// a netlink message larger than the send buffer is refused with EMSGSIZE.
    func setSendBuffer(bytes: Int) throws(NetlinkError) {
        let value = Int32(clamping: bytes)
        if case .failure = Syscalls.setOption(fd, level: SOL_SOCKET, name: SO_SNDBUFFORCE, value: value) {
            try setOption(level: SOL_SOCKET, name: SO_SNDBUF, value: value, operation: "setsockopt(SO_SNDBUF)")
        }
    }

    func setReceiveTimeout(milliseconds: Int) throws(NetlinkError) {
        if case .failure(let errno) = Syscalls.setReceiveTimeout(fd, milliseconds: milliseconds) {
            throw NetlinkError(errno: errno, operation: "setsockopt(SO_RCVTIMEO)")
        }
    }

    func send(_ bytes: UnsafeRawBufferPointer, operation: @autoclosure () -> String) throws(NetlinkError) {
        switch Syscalls.sendToKernel(fd, bytes) {
        case .success: return
        case .failure(let errno): throw NetlinkError(errno: errno, operation: operation())
        }
    }

    /// Datagrams dropped because a process, not the kernel, sent them (`nl_pid != 0`).
    private(set) var foreignDatagrams = 0
    /// Kernel datagrams longer than the receive buffer: their tail was lost.
    private(set) var truncatedDatagrams = 0

    /// Receives one datagram from the kernel. Any other sender's datagram is dropped and
    /// counted here, once for every socket: a local process can unicast to our port, and its
    /// bytes must never be read as a packet, a verdict answer or a conntrack event.
    func receive(into buffer: UnsafeMutableRawBufferPointer, blocking: Bool) throws(NetlinkError) -> Receive {
        while true {
            switch Syscalls.receive(fd, into: buffer, flags: blocking ? 0 : Int32(MSG_DONTWAIT)) {
            case .success(let received):
                if received.senderPortID != 0 {
                    foreignDatagrams += 1
                    continue
                }
                if received.truncated { truncatedDatagrams += 1 }
                return .bytes(min(received.count, buffer.count))
            case .failure(let errno):
                switch errno {
                case .wouldBlock, .resourceTemporarilyUnavailable: return .wouldBlock
                case .noBufferSpace: return .overrun
                default: throw NetlinkError(errno: errno, operation: "recvmsg(netlink)")
                }
            }
        }
    }

    /// The send buffer the kernel granted: a netlink message longer than this (less the
    /// kernel's 32-byte reserve) is refused with EMSGSIZE.
    var sendBufferBytes: Int {
        Syscalls.getOption(fd, level: SOL_SOCKET, name: SO_SNDBUF).map(Int.init) ?? 0
    }
}
