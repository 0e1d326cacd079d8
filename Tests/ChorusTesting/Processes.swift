import Testing
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whether a process with this PID exists (a zombie counts until it is reaped).
public func processExists(_ pid: Int32) -> Bool {
    kill(pid, 0) == 0 || errno == EPERM
}

/// Whether the process is gone or only a zombie waiting for its parent.
public func processGoneOrZombie(_ pid: Int32) -> Bool {
    guard processExists(pid) else { return true }
    #if os(Linux)
    if let status = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
       let close = status.lastIndex(of: ")") {
        let fields = status[status.index(after: close)...].split(separator: " ")
        return fields.first == "Z"
    }
    #endif
    return false
}

/// Sends `signal` to the process `pid`.
public func sendSignal(_ signal: Int32, to pid: Int32) {
    _ = kill(pid, signal)
}

/// A child process with its output in files.
///
/// Spawned with posix_spawn and an empty signal mask with default dispositions, as a shell
/// would start it. (Foundation's `Process` passes on the spawning thread's signal mask, and
/// test threads block SIGTERM among others: a script started that way, and everything
/// it starts, would never see the SIGTERM these tests send.) Every child still running when
/// the test process exits is killed then (SIGKILL).
public final class ChildProcess: Sendable {
    public let pid: pid_t
    /// Standard output (and standard error, unless it has a file of its own).
    public let logURL: URL
    /// Standard error, when it is not in ``logURL``.
    public let errorURL: URL?
    private let exitStatus = Mutex<Int32?>(nil)

    /// Starts `executable` with `arguments`; standard input is /dev/null, standard output goes
    /// to `log`, standard error to `errors` (to `log` too if nil).
    public init(executable: String, arguments: [String], environment: [String: String]? = nil,
                log: URL, errors: URL? = nil) throws {
        logURL = log
        errorURL = errors
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if let errors {
            posix_spawn_file_actions_addopen(&actions, 2, errors.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        } else {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }

        let environment = environment ?? ProcessInfo.processInfo.environment
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid = pid_t()
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw TestFailure("cannot start \(executable): \(String(cString: strerror(result)))")
        }
        self.pid = pid
        ChildRegistry.add(pid)
    }

    /// The exit status once it has ended (128 + signal number if a signal ended it).
    public var terminationStatus: Int32? {
        exitStatus.withLock { known in
            if let known { return known }
            var status: Int32 = 0
            guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
            let signal = status & 0x7F
            known = signal == 0 ? (status >> 8) & 0xFF : 128 + signal
            ChildRegistry.remove(pid)
            return known
        }
    }

    public var isRunning: Bool { terminationStatus == nil }

    /// What it wrote so far to ``logURL``.
    public var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// What it wrote so far to ``errorURL`` ("" if it has none).
    public var errorLog: String { errorURL.flatMap { try? String(contentsOf: $0, encoding: .utf8) } ?? "" }

    /// Sends `signal` to it (if it has not been reaped yet).
    public func signal(_ signal: Int32) {
        if isRunning { sendSignal(signal, to: pid) }
    }

    /// Waits for the exit; nil if it is still running after `timeout`.
    public func waitForExit(timeout: Duration) async -> Int32? {
        _ = await eventually(timeout: timeout, every: .milliseconds(20)) { !isRunning }
        return terminationStatus
    }

    /// The blocking form of ``waitForExit(timeout:)``, for synchronous code.
    public func waitForExitBlocking(timeout: Double) -> Int32? {
        eventuallyBlocking(timeout: timeout) { !isRunning }
        return terminationStatus
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    public func stop(grace: Duration = .seconds(10)) async {
        guard isRunning else { return }
        signal(SIGTERM)
        if await waitForExit(timeout: grace) == nil {
            kill()
        }
    }

    /// SIGKILL, and waits until it is gone.
    public func kill() {
        guard isRunning else { return }
        sendSignal(SIGKILL, to: pid)
        _ = waitForExitBlocking(timeout: 30)
    }
}

/// Process ids of running children, killed at exit so that none outlives the test run.
enum ChildRegistry {
    private static let pids = Mutex<Set<Int32>>([])
    private static let installed = Mutex(false)

    static func add(_ pid: Int32) {
        installed.withLock { done in
            guard !done else { return }
            done = true
            atexit { ChildRegistry.killAll() }
        }
        pids.withLock { _ = $0.insert(pid) }
    }

    static func remove(_ pid: Int32) {
        pids.withLock { _ = $0.remove(pid) }
    }

    static func killAll() {
        for pid in pids.withLock({ $0 }) { sendSignal(SIGKILL, to: pid) }
    }
}

/// Runs a command to completion; returns its exit status and combined output.
public func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                timeout: Duration = .seconds(60)) async throws -> (status: Int32, output: String) {
    let log = FileManager.default.temporaryDirectory
        .appendingPathComponent("chorus-run-\(UUID().uuidString).log")
    defer { try? FileManager.default.removeItem(at: log) }
    let child = try ChildProcess(executable: executable, arguments: arguments, environment: environment, log: log)
    guard let status = await child.waitForExit(timeout: timeout) else {
        await child.stop()
        throw TestFailure("\(executable) \(arguments.joined(separator: " ")) did not finish within \(timeout): \(child.log)")
    }
    return (status, child.log)
}
