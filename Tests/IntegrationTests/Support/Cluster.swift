#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NFQLB

/// Where the repository is, found from this file's own path (tests run from the source tree).
enum Repository {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        // Tests/IntegrationTests/Support/Cluster.swift -> the directory holding Package.swift
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path
    }()

    static var clusterScript: String { root + "/testbed/cluster.sh" }
    static var clusterLibrary: String { root + "/testbed/lib/cluster.sh" }
    static var hooksScript: String { root + "/deploy/iptables-hooks.sh" }

    /// The daemon under test: `NFQLB_BINARY`, or the debug build in the repository.
    static var binary: String {
        if let explicit = ProcessInfo.processInfo.environment["NFQLB_BINARY"], !explicit.isEmpty { return explicit }
        return root + "/.build/debug/nfq-lb"
    }

    /// Nil when the binary is there; otherwise what is wrong and how to fix it.
    static var binaryProblem: String? {
        let path = binary
        if FileManager.default.isExecutableFile(atPath: path) { return nil }
        if ProcessInfo.processInfo.environment["NFQLB_BINARY"].map({ !$0.isEmpty }) == true {
            return "NFQLB_BINARY=\(path) is not an executable file: point it at a built nfq-lb, or unset it to use \(root)/.build/debug/nfq-lb"
        }
        return "the nfq-lb binary is missing at \(path): run `swift build` in \(root) first (the README's test command builds before testing), or set NFQLB_BINARY to a built nfq-lb"
    }
}

/// What a kernel test needs from the machine, checked once; every missing piece is named
/// with the way to get it.
enum KernelPrerequisites {
    /// (tool, how to get it on Debian/Ubuntu)
    static let tools: [(String, String)] = [
        ("bash", "apt-get install bash"),
        ("timeout", "apt-get install coreutils"),
        ("ip", "apt-get install iproute2"),
        ("ss", "apt-get install iproute2"),
        ("iptables", "apt-get install iptables"),
        ("iptables-save", "apt-get install iptables"),
        ("iptables-restore", "apt-get install iptables"),
        ("ip6tables-restore", "apt-get install iptables"),
        ("nft", "apt-get install nftables"),
        ("conntrack", "apt-get install conntrack"),
        ("curl", "apt-get install curl"),
        ("dig", "apt-get install bind9-dnsutils (or dnsutils)"),
        ("ping", "apt-get install iputils-ping"),
        ("nginx", "apt-get install nginx-light (or nginx)"),
        ("dnsmasq", "apt-get install dnsmasq-base"),
        ("getent", "apt-get install libc-bin"),
        ("python3", "apt-get install python3"),
    ]

    static func problems() -> [String] {
        var problems: [String] = []
        if getuid() != 0 {
            problems.append("not running as root (uid \(getuid())): the kernel tests create network namespaces, iptables rules and NFQUEUE bindings; run `sudo swift test --filter IntegrationTests` (or as root)")
        }
        for (tool, hint) in tools where !Shell.has(tool) {
            problems.append("missing tool '\(tool)': \(hint)")
        }
        if let binary = Repository.binaryProblem { problems.append(binary) }
        for script in [Repository.clusterScript, Repository.clusterLibrary, Repository.hooksScript]
        where !FileManager.default.fileExists(atPath: script) {
            problems.append("missing \(script) (is \(Repository.root) the nfq-lb repository?)")
        }
        return problems
    }
}

