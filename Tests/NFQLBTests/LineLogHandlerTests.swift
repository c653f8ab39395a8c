import Foundation
import Logging
import Testing
@testable import NFQLB

@Suite struct LineLogHandlerTests {
    static let errors: Logger.Metadata.Value = .array(["a.yaml:3: services[0].port: must be 1...65535", "a.yaml:9: \"quoted\"\nline"])

    @Test(arguments: LineLogHandler.Format.allCases)
    func aRecordWithLineBreaksIsOneLine(format: LineLogHandler.Format) {
        let line = LineLogHandler.line(format: format, timestamp: "T", level: .error, label: "nfq-lb",
                                       message: "reload rejected\nsecond line", metadata: ["errors": Self.errors, "reason": "SIGHUP"])
        #expect(line.hasSuffix("\n"))
        #expect(line.dropLast().contains("\n") == false, "\(line)")
    }

    @Test func jsonRecordsParseAndKeepFieldsAsFields() throws {
        let line = LineLogHandler.line(format: .json, timestamp: "T", level: .error, label: "nfq-lb",
                                       message: "reload rejected", metadata: ["errors": Self.errors, "reason": "file changed"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["message"] as? String == "reload rejected")
        #expect(object["level"] as? String == "error")
        #expect(object["reason"] as? String == "file changed")
        let errors = try #require(object["errors"] as? [String])
        #expect(errors == ["a.yaml:3: services[0].port: must be 1...65535", "a.yaml:9: \"quoted\"\nline"])
    }

    @Test func textRecordsAreTimestampLevelLabelMessageThenKeyValues() {
        let line = LineLogHandler.line(format: .text, timestamp: "T", level: .info, label: "nfq-lb",
                                       message: "hooks installed", metadata: ["script": "/x/y.sh", "why": "two words"])
        #expect(line == "T info nfq-lb: hooks installed script=/x/y.sh why=\"two words\"\n")
    }
}
