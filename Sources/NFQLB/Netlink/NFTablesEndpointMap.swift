internal import CNFQueue
import Balancer
import CoreMetrics
import PacketRewrite
import Synchronization
import SystemPackage

/// Mode mark's map `ip nfqlb endpoints` (`type mark : ipv4_addr . inet_service`), or its IPv6
/// mirror `ip6 nfqlb endpoints` (`ipv6_addr . inet_service`): one writer per address family,
/// each holding only the endpoints of its family. Written over netlink with libnftnl: one
/// transaction per change, never a process per change.
///
/// The table and its chains belong to `deploy/iptables-hooks.sh`; only the elements are ours.
/// An element whose value changes is replaced by a delete and an add in the same transaction
/// (adding an existing key fails, docs/ARCHITECTURE.md), so the kernel never sees the map without it.
///
/// What the map must hold (`wanted`) is kept apart from what we believe the kernel holds
/// (`known`): anyone may change the kernel's copy behind our back (a re-install of the hooks
/// recreates the map empty, `nft flush ruleset` deletes it), so a failed transaction or a
/// `verify()` that finds a difference leads to a fresh read and a transaction of the
/// difference, never to blind updates. The table itself is never created here: it carries the
/// hooks' chains, and a daemon that brought back a table an operator removed would make
/// `iptables-hooks.sh remove` not stick. A missing table is reported (`syncProblem`) and the
/// map is refilled the moment the hooks are back.
public final class NFTablesEndpointMap: EndpointMapWriter {
    public static let table = "nfqlb"
    public static let map = "endpoints"

    private let marks: MarkLayout
    /// Whether this writer owns the `ip6` table's map (IPv6 endpoints) or the `ip` one's.
    public let ipv6: Bool
    /// `ip` or `ip6`: the table's family as nft names it, for messages.
    public var familyName: String { ipv6 ? "ip6" : "ip" }
    private var family: UInt16 { ipv6 ? UInt16(NFPROTO_IPV6) : UInt16(NFPROTO_IPV4) }

    struct State {
        /// What the map must hold: key (the masked mark) -> endpoint.
        var wanted: [UInt32: EndpointKey] = [:]
        /// What the kernel holds as far as we know; nil: read it before writing.
        var known: [UInt32: EndpointKey]?
        /// False until the first `apply`: before it `wanted` means nothing and is never enforced.
        var active = false
        /// The ruleset generation at which the kernel's map was last seen equal to `wanted`.
        var verifiedGeneration: UInt32?
        var problem: String?
        var outOfSyncSince: ContinuousClock.Instant?
    }
    private let state = Mutex(State())
    /// Kernels before 6.3 do not know NFT_MSG_DESTROYSETELEM (a delete that ignores a missing element).
    private let destroySupported = Atomic<Bool>(true)
    private let repairs: Counter
    /// Whole-map reads: at 1,000,000 elements each costs the kernel minutes (see `verify`).
    private let reads: Counter
    private let inSync: Gauge
    private let repairCount = Atomic<Int>(0)

    public init(marks: MarkLayout, ipv6: Bool = false) {
        self.marks = marks
        self.ipv6 = ipv6
        repairs = Counter(label: "nfqlb_endpoint_map_repairs_total", dimensions: [("family", ipv6 ? "ipv6" : "ipv4")])
        reads = Counter(label: "nfqlb_endpoint_map_reads_total", dimensions: [("family", ipv6 ? "ipv6" : "ipv4")])
        inSync = Gauge(label: "nfqlb_endpoint_map_in_sync", dimensions: [("family", ipv6 ? "ipv6" : "ipv4")])
        inSync.record(1)
    }

    // MARK: Sync state

    /// Nil while the kernel's map holds what it must; otherwise why not, and for how long.
    public var syncProblem: String? {
        state.withLock { state in
            guard let problem = state.problem, let since = state.outOfSyncSince else { return nil }
            let elapsed = (ContinuousClock.now - since).components
            let tenths = elapsed.seconds * 10 + elapsed.attoseconds / 100_000_000_000_000_000
            let seconds = "\(tenths / 10).\(tenths % 10)"
            return "nftables map \(familyName) \(Self.table) \(Self.map) out of sync for \(seconds) s: \(problem)"
        }
    }

    /// When the kernel's map stopped holding what it must (nil while in sync).
    public var outOfSyncSince: ContinuousClock.Instant? { state.withLock { $0.outOfSyncSince } }

