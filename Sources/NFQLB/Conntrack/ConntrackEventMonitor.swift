import Balancer
import CoreMetrics
import Foundation
import Logging
import PacketRewrite
import Synchronization

/// Follows conntrack destroy events and tells the `FlowTracker` when one of our flows ends,
/// so `least-connections` and `power-of-two` count the flows that are really open.
///
/// Ours are the entries whose mark carries an endpoint id in our field; the endpoint is read
/// from the entry's reply tuple (its backend), never from the id alone. The kernel drops
/// events when we are slow (ENOBUFS): counted, and the counts then drift high until those
/// flows' endpoints are idle; a large receive buffer makes that rare.
public final class ConntrackEventMonitor: Sendable {
    private let marks: MarkLayout
    private let flows: FlowTracker
    private let metrics: NFQLBMetrics
    private let logger: Logger
    private let stopping = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)

    public init(marks: MarkLayout, flows: FlowTracker, metrics: NFQLBMetrics, logger: Logger) {
        self.marks = marks
        self.flows = flows
        self.metrics = metrics
        self.logger = logger
    }

    /// Subscribes now (so a failure is seen at start) and follows events on a thread.
    public func start() throws(NetlinkError) {
        let socket = try NetlinkSocket(groups: NetlinkConstants.groupBit(NetlinkConstants.groupConntrackDestroy))
        try socket.setReceiveBuffer(bytes: 16 << 20)
        try socket.setReceiveTimeout(milliseconds: 200)
        let box = UncheckedSocket(socket: socket)
        let thread = Thread { [self] in
            defer { done.signal() }
            follow(box.socket)
        }
        thread.name = "nfq-lb conntrack events"
        thread.start()
    }

    public func stop() {
        stopping.store(true, ordering: .relaxed)
        done.wait()
    }

    private func follow(_ socket: NetlinkSocket) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { buffer.deallocate() }
        while !stopping.load(ordering: .relaxed) {
            let outcome: NetlinkSocket.Receive
            do {
                outcome = try socket.receive(into: buffer, blocking: true)
            } catch {
                logger.error("conntrack events: \(error)")
                return
            }
            switch outcome {
            case .wouldBlock: continue
            case .overrun:
                metrics.conntrackEventOverruns.increment()
                continue
            case .bytes(let length):
                for message in NetlinkMessages(bytes: UnsafeRawBufferPointer(rebasing: buffer[..<length])) {
                    guard NetlinkConstants.message(ofType: message.type) == UInt16(NetlinkConstants.ctDelete),
                          let entry = ConntrackMessage.parseEntry(NetlinkAttributes(message: message.bytes)),
                          marks.endpointID(ofMark: entry.mark) >= MarkLayout.firstEndpointID else { continue }
                    metrics.conntrackEvents.increment()
                    flows.flowClosed(key: EndpointKey(address: entry.backendAddress, port: entry.backendPort), proto: entry.original.proto)
                }
            }
        }
    }
}

/// Hands a socket to the thread that will own it from then on.
private struct UncheckedSocket: @unchecked Sendable {
    let socket: NetlinkSocket
}