/// The namespace cluster of testbed/lib/cluster.sh, prefix `nfqt`: nodes nfqt-node1 and
/// nfqt-node2, pods nNpI at 10.244.N.(10+I), servers in every pod (nginx :8080, dnsmasq :53,
/// UDP echo :9000) plus the tests' own TCP echo on :9100. The balancer runs in node1.
enum Cluster {
    /// `NFQT_CLUSTER_PREFIX` lets two checkouts run their kernel tests side by side.
    static let prefix: String = {
        let given = ProcessInfo.processInfo.environment["NFQT_CLUSTER_PREFIX"] ?? ""
        return given.isEmpty ? "nfqt" : given
    }()
    static let podsPerNode = 3
    static var stateDir: String { "/tmp/\(prefix)-cluster" }
    static let serviceCIDR = "10.96.0.0/12"
    /// The IPv6 service range (node1 routes it toward node2, where it is unreachable, as the IPv4 one).
    static let serviceCIDR6 = "fd00:10:96::/108"
    /// The external and load-balancer IP pool the hooks queue (`--external-cidr`); the outside
    /// client (`extUp`) routes it to node1.
    static let externalCIDR = "192.168.70.0/24"
    /// Node1's address on the node link: what a process in node1 itself uses toward a VIP.
    static let node1Address = "192.168.50.1"
    static let tcpEchoPort = 9100

    static let environment = ["CLUSTER_PREFIX": prefix, "CLUSTER_STATE_DIR": stateDir, "CLUSTER_QUIET": "1"]

    static var pods: [String] {
        (1...2).flatMap { n in (1...podsPerNode).map { "n\(n)p\($0)" } }
    }

    /// Full netns name of a pod or node given short ("n1p3", "node1").
    static func ns(_ name: String) -> String {
        name.hasPrefix(prefix + "-") ? name : "\(prefix)-\(name)"
    }

    static func podNumbers(_ pod: String) -> (node: Int, index: Int) {
        let parts = pod.dropFirst().split(separator: "p")
        guard parts.count == 2, let node = Int(parts[0]), let index = Int(parts[1]) else {
            preconditionFailure("not a pod name: \(pod)")
        }
        return (node, index)
    }

    static func ip(_ pod: String) -> String {
        let (node, index) = podNumbers(pod)
        return "10.244.\(node).\(10 + index)"
    }

    /// The AAAA record dnsmasq in the pod answers (written with decimal digits, as cluster.sh does).
    static func ip6(_ pod: String) -> String {
        let (node, index) = podNumbers(pod)
        return "fd00:10:244:\(node)::\(10 + index)"
    }

    /// The pod whose IPv4 address this is.
    static func pod(ofAddress address: String) -> String? {
        pods.first { ip($0) == address }
    }

    // MARK: Lifecycle

    /// Brings the cluster up with every server (an old cluster of this prefix is replaced):
    /// what `testbed/cluster.sh up 3 --servers` does, through the library's functions.
    ///
    /// Not through `cluster.sh up` itself: it ends with `cluster_status`, which exits 1 under
    /// `set -e -o pipefail` whenever `ip netns list` happens to list another prefix's netns
    /// last (testbed/lib/cluster.sh `_cl_all_ns`; ClusterScriptTests holds the known issue).
    static func up() throws {
        let script = """
            cluster_up \(podsPerNode) || exit 1
            pods=$(cluster_pods)
            [ "$(printf '%s\\n' $pods | wc -l)" -eq \(2 * podsPerNode) ] || { echo "cluster_pods listed: $pods" >&2; exit 1; }
            for pod in $pods; do
              cluster_start_http "$pod" 8080 || exit 1
              cluster_start_dns "$pod" 53 || exit 1
              cluster_start_udp_echo "$pod" 9000 || exit 1
            done
            """
        let result = try library(script, timeout: 120)
        guard result.succeeded else { throw SetupError("bringing the cluster up (cluster_up, cluster_start_*) failed: \(result)") }
        try TCPEchoServer.startEverywhere()
    }

