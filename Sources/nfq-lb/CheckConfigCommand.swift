import ArgumentParser
import Balancer
import NFQLB

/// `nfq-lb check-config FILE`: every problem with file, line and field, exit 1 if any.
struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a config file; print each problem as FILE:LINE: FIELD: MESSAGE.")

    @Argument(help: "The YAML config file.")
    var file: String

    func run() throws {
        do {
            let config = try ConfigLoader().load(path: file)
            let endpoints = config.services.reduce(0) { $0 + $1.service.endpoints.count }
            print("\(file): OK: \(config.services.count) services, \(endpoints) endpoints, tcpMode \(config.tcpMode.rawValue), queues \(config.queues.lowerBound):\(config.queues.upperBound)")
        } catch {
            for issue in error.issues { printError(issue.description) }
            throw ExitCode(1)
        }
    }
}
