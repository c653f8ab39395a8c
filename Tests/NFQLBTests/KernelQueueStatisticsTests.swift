import Testing
@testable import NFQLB

@Suite struct KernelQueueStatisticsTests {
    @Test func procLineIsReadColumnByColumn() throws {
        let line = "    1 3143133753     7 2 65531     3     2       12  1"
        let stats = try #require(KernelQueueStatistics(line: line))
        #expect(stats.queue == 1)
        #expect(stats.portID == 3_143_133_753)
        #expect(stats.waiting == 7)
        #expect(stats.copyRange == 65531)
        #expect(stats.queueDropped == 3)
        #expect(stats.userDropped == 2)
        #expect(stats.lastID == 12)
    }

    @Test func aTruncatedLineIsNotAStatistic() {
        #expect(KernelQueueStatistics(line: "0 1 2") == nil)
    }
}
