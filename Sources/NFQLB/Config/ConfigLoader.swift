import Balancer
import Foundation
import PacketRewrite
import Synchronization
import Yams

/// Reads and validates an nfq-lb YAML config, reporting every problem with file, line and field.
///
/// Unknown keys are errors, not ignored: a misspelt `sesionAffinity` silently meaning "no
/// affinity" is the kind of config bug that takes a day to find.
public struct ConfigLoader: Sendable {
    public var registry: StrategyRegistry
    /// Included files parsed before, kept while they do not change: a reload after an
    /// endpoint change in one file of a `services.d` parses that file only.
    let includes = IncludeCache()

    public init(registry: StrategyRegistry = .standard) {
        self.registry = registry
    }

    public func load(path: String) throws(ConfigError) -> NFQLBConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(issues: [ConfigIssue(file: path, line: 0, field: "", message: "cannot read: \(error.localizedDescription)")])
        }
        return try parse(text, file: path)
    }

    public func parse(_ text: String, file: String) throws(ConfigError) -> NFQLBConfig {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text, .basic)
        } catch let error as YamlError {
            throw ConfigError(issues: [Self.issue(for: error, file: file)])
        } catch {
            throw ConfigError(issues: [ConfigIssue(file: file, line: 0, field: "", message: "not YAML: \(error)")])
        }
        var reader = ConfigReader(file: file, registry: registry, includes: includes)
        guard let root else {
            throw ConfigError(issues: [ConfigIssue(file: file, line: 0, field: "", message: "the file is empty; it needs at least serviceCIDRs and services")])
        }
        let config = reader.readConfig(root)
        if !reader.issues.isEmpty || config == nil {
            throw ConfigError(issues: reader.issues)
        }
        return config!
    }

    static func issue(for error: YamlError, file: String) -> ConfigIssue {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return ConfigIssue(file: file, line: mark.line, field: "", message: "YAML syntax: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ConfigIssue(file: file, line: context.mark.line, field: "", message: "duplicate key \(duplicates.joined(separator: ", "))")
        default:
            return ConfigIssue(file: file, line: 0, field: "", message: "YAML: \(error)")
        }
    }
}

/// The walk over the YAML node tree; collects issues instead of stopping at the first.
struct ConfigReader {
    let file: String
    let registry: StrategyRegistry
    let includes: IncludeCache?
    var issues: [ConfigIssue] = []

    init(file: String, registry: StrategyRegistry, includes: IncludeCache? = nil) {
        self.file = file
        self.registry = registry
        self.includes = includes
    }

    static let topLevelKeys = ["queues", "serviceCIDRs", "tcpMode", "queue", "malformedPackets", "marks", "conntrack",
                               "masqueradeAddress", "pickCacheMilliseconds", "metrics", "include", "services", "kubernetes",
                               "nodeName", "nodePortRange", "nodePortAddresses", "externalCIDRs", "zone"]
    static let serviceKeys = ["name", "vip", "port", "protocol", "strategy", "strategyOptions", "sessionAffinity",
                              "masquerade", "answerPing", "endpointRemoval", "healthCheck", "endpoints"] + Self.externalAccessKeys + Self.trafficPolicyKeys
    static let endpointKeys = ["address", "port", "weight", "ready", "serving", "terminating", "node", "local"] + Self.endpointTopologyKeys

    mutating func report(_ node: Node?, _ field: String, _ message: String) {
        issues.append(ConfigIssue(file: file, line: node?.mark?.line ?? 0, field: field, message: message))
    }

    // MARK: Document

