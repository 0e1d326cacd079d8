import Logging
import ServiceLifecycle
import UnixSignals

/// How a node stops on signals (the node's `ServiceGroup` traps none itself):
///
/// - SIGTERM: the drain. `/ready` answers 503 at once and the listener stops accepting;
///   existing sessions go on for `drainTime`, or until none is left; then the node stops.
/// - SIGINT, or a second signal during the drain: stop now.
///
/// Stopping means this service returns, which shuts the group down gracefully (it runs with
/// `successTerminationBehavior: .gracefullyShutdownGroup`): the client listener closes its
/// sessions (`Server shutting down`), the bus takes them out of the cluster, the process
/// exits 0. When the group stops for another reason, this service returns too.
struct StopSignals: Service {
    /// SIGTERM and SIGINT, trapped before any service starts (`trap()`), so that no signal
    /// arriving while the node starts kills it.
    let signals: UnixSignalsSequence
    let lifecycle: NodeLifecycle
    let drainTime: Duration
    /// Client connections still open (the drain ends early when none is left).
    let connections: @Sendable () -> Int
    let logger: Logger

    static func trap() async -> UnixSignalsSequence {
        await UnixSignalsSequence(trapping: .sigterm, .sigint)
    }

    func run() async {
        let signals = signals
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [lifecycle, drainTime, logger] in
                for await signal in signals {
                    if signal == .sigterm, drainTime > .zero, lifecycle.beginDrain() {
                        logger.notice("SIGTERM: draining for up to \(drainTime): no new clients, /ready answers 503, sessions go on (SIGINT or a second SIGTERM stops at once)")
                        continue
                    }
                    if lifecycle.phase == .draining {
                        logger.notice("\(signal): ending the drain now")
                    } else {
                        logger.notice("\(signal): stopping")
                    }
                    lifecycle.stop()
                    return
                }
            }
            group.addTask { [lifecycle, drainTime, connections] in
                await lifecycle.wait(for: .draining)
                let clock = ContinuousClock()
                let deadline = clock.now + drainTime
                while clock.now < deadline, connections() > 0, !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(100))
                }
                lifecycle.stop()
            }
            group.addTask { [lifecycle] in
                // The group stops for another reason (a service failed, the task was cancelled).
                try? await gracefulShutdown()
                lifecycle.stop()
            }
            await lifecycle.wait(for: .stopping)
            group.cancelAll()
        }
    }
}
