internal import CNFQueue
import Balancer
import PacketRewrite
import Synchronization
import SystemPackage

/// Mode mark's map `ip nfqlb endpoints` (`type mark : ipv4_addr . inet_service`), written over
/// netlink with libnftnl: one transaction per change, never a process per change.
///
/// The table and its chains belong to `deploy/iptables-hooks.sh`; only the elements are ours.
/// An element whose value changes is replaced by a delete and an add in the same transaction
/// (adding an existing key fails, ARCHITECTURE.md), so the kernel never sees the map without it.
public final class NFTablesEndpointMap: EndpointMapWriter {
    public static let table = "nfqlb"
    public static let map = "endpoints"

    private let marks: MarkLayout
    /// What the map holds, as far as we know: key (the masked mark) -> endpoint.
    private let written = Mutex<[UInt32: EndpointKey]?>(nil)

    public init(marks: MarkLayout) {
        self.marks = marks
    }

    /// The map's elements as endpoint ids, from the kernel (nil key parse failures skipped).
    public func read() throws(NetlinkError) -> [EndpointKey: UInt32] {
        let elements = try Self.dump()
        written.withLock { $0 = elements }
        var result: [EndpointKey: UInt32] = [:]
        for (key, endpoint) in elements { result[endpoint] = marks.endpointID(ofMark: key) }
        return result
    }

    public func apply(_ wanted: [EndpointKey: UInt32]) throws(NetlinkError) {
        try written.withLock { (written) throws(NetlinkError) in
            let current: [UInt32: EndpointKey]
            if let known = written { current = known } else { current = try Self.dump() }
            var target: [UInt32: EndpointKey] = [:]
            for (endpoint, id) in wanted where endpoint.address.isIPv4 { target[marks.value(endpointID: id)] = endpoint }
            var deletions: [(UInt32, EndpointKey)] = []
            var additions: [(UInt32, EndpointKey)] = []
            for (key, endpoint) in current where target[key] != endpoint { deletions.append((key, endpoint)) }
            for (key, endpoint) in target where current[key] != endpoint { additions.append((key, endpoint)) }
            if deletions.isEmpty && additions.isEmpty {
                written = current
                return
            }
            do throws(NetlinkError) {
                try Self.transact(deletions: deletions, additions: additions)
            } catch {
                written = nil  // unknown now: read it back next time
                throw error
            }
            written = target
        }
    }

    public func update(adding: [(EndpointKey, UInt32)], removing: [(EndpointKey, UInt32)]) throws(NetlinkError) {
        try written.withLock { (written) throws(NetlinkError) in
            // An element already there as wanted is left alone (adding it again would fail).
            let additions = adding.filter { $0.0.address.isIPv4 }.map { (marks.value(endpointID: $0.1), $0.0) }
                .filter { key, endpoint in written?[key] != endpoint }
            // A freed id may already carry another endpoint (reused in the same change): only
            // an element that still maps to the freed endpoint goes.
            let deletions = removing.filter { $0.0.address.isIPv4 }.map { (marks.value(endpointID: $0.1), $0.0) }
                .filter { key, endpoint in written.map { $0[key] == endpoint } ?? true }
            // A key about to be added must not be in the map (adding an existing key fails):
            // an id freed and reused in one round is deleted first, in the same transaction.
            let replaced = additions.filter { written?[$0.0] != nil && written?[$0.0] != $0.1 }.map { ($0.0, written![$0.0]!) }
            guard !(deletions.isEmpty && replaced.isEmpty && additions.isEmpty) else { return }
            do throws(NetlinkError) {
                try Self.transact(deletions: deletions + replaced, additions: additions)
            } catch {
                written = nil
                throw error
            }
            for (key, _) in deletions { written?[key] = nil }
            for (key, endpoint) in additions { written?[key] = endpoint }
        }
    }

    // MARK: Netlink

    private static let family = UInt16(NFPROTO_IPV4)
    /// Elements per NEWSETELEM/DELSETELEM message (each element is about 40 bytes).
    static let elementsPerMessage = 512

    /// Key: the mark as nft's `mark` type holds it (32 bits, host byte order). Data: the
    /// concatenation `ipv4_addr . inet_service`, each field padded to a 32-bit register.
    private static func element(key: UInt32, endpoint: EndpointKey) -> OpaquePointer {
        let element = nftnl_set_elem_alloc()!
        var keyBytes = key
        nftnl_set_elem_set(element, UInt16(NFTNL_SET_ELEM_KEY), &keyBytes, 4)
        guard case .v4(let address) = endpoint.address else { preconditionFailure("IPv4 endpoints only") }
        var data: (UInt32, UInt16, UInt16) = (address.rawValue.bigEndian, endpoint.port.bigEndian, 0)
        nftnl_set_elem_set(element, UInt16(NFTNL_SET_ELEM_DATA), &data, 8)
        return element
    }

    private static func newSet() -> OpaquePointer {
        let set = nftnl_set_alloc()!
        nftnl_set_set_str(set, UInt16(NFTNL_SET_TABLE.rawValue), table)
        nftnl_set_set_str(set, UInt16(NFTNL_SET_NAME.rawValue), map)
        return set
    }

