/// A fixed buffer that collects netlink messages to send in one `sendmsg`.
///
/// Allocated once per worker; batching is where the kernel round trip is amortised
/// (docs/ARCHITECTURE.md: 3.7–4.8 µs per batched CT_NEW against 5–7 µs alone).
final class NetlinkBatchBuffer {
    let base: UnsafeMutableRawPointer
    let capacity: Int
    private(set) var used = 0
    private(set) var messageCount = 0

    init(capacity: Int) {
        self.capacity = capacity
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    var isEmpty: Bool { used == 0 }
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: used) }

    /// Where the next message goes, if `room` bytes fit; the caller writes there and then
    /// calls `commit(length:)`.
    func reserve(_ room: Int) -> UnsafeMutableRawPointer? {
        used + room <= capacity ? base + used : nil
    }

    func commit(length: Int) {
        used += length
        messageCount += 1
    }

    func reset() {
        used = 0
        messageCount = 0
    }
}
