import PacketRewrite

/// Builds and parses ctnetlink messages (the exact attribute layout of docs/ARCHITECTURE.md).
enum ConntrackMessage {
    /// The largest message we build: a CT_NEW with IPv6 tuples, both NATs, protoinfo and mark.
    static let maximumLength = 512

    static func family(of address: IPAddress) -> UInt8 { address.isIPv4 ? 2 /* AF_INET */ : 10 /* AF_INET6 */ }

    /// `IPCTNL_MSG_CT_NEW` with `NLM_F_CREATE|NLM_F_EXCL|NLM_F_ACK`: EXCL makes an existing tuple
    /// answer EEXIST (without it the kernel would answer EOPNOTSUPP: NAT on an existing entry).
    static func create(_ request: ConntrackCreateRequest, sequence: UInt32, into memory: UnsafeMutableRawPointer) -> NetlinkMessageWriter {
        let flow = request.original
        let writer = NetlinkMessageWriter(
            at: memory, type: NetlinkConstants.ctnetlinkType(NetlinkConstants.ctNew),
            flags: NetlinkConstants.request | NetlinkConstants.create | NetlinkConstants.exclusive | NetlinkConstants.acknowledge,
            sequence: sequence, family: family(of: flow.source))
        putTuple(writer, NetlinkConstants.ctaTupleOrig, flow)
        putTuple(writer, NetlinkConstants.ctaTupleReply, FlowTuple(
            proto: flow.proto, source: flow.destination, sourcePort: flow.destinationPort,
            destination: flow.source, destinationPort: flow.sourcePort))
        putNAT(writer, NetlinkConstants.ctaNatDst, address: request.backendAddress, port: request.backendPort)
        if let source = request.sourceNAT {
            putNAT(writer, NetlinkConstants.ctaNatSrc, address: source, port: nil)
        }
        writer.put(NetlinkConstants.ctaTimeout, be32: request.timeoutSeconds)
        writer.put(NetlinkConstants.ctaMark, be32: request.mark)
        if flow.proto == .tcp {
            writer.nest(NetlinkConstants.ctaProtoinfo) {
                writer.nest(NetlinkConstants.ctaProtoinfoTCP) {
                    writer.put(NetlinkConstants.ctaProtoinfoTCPState, u8: TCPConntrackState.synSent.rawValue)
                    if request.liberalTCPWindow {
                        // struct nf_ct_tcp_flags { __u8 flags; __u8 mask; }
                        var flags: (UInt8, UInt8) = (NetlinkConstants.tcpFlagBeLiberal, NetlinkConstants.tcpFlagBeLiberal)
                        withUnsafeBytes(of: &flags) { bytes in
                            writer.put(NetlinkConstants.ctaProtoinfoTCPFlagsOriginal, bytes: bytes)
                            writer.put(NetlinkConstants.ctaProtoinfoTCPFlagsReply, bytes: bytes)
                        }
                    }
                }
            }
        }
        return writer
    }

    /// `IPCTNL_MSG_CT_GET` or `IPCTNL_MSG_CT_DELETE` for one entry, found by its original tuple.
    static func lookup(_ message: UInt8, original flow: FlowTuple, sequence: UInt32, into memory: UnsafeMutableRawPointer) -> NetlinkMessageWriter {
        let writer = NetlinkMessageWriter(
            at: memory, type: NetlinkConstants.ctnetlinkType(message),
            flags: NetlinkConstants.request | NetlinkConstants.acknowledge,
            sequence: sequence, family: family(of: flow.source))
        putTuple(writer, NetlinkConstants.ctaTupleOrig, flow)
        return writer
    }

    /// A dump of every entry of a family whose mark matches `value` under `mask`.
    static func dump(family: UInt8, markValue: UInt32, markMask: UInt32, sequence: UInt32, into memory: UnsafeMutableRawPointer) -> NetlinkMessageWriter {
        let writer = NetlinkMessageWriter(
            at: memory, type: NetlinkConstants.ctnetlinkType(NetlinkConstants.ctGet),
            flags: NetlinkConstants.request | NetlinkConstants.dump,
            sequence: sequence, family: family)
        if markMask != 0 {
            writer.put(NetlinkConstants.ctaMark, be32: markValue)
            writer.put(NetlinkConstants.ctaMarkMask, be32: markMask)
        }
        return writer
    }

    private static func putTuple(_ writer: NetlinkMessageWriter, _ type: UInt16, _ flow: FlowTuple) {
        writer.nest(type) {
            writer.nest(NetlinkConstants.ctaTupleIP) {
                putAddress(writer, v4: NetlinkConstants.ctaIPv4Src, v6: NetlinkConstants.ctaIPv6Src, flow.source)
                putAddress(writer, v4: NetlinkConstants.ctaIPv4Dst, v6: NetlinkConstants.ctaIPv6Dst, flow.destination)
            }
            writer.nest(NetlinkConstants.ctaTupleProto) {
                writer.put(NetlinkConstants.ctaProtoNum, u8: flow.proto.rawValue)
                writer.put(NetlinkConstants.ctaProtoSrcPort, be16: flow.sourcePort)
                writer.put(NetlinkConstants.ctaProtoDstPort, be16: flow.destinationPort)
            }
        }
    }

