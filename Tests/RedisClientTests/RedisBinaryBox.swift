import NIOCore
import Synchronization

/// Keeps received messages as bytes (for binary-safety checks).
final class RedisBinaryBox: Sendable {
    private let messages = Mutex<[(channel: ByteBuffer, payload: ByteBuffer)]>([])

    func append(_ batch: [(channel: ByteBuffer, payload: ByteBuffer)]) {
        messages.withLock { $0 += batch }
    }

    var count: Int { messages.withLock { $0.count } }
    var first: (channel: ByteBuffer, payload: ByteBuffer)? { messages.withLock { $0.first } }
}
