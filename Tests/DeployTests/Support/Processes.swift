import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The repository root (this file is Tests/DeployTests/Support/Processes.swift).
let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

/// The debug chorus-node that `swift test` built next to the test bundle, or
/// CHORUS_NODE_BINARY.
func chorusNodeBinary() throws -> String {
    if let path = ProcessInfo.processInfo.environment["CHORUS_NODE_BINARY"], !path.isEmpty {
        return path
    }
    var executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    #if os(Linux)
    if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
        executable = URL(fileURLWithPath: path)
    }
    #endif
    var directory = executable.deletingLastPathComponent()
    for _ in 0..<5 {
        let candidate = directory.appendingPathComponent("chorus-node").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        directory = directory.deletingLastPathComponent()
    }
    throw ClientError("chorus-node not found near \(executable.path): run the tests with `swift test` (it builds every product) or set CHORUS_NODE_BINARY")
}

/// A port nothing listens on right now (the kernel's pick for port 0).
func freePort() throws -> Int {
    #if canImport(Glibc)
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #else
    let fd = socket(AF_INET, SOCK_STREAM, 0)
    #endif
    guard fd >= 0 else { throw ClientError("socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw ClientError("bind() failed") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { throw ClientError("getsockname() failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Distinct free ports.
func freePorts(_ count: Int) throws -> [Int] {
    var ports: [Int] = []
    while ports.count < count {
        let port = try freePort()
        if !ports.contains(port) { ports.append(port) }
    }
    return ports
}

/// Whether a process with this PID exists (a zombie counts until it is reaped).
func processExists(_ pid: Int32) -> Bool {
    kill(pid, 0) == 0 || errno == EPERM
}

/// Whether the process is gone or only a zombie waiting for its parent.
func processGoneOrZombie(_ pid: Int32) -> Bool {
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

func sendSignal(_ signal: Int32, to pid: Int32) {
    _ = kill(pid, signal)
}

/// A child process with its output in a file.
///
/// Spawned with posix_spawn and an empty signal mask with default dispositions, as a shell
/// would start it. (Foundation's `Process` passes on the spawning thread's signal mask, and
/// test threads block SIGTERM among others: a script started that way, and everything
/// it starts, would never see the SIGTERM these tests send.)
final class ChildProcess: Sendable {
    let pid: pid_t
    let logURL: URL
    private let exitStatus = Mutex<Int32?>(nil)

    init(executable: String, arguments: [String], environment: [String: String]? = nil, log: URL) throws {
        logURL = log
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
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

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
            throw ClientError("cannot start \(executable): \(String(cString: strerror(result)))")
        }
        self.pid = pid
    }

    /// The exit status once it has ended (128 + signal number if a signal ended it).
    var terminationStatus: Int32? {
        exitStatus.withLock { known in
            if let known { return known }
            var status: Int32 = 0
            guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
            let signal = status & 0x7F
            known = signal == 0 ? (status >> 8) & 0xFF : 128 + signal
            return known
        }
    }

    var isRunning: Bool { terminationStatus == nil }
    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// Waits for the exit; nil if it is still running after `timeout`.
    func waitForExit(timeout: Duration) async -> Int32? {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            if let status = terminationStatus { return status }
            if clock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    func stop(grace: Duration = .seconds(10)) async {
        guard isRunning else { return }
        sendSignal(SIGTERM, to: pid)
        if await waitForExit(timeout: grace) == nil {
            sendSignal(SIGKILL, to: pid)
            _ = await waitForExit(timeout: .seconds(5))
        }
    }
}

/// Runs a command to completion; returns its exit status and combined output.
func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
         timeout: Duration = .seconds(60)) async throws -> (status: Int32, output: String) {
    let log = FileManager.default.temporaryDirectory
        .appendingPathComponent("deploytests-\(UUID().uuidString).log")
    defer { try? FileManager.default.removeItem(at: log) }
    let child = try ChildProcess(executable: executable, arguments: arguments, environment: environment, log: log)
    guard let status = await child.waitForExit(timeout: timeout) else {
        await child.stop()
        throw ClientError("\(executable) \(arguments.joined(separator: " ")) did not finish within \(timeout): \(child.log)")
    }
    return (status, child.log)
}

/// The path of a program on PATH, or nil.
func which(_ program: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for directory in path.split(separator: ":") {
        let candidate = "\(directory)/\(program)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}

/// Retries `body` until it returns a value or `timeout` passes; rethrows the last error.
func eventually<T>(timeout: Duration, every interval: Duration = .milliseconds(200),
                   _ body: () async throws -> T?) async throws -> T {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    var lastError: (any Error)?
    while true {
        do {
            if let value = try await body() { return value }
        } catch {
            lastError = error
        }
        if clock.now >= deadline {
            throw lastError ?? ClientError("condition not met within \(timeout)")
        }
        try await Task.sleep(for: interval)
    }
}

/// A fresh directory for one test's files.
func makeTemporaryDirectory(_ prefix: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
