import ArgumentParser

/// How clients reach the nodes: the TCP port (zero-terminated XML, PROTOCOL.md 1), the HTTP
/// port's `/ws` WebSocket (one XML document per text message, PROTOCOL.md 8), or both in the
/// same rooms.
enum Transport: String, Sendable, CaseIterable, ExpressibleByArgument {
    case tcp, ws, mixed

    /// Whether client `i` of `layout` uses a WebSocket. `mixed`: member k·N + j of a room (k-th
    /// round, node j; see `Layout.member(of:)`) does when k + j is odd, so every room has TCP and
    /// WebSocket members on every node (on two nodes, even with one member per node per room),
    /// half of each node's clients are WebSocket ones, and each room's creator is a TCP client.
    @inline(__always)
    func usesWebSocket(_ i: Int, layout: Layout) -> Bool {
        switch self {
        case .tcp: return false
        case .ws: return true
        case .mixed: return (layout.member(of: i) / layout.nodes + layout.node(of: i)) % 2 == 1
        }
    }
}
