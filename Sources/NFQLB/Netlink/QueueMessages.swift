internal import CNFQueue

/// nfnetlink_queue messages, built with libnetfilter_queue's `nfq_nlmsg_*` helpers.
enum QueueMessages {
    /// Room for one verdict without payload (header, verdict, mark).
    static let verdictOverhead = 64

    enum Command: UInt8 {
        case bind = 1    // NFQNL_CFG_CMD_BIND
        case unbind = 2  // NFQNL_CFG_CMD_UNBIND
    }

    /// NFQNL_MSG_CONFIG carrying a bind/unbind command, acknowledged so that a refusal
    /// (EBUSY: another process owns the queue; EPERM: no CAP_NET_ADMIN) is seen at once.
    static func command(_ command: Command, queue: UInt16, sequence: UInt32, into memory: UnsafeMutableRawPointer) -> Int {
        let nlh = nfq_nlmsg_put(memory.assumingMemoryBound(to: CChar.self), Int32(NFQNL_MSG_CONFIG.rawValue), UInt32(queue))!
        nlh.pointee.nlmsg_flags |= UInt16(NLM_F_ACK)
        nlh.pointee.nlmsg_seq = sequence
        nfq_nlmsg_cfg_put_cmd(nlh, UInt16(AF_INET), command.rawValue)
        return Int(nlh.pointee.nlmsg_len)
    }

    /// NFQNL_MSG_CONFIG with copy mode/range, queue length and the fail-open/GSO flags.
    static func parameters(queue: UInt16, copyRange: Int, maxLength: UInt32, flags: UInt32, flagMask: UInt32,
                           sequence: UInt32, into memory: UnsafeMutableRawPointer) -> Int {
        let nlh = nfq_nlmsg_put(memory.assumingMemoryBound(to: CChar.self), Int32(NFQNL_MSG_CONFIG.rawValue), UInt32(queue))!
        nlh.pointee.nlmsg_flags |= UInt16(NLM_F_ACK)
        nlh.pointee.nlmsg_seq = sequence
        nfq_nlmsg_cfg_put_params(nlh, UInt8(NFQNL_COPY_PACKET.rawValue), Int32(copyRange))
        nfq_nlmsg_cfg_put_qmaxlen(nlh, maxLength)
        mnl_attr_put_u32(nlh, UInt16(NFQA_CFG_FLAGS.rawValue), flags.bigEndian)
        mnl_attr_put_u32(nlh, UInt16(NFQA_CFG_MASK.rawValue), flagMask.bigEndian)
        return Int(nlh.pointee.nlmsg_len)
    }

    /// One NFQNL_MSG_VERDICT; returns its aligned length.
    @inline(__always)
    static func verdict(queue: UInt16, packetID: UInt32, verdict: UInt32, mark: UInt32?,
                        payload: UnsafeRawBufferPointer?, into memory: UnsafeMutableRawPointer) -> Int {
        let nlh = nfq_nlmsg_put(memory.assumingMemoryBound(to: CChar.self), Int32(NFQNL_MSG_VERDICT.rawValue), UInt32(queue))!
        nfq_nlmsg_verdict_put(nlh, Int32(bitPattern: packetID), Int32(bitPattern: verdict))
        if let mark { nfq_nlmsg_verdict_put_mark(nlh, mark) }
        if let payload { nfq_nlmsg_verdict_put_pkt(nlh, payload.baseAddress, UInt32(payload.count)) }
        return NetlinkConstants.align(Int(nlh.pointee.nlmsg_len))
    }

    /// The packet id a verdict message answers (`NFQA_VERDICT_HDR`), read back from our own
    /// bytes when a verdict must be resent in another form.
    static func packetID(ofVerdict message: UnsafeRawBufferPointer) -> UInt32? {
        guard let header = NetlinkAttributes(message: message).first(UInt16(NFQA_VERDICT_HDR.rawValue)),
              header.payload.count >= 8 else { return nil }
        return UInt32(bigEndian: header.payload.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
    }
}
