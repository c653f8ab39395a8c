/// What a worker tells the kernel about one queued packet.
struct QueueVerdict: Equatable {
    enum Kind: Equatable {
        case accept
        case drop
        /// Re-run the hook from its start (rewrite mode: the rewritten SYN meets the notrack rule).
        case `repeat`

        var kernelValue: UInt32 {
            switch self {
            case .accept: NetlinkConstants.verdictAccept
            case .drop: NetlinkConstants.verdictDrop
            case .repeat: NetlinkConstants.verdictRepeat
            }
        }
    }

    var kind: Kind
    /// The new skb mark, or nil to leave it as it is.
    var mark: UInt32?
    /// Return the (rewritten) packet bytes with the verdict.
    var returnsPayload: Bool

    static let accept = QueueVerdict(kind: .accept, mark: nil, returnsPayload: false)
    static let drop = QueueVerdict(kind: .drop, mark: nil, returnsPayload: false)
    /// Hands the packet back to its hook, which queues it again: for a packet read where it
    /// cannot be balanced (beyond a batch, or while a queue setting is being acknowledged).
    static let requeue = QueueVerdict(kind: .repeat, mark: nil, returnsPayload: false)
}
