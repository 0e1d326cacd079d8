import Synchronization

/// Tells the client listener when the cluster bus has started (or could not), so it never
/// accepts a client before the cluster can serve it.
final class BusReadiness: Sendable {
    private enum State {
        case waiting([CheckedContinuation<Bool, Never>])
        case done(Bool)
    }

    private let state = Mutex(State.waiting([]))

    func started() { finish(true) }
    func failed() { finish(false) }

    /// True once the bus started; false if it could not, or the waiting task was cancelled.
    func wait() async -> Bool {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let done = state.withLock { state -> Bool? in
                    switch state {
                    case .done(let value): return value
                    case .waiting(var waiters):
                        waiters.append(continuation)
                        state = .waiting(waiters)
                        return nil
                    }
                }
                if let done { continuation.resume(returning: done) }
            }
        } onCancel: {
            self.finish(false)
        }
    }

    private func finish(_ value: Bool) {
        let waiters = state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            guard case .waiting(let waiters) = state else { return [] }
            state = .done(value)
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: value) }
    }
}
