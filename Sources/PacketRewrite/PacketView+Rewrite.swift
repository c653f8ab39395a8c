// In-place NAT of one end of a flow, with the checksums kept right.

extension PacketView {
    /// Rewrites the destination address and port in place (DNAT), as the `rewrite` TCP mode and
    /// UDP do before reinjecting the first packet of a flow.
    ///
    /// Checksums are updated as `checksum` says: `.incremental` (RFC 1624) by default, `.full`
    /// (IPv4 header and TCP/UDP from scratch) when the kernel marked the packet's checksum as
    /// not ready. An
    /// IPv4 UDP checksum of 0 ("none") stays 0; an IPv6 UDP checksum of 0 is computed, since
    /// IPv6 requires one. All refusals happen before the first write: a throwing rewrite leaves
    /// the packet as it was.
    ///
    /// - Throws: `.addressFamilyMismatch`; `.routingHeaderSegmentsLeft` (the checksum covers a
    ///   final destination that is not in the header); `.checksumNeedsWholeDatagram` when a
    ///   fragment would need a full checksum.
    @inlinable @inline(__always)
    public func rewriteDestination(
        address: IPAddress, port: UInt16, checksum: ChecksumUpdate = .incremental
    ) throws(PacketError) {
        if case .v4(let new) = address, ipVersion == .v4, checksum == .incremental {
            rewriteIPv4Incremental(addressOffset: 16, portOffset: 2, address: new, port: port)
            return
        }
        if routingSegmentsLeft != 0 { throw .routingHeaderSegmentsLeft }
        try rewriteEndpoint(ipv4Offset: 16, ipv6Offset: 24, portOffset: 2, address: address, port: port, mode: checksum)
    }

    /// Rewrites the source address and port in place (SNAT, the masquerade/hairpin case). Same
    /// checksum rules and refusals as `rewriteDestination`, except that a Routing header with
    /// segments left is refused only when the checksum must be computed from scratch (an
    /// incremental update never needs the final destination).
    @inlinable @inline(__always)
    public func rewriteSource(
        address: IPAddress, port: UInt16, checksum: ChecksumUpdate = .incremental
    ) throws(PacketError) {
        if case .v4(let new) = address, ipVersion == .v4, checksum == .incremental {
            rewriteIPv4Incremental(addressOffset: 12, portOffset: 0, address: new, port: port)
            return
        }
        try rewriteEndpoint(ipv4Offset: 12, ipv6Offset: 8, portOffset: 0, address: address, port: port, mode: checksum)
    }

    /// Computes the IPv4 header checksum and the TCP or UDP checksum from scratch, whatever the
    /// fields held. An IPv4 UDP checksum of 0 stays 0: the sender chose to send none.
    ///
    /// - Throws: `.checksumNeedsWholeDatagram` for a fragment, `.routingHeaderSegmentsLeft` when
    ///   the final destination is unknown; the packet is then unchanged.
    @inlinable
    public func recomputeChecksums() throws(PacketError) {
        let keepsNoChecksum = ipVersion == .v4 && transportProtocol == .udp && transportChecksum == 0
        if !keepsNoChecksum { try checkFullChecksumPossible() }
        if ipVersion == .v4 { storeFullIPv4HeaderChecksum() }
        if !keepsNoChecksum { storeFullTransportChecksum() }
    }

    /// Whether the checksums verify as the receiving kernel verifies them: the IPv4 header sums
    /// to 0xFFFF, and so do pseudo-header plus segment (an IPv4 UDP checksum of 0 means none
    /// and passes; an IPv6 one of 0 fails).
    ///
    /// `false` also when a transport checksum cannot be verified here: for a fragment (it
    /// covers later fragments) and behind a Routing header with segments left (it covers a
    /// final destination that is not in the header). So after any rewrite that did not throw,
    /// with `.full`, this is `true`.
    @inlinable
    public var checksumsAreValid: Bool {
        if ipVersion == .v4 && !IPv4HeaderView(unchecked: bytes).headerChecksumIsValid { return false }
        // Before the fragment test: "no checksum" needs no other fragment to verify.
        if transportProtocol == .udp && transportChecksum == 0 { return ipVersion == .v4 }
        if isFragment || routingSegmentsLeft != 0 { return false }
        let sum = InternetChecksum.nativeSum(UnsafeRawPointer(bytes.baseAddress.unsafelyUnwrapped) + transportOffset,
                                             count: transportChecksumLength)
        return InternetChecksum.add(UInt16(bigEndian: InternetChecksum.fold(sum)), pseudoHeaderSum) == 0xFFFF
    }

