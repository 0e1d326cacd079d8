import Synchronization

/// Counts the node's per-connection objects that are alive right now, so that tests (and
/// operators, in the minute's log line) can see that every connection gives back what it
/// took: after its connection closes, a session's handler must be freed.
public enum LiveObjects {
    static let sessionHandlers = Atomic<Int>(0)

    /// Session handlers not yet deinitialized, on every node of this process.
    public static var sessions: Int { sessionHandlers.load(ordering: .relaxed) }
}
