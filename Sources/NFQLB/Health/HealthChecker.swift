#if canImport(Glibc)
import Glibc
#endif
import Balancer
import PacketRewrite

/// Active TCP connect checks of the endpoints of services that ask for them, all driven by
/// one `poll` loop: a connect is started when a check is due and judged when the socket turns
/// writable (SO_ERROR) or its timeout passes.
///
/// Checks go from the node's own namespace straight to the endpoint address, never through
/// the service address, so neither the balancer nor rp_filter can fool them (katran#47).
/// An endpoint starts healthy (a new config works at once) and changes state only after
/// `fall` failures or `rise` successes in a row, like HAProxy's checks.
struct HealthChecker {
    struct Target: Hashable {
        var endpoint: EndpointKey
        var port: UInt16
        var settings: HealthCheckSettings

        static func == (a: Target, b: Target) -> Bool { a.endpoint == b.endpoint && a.port == b.port && a.settings == b.settings }
        func hash(into hasher: inout Hasher) {
            hasher.combine(endpoint)
            hasher.combine(port)
        }
    }

    struct Record {
        var healthy = true
        var successes: UInt32 = 0
        var failures: UInt32 = 0
        var nextCheckAt: UInt64
        var lastError: String?
    }

    private struct InFlight {
        var fd: Int32
        var deadline: UInt64
    }

    private(set) var records: [Target: Record] = [:]
    private var inFlight: [Target: InFlight] = [:]

    /// The targets of `config`'s services; records of targets that stay are kept.
    mutating func update(config: NFQLBConfig, now: UInt64) {
        var wanted = Set<Target>()
        for service in config.services {
            guard let settings = service.healthCheck else { continue }
            for endpoint in service.service.endpoints {
                wanted.insert(Target(endpoint: endpoint.key, port: settings.port ?? endpoint.port, settings: settings))
            }
        }
        for target in records.keys where !wanted.contains(target) {
            records[target] = nil
            if let flight = inFlight.removeValue(forKey: target) { close(flight.fd) }
        }
        for target in wanted where records[target] == nil {
            // Spread first checks over the interval rather than all at once.
            let spread = UInt64(UInt32(truncatingIfNeeded: target.endpoint.stableHash) % max(target.settings.intervalMilliseconds, 1))
            records[target] = Record(nextCheckAt: now + spread)
        }
    }

    /// The endpoints that are unhealthy now.
    var unhealthy: Set<EndpointKey> {
        Set(records.filter { !$0.value.healthy }.map(\.key.endpoint))
    }

    /// What one `step` did: whether an endpoint changed state, and whether any check ended
    /// (so the reported last errors may have changed).
    struct Step {
        var changed = false
        var judged = false
    }

    /// Starts due checks, waits up to `wait` ms for answers, judges finished and timed-out
    /// checks.
    mutating func step(now: UInt64, wait: Int32) -> Step {
        var result = Step()
        for (target, record) in records where record.nextCheckAt <= now && inFlight[target] == nil {
            if let fd = Self.startConnect(to: target.endpoint.address, port: target.port) {
                inFlight[target] = InFlight(fd: fd, deadline: now + UInt64(target.settings.timeoutMilliseconds))
            } else {
                // Refused at once (no route, no socket): a failed check like any other.
                result.changed = judge(target, success: false, error: "connect: \(String(cString: strerror(errno)))", now: now) || result.changed
                result.judged = true
            }
        }
        guard !inFlight.isEmpty else {
            usleep(UInt32(wait) * 1000)
            return result
        }
        let targets = Array(inFlight.keys)
        var descriptors = targets.map { pollfd(fd: inFlight[$0]!.fd, events: Int16(POLLOUT), revents: 0) }
        _ = poll(&descriptors, nfds_t(descriptors.count), wait)
        let after = MonotonicClock.milliseconds()
        for (index, target) in targets.enumerated() {
            guard let flight = inFlight[target] else { continue }
            if descriptors[index].revents != 0 {
                var error: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(flight.fd, SOL_SOCKET, SO_ERROR, &error, &length)
                close(flight.fd)
                inFlight[target] = nil
                result.changed = judge(target, success: error == 0, error: error == 0 ? nil : String(cString: strerror(error)), now: after) || result.changed
                result.judged = true
            } else if after >= flight.deadline {
                close(flight.fd)
                inFlight[target] = nil
                result.changed = judge(target, success: false, error: "timeout after \(target.settings.timeoutMilliseconds) ms", now: after) || result.changed
                result.judged = true
            }
        }
        return result
    }

    /// Records one result; true when the endpoint changed state.
    private mutating func judge(_ target: Target, success: Bool, error: String?, now: UInt64) -> Bool {
        guard var record = records[target] else { return false }
        record.nextCheckAt = now + UInt64(target.settings.intervalMilliseconds)
        record.lastError = error
        var changed = false
        if success {
            record.successes += 1
            record.failures = 0
            if !record.healthy, record.successes >= target.settings.rise {
                record.healthy = true
                changed = true
            }
        } else {
            record.failures += 1
            record.successes = 0
            if record.healthy, record.failures >= target.settings.fall {
                record.healthy = false
                changed = true
            }
        }
        records[target] = record
        return changed
    }

    mutating func closeAll() {
        for flight in inFlight.values { close(flight.fd) }
        inFlight.removeAll()
    }

    private static func startConnect(to address: IPAddress, port: UInt16) -> Int32? {
        guard case .v4(let v4) = address else { return nil }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        var remote = sockaddr_in()
        remote.sin_family = sa_family_t(AF_INET)
        remote.sin_port = port.bigEndian
        remote.sin_addr.s_addr = v4.rawValue.bigEndian
        let result = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if result == 0 || errno == EINPROGRESS { return fd }
        close(fd)
        return nil
    }
}