    // MARK: - Internals

    /// Where the checksum field is: bytes 16..<18 of TCP, 6..<8 of UDP.
    @inlinable @inline(__always)
    var transportChecksumOffset: Int {
        transportOffset &+ (transportProtocol == .tcp ? 16 : 6)
    }

    @inlinable @inline(__always)
    var transportChecksum: UInt16 {
        // Safe: within the validated transport header.
        bytes.wireUInt16(at: transportChecksumOffset)
    }

    /// The bytes the transport checksum covers: the whole segment for TCP, the UDP length for
    /// UDP (bytes after it are IP padding, which the kernel trims before checking).
    @inlinable @inline(__always)
    var transportChecksumLength: Int {
        // Safe: the UDP length field is inside the validated 8-byte header, and validation
        // proved it <= the segment for anything but a fragment.
        transportProtocol == .tcp ? bytes.count &- transportOffset : Int(bytes.wireUInt16(at: transportOffset &+ 4))
    }

    /// The pseudo-header sum with the header's addresses: for IPv6 only right when no Routing
    /// header has segments left, which every caller checks first.
    @inlinable
    var pseudoHeaderSum: UInt16 {
        let length = UInt32(truncatingIfNeeded: transportChecksumLength)
        switch ipVersion {
        case .v4:
            return InternetChecksum.fold(InternetChecksum.pseudoHeaderWideSum(
                source: IPv4Address(rawValue: bytes.wireUInt32(at: 12)),
                destination: IPv4Address(rawValue: bytes.wireUInt32(at: 16)),
                protocol: transportProtocol, length: length))
        case .v6:
            return InternetChecksum.fold(InternetChecksum.pseudoHeaderWideSum(
                source: bytes.wireIPv6Address(at: 8), destination: bytes.wireIPv6Address(at: 24),
                protocol: transportProtocol, length: length))
        }
    }

    @inlinable
    func checkFullChecksumPossible() throws(PacketError) {
        if isFragment { throw .checksumNeedsWholeDatagram }
        if routingSegmentsLeft != 0 { throw .routingHeaderSegmentsLeft }
    }

    @inlinable
    func storeFullIPv4HeaderChecksum() {
        // Safe: the IPv4 header checksum is at 10..<12, inside the validated header.
        bytes.setWireUInt16(0, at: 10)
        bytes.setWireUInt16(InternetChecksum.checksum(UnsafeRawBufferPointer(IPv4HeaderView(unchecked: bytes).headerBytes)), at: 10)
    }

    /// Zeroes the checksum field, sums pseudo-header and segment, stores the complement. A UDP
    /// result of 0 goes out as 0xFFFF, since 0 would mean "no checksum" (RFC 768).
    @inlinable
    func storeFullTransportChecksum() {
        let at = transportChecksumOffset
        bytes.setWireUInt16(0, at: at)
        // Safe: transportChecksumLength <= bytes.count - transportOffset (validation; callers
        // exclude fragments, the only case where the UDP length may exceed the segment).
        let segmentSum = InternetChecksum.nativeSum(
            UnsafeRawPointer(bytes.baseAddress.unsafelyUnwrapped) + transportOffset, count: transportChecksumLength)
        var value = ~InternetChecksum.add(UInt16(bigEndian: InternetChecksum.fold(segmentSum)), pseudoHeaderSum)
        if value == 0 && transportProtocol == .udp { value = 0xFFFF }
        bytes.setWireUInt16(value, at: at)
    }

