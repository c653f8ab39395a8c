import Testing
@testable import NFQLB

/// Our mark field: the same layout `deploy/iptables-hooks.sh` documents, and no bit outside
/// the mask is ever changed.
@Suite struct MarkLayoutTests {
    @Test func defaultLayoutMatchesTheHooksScript() {
        let marks = MarkLayout.default
        #expect(marks.mask == 0xFFFF_0000)
        #expect(marks.reject == 0x0001_0000)
        #expect(marks.notrack == 0x0002_0000)
        #expect(marks.masquerade == 0x8000_0000)
        #expect(marks.valueMask == 0x7FFF_0000)
        #expect(marks.maximumEndpointID == 0x7FFF)
        #expect(marks.value(endpointID: 8) == 0x0008_0000)
        #expect(marks.endpointID(ofMark: 0x8009_4000) == 9)
    }

    @Test func mergingKeepsEveryForeignBit() {
        let marks = MarkLayout.default
        // kube-proxy's 0x4000 and a CNI's low bits survive; our field is replaced whole.
        #expect(marks.merging(marks.value(endpointID: 10), into: 0x0003_4001) == 0x000A_4001)
        #expect(marks.merging(marks.reject, into: 0xFFFF_FFFF) == 0x0001_FFFF)
    }

    @Test(arguments: [UInt32(0), 0x0F0F_0000, 0x0000_007F, 0x8000_0001])
    func masksThatAreNotOneRunOfEightBitsAreRefused(mask: UInt32) {
        #expect(MarkLayout(mask: mask) == nil)
    }

    @Test func aNarrowMaskShiftsEverything() throws {
        let marks = try #require(MarkLayout(mask: 0x0000_FF00))
        #expect(marks.reject == 0x100)
        #expect(marks.masquerade == 0x8000)
        #expect(marks.maximumEndpointID == 0x7F)
    }
}
