import PacketRewrite
import PropertyBased
import Testing

@Suite("InternetChecksum")
struct InternetChecksumTests {
    /// RFC 1071 §3, the worked example: bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2.
    @Test func rfc1071ExampleSumsToDDF2() {
        let bytes: [UInt8] = [0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7]
        #expect(bytes.withUnsafeBytes { InternetChecksum.sum($0) } == 0xDDF2)
        #expect(bytes.withUnsafeBytes { InternetChecksum.checksum($0) } == ~0xDDF2)
    }

    @Test func anOddLastByteIsPaddedWithZero() {
        #expect([UInt8(0xAB)].withUnsafeBytes { InternetChecksum.sum($0) } == 0xAB00)
        #expect([UInt8]().withUnsafeBytes { InternetChecksum.sum($0) } == 0)
    }

    @Test func carriesWrapAroundAcrossEveryWordWidth() {
        // 40 bytes of 0xFF: every wide add overflows; the one's-complement sum is still 0xFFFF.
        let ones = [UInt8](repeating: 0xFF, count: 40)
        #expect(ones.withUnsafeBytes { InternetChecksum.sum($0) } == 0xFFFF)
        #expect(InternetChecksum.fold(UInt64.max) == 0xFFFF)
        #expect(InternetChecksum.fold(0) == 0)
    }

    @Test func sumEqualsTheBytePairReferenceAtAnyLengthAndAlignment() async {
        await propertyCheck(count: 500, input: Gen.uint8().array(of: 0...200), Gen.int(in: 0...7)) { bytes, misalignment in
            // Shift the data off any alignment the loads could rely on.
            let padded = [UInt8](repeating: 0, count: misalignment) + bytes
            let sum = padded.withUnsafeBytes { InternetChecksum.sum(UnsafeRawBufferPointer(rebasing: $0[misalignment...])) }
            #expect(sum == ReferenceChecksum.sum(bytes))
        }
    }

    @Test func incrementalUpdateOfA16BitWordEqualsRecomputation() async {
        await propertyCheck(count: 500, input: Gen.uint8().array(of: 2...64), Gen.int(in: 0...31), Gen.uint16()) { bytes, slot, new in
            var data = bytes
            let at = (slot * 2) % (data.count & ~1)
            let before = ReferenceChecksum.checksum(data)
            let old = data.field16(at: at)
            data.setField16(new, at: at)
            #expect(InternetChecksum.updated(before, from: old, to: new) == ReferenceChecksum.checksum(data))
        }
    }

    @Test func incrementalUpdateOfA32BitWordEqualsRecomputation() async {
        await propertyCheck(count: 500, input: Gen.uint8().array(of: 4...64), Gen.uint32()) { bytes, new in
            var data = bytes
            let before = ReferenceChecksum.checksum(data)
            let old = IPv4Address(rawValue: UInt32(data.field16(at: 0)) << 16 | UInt32(data.field16(at: 2)))
            data.replaceSubrange(0..<4, with: IPv4Address(rawValue: new).wireBytes)
            #expect(InternetChecksum.updated(before, from: old, to: IPv4Address(rawValue: new)) == ReferenceChecksum.checksum(data))
            #expect(InternetChecksum.updated(before, from: old.rawValue, to: new) == ReferenceChecksum.checksum(data))
        }
    }

    @Test func incrementalUpdateOfAnIPv6AddressEqualsRecomputation() async {
        await propertyCheck(count: 500, input: Gen.uint8().array(of: 16...64), Gen.uint64(), Gen.uint64()) { bytes, high, low in
            var data = bytes
            let before = ReferenceChecksum.checksum(data)
            let old = IPv6Address(high: data[0..<8].reduce(0) { $0 << 8 | UInt64($1) },
                                  low: data[8..<16].reduce(0) { $0 << 8 | UInt64($1) })
            let new = IPv6Address(high: high, low: low)
            data.replaceSubrange(0..<16, with: new.wireBytes)
            #expect(InternetChecksum.updated(before, from: old, to: new) == ReferenceChecksum.checksum(data))
        }
    }

    /// RFC 1624 §4's example: the other header words sum to 0xCD7A and a field changes from
    /// 0x5555 to 0x3285. Then HC = 0xDD2F, and the correct new checksum is 0x0000; eqn. 2 gives
    /// 0xFFFF, which no full computation ever does. Eqn. 3 must be what runs.
    @Test func incrementalUpdateUsesEquationThreeNotTwo() {
        #expect(InternetChecksum.updated(0xDD2F, from: UInt16(0x5555), to: UInt16(0x3285)) == 0x0000)
    }

    @Test func pseudoHeaderSumsEqualTheReferenceBytes() async {
        await propertyCheck(input: Gen.uint32(), Gen.uint32(), Gen.uint16()) { source, destination, length in
            let s = IPv4Address(rawValue: source), d = IPv4Address(rawValue: destination)
            #expect(InternetChecksum.pseudoHeaderSum(source: s, destination: d, protocol: .tcp, length: length)
                == ReferenceChecksum.sum(ReferenceChecksum.ipv4PseudoHeader(source: s, destination: d, proto: 6, length: Int(length))))
        }
        await propertyCheck(input: Gen.uint64(), Gen.uint64(), Gen.uint32(in: 0...0xFFFF)) { high, low, length in
            let s = IPv6Address(high: high, low: low), d = IPv6Address(high: low, low: ~high)
            #expect(InternetChecksum.pseudoHeaderSum(source: s, destination: d, protocol: .udp, length: length)
                == ReferenceChecksum.sum(ReferenceChecksum.ipv6PseudoHeader(source: s, destination: d, proto: 17, length: Int(length))))
        }
    }
}
