import SystemPackage
import Balancer
import Logging
import PacketRewrite

/// One queue's worker: receives a batch, picks a backend for each new flow, lets the mode's
/// `FlowPath`s install the NAT, and answers the batch with one verdict message.
///
/// Runs on a thread of its own and owns everything it mutates (sockets, buffers, PRNG, pick
/// cache, counters). The only shared reads per batch are the snapshot generation (one atomic
/// load) and, on a reload, the new snapshot reference.
final class QueueWorker<TCP: FlowPath, UDP: FlowPath> {
    static var batchCapacity: Int { 64 }

    private let environment: WorkerEnvironment
    private let socket: QueueSocket
    private let conntrack: ConntrackClient
    private var tcp: TCP
    private var udp: UDP
    private var reader: SnapshotReader
    private var context: PickContext
    private var sources: SourceAddressResolver
    private var statistics = WorkerStatistics()
    private var warnings = TroubleReporter()
    private var metrics: QueueMetrics
    private let marks: MarkLayout
    /// `--log-level debug` logs every decision; checked once, not per packet.
    private let traceDecisions: Bool

    /// Per-batch scratch, allocated once: what each packet of the batch became.
    private let packets: UnsafeMutableBufferPointer<QueuedPacket>
    private let dispositions: UnsafeMutableBufferPointer<Disposition>
    private let flows: UnsafeMutableBufferPointer<FlowInFlight>
    private var createResults: [Int32]

    private enum Disposition {
        case decided(QueueVerdict)
        case tcp
        case udp
    }

    init(queue: UInt16, environment: WorkerEnvironment, tcp: TCP, udp: UDP) throws(NetlinkError) {
        self.environment = environment
        socket = try QueueSocket(queue: queue, configuration: environment.queue, batchCapacity: Self.batchCapacity)
        conntrack = try ConntrackClient(batchCapacity: Self.batchCapacity)
        self.tcp = tcp
        self.udp = udp
        reader = environment.state.reader()
        context = PickContext(seed: UInt64(queue) &* 0x9E37_79B9_7F4A_7C15 ^ MonotonicClock.nanoseconds())
        sources = SourceAddressResolver(configured: environment.masqueradeAddress)
        metrics = environment.metrics.queue(queue)
        marks = environment.marks
        traceDecisions = environment.logger.logLevel <= .debug
        packets = .allocate(capacity: Self.batchCapacity)
        dispositions = .allocate(capacity: Self.batchCapacity)
        flows = .allocate(capacity: Self.batchCapacity)
        createResults = Array(repeating: 0, count: Self.batchCapacity)
    }

    deinit {
        packets.deallocate()
        dispositions.deallocate()
        flows.deallocate()
    }

    /// Runs until the environment stops; a batch in progress is always answered first.
    func run() {
        var lastFlush = MonotonicClock.milliseconds()
        while !environment.isStopping {
            do {
                try processBatch()
            } catch {
                environment.logger.error("queue \(socket.queue): \(error)")
            }
            let now = MonotonicClock.milliseconds()
            if now &- lastFlush >= 250 {
                collectSocketCounters()
                metrics.flush(statistics)
                warnings.report(statistics, queue: socket.queue, now: now, logger: environment.logger)
                lastFlush = now
            }
        }
        collectSocketCounters()
        metrics.flush(statistics)
    }

    private func collectSocketCounters() {
        statistics.socketOverruns = socket.overruns
        statistics.queueFallbacks = socket.fallbacks
        statistics.foreignDatagrams = socket.foreignDatagrams + conntrack.foreignDatagrams
    }

