import PacketRewrite

/// Runs `body` on a mutable copy of `bytes` and returns what the buffer holds afterwards, so a
/// test can state the bytes a rewrite must produce. The copy has exactly `bytes.count` bytes:
/// any read past the end is a real overrun (and the address sanitizer's to find).
@discardableResult
func mutating<R>(
    _ bytes: [UInt8], _ body: (UnsafeMutableRawBufferPointer) throws -> R
) rethrows -> (result: R, bytes: [UInt8]) {
    var copy = bytes
    let result = try copy.withUnsafeMutableBytes { try body($0) }
    return (result, copy)
}

/// Validates a copy of `bytes` and runs `body` on the view; the bytes afterwards are returned.
@discardableResult
func withPacket<R>(
    _ bytes: [UInt8], _ body: (PacketView) throws -> R
) throws -> (result: R, bytes: [UInt8]) {
    try mutating(bytes) { buffer in try body(PacketView(validating: buffer)) }
}

/// The error `PacketView(validating:)` throws for `bytes`, or nil when it accepts them.
func validationError(_ bytes: [UInt8]) -> PacketError? {
    mutating(bytes) { buffer -> PacketError? in
        do throws(PacketError) {
            _ = try PacketView(validating: buffer)
            return nil
        } catch {
            return error
        }
    }.result
}

/// The error a rewrite throws, or nil; and the bytes afterwards.
func rewriteError(
    _ bytes: [UInt8], _ rewrite: (PacketView) throws(PacketError) -> Void
) throws -> (error: PacketError?, bytes: [UInt8]) {
    let outcome = try withPacket(bytes) { view -> PacketError? in
        do throws(PacketError) {
            try rewrite(view)
            return nil
        } catch {
            return error
        }
    }
    return (outcome.result, outcome.bytes)
}
