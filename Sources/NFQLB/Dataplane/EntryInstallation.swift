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
