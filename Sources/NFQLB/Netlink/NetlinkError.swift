import SystemPackage

/// A kernel refusal or a socket failure, with the errno and the operation that met it.
///
/// Every netlink call in nfq-lb reports through this one type, so that a log line or a test
/// failure always says both what was attempted and what the kernel answered.
public struct NetlinkError: Error, Equatable, Sendable, CustomStringConvertible {
    public var errno: Errno
    public var operation: String

    public init(errno: Errno, operation: String) {
        self.errno = errno
        self.operation = operation
    }

    /// From the negative errno a netlink `NLMSG_ERROR` message carries.
    init(kernelError: Int32, operation: String) {
        self.init(errno: Errno(rawValue: -kernelError), operation: operation)
    }

    public var description: String { "\(operation): \(errno) (errno \(errno.rawValue))" }
}
