internal import CNFQueue

/// Builds one netlink message in caller-owned memory with libmnl, exposing no C type.
///
/// Messages are written back to back into a worker's batch buffer; `length` is the aligned size
/// to advance by. The caller guarantees room for the message (`NetlinkBatchBuffer.reserve`).
struct NetlinkMessageWriter {
    @usableFromInline let header: UnsafeMutableRawPointer

    /// Starts a message of `type` with the given flags and sequence number, followed by the
    /// 4-byte `nfgenmsg` every nfnetlink message carries.
    init(at memory: UnsafeMutableRawPointer, type: UInt16, flags: UInt16, sequence: UInt32, family: UInt8, resourceID: UInt16 = 0) {
        let nlh = mnl_nlmsg_put_header(memory)!
        nlh.pointee.nlmsg_type = type
        nlh.pointee.nlmsg_flags = flags
        nlh.pointee.nlmsg_seq = sequence
        let extra = mnl_nlmsg_put_extra_header(nlh, MemoryLayout<nfgenmsg>.size)!
        let genmsg = extra.assumingMemoryBound(to: nfgenmsg.self)
        genmsg.pointee.nfgen_family = family
        genmsg.pointee.version = UInt8(NFNETLINK_V0)
        genmsg.pointee.res_id = resourceID.bigEndian
        header = UnsafeMutableRawPointer(nlh)
    }

    private var nlh: UnsafeMutablePointer<nlmsghdr> { header.assumingMemoryBound(to: nlmsghdr.self) }

    /// The message's aligned length: how far the next message in a batch starts.
    var length: Int { NetlinkConstants.align(Int(nlh.pointee.nlmsg_len)) }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: header, count: Int(nlh.pointee.nlmsg_len)) }

    func put(_ type: UInt16, u8 value: UInt8) { mnl_attr_put_u8(nlh, type, value) }
    /// Puts a 16-bit value in network byte order (ports).
    func put(_ type: UInt16, be16 value: UInt16) { mnl_attr_put_u16(nlh, type, value.bigEndian) }
    /// Puts a 32-bit value in network byte order (ctnetlink's timeouts, marks, IPv4 addresses).
    func put(_ type: UInt16, be32 value: UInt32) { mnl_attr_put_u32(nlh, type, value.bigEndian) }
    func put(_ type: UInt16, bytes: UnsafeRawBufferPointer) {
        mnl_attr_put(nlh, type, bytes.count, bytes.baseAddress)
    }

    /// Writes a nested attribute whose contents `body` puts.
    func nest(_ type: UInt16, _ body: () -> Void) {
        let start = mnl_attr_nest_start(nlh, type)
        body()
        mnl_attr_nest_end(nlh, start)
    }
}
