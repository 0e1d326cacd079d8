import Synchronization

/// Where a node is between start and stop, as `/ready` and the client listener see it:
/// it accepts clients once its listener is bound and until a stop begins; a stop by SIGTERM
/// first drains (no new clients, existing sessions go on), then stops.
final class NodeLifecycle: Sendable {
    enum Phase: Int, Comparable, Sendable {
        /// Running (the listener may not be bound yet).
        case running
        /// SIGTERM: no new clients; existing sessions go on until the drain ends.
        case draining
        /// Sessions are being closed and the node leaves the cluster.
        case stopping

        static func < (lhs: Phase, rhs: Phase) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    private struct State {
        var phase = Phase.running
        var listening = false
        var nextWaiter = 0
        var waiters: [Int: (phase: Phase, continuation: CheckedContinuation<Void, Never>)] = [:]
    }

    private let state = Mutex(State())

    var phase: Phase { state.withLock { $0.phase } }

    /// Whether the node takes new clients now: its listener is bound and no stop began.
    var acceptsClients: Bool { state.withLock { $0.listening && $0.phase == .running } }

    /// The client listener is bound.
    func listening() {
        state.withLock { $0.listening = true }
    }

    /// SIGTERM: from running to draining. False if the node was not running.
    @discardableResult
    func beginDrain() -> Bool { advance(to: .draining) }

    /// The stop begins now (after a drain, or without one). False if it had begun.
    @discardableResult
    func stop() -> Bool { advance(to: .stopping) }

    /// Returns once the node reaches `phase` (at once if it has), or the task is cancelled.
    func wait(for phase: Phase) async {
        let id = state.withLock { state -> Int in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.phase >= phase || Task.isCancelled { return true }
                    state.waiters[id] = (phase, continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.continuation.resume()
        }
    }

    private func advance(to next: Phase) -> Bool {
        let (advanced, ready) = state.withLock { state -> (Bool, [CheckedContinuation<Void, Never>]) in
            guard state.phase < next else { return (false, []) }
            state.phase = next
            let ready = state.waiters.filter { $0.value.phase <= next }
            for id in ready.keys { state.waiters[id] = nil }
            return (true, ready.values.map(\.continuation))
        }
        for continuation in ready { continuation.resume() }
        return advanced
    }
}
