import AsyncHTTPClient
import Foundation
import NIOCore

/// The events of one open WATCH, in order: body chunks cut into lines (`LineSplitter`) and
/// each line decoded (`WatchEvent.decode`). Ends when the server ends the response; throws
/// when the connection breaks, a line is too long or does not decode.
///
/// Iterate it once, from one task: it is the response body itself.
public struct WatchStream<Object: KubernetesObject>: AsyncSequence, Sendable {
    public typealias Element = WatchEvent<Object>

    let body: HTTPClientResponse.Body
    let maximumLineLength: Int

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(chunks: body.makeAsyncIterator(), splitter: LineSplitter(maximumLineLength: maximumLineLength))
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var chunks: HTTPClientResponse.Body.AsyncIterator
        var splitter: LineSplitter
        var pending: [[UInt8]] = []
        var pendingIndex = 0
        var ended = false
        let decoder = JSONDecoder()

        public mutating func next() async throws -> WatchEvent<Object>? {
            while true {
                if pendingIndex < pending.count {
                    let line = pending[pendingIndex]
                    pendingIndex += 1
                    return try WatchEvent<Object>.decode(line: line, decoder: decoder)
                }
                if ended { return nil }
                pending = []
                pendingIndex = 0
                if let chunk = try await chunks.next() {
                    pending = try chunk.withUnsafeReadableBytes { try splitter.append($0) }
                } else {
                    ended = true
                    if let last = splitter.finish() { pending = [last] }
                }
            }
        }
    }
}
