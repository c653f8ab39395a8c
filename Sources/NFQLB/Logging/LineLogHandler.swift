#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging

/// A log handler that writes exactly one line per record, as text or as JSON, so that a log
/// shipper (journald, Fluent Bit, Vector) never splits or merges records.
///
/// Text: `2026-12-05T09:16:29.123Z error nfq-lb: message key=value key2="two words"`.
/// JSON: `{"ts":"…","level":"error","label":"nfq-lb","message":"…","key":"value"}`.
/// Line breaks inside a message or a value are escaped in both formats; metadata stays
/// fields (a list of errors is a JSON array), never text pasted into the message.
public struct LineLogHandler: LogHandler {
    public enum Format: String, Sendable, CaseIterable {
        case text
        case json
    }

    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public let label: String
    public let format: Format
    private let write: @Sendable (String) -> Void

    /// - Parameter write: receives each whole line, newline included (standard error by default).
    public init(label: String, format: Format, metadataProvider: Logger.MetadataProvider? = nil,
                write: @escaping @Sendable (String) -> Void = LineLogHandler.writeToStandardError) {
        self.label = label
        self.format = format
        self.metadataProvider = metadataProvider
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { _, new in new } }
        if let own = event.metadata { fields.merge(own) { _, new in new } }
        write(Self.line(format: format, timestamp: Self.timestamp(), level: event.level, label: label,
                        message: "\(event.message)", metadata: fields))
    }

    /// One record as one line (ending in `\n`); separate so tests can check it exactly.
    public static func line(format: Format, timestamp: String, level: Logger.Level, label: String,
                            message: String, metadata: Logger.Metadata) -> String {
        let keys = metadata.keys.sorted()
        switch format {
        case .text:
            var line = "\(timestamp) \(level) \(label): \(escapeText(message))"
            for key in keys {
                line += " \(key)=\(textValue(metadata[key]!))"
            }
            return line + "\n"
        case .json:
            var line = "{\"ts\":\(jsonString(timestamp)),\"level\":\(jsonString("\(level)")),\"label\":\(jsonString(label)),\"message\":\(jsonString(message))"
            for key in keys where !["ts", "level", "label", "message"].contains(key) {
                line += ",\(jsonString(key)):\(jsonValue(metadata[key]!))"
            }
            return line + "}\n"
        }
    }

    /// Writes one line with one `write(2)`, so lines from several threads never interleave.
    public static let writeToStandardError: @Sendable (String) -> Void = { line in
        var bytes = Array(line.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return }
            offset += n
        }
    }

    private static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let milliseconds = now.tv_nsec / 1_000_000
        let fraction = milliseconds < 10 ? "00\(milliseconds)" : milliseconds < 100 ? "0\(milliseconds)" : "\(milliseconds)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(fraction)Z"
    }

    /// Line breaks and other control characters as `\n`, `\t`, `\u{…}`: the record stays one line.
    private static func escapeText(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F: out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A value quoted when it holds a space, a quote, `=` or is empty.
    private static func textValue(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text): return quotedIfNeeded(text)
        case .stringConvertible(let value): return quotedIfNeeded(value.description)
        case .array(let values):
            return "[" + values.map(textValue).joined(separator: ",") + "]"
        case .dictionary(let values):
            return "{" + values.keys.sorted().map { "\($0)=\(textValue(values[$0]!))" }.joined(separator: ",") + "}"
        }
    }

    private static func quotedIfNeeded(_ plain: String) -> String {
        let escaped = escapeText(plain)
        let needsQuotes = plain.isEmpty || plain.contains { $0 == " " || $0 == "\"" || $0 == "=" } || escaped != plain
        return needsQuotes ? "\"" + escaped.replacingOccurrences(of: "\"", with: "\\\"") + "\"" : escaped
    }

    private static func jsonValue(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let text): jsonString(text)
        case .stringConvertible(let text): jsonString(text.description)
        case .array(let values): "[" + values.map(jsonValue).joined(separator: ",") + "]"
        case .dictionary(let values):
            "{" + values.keys.sorted().map { "\(jsonString($0)):\(jsonValue(values[$0]!))" }.joined(separator: ",") + "}"
        }
    }

    /// A JSON string literal (RFC 8259 escapes; control characters as `\u00XX`).
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
