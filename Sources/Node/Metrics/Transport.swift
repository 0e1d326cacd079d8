/// How a client's session reaches the node: the `transport` label of
/// `chorus_connections_open` (PROTOCOL.md sections 1 and 8).
public enum Transport: String, Sendable, CaseIterable {
    /// Zero-terminated XML documents over a TCP connection (the client port).
    case tcp
    /// One document per WebSocket text message (`/ws` on the HTTP port).
    case ws
    /// The raw XMLSocket byte stream in WebSocket binary messages (`/xmlsocket`).
    case xmlsocket
}
