import PacketRewrite
/// Mode `mark` (TCP and UDP): no conntrack call at all. The verdict carries the endpoint's id
/// in our mark field, and our nftables map in the nat hooks turns it into the DNAT, so the
/// kernel creates the entry and NATs the flow itself (docs/ARCHITECTURE.md, "TCP mode mark").
struct MarkFlowPath: FlowPath {
    let settings: FlowPathSettings

    mutating func stage(_ flow: inout FlowInFlight, conntrack: ConntrackClient) {}

    mutating func settle(_ flow: inout FlowInFlight, packet: inout QueuedPacket, conntrack: ConntrackClient,
                         statistics: inout WorkerStatistics) -> QueueVerdict {
        flow.isNewFlow = !flow.recalled
        var field = settings.marks.value(endpointID: flow.endpointID)
        if flow.sourceNAT != nil { field |= settings.marks.masquerade }
        return QueueVerdict(kind: .accept, mark: settings.marks.merging(field, into: packet.mark), returnsPayload: false)
    }
}