    /// How many times a difference between the kernel's map and ours was found and repaired.
    public var repairsDone: Int { repairCount.load(ordering: .relaxed) }

    private func markInSync(_ state: inout State) {
        if state.problem != nil { inSync.record(1) }
        state.problem = nil
        state.outOfSyncSince = nil
    }

    private func markOutOfSync(_ state: inout State, _ problem: String) {
        if state.outOfSyncSince == nil { state.outOfSyncSince = .now }
        state.problem = problem
        inSync.record(0)
    }

    // MARK: Writing

    /// The map's elements as endpoint ids, from the kernel (nil key parse failures skipped).
    public func read() throws(NetlinkError) -> [EndpointKey: UInt32] {
        let elements = try Self.dump(family: family)
        state.withLock { $0.known = elements }
        var result: [EndpointKey: UInt32] = [:]
        for (key, endpoint) in elements { result[endpoint] = marks.endpointID(ofMark: key) }
        return result
    }

    public func apply(_ wanted: [EndpointKey: UInt32]) throws(NetlinkError) {
        try state.withLock { (state) throws(NetlinkError) in
            var target: [UInt32: EndpointKey] = [:]
            for (endpoint, id) in wanted where endpoint.address.isIPv4 != ipv6 { target[marks.value(endpointID: id)] = endpoint }
            state.wanted = target
            state.active = true
            try reconcile(&state)
        }
    }

    public func update(adding: [(EndpointKey, UInt32)], removing: [(EndpointKey, UInt32)]) throws(NetlinkError) {
        try state.withLock { (state) throws(NetlinkError) in
            let before = state.wanted
            var touched: Set<UInt32> = []
            // A freed id may already carry another endpoint (reused in the same change): only
            // an element that still maps to the freed endpoint goes.
            for (endpoint, id) in removing where endpoint.address.isIPv4 != ipv6 {
                let key = marks.value(endpointID: id)
                if state.wanted[key] == endpoint { state.wanted[key] = nil }
                touched.insert(key)
            }
            for (endpoint, id) in adding where endpoint.address.isIPv4 != ipv6 {
                let key = marks.value(endpointID: id)
                state.wanted[key] = endpoint
                touched.insert(key)
            }
            guard state.active else { return }
            do throws(NetlinkError) {
                if let known = state.known {
                    // Only the keys of this change: the cost of a reload is its size.
                    var current: [UInt32: EndpointKey] = [:], target: [UInt32: EndpointKey] = [:]
                    for key in touched {
                        current[key] = known[key]
                        target[key] = state.wanted[key]
                    }
                    let (deletions, additions) = Self.changes(from: current, to: target)
                    guard !(deletions.isEmpty && additions.isEmpty) else { return }
                    do throws(NetlinkError) {
                        // The generation before and after: when it moved by exactly our commit
                        // from the one the map was last verified at, the kernel's map is what we
                        // just made it, and the next `verify()` need not read it back (a read of
                        // 1,000,000 elements takes seconds, and it holds the lock reloads need).
                        let verified = state.verifiedGeneration
                        let before = verified == nil ? nil : try? Self.generation(family: family)
                        state.verifiedGeneration = nil
                        try transact(deletions: deletions, additions: additions)
                        for key in touched { state.known![key] = state.wanted[key] }
                        if let verified, before == verified, let after = try? Self.generation(family: family),
                           after == verified &+ 1, state.problem == nil {
                            state.verifiedGeneration = after
                        }
                        return
                    } catch {
                        // Our picture of the kernel was wrong (or the kernel refused): read it again.
                        state.known = nil
                    }
                }
                try reconcile(&state)
            } catch {
                // An addition that could not be made is not in force (the caller does not
                // publish it); a removal stays removed and is retried by `verify()`.
                for (endpoint, id) in adding where endpoint.address.isIPv4 != ipv6 {
                    let key = marks.value(endpointID: id)
                    state.wanted[key] = before[key]
                }
                throw error
            }
        }
    }