    mutating func readConfig(_ root: Node) -> NFQLBConfig? {
        guard let top = mapping(root, "", keys: Self.topLevelKeys) else { return nil }
        let queues = readQueues(top["queues"]) ?? 0...0
        let cidrs = readCIDRs(top["serviceCIDRs"])
        let tcpMode = choice(top["tcpMode"], "tcpMode", default: NFQLBConfig.TCPMode.mark)
        var queue = QueueConfiguration()
        var bypass = true
        if let node = top["queue"], let fields = mapping(node, "queue", keys: ["maxLength", "copyRange", "failOpen", "gso", "bypass", "receiveBufferBytes", "pinWorkers", "workerNice"]) {
            queue.maxLength = UInt32(integer(fields["maxLength"], "queue.maxLength", in: 1...1_048_576) ?? Int(queue.maxLength))
            queue.copyRange = integer(fields["copyRange"], "queue.copyRange", in: 64...65535) ?? queue.copyRange
            if queue.copyRange < 65535, tcpMode != .mark {
                report(fields["copyRange"], "queue.copyRange", "\(queue.copyRange) truncates larger packets, and tcpMode \(tcpMode.rawValue) returns UDP datagrams (and rewrite's SYNs) to the kernel whole: a truncated copy would truncate the packet. Use 65535 here, or tcpMode mark, which needs only the headers")
            }
            queue.failOpen = boolean(fields["failOpen"], "queue.failOpen") ?? queue.failOpen
            queue.gso = boolean(fields["gso"], "queue.gso") ?? queue.gso
            bypass = boolean(fields["bypass"], "queue.bypass") ?? bypass
            queue.receiveBufferBytes = integer(fields["receiveBufferBytes"], "queue.receiveBufferBytes", in: 65536...(1 << 30))
            queue.pinWorkers = boolean(fields["pinWorkers"], "queue.pinWorkers") ?? queue.pinWorkers
            queue.workerNice = integer(fields["workerNice"], "queue.workerNice", in: -20...19).map(Int32.init)
        }
        let malformed = choice(top["malformedPackets"], "malformedPackets", default: NFQLBConfig.MalformedPacketPolicy.accept)
        var marks = MarkLayout.default
        if let node = top["marks"], let fields = mapping(node, "marks", keys: ["mask"]), let maskNode = fields["mask"] {
            if let mask = Self.parseUInt32(maskNode.scalar?.string ?? ""), let layout = MarkLayout(mask: mask) {
                marks = layout
            } else {
                report(maskNode, "marks.mask", "must be one contiguous run of at least 8 bits, e.g. 0xffff0000; got '\(maskNode.scalar?.string ?? "?")'")
            }
        }
        var tcpTimeout: UInt32 = 120, udpTimeout: UInt32 = 30, resync: UInt32 = 10_000
        if let node = top["conntrack"], let fields = mapping(node, "conntrack", keys: ["tcpTimeoutSeconds", "udpTimeoutSeconds", "activeFlowResyncMilliseconds"]) {
            tcpTimeout = UInt32(integer(fields["tcpTimeoutSeconds"], "conntrack.tcpTimeoutSeconds", in: 1...86400) ?? 120)
            udpTimeout = UInt32(integer(fields["udpTimeoutSeconds"], "conntrack.udpTimeoutSeconds", in: 1...86400) ?? 30)
            resync = UInt32(integer(fields["activeFlowResyncMilliseconds"], "conntrack.activeFlowResyncMilliseconds", in: 100...3_600_000) ?? 10_000)
        }
        let masquerade = top["masqueradeAddress"].flatMap { address($0, "masqueradeAddress") }
        let pickCache = UInt32(integer(top["pickCacheMilliseconds"], "pickCacheMilliseconds", in: 0...600_000) ?? 130_000)
        var metrics = MetricsSettings()
        if let node = top["metrics"], let fields = mapping(node, "metrics", keys: ["enabled", "address", "port"]) {
            metrics.enabled = boolean(fields["enabled"], "metrics.enabled") ?? true
            if let addressNode = fields["address"] {
                let text = addressNode.scalar?.string ?? ""
                if IPv4Address(text) == nil && IPv6Address(text) == nil {
                    report(addressNode, "metrics.address", "must be an IPv4 or IPv6 address such as 127.0.0.1 or ::1; got '\(text)'")
                } else {
                    metrics.address = text
                }
            }
            metrics.port = UInt16(integer(fields["port"], "metrics.port", in: 0...65535) ?? 9464)
        }
        var services = readServices(top["services"], cidrs: cidrs)
        var included: [String] = []
        if let includeNode = top["include"] {
            readIncludes(includeNode, cidrs: cidrs, into: &services, paths: &included)
        }
        let access = readNodeAccess(top)
        let zone = readZone(top)
        services = applyTrafficPolicies(services, nodeName: access.nodeName, zone: zone)
        services = expandExternalAccess(services, access: access, cidrs: cidrs)
        checkUniqueness(services)
        checkEndpointIDSpace(services, marks: marks, mode: tcpMode, node: top["services"])
        var config = NFQLBConfig(queues: queues, serviceCIDRs: cidrs, tcpMode: tcpMode, queue: queue, queueBypass: bypass,
                                 malformedPackets: malformed, marks: marks, tcpTimeoutSeconds: tcpTimeout, udpTimeoutSeconds: udpTimeout,
                                 masqueradeAddress: masquerade, pickCacheMilliseconds: pickCache, metrics: metrics, services: services)
        config.includes = included
        config.activeFlowResyncMilliseconds = resync
        config.kubernetes = readKubernetes(top["kubernetes"])
        config.nodeName = access.nodeName
        config.zone = zone
        config.nodePortRange = access.nodePortRange
        config.nodePortAddresses = access.nodePortAddresses
        config.externalCIDRs = access.externalCIDRs
        return config
    }

