#if canImport(Glibc)
import Glibc
#endif

/// Pins the calling thread to one CPU.
///
/// With `--queue-cpu-fanout` the kernel puts a packet on queue `first + cpu % count`; the
/// worker of that queue pinned to that CPU then handles it where it arrived, and its verdict
/// carries the packet on from the same CPU, with no cross-CPU wake-up per packet.
enum CPUAffinity {
    /// `sched_setaffinity(2)`, declared here: glibc exposes it only under `_GNU_SOURCE`, which
    /// the Glibc module is not built with. Same C ABI: pid 0 is the calling thread.
    @_silgen_name("sched_setaffinity")
    private static func sched_setaffinity(_ pid: pid_t, _ size: Int, _ mask: UnsafeRawPointer) -> Int32

    /// CPUs this process may run on (`sched_getaffinity`), in order.
    @_silgen_name("sched_getaffinity")
    private static func sched_getaffinity(_ pid: pid_t, _ size: Int, _ mask: UnsafeMutableRawPointer) -> Int32

    static func allowedCPUs() -> [Int] {
        var mask = [UInt64](repeating: 0, count: 16)  // 1024 CPUs, as glibc's cpu_set_t
        let result = mask.withUnsafeMutableBytes { sched_getaffinity(0, $0.count, $0.baseAddress!) }
        guard result == 0 else { return [] }
        return (0..<1024).filter { mask[$0 / 64] & (1 << UInt64($0 % 64)) != 0 }
    }

    /// Pins the calling thread to `cpu`; false when the kernel refuses.
    @discardableResult
    static func pinCurrentThread(to cpu: Int) -> Bool {
        var mask = [UInt64](repeating: 0, count: 16)
        mask[cpu / 64] |= 1 << UInt64(cpu % 64)
        return mask.withUnsafeBytes { sched_setaffinity(0, $0.count, $0.baseAddress!) } == 0
    }
}
