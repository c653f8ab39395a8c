import PacketRewrite
import Balancer

/// The one step that differs between modes: how a picked backend becomes the flow's NAT.
///
/// A worker is generic over two of these (TCP and UDP), so that each mode is one type and the
/// per-packet calls are static. A batch runs in two passes: `stage` for every packet (a path
/// that talks to conntrack stages its CT_NEW in the worker's batch), then one batched send of
/// the creates, then `settle` for every packet, which sees the kernel's answer, may rewrite
/// the packet and returns the verdict.
protocol FlowPath {
    mutating func stage(_ flow: inout FlowInFlight, conntrack: ConntrackClient)

    mutating func settle(_ flow: inout FlowInFlight, packet: inout QueuedPacket, conntrack: ConntrackClient,
                         statistics: inout WorkerStatistics) -> QueueVerdict
}

/// What every path needs to know about the daemon's settings.
struct FlowPathSettings: Sendable {
    var marks: MarkLayout
    var tcpTimeoutSeconds: UInt32
    var udpTimeoutSeconds: UInt32

    func timeout(for flow: FlowInFlight) -> UInt32 {
        flow.tuple.proto == .tcp ? tcpTimeoutSeconds : udpTimeoutSeconds
    }

    func createRequest(for flow: FlowInFlight, liberal: Bool = false) -> ConntrackCreateRequest {
        ConntrackCreateRequest(
            original: flow.tuple, backendAddress: flow.backendAddress, backendPort: flow.backendPort,
            sourceNAT: flow.sourceNAT, timeoutSeconds: timeout(for: flow),
            mark: marks.value(endpointID: flow.endpointID), liberalTCPWindow: liberal)
    }
}
