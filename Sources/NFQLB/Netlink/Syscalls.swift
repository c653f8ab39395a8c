#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
internal import CNFQueue
import SystemPackage

/// The only place in NFQLB that calls socket system calls directly.
///
/// Each returns the syscall's result or the `Errno` it failed with; `EINTR` is retried here once
/// and for all, so callers see only real outcomes (as swift-system's `valueOrErrno` does).
enum Syscalls {
    static func socket(domain: Int32, type: Int32, protocol proto: Int32) -> Result<Int32, Errno> {
        retryingInterrupts { Glibc.socket(domain, type, proto) }
    }

    static func bindNetlink(_ fd: Int32, groups: UInt32) -> Result<Void, Errno> {
        var address = sockaddr_nl()
        address.nl_family = sa_family_t(AF_NETLINK)
        address.nl_pid = 0  // let the kernel assign the port id
        address.nl_groups = groups
        return retryingInterrupts {
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_nl>.size))
                }
            }
        }.map { _ in () }
    }

    static func netlinkPortID(_ fd: Int32) -> Result<UInt32, Errno> {
        var address = sockaddr_nl()
        var length = socklen_t(MemoryLayout<sockaddr_nl>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        if result < 0 { return .failure(Errno(rawValue: Glibc.errno)) }
        return .success(address.nl_pid)
    }

    static func setOption(_ fd: Int32, level: Int32, name: Int32, value: Int32) -> Result<Void, Errno> {
        var value = value
        let result = setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
        return result < 0 ? .failure(Errno(rawValue: Glibc.errno)) : .success(())
    }

    static func getOption(_ fd: Int32, level: Int32, name: Int32) -> Int32? {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, level, name, &value, &length) < 0 ? nil : value
    }

    static func setReceiveTimeout(_ fd: Int32, milliseconds: Int) -> Result<Void, Errno> {
        var timeout = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        let result = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return result < 0 ? .failure(Errno(rawValue: Glibc.errno)) : .success(())
    }

    /// Sends one datagram to the kernel (netlink port 0).
    static func sendToKernel(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Result<Int, Errno> {
        var kernel = sockaddr_nl()
        kernel.nl_family = sa_family_t(AF_NETLINK)
        return retryingInterrupts {
            withUnsafePointer(to: &kernel) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.sendto(fd, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_nl>.size))
                }
            }
        }
    }

    /// One received datagram: its length, the netlink port that sent it (0: the kernel), and
    /// whether it was longer than the buffer (`MSG_TRUNC`: the rest is lost).
    struct Received {
        var count: Int
        var senderPortID: UInt32
        var truncated: Bool
    }

    /// `recvmsg`, so that the sender's address comes with the bytes: a netlink socket accepts
    /// unicasts from any process, and only the kernel's messages may be trusted.
    static func receive(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, flags: Int32) -> Result<Received, Errno> {
        var sender = sockaddr_nl()
        var vector = iovec(iov_base: buffer.baseAddress, iov_len: buffer.count)
        var messageFlags: Int32 = 0
        let result: Result<Int, Errno> = withUnsafeMutablePointer(to: &sender) { address in
            withUnsafeMutablePointer(to: &vector) { vector in
                var header = msghdr()
                header.msg_name = UnsafeMutableRawPointer(address)
                header.msg_namelen = socklen_t(MemoryLayout<sockaddr_nl>.size)
                header.msg_iov = vector
                header.msg_iovlen = 1
                return retryingInterrupts {
                    let count = Glibc.recvmsg(fd, &header, flags)
                    messageFlags = header.msg_flags
                    return count
                }
            }
        }
        return result.map { count in
            Received(count: count, senderPortID: sender.nl_pid, truncated: messageFlags & Int32(MSG_TRUNC) != 0)
        }
    }

    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    @inline(__always)
    private static func retryingInterrupts<T: BinaryInteger>(_ call: () -> T) -> Result<T, Errno> {
        while true {
            let result = call()
            if result >= 0 { return .success(result) }
            let error = Errno(rawValue: Glibc.errno)
            if error != .interrupted { return .failure(error) }
        }
    }
}
