import ChorusTesting
import Foundation
import Logging
import Node
import Synchronization
import Testing

/// A Chorus node running inside the test process on 127.0.0.1, port 0 (the bound port is
/// read back, never guessed), on the in-process bus unless `configuration.redisURL` is set.
/// `stop()` shuts it down as SIGTERM would and waits until it has.
/// With `configuration.httpPort` set (0 picks a free port), ``webPort`` is its web port.
final class InProcessNode: Sendable {
    let port: Int
    let webPort: Int?
    private let task: Task<Void, any Error>

    static func start(_ configure: (inout NodeConfiguration) -> Void = { _ in },
                      sourceLocation: SourceLocation = #_sourceLocation) async throws -> InProcessNode {
        var configuration = NodeConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.threads = 2
        configure(&configuration)
        var logger = Logger(label: "chorus-test")
        logger.logLevel = .warning
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let (webPorts, webContinuation) = AsyncStream.makeStream(of: Int.self)
        let node = ChorusNode(configuration: configuration, logger: logger, onListening: { port in
            continuation.yield(port)
            continuation.finish()
        }, onWebListening: { port in
            webContinuation.yield(port)
            webContinuation.finish()
        })
        let task = Task { try await node.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            _ = await task.result
            throw TestFailure("the in-process node stopped before it listened")
        }
        var webPort: Int?
        if configuration.httpPort != nil {
            var webIterator = webPorts.makeAsyncIterator()
            webPort = await webIterator.next()
            guard webPort != nil else {
                _ = await task.result
                throw TestFailure("the in-process node stopped before its web port listened")
            }
        }
        return InProcessNode(port: port, webPort: webPort, task: task)
    }

    private init(port: Int, webPort: Int?, task: Task<Void, any Error>) {
        self.port = port
        self.webPort = webPort
        self.task = task
    }

    /// Stops the node (its sessions are closed and leave the cluster) and waits for it.
    func stop() async {
        task.cancel()
        _ = await task.result
    }
}

/// Runs blocking socket work on `count` threads outside Swift's cooperative pool (which an
/// in-process node needs for its cluster calls), and waits for all of them; rethrows the
/// first error.
func onThreads(_ count: Int, _ work: @escaping @Sendable (Int) throws -> Void) async throws {
    let failure = Mutex<(any Error)?>(nil)
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        DispatchQueue.global().async {
            DispatchQueue.concurrentPerform(iterations: count) { index in
                do { try work(index) } catch { failure.withLock { $0 = $0 ?? error } }
            }
            continuation.resume()
        }
    }
    if let error = failure.withLock({ $0 }) { throw error }
}
