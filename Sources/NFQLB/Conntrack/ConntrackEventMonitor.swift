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
/// from the entry's reply tuple (its backend), never from the id alone.
///
/// It never ends for good before `stop`: when the kernel drops events because we were slow
/// (ENOBUFS, an overrun: the socket stays usable) they are counted and `eventsLost` asks for
/// a resynchronisation of the counts with the conntrack table; any other receive error closes
/// the socket and opens a new one, after a backoff of 100 ms doubling up to 5 s, counted in
/// `nfqlb_conntrack_event_monitor_restarts_total`, and the counts are resynchronised too (the
/// events of the gap are lost).
public final class ConntrackEventMonitor: Sendable {
    private let marks: MarkLayout
    private let flows: FlowTracker
    private let metrics: NFQLBMetrics
    private let logger: Logger
    private let receiveBufferBytes: Int
    private let eventsLost: @Sendable () -> Void
    private let stopping = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)
    private let health = Mutex(Health())

    /// What `/healthz` needs to know of the monitor, read from any thread.
    public struct Health: Sendable, Equatable {
        /// Subscribed and following events now; false between a receive error and the socket
        /// that replaces it, and after `stop`.
        public var isRunning = false
        /// Sockets opened again after a receive error (or after a failed attempt to do so).
        public var restarts = 0
        /// The last receive or open error, and when (seconds since 1970); nil if none yet.
        public var lastError: String?
        public var lastErrorTime: Double?
    }

    /// `eventsLost` is called (on the monitor's thread) after an overrun and after a restart:
    /// give it `ActiveFlowResynchronizer.requestNow`.
    public init(marks: MarkLayout, flows: FlowTracker, metrics: NFQLBMetrics, logger: Logger,
                receiveBufferBytes: Int = 16 << 20, eventsLost: @escaping @Sendable () -> Void = {}) {
        self.marks = marks
        self.flows = flows
        self.metrics = metrics
        self.logger = logger
        self.receiveBufferBytes = receiveBufferBytes
        self.eventsLost = eventsLost
    }

    /// The monitor's state now (thread-safe).
    public var state: Health { health.withLock { $0 } }
    /// Whether it follows events now.
    public var isRunning: Bool { state.isRunning }

    /// Subscribes now (so a failure is seen at start) and follows events on a thread.
    public func start() throws(NetlinkError) {
        let socket = try openSocket()
        health.withLock { $0.isRunning = true }
        let box = UncheckedSocket(socket: socket)
        let thread = Thread { [self] in
            defer {
                health.withLock { $0.isRunning = false }
                done.signal()
            }
            follow(box.socket)
        }
        thread.name = "nfq-lb conntrack events"
        thread.start()
    }

    public func stop() {
        stopping.store(true, ordering: .relaxed)
        done.wait()
    }

    private func openSocket() throws(NetlinkError) -> NetlinkSocket {
        let socket = try NetlinkSocket(groups: NetlinkConstants.groupBit(NetlinkConstants.groupConntrackDestroy))
        try socket.setReceiveBuffer(bytes: receiveBufferBytes)
        try socket.setReceiveTimeout(milliseconds: 200)
        return socket
    }

    private func failed(_ error: NetlinkError, _ what: String) {
        logger.error("conntrack events: \(what): \(error); opening a new socket")
        health.withLock {
            $0.isRunning = false
            $0.lastError = "\(what): \(error)"
            $0.lastErrorTime = Date().timeIntervalSince1970
        }
    }

    /// Sleeps `milliseconds` in steps short enough that `stop` is not kept waiting.
    private func pause(milliseconds: Int) {
        var left = milliseconds
        while left > 0, !stopping.load(ordering: .relaxed) {
            let step = min(left, 100)
            Thread.sleep(forTimeInterval: Double(step) / 1000)
            left -= step
        }
    }

    private func follow(_ first: NetlinkSocket) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { buffer.deallocate() }
        var current: NetlinkSocket? = first
        var backoff = 100
        while !stopping.load(ordering: .relaxed) {
            guard let socket = current else {
                pause(milliseconds: backoff)
                backoff = min(backoff * 2, 5000)
                metrics.conntrackEventRestarts.increment()
                health.withLock { $0.restarts += 1 }
                do {
                    current = try openSocket()
                    health.withLock { $0.isRunning = true }
                    logger.notice("conntrack events: subscribed again")
                    eventsLost()
                } catch {
                    failed(error, "subscribing again")
                }
                continue
            }
            let outcome: NetlinkSocket.Receive
            do {
                outcome = try socket.receive(into: buffer, blocking: true)
            } catch {
                failed(error, "receive")
                current = nil
                continue
            }
            switch outcome {
            case .wouldBlock:
                backoff = 100
            case .overrun:
                metrics.conntrackEventOverruns.increment()
                eventsLost()
            case .bytes(let length):
                backoff = 100
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