    /// Compares the kernel's map with what it must hold and repairs any difference: called by
    /// `EndpointMapReconciler` on an nftables notification and periodically. Cheap when nothing
    /// changed: one GETGEN request, the map is read only when the ruleset generation moved.
    /// Returns whether a repair was made.
    ///
    /// `tableQuiet`: the caller's subscription to nftables notifications saw nothing about our
    /// table since the last look. Then a generation that moved was moved by commits to other
    /// tables (kube-proxy's, iptables-nft's, a firewall's) and the map is not read: the kernel
    /// dumps a hash set by walking it from the start for every message (O(n²)), so reading
    /// 1,000,000 elements takes minutes, and a node whose other tables change every second
    /// would read it forever.
    @discardableResult
    public func verify(tableQuiet: Bool = false) throws(NetlinkError) -> Bool {
        try state.withLock { (state) throws(NetlinkError) -> Bool in
            guard state.active else { return false }
            let generation = try? Self.generation(family: family)
            if state.problem == nil, let generation, let verified = state.verifiedGeneration {
                if generation == verified { return false }
                if tableQuiet {
                    state.verifiedGeneration = generation
                    return false
                }
            }
            let current: [UInt32: EndpointKey]
            do throws(NetlinkError) {
                current = try readKernelMap()
            } catch {
                state.known = nil
                markOutOfSync(&state, Self.describe(readFailure: error, family: family))
                throw error
            }
            state.known = current
            if current == state.wanted {
                state.verifiedGeneration = generation
                markInSync(&state)
                return false
            }
            let (extra, missing) = Self.changes(from: current, to: state.wanted)
            markOutOfSync(&state, "the kernel's map lacks \(missing.count) of our \(state.wanted.count) elements and holds \(extra.count) it should not")
            try reconcile(&state)
            repairs.increment()
            repairCount.add(1, ordering: .relaxed)
            return true
        }
    }

    /// Reads the kernel's map (unless known) and transacts the difference to `wanted`. A failure
    /// (the map changed between the read and the transaction) reads again, at most 3 times.
    private func reconcile(_ state: inout State) throws(NetlinkError) {
        var lastError: NetlinkError?
        for _ in 0..<3 {
            do throws(NetlinkError) {
                // The generation the kernel's map is known at: the verified one if nothing moved
                // it since, else the one a fresh read was made at (unchanged across the read).
                var knownAt: UInt32?
                let before = try? Self.generation(family: family)
                let current: [UInt32: EndpointKey]
                if let known = state.known {
                    current = known
                    if let before, before == state.verifiedGeneration { knownAt = before }
                } else {
                    current = try readKernelMap()
                    if let before, let after = try? Self.generation(family: family), after == before { knownAt = before }
                }
                state.known = current
                state.verifiedGeneration = nil
                let (deletions, additions) = Self.changes(from: current, to: state.wanted)
                if !(deletions.isEmpty && additions.isEmpty) {
                    try transact(deletions: deletions, additions: additions)
                    // Our commit alone moved it (by one): the map is what we just made it.
                    if let knownAt, let after = try? Self.generation(family: family), after == knownAt &+ 1 {
                        state.verifiedGeneration = after
                    }
                } else {
                    state.verifiedGeneration = knownAt
                }
                state.known = state.wanted
                markInSync(&state)
                return
            } catch {
                state.known = nil
                lastError = error
            }
        }
        let error = lastError!
        markOutOfSync(&state, Self.describe(readFailure: error, family: family))
        throw error
    }

    /// The elements to delete from `current` and to add so that it becomes `wanted`: a key whose
    /// endpoint changes is in both (a delete then an add of one transaction).
    static func changes(from current: [UInt32: EndpointKey], to wanted: [UInt32: EndpointKey])
        -> (deletions: [(UInt32, EndpointKey)], additions: [(UInt32, EndpointKey)]) {
        var deletions: [(UInt32, EndpointKey)] = []
        var additions: [(UInt32, EndpointKey)] = []
        for (key, endpoint) in current where wanted[key] != endpoint { deletions.append((key, endpoint)) }
        for (key, endpoint) in wanted where current[key] != endpoint { additions.append((key, endpoint)) }
        return (deletions.sorted { $0.0 < $1.0 }, additions.sorted { $0.0 < $1.0 })
    }

    private static func describe(readFailure error: NetlinkError, family: UInt16) -> String {
        guard error.errno == .noSuchFileOrDirectory else { return error.description }
        let name = family == UInt16(NFPROTO_IPV6) ? "ip6" : "ip"
        if (try? tableExists(family: family)) == false {
            return "table \(name) \(table) missing (hooks removed? the map is refilled as soon as `iptables-hooks.sh install` recreates it)"
        }
        return "map \(map) missing from table \(name) \(table) (re-install the hooks)"
    }

    // MARK: Netlink

