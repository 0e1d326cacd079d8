@testable import RedisClient
import NIOCore
import Synchronization

/// Collects the batches a subscriber connection delivers, as text.
final class RedisMessageCollector: Sendable {
    private let batches = Mutex<[[String]]>([])

    /// Pass as `onMessages`.
    var handler: RedisMessageBatchHandler {
        { batch in
            let texts = batch.map { String(buffer: $0.channel) + ":" + String(buffer: $0.payload) }
            self.batches.withLock { $0.append(texts) }
        }
    }

    var all: [[String]] {
        batches.withLock { $0 }
    }

    var messages: [String] {
        all.flatMap { $0 }
    }
}