    private func processBatch() throws(NetlinkError) {
        var count = 0
        let packets = self.packets
        _ = try socket.receiveBatch(capacity: Self.batchCapacity) { packet in
            packets.initializeElement(at: count, to: packet)
            count += 1
        }
        guard count > 0 else { return }
        let started = MonotonicClock.nanoseconds()
        let nowMilliseconds = started / 1_000_000
        context.now = UInt32(truncatingIfNeeded: nowMilliseconds / 1000)
        statistics.batches += 1
        statistics.packets += count
        let snapshot = reader.snapshot()

        // Pass 1: classify, pick, stage.
        for i in 0..<count {
            dispositions.initializeElement(at: i, to: classify(packets[i], snapshot: snapshot, slot: i, now: nowMilliseconds))
        }
        // One round trip for every staged conntrack create of the batch.
        let staged = conntrack.stagedCount
        if staged > 0 {
            do {
                try conntrack.sendStagedCreates(results: &createResults)
            } catch {
                environment.logger.error("queue \(socket.queue): \(error)")
                for i in 0..<staged where createResults[i] == 1 { createResults[i] = -error.errno.rawValue }
            }
        }
        // Pass 2: settle each flow and answer each packet.
        for i in 0..<count {
            let verdict: QueueVerdict
            switch dispositions[i] {
            case .decided(let decided):
                verdict = decided
            case .tcp:
                if flows[i].createPosition >= 0 { flows[i].createResult = createResults[flows[i].createPosition] }
                verdict = tcp.settle(&flows[i], packet: &packets[i], conntrack: conntrack, statistics: &statistics)
                opened(flows[i], snapshot: snapshot)
            case .udp:
                if flows[i].createPosition >= 0 { flows[i].createResult = createResults[flows[i].createPosition] }
                verdict = udp.settle(&flows[i], packet: &packets[i], conntrack: conntrack, statistics: &statistics)
                opened(flows[i], snapshot: snapshot)
            }
            statistics.count(verdict)
            if traceDecisions { traceDecision(i, verdict) }
            socket.stageVerdict(verdict, for: packets[i])
        }
        socket.flushVerdicts()
        metrics.recordDecision(nanoseconds: MonotonicClock.nanoseconds() &- started)
    }

    /// Decides what a packet is; for a new flow of a service, picks its backend and stages it.
    @inline(__always)
    private func classify(_ packet: QueuedPacket, snapshot: BalancerSnapshot, slot: Int, now: UInt64) -> Disposition {
        if ICMPEchoRequest.isICMP(packet.bytes) { return .decided(answerPing(packet, snapshot: snapshot)) }
        // A truncated copy (copyRange below the packet) is judged by its headers.
        if packet.isTruncated { packet.clampLengthsToCopy() }
        let view: PacketView
        do {
            view = try PacketView(validating: packet.bytes)
        } catch {
            statistics.malformed += 1
            return .decided(environment.malformedPackets == .drop ? .drop : .accept)
        }
        let tuple = view.flowTuple
        let sequence = view.tcp?.sequenceNumber ?? 0
        if tuple.proto == .tcp, !view.isTCPSYN {
            // Only a flow's first packet belongs here; anything else passes untouched.
            statistics.malformed += 1
            return .decided(environment.malformedPackets == .drop ? .drop : .accept)
        }
        // Borrowed, not retained: a busy service's balancer is shared by every worker, and a
        // reference count on it would be a cache line they all fight over.
        return snapshot.withLookup(address: tuple.destination, port: tuple.destinationPort, proto: tuple.proto) { lookup in
            switch lookup {
            case .notService:
                statistics.notService += 1
                return .decided(.accept)
            case .unallocated:
                statistics.rejectedUnallocated += 1
                return .decided(reject(packet))
            case .service(let balancer):
                return balance(packet, tuple: tuple, sequence: sequence, balancer: balancer, slot: slot, now: now)
            }
        }
    }

