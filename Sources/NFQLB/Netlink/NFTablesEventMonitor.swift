internal import CNFQueue

/// Tells mode mark's map reconciler that someone changed our nftables table: subscribed to
/// nftables' notifications (NFNLGRP_NFTABLES), which the kernel sends for every table, chain,
/// set and element an nftables commit adds or deletes, whoever made it (`nft`, iptables-nft,
/// the hooks script, this daemon).
///
/// A notification is only a hint to look: `NFTablesEndpointMap.verify()` reads the kernel and
/// decides. Lost notifications (the socket overran) are reported as a change, so that nothing
/// is missed for long; the reconciler's periodic check covers the rest.
final class NFTablesEventMonitor {
    /// What a wait saw, weakest first (`max` of two is what both together say).
    enum Event: Int, Comparable {
        /// Nothing about our table within the wait.
        case quiet
        /// The kernel dropped notifications (a commit of tens of thousands of objects, ours or
        /// another table's, overruns any buffer): one about our table may have been among them.
        case overrun
        /// A notification about our table.
        case changed

        static func < (a: Event, b: Event) -> Bool { a.rawValue < b.rawValue }
    }

    private let socket: NetlinkSocket
    private let table: [UInt8]
    private let buffer: UnsafeMutableRawBufferPointer

    /// Subscribes now; `wait` returns after at most `timeoutMilliseconds`.
    init(table: String, timeoutMilliseconds: Int) throws(NetlinkError) {
        socket = try NetlinkSocket(groups: cnfq_nfnlgrp_bit(UInt32(NFNLGRP_NFTABLES.rawValue)))
        try socket.setReceiveBuffer(bytes: 1 << 20)
        try socket.setReceiveTimeout(milliseconds: timeoutMilliseconds)
        self.table = Array(table.utf8)
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
    }

    deinit { buffer.deallocate() }

    /// Waits for notifications (at most the timeout) and says whether one concerned our table.
    func wait() throws(NetlinkError) -> Event {
        switch try socket.receive(into: buffer, blocking: true) {
        case .wouldBlock: return .quiet
        case .overrun: return .overrun
        case .bytes(let length):
            var event = Event.quiet
            for message in NetlinkMessages(bytes: UnsafeRawBufferPointer(rebasing: buffer[..<length])) where concernsOurTable(message) {
                event = .changed
            }
            // Drain what else is queued now: one look serves a whole commit's notifications.
            draining: while true {
                switch try socket.receive(into: buffer, blocking: false) {
                case .bytes(let more):
                    for message in NetlinkMessages(bytes: UnsafeRawBufferPointer(rebasing: buffer[..<more])) where concernsOurTable(message) {
                        event = .changed
                    }
                case .overrun:
                    event = max(event, .overrun)
                case .wouldBlock:
                    break draining
                }
            }
            return event
        }
    }

    /// Table, chain, rule, set and element messages all carry the table's name as attribute 1
    /// (NFTA_TABLE_NAME, NFTA_CHAIN_TABLE, NFTA_RULE_TABLE, NFTA_SET_TABLE, NFTA_SET_ELEM_LIST_TABLE).
    private func concernsOurTable(_ message: NetlinkMessages.Message) -> Bool {
        guard cnfq_subsys_id(message.type) == UInt16(NFNL_SUBSYS_NFTABLES),
              cnfq_msg_type(message.type) != UInt16(NFT_MSG_NEWGEN.rawValue),
              let name = NetlinkAttributes(message: message.bytes).first(1)?.payload else { return false }
        var bytes = Array(name)
        while bytes.last == 0 { bytes.removeLast() }
        return bytes == table
    }
}
