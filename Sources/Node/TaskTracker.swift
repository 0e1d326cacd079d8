import Synchronization

/// The node's unstructured tasks (a session's cluster call, its logout, a room-list
/// resync), counted so that stopping the node waits for them: none outlives the node's
/// `ServiceGroup`.
final class TaskTracker: Sendable {
    private let state = Mutex<(running: Int, waiters: [CheckedContinuation<Void, Never>])>((0, []))

    /// Starts `body` as a task and counts it until it finishes.
    func run(_ body: @escaping @Sendable () async -> Void) {
        state.withLock { $0.running += 1 }
        Task {
            await body()
            let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                state.running -= 1
                guard state.running == 0 else { return [] }
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
        }
    }

    /// Tasks still running.
    var running: Int { state.withLock { $0.running } }

    /// Returns once no tracked task runs.
    func waitForAll() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state -> Bool in
                if state.running == 0 { return true }
                state.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }
}