    /// Picks (or recalls) the backend of a new flow of `balancer`'s service and stages it.
    @inline(__always)
    private func balance(_ packet: QueuedPacket, tuple: FlowTuple, sequence: UInt32, balancer: ServiceBalancer, slot: Int, now: UInt64) -> Disposition {
        var flow = FlowInFlight(tuple: tuple, backendAddress: tuple.destination, backendPort: tuple.destinationPort,
                                endpointID: 0, sourceNAT: nil, candidate: -1)
        flow.sequence = sequence
        let isTCP = tuple.proto == .tcp
        // loadBalancerSourceRanges: kube-proxy's firewall chains drop, and so do we.
        guard balancer.service.admits(tuple.source) else {
            statistics.droppedSourceRange += 1
            return .decided(.drop)
        }
        // A retransmitted SYN (same sequence number), or a datagram of a flow whose first one
        // is still on its way, gets the pick its flow already has: from the shared memory of
        // recent picks, or from whichever worker stored it first.
        let memory = environment.pickMemory
        let key = PickMemory.key(tuple, sequence: sequence)
        var choice: EndpointChoice
        if let fingerprint = memory.recall(key: key, now: context.now), let remembered = balancer.choice(forFingerprint: fingerprint) {
            choice = remembered
            flow.recalled = true
        } else {
            guard let picked = balancer.pick(tuple, hash: tuple.stableHash, context: &context) else {
                // externalTrafficPolicy Local without a local endpoint: dropped, as kube-proxy
                // does, so the client's retransmits wait out a load balancer's failover.
                if balancer.service.dropsWithoutEndpoints {
                    statistics.droppedNoLocalEndpoint += 1
                    return .decided(.drop)
                }
                statistics.rejectedNoEndpoint += 1
                return .decided(reject(packet))
            }
            choice = picked
            let ours = balancer.fingerprint(ofCandidate: picked.index)
            let winner = memory.claim(key: key, fingerprint: ours, now: context.now)
            if winner != ours, let theirs = balancer.choice(forFingerprint: winner) {
                choice = theirs
                flow.recalled = true
            }
        }
        if flow.recalled { statistics.pickCacheHits += 1 }
        flow.backendAddress = choice.endpoint.address
        flow.backendPort = choice.endpoint.port
        flow.endpointID = choice.endpoint.tag
        flow.candidate = choice.index
        // Hairpin: a flow whose client is the endpoint chosen for it is masqueraded whatever
        // the service says (kube-proxy's rule), or the endpoint would answer itself directly.
        if balancer.service.masquerade || choice.endpoint.address == tuple.source {
            flow.sourceNAT = sources.source(toward: choice.endpoint.address, now: now)
        }
        if isTCP {
            tcp.stage(&flow, conntrack: conntrack)
        } else {
            udp.stage(&flow, conntrack: conntrack)
        }
        flows.initializeElement(at: slot, to: flow)
        return isTCP ? .tcp : .udp
    }

    private func traceDecision(_ i: Int, _ verdict: QueueVerdict) {
        switch dispositions[i] {
        case .decided:
            environment.logger.debug("queue \(socket.queue): packet \(packets[i].id) -> \(verdict.kind) mark \(verdict.mark.map { String($0, radix: 16) } ?? "-")")
        case .tcp, .udp:
            let flow = flows[i]
            environment.logger.debug("queue \(socket.queue): \(flow.tuple) -> \(flow.backendAddress):\(flow.backendPort) id \(flow.endpointID) candidate \(flow.candidate)\(flow.recalled ? " (remembered)" : "") ct \(flow.createResult) new \(flow.isNewFlow) -> \(verdict.kind)")
        }
    }

    /// An ICMP echo request to a service address (the hooks queue them): turned into its own
    /// reply when the address answers pings (`answerPing`), passed on as it is otherwise, as
    /// without nfq-lb. A truncated copy cannot be turned around: the reply would be cut short.
    private func answerPing(_ packet: QueuedPacket, snapshot: BalancerSnapshot) -> QueueVerdict {
        guard !packet.isTruncated, let echo = ICMPEchoRequest(validating: packet.bytes),
              snapshot.answersPing(to: echo.destination) else {
            statistics.pingsPassed += 1
            return .accept
        }
        echo.turnIntoReply()
        statistics.pingsAnswered += 1
        return QueueVerdict(kind: .accept, mark: nil, returnsPayload: true)
    }

    /// What kube-proxy gives a flow with nowhere to go: our reject mark, which the filter
    /// rules of the hooks turn into a TCP reset or an ICMP port unreachable.
    private func reject(_ packet: QueuedPacket) -> QueueVerdict {
        QueueVerdict(kind: .accept, mark: marks.merging(marks.reject, into: packet.mark), returnsPayload: false)
    }

    private func opened(_ flow: FlowInFlight, snapshot: BalancerSnapshot) {
        guard flow.isNewFlow, flow.candidate >= 0 else { return }
        snapshot.withLookup(address: flow.tuple.destination, port: flow.tuple.destinationPort, proto: flow.tuple.proto) { lookup in
            switch lookup {
            case .service(let balancer) where flow.candidate < balancer.candidates.count:
                balancer.flowOpened(candidate: flow.candidate)
            default:
                break
            }
        }
    }
}