    private static func transact(deletions: [(UInt32, EndpointKey)], additions: [(UInt32, EndpointKey)]) throws(NetlinkError) {
        let socket = try NetlinkSocket()
        try socket.setReceiveTimeout(milliseconds: 2000)
        let capacity = 4096 + (deletions.count + additions.count) * 128
        // The whole transaction is one sendmsg: the send buffer must hold it.
        try socket.setSendBuffer(bytes: max(1 << 20, 2 * capacity))
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        defer { buffer.deallocate() }
        let batch = mnl_nlmsg_batch_start(buffer, capacity)!
        defer { mnl_nlmsg_batch_stop(batch) }
        var sequence = UInt32(truncatingIfNeeded: MonotonicSequence.next())
        let first = sequence
        nftnl_batch_begin(mnl_nlmsg_batch_current(batch).assumingMemoryBound(to: CChar.self), sequence)
        mnl_nlmsg_batch_next(batch)
        // Elements go in messages of at most `elementsPerMessage`: a message's element list is
        // one netlink attribute, whose 16-bit length would wrap past 64 KiB (about 2,000
        // elements) and silently lose the rest. The messages still form one transaction.
        for (type, all) in [(NFT_MSG_DELSETELEM, deletions), (NFT_MSG_NEWSETELEM, additions)] {
            for chunkStart in stride(from: 0, to: all.count, by: elementsPerMessage) {
                let set = newSet()
                defer { nftnl_set_free(set) }
                for (key, endpoint) in all[chunkStart..<min(chunkStart + elementsPerMessage, all.count)] {
                    nftnl_set_elem_add(set, element(key: key, endpoint: endpoint))
                }
                sequence &+= 1
                let flags = UInt16(NLM_F_ACK) | (type == NFT_MSG_NEWSETELEM ? UInt16(NLM_F_CREATE | NLM_F_EXCL) : 0)
                let nlh = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(batch).assumingMemoryBound(to: CChar.self),
                                                UInt16(type.rawValue), family, flags, sequence)
                nftnl_set_elems_nlmsg_build_payload(nlh, set)
                mnl_nlmsg_batch_next(batch)
            }
        }
        sequence &+= 1
        nftnl_batch_end(mnl_nlmsg_batch_current(batch).assumingMemoryBound(to: CChar.self), sequence)
        mnl_nlmsg_batch_next(batch)
        try socket.send(UnsafeRawBufferPointer(start: mnl_nlmsg_batch_head(batch), count: mnl_nlmsg_batch_size(batch)),
                        operation: "nftables transaction on map \(table) \(map)")
        // One acknowledgement per element message; the first error aborts the transaction.
        var pending = Set((first + 1)..<sequence)
        let receive = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { receive.deallocate() }
        while !pending.isEmpty {
            guard case .bytes(let length) = try socket.receive(into: receive, blocking: true) else {
                throw NetlinkError(errno: .timedOut, operation: "nftables transaction on map \(table) \(map)")
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

    /// Reads every element of the map from the kernel.
    private static func dump() throws(NetlinkError) -> [UInt32: EndpointKey] {
        let socket = try NetlinkSocket()
        try socket.setReceiveTimeout(milliseconds: 2000)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { buffer.deallocate() }
        let sequence = UInt32(truncatingIfNeeded: MonotonicSequence.next())
        let query = newSet()
        defer { nftnl_set_free(query) }
        let nlh = nftnl_nlmsg_build_hdr(buffer.assumingMemoryBound(to: CChar.self), UInt16(NFT_MSG_GETSETELEM.rawValue),
                                        family, UInt16(NLM_F_DUMP | NLM_F_ACK), sequence)!
        nftnl_set_elems_nlmsg_build_payload(nlh, query)
        try socket.send(UnsafeRawBufferPointer(start: buffer, count: Int(nlh.pointee.nlmsg_len)), operation: "read nftables map \(table) \(map)")
        var result: [UInt32: EndpointKey] = [:]
        let receive = UnsafeMutableRawBufferPointer(start: buffer, count: 1 << 16)
        while true {
            guard case .bytes(let length) = try socket.receive(into: receive, blocking: true) else {
                throw NetlinkError(errno: .timedOut, operation: "read nftables map \(table) \(map)")
            }
            for message in NetlinkMessages(bytes: UnsafeRawBufferPointer(rebasing: receive[..<length])) where message.sequence == sequence {
                if message.type == NetlinkConstants.messageDone { return result }
                if let code = message.errorCode {
                    if code == 0 { return result }
                    throw NetlinkError(kernelError: code, operation: "read nftables map \(table) \(map) (are the hooks installed in mode mark?)")
                }
                let set = nftnl_set_alloc()!
                defer { nftnl_set_free(set) }
                let header = UnsafeMutableRawPointer(mutating: message.bytes.baseAddress!).assumingMemoryBound(to: nlmsghdr.self)
                guard nftnl_set_elems_nlmsg_parse(header, set) >= 0 else { continue }
                let iterator = nftnl_set_elems_iter_create(set)!
                defer { nftnl_set_elems_iter_destroy(iterator) }
                var element = nftnl_set_elems_iter_next(iterator)
                while let current = element {
                    var keyLength: UInt32 = 0, dataLength: UInt32 = 0
                    if let key = nftnl_set_elem_get(current, UInt16(NFTNL_SET_ELEM_KEY), &keyLength), keyLength == 4,
                       let data = nftnl_set_elem_get(current, UInt16(NFTNL_SET_ELEM_DATA), &dataLength), dataLength >= 6 {
                        let address = UInt32(bigEndian: data.loadUnaligned(as: UInt32.self))
                        let port = UInt16(bigEndian: data.loadUnaligned(fromByteOffset: 4, as: UInt16.self))
                        result[key.loadUnaligned(as: UInt32.self)] = EndpointKey(address: .v4(IPv4Address(rawValue: address)), port: port)
                    }
                    element = nftnl_set_elems_iter_next(iterator)
                }
            }
        }
    }
}

/// Sequence numbers for one-shot netlink requests: distinct across calls in this process.
enum MonotonicSequence {
    private static let counter = Atomic<UInt32>(UInt32(truncatingIfNeeded: MonotonicClock.nanoseconds()))
    static func next() -> UInt32 { counter.add(16, ordering: .relaxed).newValue }
}
