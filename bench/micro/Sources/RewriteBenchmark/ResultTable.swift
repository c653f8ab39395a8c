/// The printed table: one row per cell, then whether the goal was met.
struct ResultTable {
    /// The bar: at least this many packets per second per core for Swift...
    static let goalMpps = 10.0
    /// ...and Swift at most this many times C's time.
    static let goalRatio = 1.5

    func printHeader() {
        print(row("services", "strategy", "Swift Mpps", "C Mpps", "Swift ns/pkt", "C ns/pkt", "Swift/C time", "C twin"))
        print(String(repeating: "-", count: 118))
    }

    func printRow(_ cell: Cell) {
        print(row(String(cell.services), cell.strategy, fixed(cell.swiftMpps, 2), fixed(cell.cMpps, 2),
                  fixed(cell.swiftNanoseconds, 1), fixed(cell.cNanoseconds, 1), fixed(cell.ratio, 2) + "x",
                  cell.reference == cell.strategy ? "same" : "none; vs \(cell.reference)"))
    }

    func printSummary(_ cells: [Cell]) {
        let fast = cells.filter { $0.swiftMpps >= Self.goalMpps }.count
        let close = cells.filter { $0.ratio <= Self.goalRatio }.count
        print("")
        print("goal >= \(Int(Self.goalMpps)) Mpps per core: \(fast) of \(cells.count) cells; "
            + "Swift within \(Self.goalRatio)x of C: \(close) of \(cells.count) cells")
        print("all runs verified: checksums valid, every packet rewritten to an endpoint of its service, "
            + "picks spread (rings of 64+ packets per candidate), Swift and C identical for maglev and source-hash")
    }

    private func row(_ columns: String...) -> String {
        let widths = [8, 22, 11, 9, 13, 10, 13, 0]
        return zip(columns, widths).enumerated().map { k, pair in
            let (text, width) = pair
            let pad = String(repeating: " ", count: max(0, width - text.count))
            return k == 1 || k == 7 ? "  " + text + pad : pad + text
        }.joined(separator: " ")
    }

    private func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return "-" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        var text = String(rounded)
        let decimals = text.split(separator: ".").last.map(\.count) ?? 0
        if !text.contains(".") { text += "." }
        return text + String(repeating: "0", count: max(0, digits - decimals))
    }
}
