import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A real `chorus-node` process for one test (a ``ChildProcess`` of ``Binaries/chorusNode()``).
///
/// The node listens on 127.0.0.1 on a free port (and, if asked, serves web clients on a second
/// one); its standard output and error go to temporary files, quoted in failure messages.
/// Nodes are killed when the test process exits, whatever happened to the test.
public final class NodeProcess: @unchecked Sendable {
    /// The port of the HTTP listener for web clients (`--http-port`).
    public enum HTTPPort: Sendable {
        /// A port that was free a moment ago.
        case free
        /// This port (to start a node again where the previous one was).
        case port(Int)
    }

    public let port: Int
    /// The web port (page and WebSockets), if the node was started with one.
    public let httpPort: Int?
    public let arguments: [String]
    private let child: ChildProcess
    private let directory: URL

    /// Starts a node with `--host 127.0.0.1 --port P` (and `--http-port H` if `httpPort` is
    /// given) and `arguments`, and waits until it logs that it accepts connections (and serves
    /// web clients). Set `CHORUS_*` variables of this process are not passed on.
    public static func start(_ arguments: [String] = [], port: Int? = nil, httpPort: HTTPPort? = nil,
                             readyTimeout: Double = 15,
                             sourceLocation: SourceLocation = #_sourceLocation) throws -> NodeProcess {
        var attempt = 0
        while true {
            attempt += 1
            let chosen = try port ?? freePort()
            let chosenHTTP: Int?
            switch httpPort {
            case nil: chosenHTTP = nil
            case .port(let fixed): chosenHTTP = fixed
            case .free:
                var free = try freePort()
                while free == chosen { free = try freePort() }
                chosenHTTP = free
            }
            var listening = ["--host", "127.0.0.1", "--port", String(chosen)]
            if let chosenHTTP { listening += ["--http-port", String(chosenHTTP)] }
            let node = try NodeProcess(arguments: listening + arguments, port: chosen, httpPort: chosenHTTP)
            do {
                try node.waitUntilReady(timeout: readyTimeout, sourceLocation: sourceLocation)
                return node
            } catch {
                // A free port may have been taken in between by another test's node: retry.
                let choseFreely = port == nil || { if case .free = httpPort { true } else { false } }()
                if choseFreely, attempt < 3, !node.isRunning, node.output.contains("cannot listen") { continue }
                throw error
            }
        }
    }

    /// Runs `chorus-node` with exactly `arguments` to completion (for configuration errors):
    /// returns its exit status, standard output and standard error.
    public static func run(_ arguments: [String], timeout: Double = 15) throws -> (status: Int32, stdout: String, stderr: String) {
        let node = try NodeProcess(arguments: arguments, port: 0, httpPort: nil)
        guard let status = node.child.waitForExitBlocking(timeout: timeout) else {
            node.kill()
            throw TestFailure("chorus-node \(arguments.joined(separator: " ")) still running after \(timeout) s")
        }
        return (status, node.child.log, node.child.errorLog)
    }

    private init(arguments: [String], port: Int, httpPort: Int?) throws {
        self.port = port
        self.httpPort = httpPort
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

    /// Sends SIGKILL and waits for the process to be gone.
    public func kill() { child.kill() }

    /// The log lines that say the node is ready: it accepts connections and, with a web port,
    /// serves web clients.
    private var readyLines: [String] {
        ["accepting connections on"] + (httpPort == nil ? [] : ["serving web clients on"])
    }

    private func waitUntilReady(timeout: Double, sourceLocation: SourceLocation) throws {
        let isReady = { [readyLines] in readyLines.allSatisfy(self.output.contains) }
        let ready = eventuallyBlocking(timeout: timeout) { isReady() || !isRunning }
        if isReady() { return }
        let command = "chorus-node \(arguments.joined(separator: " "))"
        if !ready {
            kill()
            throw TestFailure("\(command) not ready within \(timeout) s (waiting for \(readyLines.map { "\"\($0)\"" }.joined(separator: " and "))); log:\n\(logTail())", sourceLocation: sourceLocation)
        }
        throw TestFailure("\(command) exited with status \(child.terminationStatus ?? -1) before it was ready; log:\n\(logTail())", sourceLocation: sourceLocation)
    }
}