    /// Removes our hooks from node1 and the whole cluster, then checks that nothing of it is
    /// left; returns what went wrong (nothing here throws: teardown must run to the end).
    @discardableResult
    static func down() -> [String] {
        var problems: [String] = []
        if FileManager.default.fileExists(atPath: "/run/netns/\(ns("node1"))") {
            if let result = try? Shell.run(["ip", "netns", "exec", ns("node1"), "bash", Repository.hooksScript, "remove", "-q"], timeout: 60),
               !result.succeeded {
                problems.append("iptables-hooks.sh remove in \(ns("node1")) failed: \(result)")
            }
        }
        // Not detached: Foundation must stay free to reap any child of this test process that
        // cluster_down kills.
        let result = try? Shell.run(["bash", Repository.clusterScript, "down"], timeout: 120, environment: environment)
        if let result, !result.succeeded {
            // cluster_down counts a zombie as a survivor, and this machine's init reaps orphans
            // a second or more late: judge by what is really left (a process that is neither
            // gone nor a zombie), not by its exit status alone.
            let pids = result.stderr.components(separatedBy: "survived SIGKILL:").dropFirst().first?
                .split(whereSeparator: { !$0.isNumber }).compactMap { Int32($0) } ?? []
            let alive = pids.filter { pid in
                guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                      let close = stat.lastIndex(of: ")") else { return false }
                return stat[stat.index(after: close)...].split(separator: " ").first != "Z"
            }
            if pids.isEmpty || !alive.isEmpty {
                let listing = alive.isEmpty ? "" : ((try? Shell.run(["ps", "-o", "pid,ppid,stat,args", "-p", alive.map(String.init).joined(separator: ",")],
                                                                    timeout: 10))?.stdout ?? "")
                problems.append("testbed/cluster.sh down failed: \(result)\n\(listing)")
            }
        } else if result == nil {
            problems.append("testbed/cluster.sh down could not be started")
        }
        let leftNamespaces = ((try? Shell.run(["ip", "netns", "list"], timeout: 10))?.stdout ?? "")
            .split(separator: "\n").map { String($0.split(separator: " ").first ?? "") }.filter { $0.hasPrefix(prefix + "-") }
        if !leftNamespaces.isEmpty { problems.append("namespaces left after cluster_down: \(leftNamespaces)") }
        for path in [stateDir] + pods.map({ "/etc/netns/\(ns($0))" }) where FileManager.default.fileExists(atPath: path) {
            problems.append("left after cluster_down: \(path)")
        }
        return problems
    }

    /// Runs a snippet of bash with testbed/lib/cluster.sh sourced (servers it starts are
    /// detached from the test process; see `BackgroundProcess`).
    @discardableResult
    static func library(_ script: String, timeout: Double = 30) throws -> CommandResult {
        try Shell.run(["bash", "-c", "source \(Shell.quote(Repository.clusterLibrary)) && \(script)"],
                      timeout: timeout, environment: environment, detachDescendants: true)
    }

    // MARK: Commands in namespaces

    /// Runs `command` in a pod or node netns, under `timeout` (coreutils) and the watchdog.
    @discardableResult
    static func exec(_ name: String, _ command: [String], timeout: Double = 10) throws -> CommandResult {
        let limit = String(format: "%.1f", timeout)
        return try Shell.run(["ip", "netns", "exec", ns(name), "timeout", "-s", "KILL", limit] + command,
                             timeout: timeout + 5)
    }

    /// Runs `command` in a netns and throws unless it exits 0.
    @discardableResult
    static func check(_ name: String, _ command: [String], timeout: Double = 10) throws -> CommandResult {
        let result = try exec(name, command, timeout: timeout)
        guard result.succeeded else { throw SetupError("command in \(ns(name)) failed: \(result)") }
        return result
    }

    /// Starts `command` in a netns in the background, bounded by `timeout` (coreutils).
    static func spawn(_ name: String, _ command: [String], timeout: Double, label: String) throws -> BackgroundProcess {
        let limit = String(format: "%.1f", timeout)
        return try BackgroundProcess(["ip", "netns", "exec", ns(name), "timeout", "-s", "KILL", limit] + command,
                                     stdoutPath: Shell.scratchFile("\(label).out"), stderrPath: Shell.scratchFile("\(label).err"))
    }

