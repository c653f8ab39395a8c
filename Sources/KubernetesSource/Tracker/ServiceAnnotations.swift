import Balancer

/// nfq-lb's own features, read from a Service's `nfq-lb.io/...` annotations (the table in
/// docs/kubernetes.md, "Service annotations"). Each annotation stands alone: a bad one is reported and
/// leaves its own feature at the default, never the others and never the service.
public struct ServiceAnnotations: Sendable, Equatable {
    public static let strategy = "nfq-lb.io/strategy"
    public static let strategyOptions = "nfq-lb.io/strategy-options"
    /// Prefix of the one-option-per-annotation form: `nfq-lb.io/strategy-option.tableSize`.
    public static let strategyOptionPrefix = "nfq-lb.io/strategy-option."
    public static let masquerade = "nfq-lb.io/masquerade"
    public static let answerPing = "nfq-lb.io/answer-ping"
    public static let endpointRemoval = "nfq-lb.io/endpoint-removal"
    public static let healthCheck = "nfq-lb.io/health-check"

    public var strategy = "random"
    public var strategyOptions: StrategyOptions = [:]
    public var masquerade = false
    public var answerPing = false
    public var endpointRemoval = MappedService.EndpointRemoval.drain
    public var healthCheck: MappedService.HealthCheck?
    public var problems: [AnnotationProblem] = []

    public init() {}

    /// Reads the annotations of the Service `owner`; `registry` says which strategies exist
    /// and which options each accepts.
    public init(_ annotations: [String: String], owner: String, registry: StrategyRegistry = .standard) {
        func problem(_ annotation: String, _ message: String) {
            problems.append(AnnotationProblem(owner: owner, annotation: annotation, message: message))
        }
        // Strategy and options are judged together: options only mean something for a strategy.
        var options: [String: String] = [:]
        var optionsValid = true
        if let text = annotations[Self.strategyOptions] {
            if let parsed = Self.keyValues(text) {
                options = parsed
            } else {
                optionsValid = false
                problem(Self.strategyOptions, "'\(text)' is not a comma-separated list of name=value")
            }
        }
        for (key, value) in annotations where key.hasPrefix(Self.strategyOptionPrefix) {
            options[String(key.dropFirst(Self.strategyOptionPrefix.count))] = value
        }
        let name = annotations[Self.strategy]?.trimmed ?? "random"
        if optionsValid {
            do throws(StrategyError) {
                try registry.validate(name: name, options: StrategyOptions(options))
                strategy = name
                strategyOptions = StrategyOptions(options)
            } catch {
                let culprit = annotations[Self.strategy] != nil && !registry.names.contains(name) ? Self.strategy : Self.strategyOptions
                problem(culprit, "\(error)")
            }
        }
        for (annotation, flag) in [(Self.masquerade, \Self.masquerade), (Self.answerPing, \Self.answerPing)] {
            guard let text = annotations[annotation] else { continue }
            switch text.trimmed.lowercased() {
            case "true", "yes", "1": self[keyPath: flag] = true
            case "false", "no", "0": self[keyPath: flag] = false
            default: problem(annotation, "'\(text)' must be true or false")
            }
        }
        if let text = annotations[Self.endpointRemoval] {
            if let removal = MappedService.EndpointRemoval(rawValue: text.trimmed) {
                endpointRemoval = removal
            } else {
                problem(Self.endpointRemoval, "'\(text)' must be drain or reset")
            }
        }
        if let text = annotations[Self.healthCheck] {
            switch Self.parseHealthCheck(text) {
            case .success(let check): healthCheck = check
            case .failure(let failure): problem(Self.healthCheck, failure.message)
            }
        }
    }

    /// `name=value, name=value`; nil when an item has no `=` or an empty name.
    static func keyValues(_ text: String) -> [String: String]? {
        var result: [String: String] = [:]
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { return nil }
            let key = String(parts[0]).trimmed
            guard !key.isEmpty else { return nil }
            result[key] = String(parts[1]).trimmed
        }
        return result
    }


    /// `true` (the defaults), `false` (none), or `interval=2s, timeout=500ms, rise=2, fall=3, port=8080`.
    static func parseHealthCheck(_ text: String) -> Result<MappedService.HealthCheck?, HealthCheckFailure> {
        switch text.trimmed.lowercased() {
        case "true", "yes", "tcp": return .success(MappedService.HealthCheck())
        case "false", "no", "none": return .success(nil)
        default: break
        }
        guard let fields = keyValues(text) else {
            return .failure(HealthCheckFailure("'\(text)' is not true, false or a list of interval=, timeout=, rise=, fall=, port="))
        }
        var check = MappedService.HealthCheck()
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
            switch key {
            case "interval", "timeout":
                guard let milliseconds = milliseconds(value), milliseconds > 0 else {
                    return .failure(HealthCheckFailure("\(key) '\(value)' must be a duration such as 2s or 500ms"))
                }
                if key == "interval" { check.intervalMilliseconds = milliseconds } else { check.timeoutMilliseconds = milliseconds }
            case "rise", "fall":
                guard let count = UInt32(value), (1...100).contains(count) else {
                    return .failure(HealthCheckFailure("\(key) '\(value)' must be an integer from 1 to 100"))
                }
                if key == "rise" { check.rise = count } else { check.fall = count }
            case "port":
                guard let port = UInt16(value), port > 0 else {
                    return .failure(HealthCheckFailure("port '\(value)' must be from 1 to 65535"))
                }
                check.port = port
            default:
                return .failure(HealthCheckFailure("unknown field '\(key)' (known: fall, interval, port, rise, timeout)"))
            }
        }
        return .success(check)
    }

    public struct HealthCheckFailure: Error, Sendable {
        public var message: String
        init(_ message: String) { self.message = message }
    }

    /// `250ms`, `2s`, or a bare number of milliseconds.
    static func milliseconds(_ text: String) -> UInt32? {
        if text.hasSuffix("ms") { return UInt32(text.dropLast(2)) }
        if text.hasSuffix("s") { return UInt32(text.dropLast()).flatMap { $0.multipliedReportingOverflow(by: 1000).overflow ? nil : $0 * 1000 } }
        return UInt32(text)
    }
}

extension String {
    /// Without leading and trailing spaces (annotations are typed by people).
    var trimmed: String {
        var text = Substring(self)
        while text.first == " " || text.first == "\t" || text.first == "\n" { text = text.dropFirst() }
        while text.last == " " || text.last == "\t" || text.last == "\n" { text = text.dropLast() }
        return String(text)
    }
}