    /// NFT_MSG_DESTROYSETELEM (Linux 6.3): deletes an element, and is no error when it is gone.
    /// Not in the 6.1 headers this builds against.
    static let destroySetElementMessage: UInt16 = 30
    /// NFTA_GEN_ID of a NEWGEN answer.
    private static let generationIDAttribute: UInt16 = 1
    /// Elements per NEWSETELEM/DELSETELEM message (each element is about 40 bytes).
    static let elementsPerMessage = 512

    /// The sequence numbers of `count` messages sent after the batch-begin message numbered
    /// `first`: wrapping past UInt32.max as the kernel's do.
    static func sequences(after first: UInt32, count: Int) -> [UInt32] {
        (0..<count).map { first &+ UInt32(truncatingIfNeeded: $0 + 1) }
    }

    /// Key: the mark as nft's `mark` type holds it (32 bits, host byte order). Data: the
    /// concatenation `ipv4_addr . inet_service` (or `ipv6_addr . inet_service`), each field
    /// padded to a 32-bit register: 8 bytes, or 20 for IPv6.
    private static func element(key: UInt32, endpoint: EndpointKey, withData: Bool) -> OpaquePointer {
        let element = nftnl_set_elem_alloc()!
        var keyBytes = key
        nftnl_set_elem_set(element, UInt16(NFTNL_SET_ELEM_KEY), &keyBytes, 4)
        if withData {
            switch endpoint.address {
            case .v4(let address):
                var data: (UInt32, UInt16, UInt16) = (address.rawValue.bigEndian, endpoint.port.bigEndian, 0)
                nftnl_set_elem_set(element, UInt16(NFTNL_SET_ELEM_DATA), &data, 8)
            case .v6(let address):
                var data: (UInt64, UInt64, UInt16, UInt16) = (address.high.bigEndian, address.low.bigEndian, endpoint.port.bigEndian, 0)
                nftnl_set_elem_set(element, UInt16(NFTNL_SET_ELEM_DATA), &data, 20)
            }
        }
        return element
    }

    private static func newSet() -> OpaquePointer {
        let set = nftnl_set_alloc()!
        nftnl_set_set_str(set, UInt16(NFTNL_SET_TABLE.rawValue), table)
        nftnl_set_set_str(set, UInt16(NFTNL_SET_NAME.rawValue), map)
        return set
    }

    /// Deletes with DESTROYSETELEM where the kernel has it, so that an element someone else
    /// already deleted never aborts the transaction; DELSETELEM otherwise (the caller then
    /// reads the map again and retries the difference).
    private func transact(deletions: [(UInt32, EndpointKey)], additions: [(UInt32, EndpointKey)]) throws(NetlinkError) {
        let destroy = destroySupported.load(ordering: .relaxed)
        do throws(NetlinkError) {
            try Self.transact(deletions: deletions, additions: additions, destroy: destroy && !deletions.isEmpty, family: family)
        } catch where destroy && !deletions.isEmpty && (error.errno == .notSupported || error.errno == .invalidArgument) {
            destroySupported.store(false, ordering: .relaxed)
            try Self.transact(deletions: deletions, additions: additions, destroy: false, family: family)
        }
    }

