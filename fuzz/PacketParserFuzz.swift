// libFuzzer entry point for PacketView: built by fuzz/run.sh together with
// Sources/PacketRewrite/*.swift into one module, hence no `import PacketRewrite`.
//
// Properties checked on every input that validates:
// - reading the flow and the views does not trap (ASan catches any read outside the input);
// - an incremental destination rewrite keeps valid checksums valid and writes the backend;
// - a full-mode rewrite always leaves checksums that verify;
// - when the input's checksums were valid, both modes produce the same bytes;
// - recomputing after a full rewrite changes nothing;
// - a refused rewrite is one of the documented refusals and leaves the packet untouched;
// - an input taken as an ICMP echo request becomes its reply without reading or writing
//   outside it, and is then no longer taken as a request.

@_cdecl("LLVMFuzzerTestOneInput")
public func packetParserFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // Exactly `size` bytes on the heap, so that any overread is an ASan report.
    let incremental = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 1)
    let full = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 1)
    defer {
        incremental.deallocate()
        full.deallocate()
    }
    incremental.copyMemory(from: UnsafeRawBufferPointer(start: data, count: size))
    full.copyMemory(from: UnsafeRawBufferPointer(start: data, count: size))

    if ICMPEchoRequest.isICMP(incremental) {
        let ping = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 1)
        defer { ping.deallocate() }
        ping.copyMemory(from: UnsafeRawBufferPointer(start: data, count: size))
        if let echo = ICMPEchoRequest(validating: ping) {
            _ = (echo.source, echo.destination)
            echo.turnIntoReply()
            precondition(ICMPEchoRequest(validating: ping) == nil, "a reply was taken for a request")
        }
    }
    guard let view = try? PacketView(validating: incremental) else { return 0 }
    _ = view.flowTuple
    _ = view.isTCPSYN
    _ = view.tcp?.flags
    _ = view.udp?.length
    _ = view.ipv4?.headerChecksumIsValid
    _ = view.ipv6?.flowLabel
    let wasValid = view.checksumsAreValid
    let backend: IPAddress = view.ipVersion == .v4
        ? .v4(IPv4Address(10, 123, 0, 99))
        : .v6(IPv6Address(high: 0xFD00_0123_0000_0000, low: 0x99))
    let port: UInt16 = 9090

    let incrementalDone = rewrite(view, to: backend, port: port, mode: .incremental, original: data)
    if incrementalDone {
        check(view.destinationAddress == backend && view.destinationPort == port, "destination not written")
        if wasValid { check(view.checksumsAreValid, "incremental rewrite broke valid checksums") }
    }

    guard let fullView = try? PacketView(validating: full) else {
        fatalError("validation depends on something other than the bytes")
    }
    let fullDone = rewrite(fullView, to: backend, port: port, mode: .full, original: data)
    if fullDone {
        check(fullView.checksumsAreValid, "full rewrite left invalid checksums")
        if wasValid && incrementalDone {
            check(incremental.elementsEqual(full), "incremental and full rewrites differ")
        }
        let before = Array(fullView.bytes)
        try? fullView.recomputeChecksums()
        check(fullView.bytes.elementsEqual(before), "recomputing after a full rewrite changed the packet")
    }
    return 0
}

/// True when the rewrite happened; on a refusal, checks the reason and that nothing changed.
func rewrite(
    _ view: PacketView, to backend: IPAddress, port: UInt16, mode: ChecksumUpdate, original: UnsafePointer<UInt8>
) -> Bool {
    do throws(PacketError) {
        try view.rewriteDestination(address: backend, port: port, checksum: mode)
        return true
    } catch {
        check(error == .routingHeaderSegmentsLeft || error == .checksumNeedsWholeDatagram,
                     "unexpected refusal: \(error)")
        check(view.bytes.elementsEqual(UnsafeRawBufferPointer(start: original, count: view.bytes.count)),
                     "a refused rewrite changed the packet")
        return false
    }
}

/// `precondition` drops its message in -O builds; a fuzz finding should say which law broke.
func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}