    /// The hot path, IPv4 with an incremental update: it cannot fail (no Routing header in
    /// IPv4, and a fragment needs nothing but the incremental update), so it is inlined into
    /// the worker's loop with no error path at all. Same results as `rewriteEndpoint`.
    @inlinable @inline(__always)
    func rewriteIPv4Incremental(addressOffset: Int, portOffset: Int, address new: IPv4Address, port: UInt16) {
        // Safe, every access: the address is inside the validated 20-byte IPv4 header, the port
        // and checksum inside the validated transport header.
        let checksumAt = transportChecksumOffset
        let oldChecksum = bytes.wireUInt16(at: checksumAt)
        let portAt = transportOffset &+ portOffset
        let oldPort = bytes.wireUInt16(at: portAt)
        let old = bytes.wireUInt32(at: addressOffset)
        let addressDifference = InternetChecksum.difference(from: old, to: new.rawValue)
        bytes.setWireUInt32(new.rawValue, at: addressOffset)
        bytes.setWireUInt16(InternetChecksum.updated(bytes.wireUInt16(at: 10), difference: addressDifference), at: 10)
        bytes.setWireUInt16(port, at: portAt)
        let isUDP = transportProtocol == .udp
        // IPv4 UDP "no checksum" stays so.
        if isUDP && oldChecksum == 0 { return }
        var value = InternetChecksum.updated(
            oldChecksum, difference: addressDifference &+ InternetChecksum.difference(from: oldPort, to: port))
        if value == 0 && isUDP { value = 0xFFFF }
        bytes.setWireUInt16(value, at: checksumAt)
    }

    /// The general rewrite behind both ends: IPv6, `.full`, and the refusals. Out of line, so
    /// that the IPv4 fast path stays small where it is inlined. Offsets are those of the
    /// address in the IPv4 or IPv6 header and of the port in the transport header.
    @inlinable @inline(never)
    func rewriteEndpoint(
        ipv4Offset: Int, ipv6Offset: Int, portOffset: Int, address: IPAddress, port: UInt16, mode: ChecksumUpdate
    ) throws(PacketError) {
        // Decide everything that can refuse before writing anything.
        let checksumAt = transportChecksumOffset
        let oldChecksum = bytes.wireUInt16(at: checksumAt)
        let isUDP = transportProtocol == .udp
        let updatesChecksum: Bool
        let full: Bool
        if isUDP && oldChecksum == 0 {
            // IPv4: "no checksum" stays so. IPv6: mandatory, so compute it.
            updatesChecksum = ipVersion == .v6
            full = updatesChecksum
        } else {
            updatesChecksum = true
            full = mode == .full
        }
        if full { try checkFullChecksumPossible() }

        // Safe, every access below: the addresses are inside the validated IP header, the port
        // and checksum inside the validated transport header.
        let portAt = transportOffset &+ portOffset
        var difference = InternetChecksum.difference(from: bytes.wireUInt16(at: portAt), to: port)
        switch address {
        case .v4(let new):
            guard ipVersion == .v4 else { throw .addressFamilyMismatch }
            let old = bytes.wireUInt32(at: ipv4Offset)
            bytes.setWireUInt32(new.rawValue, at: ipv4Offset)
            if mode == .full {
                storeFullIPv4HeaderChecksum()
            } else {
                // The IPv4 header checksum covers the header only: the address is its one change.
                bytes.setWireUInt16(InternetChecksum.updated(bytes.wireUInt16(at: 10), from: old, to: new.rawValue), at: 10)
            }
            difference &+= InternetChecksum.difference(from: old, to: new.rawValue)
        case .v6(let new):
            guard ipVersion == .v6 else { throw .addressFamilyMismatch }
            let old = bytes.wireIPv6Address(at: ipv6Offset)
            bytes.setWireIPv6Address(new, at: ipv6Offset)
            difference &+= InternetChecksum.difference(from: old, to: new)
        }
        bytes.setWireUInt16(port, at: portAt)

        guard updatesChecksum else { return }
        if full {
            storeFullTransportChecksum()
        } else {
            // One eqn. 3 update for the address in the pseudo-header and the port together.
            var value = InternetChecksum.updated(oldChecksum, difference: difference)
            if value == 0 && isUDP { value = 0xFFFF }
            bytes.setWireUInt16(value, at: checksumAt)
        }
    }
}