    /// Adds `$P-ext`, the client outside the cluster (testbed/lib/cluster.sh `cluster_ext_up`).
    static func extUp() throws {
        let result = try library("cluster_ext_up")
        guard result.succeeded else { throw SetupError("cluster_ext_up failed: \(result)") }
    }

    /// Removes `$P-ext`.
    static func extDown() {
        _ = try? library("cluster_ext_down")
    }

    // MARK: Hooks and conntrack in node1

    static func installHooks(mode: NFQLBConfig.TCPMode, bypass: Bool = true, ipv6: Bool = false) throws {
        var arguments = ["bash", Repository.hooksScript, "install", "-q", "--queues", "0:1",
                         "--service-cidr", serviceCIDR, "--external-cidr", externalCIDR, "--mode", mode.rawValue]
        if ipv6 { arguments += ["--service-cidr", serviceCIDR6] }
        if !bypass { arguments.append("--no-bypass") }
        try check("node1", arguments, timeout: 60)
    }

    static func removeHooks() throws {
        try check("node1", ["bash", Repository.hooksScript, "remove", "-q"], timeout: 60)
    }

    /// Empties node1's conntrack table, so a test starts without the flows of the last one.
    static func flushConntrack() throws {
        let result = try exec("node1", ["conntrack", "-F"])
        // conntrack -F says "0 flow entries have been deleted" on stderr; status 0 either way
        guard result.status == 0 else { throw SetupError("conntrack -F in node1 failed: \(result)") }
    }

    /// node1's conntrack entries (`conntrack -L` lines) whose original destination is `vip`.
    static func conntrackEntries(toward vip: String) throws -> [String] {
        let result = try exec("node1", ["conntrack", "-L", "-d", vip])
        guard result.status == 0 else { throw SetupError("conntrack -L in node1 failed: \(result)") }
        return result.stdout.split(separator: "\n").map(String.init).filter { $0.contains("dst=\(vip) ") }
    }

    // MARK: Servers

    /// The pid of a server cluster.sh started (`nginx-8080`, `dnsmasq-53`, `udp-echo-9000`).
    static func serverPID(_ pod: String, _ kind: String) -> Int32? {
        let text = (try? String(contentsOfFile: "\(stateDir)/\(pod)/\(kind).pid", encoding: .utf8)) ?? ""
        return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Stops the pod's nginx on :8080 (only that server) and waits until it is gone.
    static func stopHTTP(_ pod: String) throws {
        guard let pid = serverPID(pod, "nginx-8080") else { throw SetupError("no nginx-8080 pid file for \(pod) in \(stateDir)") }
        kill(pid, SIGTERM)
        let gone = eventually(timeout: 3) { kill(pid, 0) != 0 }
        if !gone {
            kill(pid, SIGKILL)
            _ = eventually(timeout: 2) { kill(pid, 0) != 0 }
        }
        // nginx's workers leave with their master; make sure nothing listens any more
        let closed = try eventually(timeout: 3) {
            try exec(pod, ["ss", "-Hltn", "sport = :8080"]).trimmedStdout.isEmpty
        }
        guard closed else { throw SetupError("nginx on \(pod):8080 still listens after SIGTERM/SIGKILL") }
    }

    static func startHTTP(_ pod: String) throws {
        let result = try library("cluster_start_http \(pod) 8080")
        guard result.succeeded else { throw SetupError("cluster_start_http \(pod) failed: \(result)") }
    }

    /// Whether the bridge port of `pod`'s veth in its node is in hairpin mode.
    static func hairpinIsOn(_ pod: String) throws -> Bool {
        let (node, index) = podNumbers(pod)
        let result = try check("node\(node)", ["ip", "-d", "link", "show", "vp\(index)"])
        return result.stdout.contains("hairpin on")
    }
}
