import NIOCore

/// Receives pub/sub messages: every message parsed from one read of the subscriber connection,
/// in order, in one call. Called on the connection's event loop; must not block.
///
/// Payloads of one batch share one underlying buffer, so keeping one payload keeps the whole
/// batch's bytes alive; copy it if it must outlive the batch for long.
public typealias RedisMessageBatchHandler = @Sendable (_ messages: [(channel: ByteBuffer, payload: ByteBuffer)]) -> Void
