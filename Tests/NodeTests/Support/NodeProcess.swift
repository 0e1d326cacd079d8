import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A real `chorus-node` process for one test.
///
/// The binary is `$CHORUS_NODE_BINARY`, or `chorus-node` next to the running test executable
/// (SwiftPM builds both into the same directory). The node listens on 127.0.0.1 on a free port;
/// its standard output and error go to temporary files, quoted in failure messages. Nodes are
/// killed when the test process exits, whatever happened to the test.
final class NodeProcess: @unchecked Sendable {
    let port: Int
    let arguments: [String]
    private let process: Process
    private let directory: URL
    private let stdoutURL: URL
    private let stderrURL: URL

    /// Starts a node with `--host 127.0.0.1 --port P` and `arguments`, and waits until it logs
    /// that it accepts connections. Set `CHORUS_*` variables of this process are not passed on.
    static func start(_ arguments: [String] = [], port: Int? = nil, readyTimeout: Double = 15,
                      sourceLocation: SourceLocation = #_sourceLocation) throws -> NodeProcess {
        var attempt = 0
        while true {
            attempt += 1
            let chosen = try port ?? Socket.freePort()
            let node = try NodeProcess(arguments: ["--host", "127.0.0.1", "--port", String(chosen)] + arguments, port: chosen)
            do {
                try node.waitUntilReady(timeout: readyTimeout, sourceLocation: sourceLocation)
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
    static func run(_ arguments: [String], timeout: Double = 15) throws -> (status: Int32, stdout: String, stderr: String) {
        let node = try NodeProcess(arguments: arguments, port: 0)
        let deadline = Date().addingTimeInterval(timeout)
        while node.isRunning {
            guard Date() < deadline else {
                node.kill()
                throw TestFailure("chorus-node \(arguments.joined(separator: " ")) still running after \(timeout) s")
            }
            usleep(10_000)
        }
        return (node.process.terminationStatus, node.read(node.stdoutURL), node.read(node.stderrURL))
    }

    private init(arguments: [String], port: Int) throws {
        self.port = port
        self.arguments = arguments
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        stdoutURL = directory.appendingPathComponent("stdout.log")
        stderrURL = directory.appendingPathComponent("stderr.log")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)

        process = Process()
        process.executableURL = try Self.binary()
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CHORUS_") }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        try process.run()
        NodeRegistry.add(process.processIdentifier)
    }

    deinit {
        if isRunning { kill() }
        try? FileManager.default.removeItem(at: directory)
    }

    var isRunning: Bool { process.isRunning }

    /// Standard output and standard error so far.
    var output: String { read(stdoutURL) + read(stderrURL) }

    /// The last lines of output, for failure messages.
    func logTail(lines: Int = 15) -> String {
        output.split(separator: "\n").suffix(lines).map { "  | " + $0 }.joined(separator: "\n")
    }

    /// Sends SIGTERM and waits for the process to exit; returns its exit status. Throws (after
    /// killing it) if it is still running after `timeout` seconds.
    @discardableResult
    func stop(timeout: Double = 5) throws -> Int32 {
        if isRunning { _ = Glibc_kill(process.processIdentifier, SIGTERM) }
        let deadline = Date().addingTimeInterval(timeout)
        while isRunning {
            if Date() >= deadline {
                kill()
                throw TestFailure("chorus-node did not exit within \(timeout) s of SIGTERM; log:\n\(logTail())")
            }
            usleep(10_000)
        }
        NodeRegistry.remove(process.processIdentifier)
        return process.terminationStatus
    }

    /// Sends SIGKILL and waits for the process to be gone.
    func kill() {
        guard isRunning else { return }
        _ = Glibc_kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        NodeRegistry.remove(process.processIdentifier)
    }

    private func waitUntilReady(timeout: Double, sourceLocation: SourceLocation) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if output.contains("accepting connections on") { return }
            if !isRunning {
                throw TestFailure("chorus-node \(arguments.joined(separator: " ")) exited with status \(process.terminationStatus) before accepting connections; log:\n\(logTail())", sourceLocation: sourceLocation)
            }
            if Date() >= deadline {
                kill()
                throw TestFailure("chorus-node \(arguments.joined(separator: " ")) not ready within \(timeout) s; log:\n\(logTail())", sourceLocation: sourceLocation)
            }
            usleep(10_000)
        }
    }

    private func read(_ url: URL) -> String {
        (try? String(contentsOf: url, encoding: .utf8)) ?? ""
    }

    /// `$CHORUS_NODE_BINARY`, or `chorus-node` in the directory of the test executable (or of a
    /// bundle around it).
    static func binary() throws -> URL {
        if let path = ProcessInfo.processInfo.environment["CHORUS_NODE_BINARY"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        var candidates: [URL] = []
        if let executable = Bundle.main.executableURL { candidates.append(executable.resolvingSymlinksInPath()) }
        candidates.append(URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath())
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath())
        for executable in candidates {
            var directory = executable.deletingLastPathComponent()
            for _ in 0..<4 {
                let binary = directory.appendingPathComponent("chorus-node")
                if FileManager.default.isExecutableFile(atPath: binary.path) { return binary }
                directory = directory.deletingLastPathComponent()
            }
        }
        throw TestFailure("chorus-node not found next to the test executable (\(candidates.map(\.path))); build it (swift build) or set CHORUS_NODE_BINARY")
    }
}

/// Process ids of running nodes, killed at exit so that no node outlives the test run.
enum NodeRegistry {
    private static let pids = Mutex<Set<Int32>>([])
    private static let installed = Mutex(false)

    static func add(_ pid: Int32) {
        installed.withLock { done in
            guard !done else { return }
            done = true
            atexit { NodeRegistry.killAll() }
        }
        pids.withLock { _ = $0.insert(pid) }
    }

    static func remove(_ pid: Int32) {
        pids.withLock { _ = $0.remove(pid) }
    }

    static func killAll() {
        for pid in pids.withLock({ $0 }) { _ = Glibc_kill(pid, SIGKILL) }
    }
}

@inline(__always)
private func Glibc_kill(_ pid: Int32, _ signal: Int32) -> Int32 {
    #if canImport(Darwin)
    Darwin.kill(pid, signal)
    #else
    Glibc.kill(pid, signal)
    #endif
}