    mutating func readQueues(_ node: Node?) -> ClosedRange<UInt16>? {
        guard let node else {
            report(nil, "queues", "is required (e.g. \"0:1\": the NFQUEUE numbers, one worker each)")
            return nil
        }
        let text = node.scalar?.string ?? ""
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        let numbers = parts.map { UInt16($0.trimmingCharacters(in: .whitespaces)) }
        switch (numbers.count, numbers.first ?? nil, numbers.last ?? nil) {
        case (1, let a?, _): return a...a
        case (2, let a?, let b?) where a <= b:
            if Int(b) - Int(a) >= 64 {
                report(node, "queues", "at most 64 queues (one worker thread each); got \(Int(b) - Int(a) + 1)")
                return nil
            }
            return a...b
        default:
            report(node, "queues", "must be a queue number or a range \"A:B\" with A <= B <= 65535; got '\(text)'")
            return nil
        }
    }

    mutating func readCIDRs(_ node: Node?) -> [IPPrefix] {
        guard let node else {
            report(nil, "serviceCIDRs", "is required (e.g. [10.96.0.0/12]: the addresses the hooks send to the queue)")
            return []
        }
        guard let items = sequence(node, "serviceCIDRs"), !items.isEmpty else {
            if node.sequence != nil { report(node, "serviceCIDRs", "must list at least one CIDR") }
            return []
        }
        var result: [IPPrefix] = []
        for (i, item) in items.enumerated() {
            let text = item.scalar?.string ?? ""
            guard let prefix = IPPrefix(text) else {
                report(item, "serviceCIDRs[\(i)]", "not a CIDR such as 10.96.0.0/12; got '\(text)'")
                continue
            }
            result.append(prefix)
        }
        return result
    }

    // MARK: Services

    mutating func readServices(_ node: Node?, cidrs: [IPPrefix]) -> [ServiceConfig] {
        guard let node else { return [] }
        guard let items = sequence(node, "services") else { return [] }
        let version = Self.nextSourceVersion()
        var result: [ServiceConfig] = []
        for (i, item) in items.enumerated() {
            if var config = readService(item, path: "services[\(i)]", cidrs: cidrs) {
                config.sourceVersion = version
                result.append(config)
            }
        }
        return result
    }

    private static let sourceVersions = Atomic<UInt64>(0)

    /// A number no other parse of a service list has had in this process.
    static func nextSourceVersion() -> UInt64 { sourceVersions.add(1, ordering: .relaxed).newValue }

