import ChatDomain
import ClusterBus
import NIOCore

extension ClusterBus {
    /// Publishes and waits for the cluster's acknowledgement (`publish` reports it to a
    /// completion handler, so that a node never waits on it).
    func publishAcknowledged(to room: RoomRef, from session: SessionID, message: ByteBuffer) async throws(ClusterError) {
        let error: ClusterError? = await withCheckedContinuation { continuation in
            publish(to: room, from: session, message: message) { continuation.resume(returning: $0) }
        }
        if let error { throw error }
    }
}
