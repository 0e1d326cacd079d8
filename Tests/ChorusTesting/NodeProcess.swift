import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A real `chorus-node` process for one test (a ``ChildProcess`` of ``Binaries/chorusNode()``).
///
/// The node listens on 127.0.0.1 on a free port; its standard output and error go to
/// temporary files, quoted in failure messages. Nodes are killed when the test process exits,
/// whatever happened to the test.
public final class NodeProcess: @unchecked Sendable {
    public let port: Int
    public let arguments: [String]
    private let child: ChildProcess
    private let directory: URL

    /// Starts a node with `--host 127.0.0.1 --port P` and `arguments`, and waits until it logs
    /// that it accepts connections. Set `CHORUS_*` variables of this process are not passed on.
    ///
    /// Without `--drain-seconds` in `arguments`, the node gets `--drain-seconds 0`: SIGTERM
    /// stops it at once, as most tests want (drain tests pass their own).
    ///
    /// With `web`, the node also opens its web port (`--http-port 0`: the system picks a
    /// free one) and ``webPort`` is where it listens.
    public static func start(_ arguments: [String] = [], port: Int? = nil, web: Bool = false, readyTimeout: Double = 15,
                             sourceLocation: SourceLocation = #_sourceLocation) throws -> NodeProcess {
        var arguments = web ? ["--http-port", "0"] + arguments : arguments
        // SIGTERM (`stop()`) stops at once unless a test asks for a drain.
        if !arguments.contains(where: { $0.hasPrefix("--drain-seconds") }) { arguments += ["--drain-seconds", "0"] }
        var attempt = 0
        while true {
            attempt += 1
            let chosen = try port ?? freePort()
            let node = try NodeProcess(arguments: ["--host", "127.0.0.1", "--port", String(chosen)] + arguments, port: chosen)
            do {
                try node.waitUntilReady(timeout: readyTimeout, sourceLocation: sourceLocation)
                if web { node.webPort = try node.requireWebPort(timeout: readyTimeout) }
                return node
            } catch {
                // The free port may have been taken in between by another test's node: retry.
                if port == nil, attempt < 3, !node.isRunning, node.output.contains("cannot listen") { continue }
                throw error
            }
        }
    }

    /// Runs `chorus-node` with exactly `arguments` to completion (for configuration errors):
    /// returns its exit status, standard output and standard error.
    public static func run(_ arguments: [String], timeout: Double = 15) throws -> (status: Int32, stdout: String, stderr: String) {
        let node = try NodeProcess(arguments: arguments, port: 0)
        guard let status = node.child.waitForExitBlocking(timeout: timeout) else {
            node.kill()
            throw TestFailure("chorus-node \(arguments.joined(separator: " ")) still running after \(timeout) s")
        }
        return (status, node.child.log, node.child.errorLog)
    }

    private init(arguments: [String], port: Int) throws {
        self.port = port
        self.arguments = arguments
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        child = try ChildProcess(
            executable: Binaries.chorusNode().path, arguments: arguments,
            environment: ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CHORUS_") },
            log: directory.appendingPathComponent("stdout.log"), errors: directory.appendingPathComponent("stderr.log"))
    }

    deinit {
        kill()
        try? FileManager.default.removeItem(at: directory)
    }

    /// The web port, when started with `web`.
    public private(set) var webPort: Int?

    /// The web port the node logged (`serving web clients on HOST:PORT`), waiting for the
    /// line up to `timeout` seconds.
    public func requireWebPort(timeout: Double = 15) throws -> Int {
        if let webPort { return webPort }
        let marker = "serving web clients on "
        func parsed() -> Int? {
            guard let range = output.range(of: marker) else { return nil }
            // "127.0.0.1:PORT: the chat page at /, …"
            let address = output[range.upperBound...].split(separator: " ").first ?? ""
            return address.split(separator: ":").last.flatMap { Int($0) }
        }
        _ = eventuallyBlocking(timeout: timeout) { parsed() != nil || !isRunning }
        guard let port = parsed() else {
            throw TestFailure("chorus-node has no web port (start it with web: true); log:\n\(logTail())")
        }
        return port
    }

    /// The node's process id.
    public var pid: Int32 { child.pid }

    public var isRunning: Bool { child.isRunning }

    /// Standard output and standard error so far.
    public var output: String { child.log + child.errorLog }

    /// The last lines of output, for failure messages.
    public func logTail(lines: Int = 15) -> String {
        output.split(separator: "\n").suffix(lines).map { "  | " + $0 }.joined(separator: "\n")
    }

    /// Sends `signal` to the node (SIGSTOP, SIGCONT, ...).
    public func signal(_ signal: Int32) { child.signal(signal) }

    /// Sends SIGTERM and waits for the process to exit; returns its exit status. Throws (after
    /// killing it) if it is still running after `timeout` seconds.
    @discardableResult
    public func stop(timeout: Double = 5) throws -> Int32 {
        child.signal(SIGTERM)
        guard let status = child.waitForExitBlocking(timeout: timeout) else {
            kill()
            throw TestFailure("chorus-node did not exit within \(timeout) s of SIGTERM; log:\n\(logTail())")
        }
        return status
    }

    /// Waits up to `timeout` seconds for the process to exit; its exit status, or nil if it
    /// still runs.
    public func waitForExit(timeout: Double) -> Int32? {
        child.waitForExitBlocking(timeout: timeout)
    }

    /// The operator port (`--admin-port`, possibly 0), read from the node's start-up log line
    /// (waited for: it may come just after the client port's).
    public func adminPort(timeout: Double = 10, sourceLocation: SourceLocation = #_sourceLocation) throws -> Int {
        let marker = "operator endpoints on http://"
        func find() -> Int? {
            for line in output.split(separator: "\n") {
                guard let range = line.range(of: marker) else { continue }
                let rest = line[range.upperBound...]
                if let colon = rest.firstIndex(of: ":"),
                   let port = Int(rest[rest.index(after: colon)...].prefix { $0.isNumber }) {
                    return port
                }
            }
            return nil
        }
        var port: Int?
        eventuallyBlocking(timeout: timeout) {
            port = find()
            return port != nil || !isRunning
        }
        if let port { return port }
        throw TestFailure("no \"\(marker)\" line in the node's log (started without --admin-port?):\n\(logTail())",
                          sourceLocation: sourceLocation)
    }

    /// Sends SIGKILL and waits for the process to be gone.
    public func kill() { child.kill() }

    private func waitUntilReady(timeout: Double, sourceLocation: SourceLocation) throws {
        let ready = eventuallyBlocking(timeout: timeout) { output.contains("accepting connections on") || !isRunning }
        if output.contains("accepting connections on") { return }
        let command = "chorus-node \(arguments.joined(separator: " "))"
        if !ready {
            kill()
            throw TestFailure("\(command) not ready within \(timeout) s; log:\n\(logTail())", sourceLocation: sourceLocation)
        }
        throw TestFailure("\(command) exited with status \(child.terminationStatus ?? -1) before accepting connections; log:\n\(logTail())", sourceLocation: sourceLocation)
    }
}
