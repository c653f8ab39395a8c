import Testing
@testable import NFQLB

@Suite struct HTTPRequestHeadTests {
    @Test func aCompleteHeadGivesMethodPathAndQuery() {
        let outcome = HTTPRequestHead.parse(Array("GET /status?service=web%20a HTTP/1.1\r\nHost: x\r\n\r\n".utf8), limit: 8192)
        guard case .complete(let head) = outcome else { Issue.record("\(outcome)"); return }
        #expect(head.method == "GET" && head.path == "/status")
        #expect(head.queryValue("service") == "web a")
    }

    @Test func aHeadWithoutItsEmptyLineIsIncomplete() {
        #expect(HTTPRequestHead.parse(Array("GET /metrics HTTP/1.1\r\nHost: x\r\n".utf8), limit: 8192) == .incomplete)
    }

    @Test func aHeadLongerThanTheLimitIsTooLargeEvenBeforeItEnds() {
        let long = Array("GET /metrics HTTP/1.1\r\nX: \(String(repeating: "a", count: 100))".utf8)
        #expect(HTTPRequestHead.parse(long, limit: 64) == .tooLarge)
        #expect(HTTPRequestHead.parse(long + Array("\r\n\r\n".utf8), limit: 64) == .tooLarge)
    }

    @Test func aLineThatIsNotHTTPIsMalformed() {
        #expect(HTTPRequestHead.parse(Array("hello\r\n\r\n".utf8), limit: 8192) == .malformed)
    }
}
