import Balancer
import Foundation
import NFQLB

/// Runs `deploy/iptables-hooks.sh install` with the arguments the config implies, for
/// `nfq-lb run --install-hooks`.
struct HooksInstaller {
    var script: String

    /// The script next to the binary's share directory, or in the source tree.
    static func locate(explicit: String?) -> String? {
        if let explicit { return explicit }
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let candidates = [
            executable.deletingLastPathComponent().appendingPathComponent("../share/nfq-lb/iptables-hooks.sh").path,
            "/usr/local/share/nfq-lb/iptables-hooks.sh",
            FileManager.default.currentDirectoryPath + "/deploy/iptables-hooks.sh",
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func arguments(for config: NFQLBConfig) -> [String] {
        var arguments = ["install", "--queues", "\(config.queues.lowerBound):\(config.queues.upperBound)",
                         "--mode", config.tcpMode.rawValue, "--mark-mask", config.marks.description]
        for cidr in config.serviceCIDRs { arguments += ["--service-cidr", cidr.description] }
        if !config.queueBypass { arguments.append("--no-bypass") }
        return arguments
    }

    func install(_ config: NFQLBConfig) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script] + Self.arguments(for: config)
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw HooksError(message: "\(script) install failed with status \(process.terminationStatus)")
        }
    }
}

struct HooksError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
