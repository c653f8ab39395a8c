import Balancer
import Foundation
import NFQLB

/// Runs `deploy/iptables-hooks.sh install` with the arguments the config implies, for
/// `nfq-lb run --install-hooks`.
struct HooksInstaller {
    var script: String

    /// The script of this installation, found from the executable's real path only, never
    /// from the working directory (`cd DIR && nfq-lb run --install-hooks` as root must not run
    /// a script someone planted in DIR): `<bin>/../share/nfq-lb/iptables-hooks.sh` for an
    /// installed binary, or the repository's `deploy/iptables-hooks.sh` for a binary in its
    /// build tree (`<repo>/.build/<triple>/<config>/nfq-lb`).
    static func locate(explicit: String?) -> String? {
        if let explicit { return explicit }
        guard let executable = executablePath() else { return nil }
        let directory = URL(fileURLWithPath: executable).deletingLastPathComponent()
        var candidates = [directory.appendingPathComponent("../share/nfq-lb/iptables-hooks.sh").standardizedFileURL.path]
        var ancestor = directory
        while ancestor.path != "/" {
            if ancestor.lastPathComponent == ".build" {
                let repository = ancestor.deletingLastPathComponent()
                if FileManager.default.fileExists(atPath: repository.appendingPathComponent("Package.swift").path) {
                    candidates.append(repository.appendingPathComponent("deploy/iptables-hooks.sh").path)
                }
                break
            }
            ancestor = ancestor.deletingLastPathComponent()
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The running binary's real path, from `/proc/self/exe` (what the kernel executed, with
    /// every symlink resolved), never `argv[0]` (which a caller chooses).
    static func executablePath() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
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