    /// Services of the files `include` names: each a YAML file with a `services:` list, or a
    /// directory whose `*.yaml` files are read in name order. Paths are relative to this file.
    mutating func readIncludes(_ node: Node, cidrs: [IPPrefix], into result: inout [ServiceConfig], paths: inout [String]) {
        let entries: [Node] = node.sequence.map(Array.init) ?? [node]
        let base = (file as NSString).deletingLastPathComponent
        var included: [String] = []
        for (i, entry) in entries.enumerated() {
            guard let text = entry.scalar?.string, !text.isEmpty else {
                report(entry, "include[\(i)]", "must be a file or directory path")
                continue
            }
            let path = text.hasPrefix("/") ? text : (base as NSString).appendingPathComponent(text)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                report(entry, "include[\(i)]", "no such file or directory: \(path)")
                continue
            }
            paths.append(path)
            var files = [path]
            if isDirectory.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                files = names.filter { ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) && !$0.hasPrefix(".") }.sorted()
                    .map { (path as NSString).appendingPathComponent($0) }
            }
            included += files
        }
        let (includes, registry) = (self.includes, self.registry)
        for parsed in IncludeCache.parseAll(included, { path in
            includes?.services(of: path, cidrs: cidrs, registry: registry) ?? IncludeCache.parse(path, cidrs: cidrs, registry: registry)
        }) {
            issues += parsed.issues
            result += parsed.services
        }
    }

    /// No two services, in any file, share an address, port and protocol, or a name.
    mutating func checkUniqueness(_ services: [ServiceConfig]) {
        var seenKeys: [ServiceKey: Int] = [:]
        var seenNames: [String: Int] = [:]
        seenKeys.reserveCapacity(services.count)
        seenNames.reserveCapacity(services.count)
        func other(_ first: Int, from second: Int) -> String {
            services[first].file == services[second].file ? services[first].path : "\(services[first].file): \(services[first].path)"
        }
        for index in services.indices {
            // Read in place (a copy of each ServiceConfig would retain a dozen references).
            let key = services[index].service.key
            if let first = seenKeys.updateValue(index, forKey: key) {
                seenKeys[key] = first
                let config = services[index]
                let what = config.service.kind == .nodePort ? "node port \(key.port)/\(key.proto) used twice" : "duplicate service \(key.address):\(key.port)/\(key.proto)"
                issues.append(ConfigIssue(file: config.file, line: config.vipLine, field: "\(config.path).\(config.keyField)",
                                          message: "\(what): \(other(first, from: index)) has it already"))
            }
            // Derived entries (node ports, external IPs) share their service's name.
            if services[index].service.kind == .clusterIP, let first = seenNames.updateValue(index, forKey: services[index].service.name) {
                let config = services[index]
                seenNames[config.service.name] = first
                issues.append(ConfigIssue(file: config.file, line: config.nameLine, field: "\(config.path).name",
                                          message: "duplicate name '\(config.service.name)': \(other(first, from: index)) has it already"))
            }
        }
    }

    mutating func readService(_ node: Node, path: String, cidrs: [IPPrefix]) -> ServiceConfig? {
        guard let fields = mapping(node, path, keys: Self.serviceKeys) else { return nil }
        let before = issues.count
        let name = string(fields["name"], "\(path).name", required: true) ?? ""
        if !name.isEmpty, !name.allSatisfy({ $0.isLetter || $0.isNumber || "-_./".contains($0) }) {
            report(fields["name"], "\(path).name", "use letters, digits and - _ . / only; got '\(name)'")
        }
        let vip = fields["vip"].flatMap { self.address($0, "\(path).vip") }
        if fields["vip"] == nil { report(node, "\(path).vip", "is required") }
        if let vip, !cidrs.isEmpty, !cidrs.contains(where: { $0.contains(vip) }) {
            report(fields["vip"], "\(path).vip", "\(vip) is outside serviceCIDRs (\(cidrs.map(\.description).joined(separator: ", "))): the hooks would never queue it")
        }
        let port = integer(fields["port"], "\(path).port", in: 1...65535, required: true, parent: node)
        let proto: IPProtocolNumber
        switch fields["protocol"]?.scalar?.string.lowercased() {
        case nil, "tcp": proto = .tcp
        case "udp": proto = .udp
        case let other?:
            report(fields["protocol"], "\(path).protocol", "must be tcp or udp; got '\(other)'")
            proto = .tcp
        }
        let strategy = string(fields["strategy"], "\(path).strategy") ?? "random"
        var options = StrategyOptions()
        if let optionsNode = fields["strategyOptions"] {
            if let optionFields = optionsNode.mapping {
                for (key, value) in optionFields {
                    guard let keyText = key.scalar?.string, let valueText = value.scalar?.string else {
                        report(value, "\(path).strategyOptions", "options are name: value pairs of plain values")
                        continue
                    }
                    options[keyText] = valueText
                }
            } else {
                report(optionsNode, "\(path).strategyOptions", "must be a mapping such as {tableSize: 65537}")
            }
        }
        do {
            try registry.validate(name: strategy, options: options)
        } catch {
            if case .unknownStrategy(let known) = error.problem {
                report(fields["strategy"], "\(path).strategy", "unknown '\(strategy)' (known: \(known.joined(separator: ", ")))")
            } else if let option = error.option {
                let optionNode = fields["strategyOptions"]?.mapping?[option] ?? fields["strategyOptions"]
                report(optionNode, "\(path).strategyOptions.\(option)", error.description)
            } else {
                report(fields["strategyOptions"] ?? fields["strategy"], "\(path).strategyOptions", error.description)
            }
        }
        var affinity: SessionAffinity?
        if let affinityNode = fields["sessionAffinity"], let affinityFields = mapping(affinityNode, "\(path).sessionAffinity", keys: ["type", "timeoutSeconds"]) {
            switch affinityFields["type"]?.scalar?.string {
            case "ClientIP":
                let timeout = integer(affinityFields["timeoutSeconds"], "\(path).sessionAffinity.timeoutSeconds",
                                      in: 1...Int(SessionAffinity.maximumTimeoutSeconds))
                affinity = SessionAffinity(timeoutSeconds: timeout.map(UInt32.init) ?? SessionAffinity.defaultTimeoutSeconds)
            case "None", nil:
                affinity = nil
            case let other?:
                report(affinityFields["type"], "\(path).sessionAffinity.type", "must be ClientIP or None; got '\(other)'")
            }
        }
        let masquerade = boolean(fields["masquerade"], "\(path).masquerade") ?? false
        let answersPing = boolean(fields["answerPing"], "\(path).answerPing") ?? false
        if answersPing, let vip, !vip.isIPv4 {
            report(fields["answerPing"], "\(path).answerPing", "is IPv4 only: the hooks queue no ICMPv6 echo request; \(vip) is IPv6")
        }
        let removal = choice(fields["endpointRemoval"], "\(path).endpointRemoval", default: ServiceConfig.EndpointRemoval.drain)
        let health = fields["healthCheck"].flatMap { readHealthCheck($0, path: "\(path).healthCheck") }
        let endpoints = readEndpoints(fields["endpoints"], path: path, vip: vip)
        guard issues.count == before, let vip, let port else { return nil }
        let service = Service(name: name, vip: vip, port: UInt16(port), proto: proto, strategy: strategy,
                              strategyOptions: options, sessionAffinity: affinity, masquerade: masquerade,
                              answersPing: answersPing, endpoints: endpoints)
        var config = ServiceConfig(service: service, endpointRemoval: removal, healthCheck: health, line: node.mark?.line ?? 0)
        let nodes = readEndpointNodes(fields, path: path)
        config.external = readExternalAccess(fields, path: path, nodes: nodes)
        config.trafficPolicy = readTrafficPolicy(fields, path: path, nodes: nodes)
        config.file = file
        config.path = path
        config.vipLine = fields["vip"]?.mark?.line ?? config.line
        config.nameLine = fields["name"]?.mark?.line ?? config.line
        return config
    }

    mutating func readEndpoints(_ node: Node?, path: String, vip: IPAddress?) -> [Endpoint] {
        guard let node else { return [] }
        guard let items = sequence(node, "\(path).endpoints") else { return [] }
        var result: [Endpoint] = []
        var seen: [EndpointKey: Int] = [:]
        for (j, item) in items.enumerated() {
            // Built only when reported: 1,000,000 endpoints would otherwise format 6,000,000 names.
            func field() -> String { "\(path).endpoints[\(j)]" }
            guard let fields = mapping(item, field(), keys: Self.endpointKeys) else { continue }
            let address = fields["address"].flatMap { self.address($0, "\(field()).address") }
            if fields["address"] == nil { report(item, "\(field()).address", "is required") }
            if let address, let vip, address.isIPv4 != vip.isIPv4 {
                report(fields["address"], "\(field()).address",
                       "\(address) is \(address.isIPv4 ? "IPv4" : "IPv6") but the VIP \(vip) is \(vip.isIPv4 ? "IPv4" : "IPv6"): a VIP's endpoints must be of its family (a dual-stack service is one service per family)")
            }
            let port = integer(fields["port"], "\(field()).port", in: 1...65535, required: true, parent: item)
            let weight = integer(fields["weight"], "\(field()).weight", in: 0...10_000) ?? 1
            let conditions = EndpointConditions(
                ready: boolean(fields["ready"], "\(field()).ready") ?? true,
                serving: boolean(fields["serving"], "\(field()).serving") ?? true,
                terminating: boolean(fields["terminating"], "\(field()).terminating") ?? false)
            guard let address, let port else { continue }
            let endpoint = Endpoint(address: address, port: UInt16(port), weight: UInt32(weight), conditions: conditions)
            if let first = seen[endpoint.key] {
                report(item, field(), "duplicate endpoint \(endpoint.key): \(path).endpoints[\(first)] has it already")
                continue
            }
            seen[endpoint.key] = j
            result.append(endpoint)
        }
        return result
    }

    mutating func readHealthCheck(_ node: Node, path: String) -> HealthCheckSettings? {
        guard let fields = mapping(node, path, keys: ["type", "intervalMilliseconds", "timeoutMilliseconds", "rise", "fall", "port"]) else { return nil }
        if let type = fields["type"], type.scalar?.string != "tcp" {
            report(type, "\(path).type", "only tcp (a connect check) is supported; got '\(type.scalar?.string ?? "?")'")
        }
        var settings = HealthCheckSettings()
        settings.intervalMilliseconds = UInt32(integer(fields["intervalMilliseconds"], "\(path).intervalMilliseconds", in: 100...3_600_000) ?? Int(settings.intervalMilliseconds))
        settings.timeoutMilliseconds = UInt32(integer(fields["timeoutMilliseconds"], "\(path).timeoutMilliseconds", in: 10...60_000) ?? Int(settings.timeoutMilliseconds))
        settings.rise = UInt32(integer(fields["rise"], "\(path).rise", in: 1...100) ?? Int(settings.rise))
        settings.fall = UInt32(integer(fields["fall"], "\(path).fall", in: 1...100) ?? Int(settings.fall))
        settings.port = integer(fields["port"], "\(path).port", in: 1...65535).map(UInt16.init)
        if settings.timeoutMilliseconds > settings.intervalMilliseconds {
            report(fields["timeoutMilliseconds"], "\(path).timeoutMilliseconds", "must not exceed intervalMilliseconds (\(settings.intervalMilliseconds))")
        }
        return settings
    }

    /// In mode mark every distinct endpoint needs an id that fits the mark field.
    mutating func checkEndpointIDSpace(_ services: [ServiceConfig], marks: MarkLayout, mode: NFQLBConfig.TCPMode, node: Node?) {
        let capacity = Int(marks.maximumEndpointID) - Int(MarkLayout.firstEndpointID) + 1
        // Counting distinct endpoints costs a set of all of them: only when it could matter.
        let total = services.reduce(0) { $0 + $1.service.endpoints.count }
        let distinct = total <= capacity ? total : Set(services.flatMap { $0.service.endpoints.map(\.key) }).count
        if distinct > capacity {
            report(node, "services", "\(distinct) distinct endpoints, but marks.mask \(marks) holds only \(capacity) endpoint ids: widen the mask")
        }
    }

    // MARK: Typed fields

    /// A mapping's fields by name. Yams' own `Mapping[String]` compares every key as a node,
    /// a scan per lookup; a reload of a 100-service file looks up thousands of fields.
    struct Fields {
        let values: [String: Node]
        subscript(name: String) -> Node? { values[name] }
    }

    mutating func mapping(_ node: Node, _ field: @autoclosure () -> String, keys: [String]) -> Fields? {
        guard let fields = node.mapping else {
            report(node, field(), "must be a mapping (key: value lines)")
            return nil
        }
        var values: [String: Node] = [:]
        values.reserveCapacity(fields.count)
        for (key, value) in fields {
            let name = key.scalar?.string ?? "?"
            if !keys.contains(name) {
                let parent = field()
                let path = parent.isEmpty ? name : "\(parent).\(name)"
                let hint = keys.first(where: { $0.lowercased() == name.lowercased() }).map { " (did you mean '\($0)'?)" } ?? ""
                report(key, path, "unknown field\(hint); known: \(keys.joined(separator: ", "))")
            }
            values[name] = value
        }
        return Fields(values: values)
    }

    mutating func sequence(_ node: Node, _ field: @autoclosure () -> String) -> [Node]? {
        guard let items = node.sequence else {
            report(node, field(), "must be a list")
            return nil
        }
        return Array(items)
    }

    mutating func string(_ node: Node?, _ field: @autoclosure () -> String, required: Bool = false) -> String? {
        guard let node else {
            if required { report(nil, field(), "is required") }
            return nil
        }
        guard let text = node.scalar?.string, !text.isEmpty else {
            report(node, field(), "must be a non-empty text value")
            return nil
        }
        return text
    }

    mutating func integer(_ node: Node?, _ field: @autoclosure () -> String, in range: ClosedRange<Int>, required: Bool = false, parent: Node? = nil) -> Int? {
        guard let node else {
            if required { report(parent, field(), "is required") }
            return nil
        }
        guard let text = node.scalar?.string, let value = Int(text) else {
            report(node, field(), "must be an integer; got '\(node.scalar?.string ?? "a structure")'")
            return nil
        }
        guard range.contains(value) else {
            report(node, field(), "must be between \(range.lowerBound) and \(range.upperBound); got \(value)")
            return nil
        }
        return value
    }

    mutating func boolean(_ node: Node?, _ field: @autoclosure () -> String) -> Bool? {
        guard let node else { return nil }
        switch node.scalar?.string.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            report(node, field(), "must be true or false; got '\(node.scalar?.string ?? "a structure")'")
            return nil
        }
    }

    mutating func address(_ node: Node, _ field: @autoclosure () -> String) -> IPAddress? {
        let text = node.scalar?.string ?? ""
        guard let address = IPAddress(text) else {
            report(node, field(), "not an IP address; got '\(text)'")
            return nil
        }
        return address
    }

    mutating func choice<T: RawRepresentable & CaseIterable>(_ node: Node?, _ field: String, default value: T) -> T where T.RawValue == String {
        guard let node else { return value }
        let text = node.scalar?.string ?? ""
        guard let choice = T(rawValue: text) else {
            report(node, field, "must be one of \(T.allCases.map(\.rawValue).joined(separator: ", ")); got '\(text)'")
            return value
        }
        return choice
    }

    static func parseUInt32(_ text: String) -> UInt32? {
        let lower = text.lowercased()
        if lower.hasPrefix("0x") { return UInt32(lower.dropFirst(2), radix: 16) }
        return UInt32(lower)
    }
}