    private static func putNAT(_ writer: NetlinkMessageWriter, _ type: UInt16, address: IPAddress, port: UInt16?) {
        writer.nest(type) {
            putAddress(writer, v4: NetlinkConstants.ctaNatV4MinIP, v6: NetlinkConstants.ctaNatV6MinIP, address)
            putAddress(writer, v4: NetlinkConstants.ctaNatV4MaxIP, v6: NetlinkConstants.ctaNatV6MaxIP, address)
            if let port {
                writer.nest(NetlinkConstants.ctaNatProto) {
                    writer.put(NetlinkConstants.ctaProtonatPortMin, be16: port)
                    writer.put(NetlinkConstants.ctaProtonatPortMax, be16: port)
                }
            }
        }
    }

    private static func putAddress(_ writer: NetlinkMessageWriter, v4: UInt16, v6: UInt16, _ address: IPAddress) {
        switch address {
        case .v4(let a):
            writer.put(v4, be32: a.rawValue)
        case .v6(let a):
            var wire = (a.high.bigEndian, a.low.bigEndian)
            withUnsafeBytes(of: &wire) { writer.put(v6, bytes: $0) }
        }
    }

    // MARK: Parsing

    /// Parses the attributes of a ctnetlink entry message (GET answer, dump part, event).
    static func parseEntry(_ attributes: NetlinkAttributes) -> ConntrackEntry? {
        var original: FlowTuple?
        var reply: FlowTuple?
        var entry = ConntrackEntry(original: placeholder, reply: placeholder)
        for attribute in attributes {
            switch attribute.type {
            case NetlinkConstants.ctaTupleOrig: original = parseTuple(attribute.nested)
            case NetlinkConstants.ctaTupleReply: reply = parseTuple(attribute.nested)
            case NetlinkConstants.ctaStatus: entry.status = ConntrackStatus(rawValue: attribute.be32 ?? 0)
            case NetlinkConstants.ctaMark: entry.mark = attribute.be32 ?? 0
            case NetlinkConstants.ctaTimeout: entry.timeoutSeconds = attribute.be32
            case NetlinkConstants.ctaProtoinfo:
                if let tcp = attribute.nested.first(NetlinkConstants.ctaProtoinfoTCP),
                   let state = tcp.nested.first(NetlinkConstants.ctaProtoinfoTCPState)?.u8 {
                    entry.tcpState = TCPConntrackState(rawValue: state)
                }
            default: break
            }
        }
        guard let original, let reply else { return nil }
        entry.original = original
        entry.reply = reply
        return entry
    }

    private static let placeholder = FlowTuple(proto: .tcp, source: .v4(.init(rawValue: 0)), sourcePort: 0,
                                               destination: .v4(.init(rawValue: 0)), destinationPort: 0)

    private static func parseTuple(_ attributes: NetlinkAttributes) -> FlowTuple? {
        var source: IPAddress?, destination: IPAddress?
        var proto: UInt8?, sourcePort: UInt16 = 0, destinationPort: UInt16 = 0
        for attribute in attributes {
            switch attribute.type {
            case NetlinkConstants.ctaTupleIP:
                for ip in attribute.nested {
                    switch ip.type {
                    case NetlinkConstants.ctaIPv4Src: source = ip.be32.map { .v4(IPv4Address(rawValue: $0)) }
                    case NetlinkConstants.ctaIPv4Dst: destination = ip.be32.map { .v4(IPv4Address(rawValue: $0)) }
                    case NetlinkConstants.ctaIPv6Src: source = parseIPv6(ip.payload)
                    case NetlinkConstants.ctaIPv6Dst: destination = parseIPv6(ip.payload)
                    default: break
                    }
                }
            case NetlinkConstants.ctaTupleProto:
                for field in attribute.nested {
                    switch field.type {
                    case NetlinkConstants.ctaProtoNum: proto = field.u8
                    case NetlinkConstants.ctaProtoSrcPort: sourcePort = field.be16 ?? 0
                    case NetlinkConstants.ctaProtoDstPort: destinationPort = field.be16 ?? 0
                    default: break
                    }
                }
            default: break
            }
        }
        guard let source, let destination, let proto else { return nil }
        return FlowTuple(proto: IPProtocolNumber(rawValue: proto), source: source, sourcePort: sourcePort,
                         destination: destination, destinationPort: destinationPort)
    }

    private static func parseIPv6(_ bytes: UnsafeRawBufferPointer) -> IPAddress? {
        guard bytes.count >= 16 else { return nil }
        return .v6(IPv6Address(high: UInt64(bigEndian: bytes.loadUnaligned(as: UInt64.self)),
                               low: UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))))
    }
}