    private static func transact(deletions: [(UInt32, EndpointKey)], additions: [(UInt32, EndpointKey)], destroy: Bool,
                                 family: UInt16) throws(NetlinkError) {
        let socket = try NetlinkSocket()
        // The kernel answers once it has processed the whole batch: 1,000,000 elements take
        // seconds, so the wait grows with the transaction (1 ms per 100 elements).
        try socket.setReceiveTimeout(milliseconds: 2000 + (deletions.count + additions.count) / 100)
        let capacity = 4096 + (deletions.count + additions.count) * 128
        // The whole transaction is one sendmsg: the send buffer must hold it.
        try socket.setSendBuffer(bytes: max(1 << 20, 2 * capacity))
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        defer { buffer.deallocate() }
        let batch = mnl_nlmsg_batch_start(buffer, capacity)!
        defer { mnl_nlmsg_batch_stop(batch) }
        let first = UInt32(truncatingIfNeeded: MonotonicSequence.next())
        let deleteType = destroy ? destroySetElementMessage : UInt16(NFT_MSG_DELSETELEM.rawValue)
        let groups = [(deleteType, deletions), (UInt16(NFT_MSG_NEWSETELEM.rawValue), additions)]
        let messages = groups.reduce(0) { $0 + ($1.1.count + elementsPerMessage - 1) / elementsPerMessage }
        // Every acknowledgement is queued before the first is read (the kernel processes the
        // batch inside the send): 2,000 of them (1,000,000 elements) overran the default
        // receive buffer, the transaction looked failed, and the map was read back (minutes).
        try socket.setReceiveBuffer(bytes: max(1 << 18, (messages + 1) * 2048))
        // One acknowledgement per element message; the first error aborts the transaction.
        let expected = sequences(after: first, count: messages + 1)
        nftnl_batch_begin(mnl_nlmsg_batch_current(batch).assumingMemoryBound(to: CChar.self), first)
        mnl_nlmsg_batch_next(batch)
        var next = expected.makeIterator()
        // Elements go in messages of at most `elementsPerMessage`: a message's element list is
        // one netlink attribute, whose 16-bit length would wrap past 64 KiB (about 2,000
        // elements) and silently lose the rest. The messages still form one transaction.
        for (type, all) in groups {
            for chunkStart in stride(from: 0, to: all.count, by: elementsPerMessage) {
                let set = newSet()
                defer { nftnl_set_free(set) }
                for (key, endpoint) in all[chunkStart..<min(chunkStart + elementsPerMessage, all.count)] {
                    nftnl_set_elem_add(set, element(key: key, endpoint: endpoint, withData: type == UInt16(NFT_MSG_NEWSETELEM.rawValue)))
                }
                let flags = UInt16(NLM_F_ACK) | (type == UInt16(NFT_MSG_NEWSETELEM.rawValue) ? UInt16(NLM_F_CREATE | NLM_F_EXCL) : 0)
                let nlh = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(batch).assumingMemoryBound(to: CChar.self),
                                                type, family, flags, next.next()!)
                nftnl_set_elems_nlmsg_build_payload(nlh, set)
                mnl_nlmsg_batch_next(batch)
            }
        }
        nftnl_batch_end(mnl_nlmsg_batch_current(batch).assumingMemoryBound(to: CChar.self), next.next()!)
        mnl_nlmsg_batch_next(batch)
        try socket.send(UnsafeRawBufferPointer(start: mnl_nlmsg_batch_head(batch), count: mnl_nlmsg_batch_size(batch)),
                        operation: "nftables transaction on map \(table) \(map)")
        var pending = Set(expected.dropLast())
        let receive = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { receive.deallocate() }
        while !pending.isEmpty {
            let length: Int
            switch try socket.receive(into: receive, blocking: true) {
            case .bytes(let count): length = count
            case .overrun: throw NetlinkError(errno: .noBufferSpace, operation: "nftables transaction on map \(table) \(map) (acknowledgements lost)")
            case .wouldBlock: throw NetlinkError(errno: .timedOut, operation: "nftables transaction on map \(table) \(map)")
            }
            for message in NetlinkMessages(bytes: UnsafeRawBufferPointer(rebasing: receive[..<length])) {
                guard let code = message.errorCode else { continue }
                if code != 0 {
                    throw NetlinkError(kernelError: code, operation: "nftables \(deletions.count) deletions + \(additions.count) additions on map \(table) \(map)")
                }
                pending.remove(message.sequence)
            }
        }
    }

    /// Sends one request and hands each answer message to `body` until the kernel's final
    /// acknowledgement, NLMSG_DONE, or an error (thrown).
    private static func request(type: UInt16, flags: UInt16, family: UInt16, operation: @autoclosure () -> String,
                                payload: (UnsafeMutablePointer<nlmsghdr>) -> Void,
                                body: (NetlinkMessages.Message) -> Void) throws(NetlinkError) {
        let socket = try NetlinkSocket()
        try socket.setReceiveTimeout(milliseconds: 2000)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { buffer.deallocate() }
        let sequence = UInt32(truncatingIfNeeded: MonotonicSequence.next())
        let nlh = nftnl_nlmsg_build_hdr(buffer.assumingMemoryBound(to: CChar.self), type, family, flags | UInt16(NLM_F_ACK), sequence)!
        payload(nlh)
        try socket.send(UnsafeRawBufferPointer(start: buffer, count: Int(nlh.pointee.nlmsg_len)), operation: operation())
        let receive = UnsafeMutableRawBufferPointer(start: buffer, count: 1 << 16)
        while true {
            guard case .bytes(let length) = try socket.receive(into: receive, blocking: true) else {
                throw NetlinkError(errno: .timedOut, operation: operation())
            }
            for message in NetlinkMessages(bytes: UnsafeRawBufferPointer(rebasing: receive[..<length])) where message.sequence == sequence {
                if message.type == NetlinkConstants.messageDone { return }
                if let code = message.errorCode {
                    if code == 0 { return }
                    throw NetlinkError(kernelError: code, operation: operation())
                }
                body(message)
            }
        }
    }

    /// The ruleset generation: every nftables commit in the netns (ours, nft's, iptables-nft's) moves it.
    static func generation(family: UInt16 = UInt16(NFPROTO_IPV4)) throws(NetlinkError) -> UInt32? {
        var generation: UInt32?
        try request(type: UInt16(NFT_MSG_GETGEN.rawValue), flags: 0, family: family, operation: "read the nftables generation", payload: { _ in }) { message in
            generation = NetlinkAttributes(message: message.bytes).first(generationIDAttribute)?.be32
        }
        return generation
    }

    /// Whether `table ip nfqlb` (or `ip6 nfqlb`) exists.
    static func tableExists(family: UInt16) throws(NetlinkError) -> Bool {
        do throws(NetlinkError) {
            try request(type: UInt16(NFT_MSG_GETTABLE.rawValue), flags: 0, family: family, operation: "read nftables table \(table)", payload: { nlh in
                mnl_attr_put_strz(nlh, UInt16(NFTA_TABLE_NAME.rawValue), table)
            }) { _ in }
            return true
        } catch where error.errno == .noSuchFileOrDirectory {
            return false
        }
    }

    /// Reads the kernel's map, counted.
    private func readKernelMap() throws(NetlinkError) -> [UInt32: EndpointKey] {
        reads.increment()
        return try Self.dump(family: family)
    }

    /// Reads every element of the map from the kernel.
    static func dump(family: UInt16) throws(NetlinkError) -> [UInt32: EndpointKey] {
        var result: [UInt32: EndpointKey] = [:]
        let query = newSet()
        defer { nftnl_set_free(query) }
        try request(type: UInt16(NFT_MSG_GETSETELEM.rawValue), flags: UInt16(NLM_F_DUMP), family: family,
                    operation: "read nftables map \(table) \(map) (are the hooks installed in mode mark?)",
                    payload: { nftnl_set_elems_nlmsg_build_payload($0, query) }) { message in
            let set = nftnl_set_alloc()!
            defer { nftnl_set_free(set) }
            let header = UnsafeMutableRawPointer(mutating: message.bytes.baseAddress!).assumingMemoryBound(to: nlmsghdr.self)
            guard nftnl_set_elems_nlmsg_parse(header, set) >= 0 else { return }
            let iterator = nftnl_set_elems_iter_create(set)!
            defer { nftnl_set_elems_iter_destroy(iterator) }
            var element = nftnl_set_elems_iter_next(iterator)
            while let current = element {
                var keyLength: UInt32 = 0, dataLength: UInt32 = 0
                if let key = nftnl_set_elem_get(current, UInt16(NFTNL_SET_ELEM_KEY), &keyLength), keyLength == 4,
                   let data = nftnl_set_elem_get(current, UInt16(NFTNL_SET_ELEM_DATA), &dataLength) {
                    if family == UInt16(NFPROTO_IPV6), dataLength >= 18 {
                        let address = IPv6Address(high: UInt64(bigEndian: data.loadUnaligned(as: UInt64.self)),
                                                  low: UInt64(bigEndian: data.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
                        let port = UInt16(bigEndian: data.loadUnaligned(fromByteOffset: 16, as: UInt16.self))
                        result[key.loadUnaligned(as: UInt32.self)] = EndpointKey(address: .v6(address), port: port)
                    } else if family != UInt16(NFPROTO_IPV6), dataLength >= 6 {
                        let address = UInt32(bigEndian: data.loadUnaligned(as: UInt32.self))
                        let port = UInt16(bigEndian: data.loadUnaligned(fromByteOffset: 4, as: UInt16.self))
                        result[key.loadUnaligned(as: UInt32.self)] = EndpointKey(address: .v4(IPv4Address(rawValue: address)), port: port)
                    }
                }
                element = nftnl_set_elems_iter_next(iterator)
            }
        }
        return result
    }
}

/// Sequence numbers for one-shot netlink requests: distinct across calls in this process.
enum MonotonicSequence {
    private static let counter = Atomic<UInt32>(UInt32(truncatingIfNeeded: MonotonicClock.nanoseconds()))
    /// Wraps past UInt32.max (the kernel's sequence numbers do too); leaves room for 16 messages.
    static func next() -> UInt32 { counter.wrappingAdd(16, ordering: .relaxed).newValue }
}
