import ArgumentParser

@main
struct NFQLBCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nfq-lb",
        abstract: "A node-local L4 service load balancer: NFQUEUE for each flow's first packet, conntrack for the rest.",
        version: NFQLBVersion.current,
        subcommands: [RunCommand.self, CheckConfigCommand.self, StatusCommand.self, VersionCommand.self],
        defaultSubcommand: nil)
}

enum NFQLBVersion {
    static let current = "0.1.0"
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the version.")

    func run() {
        print("nfq-lb \(NFQLBVersion.current)")
    }
}
