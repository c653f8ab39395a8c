import Balancer
import CBenchShim
import Glibc

/// Parse + pick + rewrite of IPv4 TCP SYNs, in process, on one core: Swift (PacketRewrite and
/// Balancer, as the daemon's worker calls them) against the same work in plain C, interleaved
/// in one invocation. Prints one row per (services, strategy) cell.
@main
enum RewriteBenchmark {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.contains("--help") || arguments.contains("-h") {
            print(BenchmarkOptions.usage)
            exit(0)
        }
        let options: BenchmarkOptions
        do {
            options = try BenchmarkOptions(arguments: arguments)
        } catch {
            fail(error, status: 2)
        }
        let known = StrategyRegistry.standard.names
        let strategies = options.strategies.isEmpty ? known : options.strategies
        for name in strategies where !known.contains(name) {
            fail("unknown strategy '\(name)' (known: \(known.joined(separator: ", ")))", status: 2)
        }
        let pinned = cbench_pin_to_cpu(options.cpu)
        guard pinned == 0 else {
            fail("cannot pin to CPU \(options.cpu): errno \(pinned)", status: 1)
        }
        print("pinned to CPU \(cbench_current_cpu()); C reference built by \(String(cString: cbench_c_compiler_version()))")
        print("ring \(options.ringSize) SYNs, \(options.endpoints) endpoints per service, "
            + "\(options.rounds) rounds x \(options.secondsPerRun) s per language per cell; medians; "
            + "Swift lookup \(options.ownedLookup ? "owned (lookup)" : "borrowed (withLookup, as the daemon)")")
        print("")
        let table = ResultTable()
        table.printHeader()
        var cells: [Cell] = []
        for services in options.serviceCounts {
            for strategy in strategies {
                do {
                    let cell = try Cell.measure(services: services, strategy: strategy, options: options)
                    table.printRow(cell)
                    cells.append(cell)
                } catch {
                    fail("FAILED: \(services) services, \(strategy): \(error)", status: 1)
                }
            }
        }
        table.printSummary(cells)
    }

    /// Says why on standard error and exits.
    static func fail(_ message: some CustomStringConvertible, status: Int32) -> Never {
        var text = "\(message)\n"
        text.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
        exit(status)
    }
}
