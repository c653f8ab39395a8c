// libFuzzer entry point for the netlink receive path: built by fuzz/run.sh together with the
// parsing sources of NFQLB (NetlinkMessages/NetlinkAttributes, QueuedPacket, ConntrackMessage)
// and PacketRewrite into one module, hence no imports.
//
// Any bytes are read as one received datagram, as a queue worker, the conntrack client and the
// event monitor read theirs. Properties checked:
// - walking messages and (nested) attributes never reads outside the datagram (ASan) and ends;
// - a packet's bytes, when present, lie inside the datagram;
// - cutting a truncated copy's length fields writes only inside its bytes;
// - a conntrack entry parses or is refused, never traps.

@_cdecl("LLVMFuzzerTestOneInput")
public func netlinkParserFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // Exactly `size` bytes on the heap, so that any overread is an ASan report.
    let datagram = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
    defer { datagram.deallocate() }
    datagram.copyMemory(from: UnsafeRawBufferPointer(start: data, count: size))
    let bytes = UnsafeRawBufferPointer(datagram)

    var messages = 0
    for message in NetlinkMessages(bytes: bytes) {
        messages += 1
        precondition(messages <= size / NetlinkConstants.headerLength, "more messages than the datagram can hold")
        _ = message.errorCode
        walk(NetlinkAttributes(message: message.bytes), depth: 0)
        if let packet = QueuedPacket(message: message), packet.bytes.count > 0 {
            let start = UnsafeRawPointer(packet.bytes.baseAddress!)
            precondition(start >= bytes.baseAddress! && start + packet.bytes.count <= bytes.baseAddress! + size,
                         "a packet's bytes lie outside the datagram")
            packet.clampLengthsToCopy()
            _ = try? PacketView(validating: packet.bytes)
        }
        _ = ConntrackMessage.parseEntry(NetlinkAttributes(message: message.bytes))
        _ = QueueMessages.packetID(ofVerdict: message.bytes)
    }
    return 0
}

/// Visits every attribute, and every nested one down to a bounded depth (the parsers nest 3 deep).
private func walk(_ attributes: NetlinkAttributes, depth: Int) {
    for attribute in attributes {
        _ = attribute.u8
        _ = attribute.be16
        _ = attribute.be32
        if depth < 4 { walk(attribute.nested, depth: depth + 1) }
    }
}
