import PacketRewrite
import SystemPackage

/// Settles the kernel's answer to a flow's CT_NEW, the same way for every path that creates
/// entries: a new entry, an existing one kept (retransmit, parallel datagram), a stale one
/// replaced (client port reuse), or a failure.
enum EntryInstallation {
    enum Result {
        case created
        case kept(ConntrackEntry)
        case failed
    }

    static func settle(_ flow: inout FlowInFlight, request: ConntrackCreateRequest,
                       conntrack: ConntrackClient, statistics: inout WorkerStatistics) -> Result {
        var code = flow.createResult
        if flow.createPosition < 0 {
            // Not staged (batch full): create it now.
            do {
                try conntrack.create(request)
                code = 0
            } catch {
                code = -error.errno.rawValue
            }
        }
        switch code {
        case 0:
            statistics.conntrackCreated += 1
            flow.isNewFlow = true
            return .created
        case -Errno.fileExists.rawValue:
            statistics.conntrackExisting += 1
            switch ExistingEntryPolicy.resolve(request, conntrack: conntrack) {
            case .kept(let entry):
                statistics.conntrackReused += 1
                return .kept(entry)
            case .replaced:
                statistics.conntrackRecreated += 1
                flow.isNewFlow = true
                return .created
            case .failed(let error):
                statistics.countCreateFailure(error)
                return .failed
            }
        default:
            statistics.countCreateFailure(NetlinkError(kernelError: code, operation: "ctnetlink CT_NEW"))
            return .failed
        }
    }
}

/// A path whose choice is installed as a conntrack entry (modes conntrack and rewrite, and
/// UDP in both): stages the CT_NEW in the batch, and settles the kernel's answer the same way.
protocol ConntrackEntryPath: FlowPath {
    var settings: FlowPathSettings { get }
    /// Whether the entry tracks the TCP window liberally (the SYN bypasses conntrack).
    static var liberalTCPWindow: Bool { get }
}

extension ConntrackEntryPath {
    static var liberalTCPWindow: Bool { false }

    func request(for flow: FlowInFlight) -> ConntrackCreateRequest {
        settings.createRequest(for: flow, liberal: Self.liberalTCPWindow)
    }

    mutating func stage(_ flow: inout FlowInFlight, conntrack: ConntrackClient) {
        flow.createPosition = conntrack.stageCreate(request(for: flow)) ?? -1
    }

    /// The kernel's answer for this flow's entry, settled (EEXIST policy included).
    func install(_ flow: inout FlowInFlight, conntrack: ConntrackClient, statistics: inout WorkerStatistics) -> EntryInstallation.Result {
        EntryInstallation.settle(&flow, request: request(for: flow), conntrack: conntrack, statistics: &statistics)
    }

    /// Installs the entry, then rewrites the packet to where the entry sends it; nil when the
    /// packet must be dropped (the failure is counted).
    func installAndRewrite(_ flow: inout FlowInFlight, packet: inout QueuedPacket, conntrack: ConntrackClient,
                           statistics: inout WorkerStatistics) -> Bool {
        let result = install(&flow, conntrack: conntrack, statistics: &statistics)
        if case .failed = result { return false }
        let entry = PacketRewriting.entry(after: result, flow: flow, conntrack: conntrack)
        guard PacketRewriting.apply(to: &packet, flow: flow, entry: entry) else {
            statistics.malformed += 1
            return false  // the entry exists: a retransmit is rewritten from it
        }
        return true
    }
}
