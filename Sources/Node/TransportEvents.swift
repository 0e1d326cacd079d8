/// What a transport tells the session above it besides complete frames (inbound user
/// events), and what the session tells the transport before it closes (an outbound user
/// event). TCP has nothing to add; WebSocket transports use them for messages that are not
/// frames and for close status codes.

/// A message over the frame limit: the session answers `Message too large` and closes.
struct MessageTooLarge: Sendable {}

/// A message the session cannot read at all (a binary message on `/ws`): answered
/// `Malformed message`, and counted like any malformed frame.
struct UnreadableMessage: Sendable {}

/// Sent down the pipeline just before the session closes its connection, with why, so a
/// transport that can say it (a WebSocket close status) does.
struct SessionClosing: Sendable {
    enum Reason: Sendable {
        /// Closed as the protocol says (the client closed, policy file answered, idle, evicted…).
        case normal
        /// A message over the frame limit (WebSocket 1009).
        case tooLarge
        /// Too many malformed frames, or a broken frame (WebSocket 1002).
        case protocolViolation
        /// The node is stopping (WebSocket 1001).
        case goingAway
        /// Cut for breaking a fair-use rule, e.g. reading too slowly (WebSocket 1008).
        case policy
    }

    let reason: Reason
}
