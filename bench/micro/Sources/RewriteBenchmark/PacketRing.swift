import CReference
import PacketRewrite

/// A ring of realistic first packets: IPv4 TCP SYNs as Linux sends them (60 bytes: 20 of IP,
/// 20 of TCP and 20 of options: MSS, SACK permitted, timestamps, window scale), each from a
/// distinct client address and port, with valid checksums, to service VIPs.
///
/// `pristine` keeps the packets as built; `work` is what a run rewrites. Each packet starts
/// a 64-byte slot (`CREF_SLOT_BYTES`), and both paths reset a slot from `pristine` before
/// processing it, so every pass parses, picks and rewrites for real and the checksums being
/// updated are always the valid ones of the original packet.
final class PacketRing {
    static var slotBytes: Int { Int(CREF_SLOT_BYTES) }
    static var packetLength: Int { 60 }

    let count: Int
    let pristine: UnsafeMutableRawPointer
    let work: UnsafeMutableRawPointer
    /// The service each packet is addressed to.
    let services: [Int]

    /// `count` packets to services chosen uniformly among `serviceCount` (all to service 0 when
    /// there is one); deterministic for a given seed.
    init(count: Int, serviceCount: Int, seed: UInt64) {
        self.count = count
        pristine = .allocate(byteCount: count * Self.slotBytes, alignment: 64)
        work = .allocate(byteCount: count * Self.slotBytes, alignment: 64)
        pristine.initializeMemory(as: UInt8.self, repeating: 0, count: count * Self.slotBytes)
        var random = SplitMix(seed)
        // Distinct clients: pod addresses in 10.244.0.0/16 (the usual pod CIDR), shuffled so
        // that neighbouring packets do not come from neighbouring addresses.
        var clients = Array(1...max(count, 1)).map { UInt32($0) }
        for i in stride(from: clients.count - 1, to: 0, by: -1) {
            clients.swapAt(i, Int(random.next() % UInt64(i + 1)))
        }
        var services: [Int] = []
        for i in 0..<count {
            let service = serviceCount == 1 ? 0 : Int(random.next() % UInt64(serviceCount))
            services.append(service)
            Self.writeSYN(
                at: pristine + i * Self.slotBytes,
                source: IPv4Address(rawValue: IPv4Address(10, 244, 0, 0).rawValue + clients[i]),
                sourcePort: UInt16(32_768 + random.next() % 28_232),
                destination: Scenario.vip(service: service), destinationPort: Scenario.servicePort(service: service),
                random: &random)
        }
        self.services = services
        work.copyMemory(from: pristine, byteCount: count * Self.slotBytes)
    }

    deinit {
        pristine.deallocate()
        work.deallocate()
    }

    func packet(_ i: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: work + i * Self.slotBytes, count: Self.packetLength)
    }

    private static func writeSYN(at base: UnsafeMutableRawPointer, source: IPv4Address, sourcePort: UInt16,
                                 destination: IPv4Address, destinationPort: UInt16, random: inout SplitMix) {
        let ip: [UInt8] = [
            0x45, 0x00, 0x00, UInt8(packetLength),   // version 4, IHL 5, TOS 0, total length
            0, 0, 0x40, 0x00,                        // identification (below), DF
            64, 6, 0, 0,                             // TTL 64, TCP, checksum (computed below)
        ]
        let options: [UInt8] = [
            0x02, 0x04, 0x05, 0xB4,                  // MSS 1460
            0x04, 0x02,                              // SACK permitted
            0x08, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0,      // timestamps (value below), echo 0
            0x01,                                    // NOP
            0x03, 0x03, 0x07,                        // window scale 7
        ]
        let bytes = UnsafeMutableRawBufferPointer(start: base, count: packetLength)
        for (k, b) in ip.enumerated() { bytes[k] = b }
        for (k, b) in options.enumerated() { bytes[40 + k] = b }
        bytes.storeBytes(of: UInt16(truncatingIfNeeded: random.next()).bigEndian, toByteOffset: 4, as: UInt16.self)
        bytes.storeBytes(of: source.rawValue.bigEndian, toByteOffset: 12, as: UInt32.self)
        bytes.storeBytes(of: destination.rawValue.bigEndian, toByteOffset: 16, as: UInt32.self)
        bytes.storeBytes(of: sourcePort.bigEndian, toByteOffset: 20, as: UInt16.self)
        bytes.storeBytes(of: destinationPort.bigEndian, toByteOffset: 22, as: UInt16.self)
        bytes.storeBytes(of: UInt32(truncatingIfNeeded: random.next()).bigEndian, toByteOffset: 24, as: UInt32.self)
        bytes[32] = 0xA0                             // data offset 10 words (40 bytes)
        bytes[33] = 0x02                             // SYN
        bytes.storeBytes(of: UInt16(64_240).bigEndian, toByteOffset: 34, as: UInt16.self)
        bytes.storeBytes(of: UInt32(truncatingIfNeeded: random.next()).bigEndian, toByteOffset: 48, as: UInt32.self)
        do {
            try PacketView(validating: bytes).recomputeChecksums()
        } catch {
            fatalError("built an invalid SYN: \(error)")
        }
    }
}
