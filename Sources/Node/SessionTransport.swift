/// How a session reaches its client: its connection kind, for logs and metrics.
public enum SessionTransport: String, Sendable, CaseIterable {
    /// Zero-terminated XML over a TCP connection (PROTOCOL.md section 1).
    case tcp
    /// WebSocket at `/ws`: one document per text message (PROTOCOL.md section 8).
    case ws
    /// WebSocket at `/xmlsocket`: the raw byte stream in binary messages, for Flash
    /// emulators' socket proxies (PROTOCOL.md section 8).
    case xmlsocket
}
