internal import CNFQueue

/// The C constants nfq-lb uses, renamed once so that the rest of NFQLB never imports the C module
/// (as swift-system's `Internals/Constants.swift`). Values are the kernel UAPI's.
enum NetlinkConstants {
    // nlmsghdr flags
    static let request = UInt16(NLM_F_REQUEST)
    static let acknowledge = UInt16(NLM_F_ACK)
    static let create = UInt16(NLM_F_CREATE)
    static let exclusive = UInt16(NLM_F_EXCL)
    static let dump = UInt16(NLM_F_DUMP)

    static let messageError = UInt16(NLMSG_ERROR)
    static let messageDone = UInt16(NLMSG_DONE)
    static let headerLength = 16
    static let nfgenmsgLength = 4

    // nfnetlink
    static let groupConntrackDestroy = UInt32(NFNLGRP_CONNTRACK_DESTROY.rawValue)

    // ctnetlink messages
    static let ctNew = UInt8(IPCTNL_MSG_CT_NEW.rawValue)
    static let ctGet = UInt8(IPCTNL_MSG_CT_GET.rawValue)
    static let ctDelete = UInt8(IPCTNL_MSG_CT_DELETE.rawValue)

    // ctnetlink attributes
    static let ctaTupleOrig = UInt16(CTA_TUPLE_ORIG.rawValue)
    static let ctaTupleReply = UInt16(CTA_TUPLE_REPLY.rawValue)
    static let ctaStatus = UInt16(CTA_STATUS.rawValue)
    static let ctaProtoinfo = UInt16(CTA_PROTOINFO.rawValue)
    static let ctaNatSrc = UInt16(CTA_NAT_SRC.rawValue)
    static let ctaNatDst = UInt16(CTA_NAT_DST.rawValue)
    static let ctaTimeout = UInt16(CTA_TIMEOUT.rawValue)
    static let ctaMark = UInt16(CTA_MARK.rawValue)
    static let ctaMarkMask = UInt16(CTA_MARK_MASK.rawValue)
    static let ctaTupleIP = UInt16(CTA_TUPLE_IP.rawValue)
    static let ctaTupleProto = UInt16(CTA_TUPLE_PROTO.rawValue)
    static let ctaIPv4Src = UInt16(CTA_IP_V4_SRC.rawValue)
    static let ctaIPv4Dst = UInt16(CTA_IP_V4_DST.rawValue)
    static let ctaIPv6Src = UInt16(CTA_IP_V6_SRC.rawValue)
    static let ctaIPv6Dst = UInt16(CTA_IP_V6_DST.rawValue)
    static let ctaProtoNum = UInt16(CTA_PROTO_NUM.rawValue)
    static let ctaProtoSrcPort = UInt16(CTA_PROTO_SRC_PORT.rawValue)
    static let ctaProtoDstPort = UInt16(CTA_PROTO_DST_PORT.rawValue)
    static let ctaNatV4MinIP = UInt16(CTA_NAT_V4_MINIP.rawValue)
    static let ctaNatV4MaxIP = UInt16(CTA_NAT_V4_MAXIP.rawValue)
    static let ctaNatV6MinIP = UInt16(CTA_NAT_V6_MINIP.rawValue)
    static let ctaNatV6MaxIP = UInt16(CTA_NAT_V6_MAXIP.rawValue)
    static let ctaNatProto = UInt16(CTA_NAT_PROTO.rawValue)
    static let ctaProtonatPortMin = UInt16(CTA_PROTONAT_PORT_MIN.rawValue)
    static let ctaProtonatPortMax = UInt16(CTA_PROTONAT_PORT_MAX.rawValue)
    static let ctaProtoinfoTCP = UInt16(CTA_PROTOINFO_TCP.rawValue)
    static let ctaProtoinfoTCPState = UInt16(CTA_PROTOINFO_TCP_STATE.rawValue)
    static let ctaProtoinfoTCPFlagsOriginal = UInt16(CTA_PROTOINFO_TCP_FLAGS_ORIGINAL.rawValue)
    static let ctaProtoinfoTCPFlagsReply = UInt16(CTA_PROTOINFO_TCP_FLAGS_REPLY.rawValue)
    static let tcpFlagBeLiberal = UInt8(IP_CT_TCP_FLAG_BE_LIBERAL)

    // nfnetlink_queue
    static let queueMessagePacket = UInt16(NFQNL_MSG_PACKET.rawValue)
    static let nfqaPacketHeader = Int(NFQA_PACKET_HDR.rawValue)
    static let nfqaMark = Int(NFQA_MARK.rawValue)
    static let nfqaPayload = Int(NFQA_PAYLOAD.rawValue)
    static let nfqaSkbInfo = Int(NFQA_SKB_INFO.rawValue)
    static let nfqaCapLen = Int(NFQA_CAP_LEN.rawValue)
    static let skbChecksumNotReady = UInt32(NFQA_SKB_CSUMNOTREADY)
    static let configFailOpen = UInt32(NFQA_CFG_F_FAIL_OPEN)
    static let configGSO = UInt32(NFQA_CFG_F_GSO)

    // verdicts
    static let verdictDrop = UInt32(NF_DROP)
    static let verdictAccept = UInt32(NF_ACCEPT)
    static let verdictRepeat = UInt32(NF_REPEAT)

    // socket options
    static let solNetlink = Int32(SOL_NETLINK)
    static let netlinkNoENOBUFS = Int32(NETLINK_NO_ENOBUFS)
    static let netlinkNetfilter = Int32(NETLINK_NETFILTER)

    static func ctnetlinkType(_ message: UInt8) -> UInt16 { cnfq_ctnetlink_type(UInt16(message)) }
    static func subsystem(ofType type: UInt16) -> UInt16 { cnfq_subsys_id(type) }
    static func message(ofType type: UInt16) -> UInt16 { cnfq_msg_type(type) }
    static func groupBit(_ group: UInt32) -> UInt32 { cnfq_nfnlgrp_bit(group) }
    static func align(_ length: Int) -> Int { Int(cnfq_nlmsg_align(UInt32(length))) }
}
