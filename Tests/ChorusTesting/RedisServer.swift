import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A throwaway `redis-server` for tests: its own free port on 127.0.0.1, no persistence
/// (`--save '' --appendonly no`), a private temporary directory; stopped with `SHUTDOWN NOSAVE`.
///
///     let redis = try await RedisServer.start()                 // or start(password: "s3cret")
///     let configuration = try RedisConfiguration(url: redis.url)
///     try await redis.restart()   // stop, then start again EMPTY on the same port (outage tests)
///     redis.pause(); redis.resume()                              // SIGSTOP / SIGCONT
///     await redis.stop()
///
///     try await RedisServer.with { redis in ... }               // stops it even when the body throws
///
/// `redis-server` is taken from `$REDIS_SERVER` or `PATH`. Should the test process die
/// without calling `stop()`, a small watchdog shell kills the server when the process's end
/// of a pipe closes; `deinit` also kills a server still running.
public final class RedisServer: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    public let host = "127.0.0.1"
    public let port: Int
    /// `--requirepass`, if any.
    public let password: String?
    /// Extra `redis-server` arguments given to `start`.
    public let arguments: [String]
    private let executable: String
    private let directory: String
    private let running: Mutex<Running?>

    /// A live server process and its watchdog.
    private struct Running: @unchecked Sendable {  // Foundation's Process/Pipe; only touched under the mutex
        let process: Process
        let watchdog: Process
        let watchdogPipe: Pipe
    }

    /// `redis://[:password@]127.0.0.1:port`.
    public var url: String {
        "redis://" + (password.map { ":\($0)@" } ?? "") + "\(host):\(port)"
    }

    /// The server's process id while running.
    public var pid: Int32? {
        running.withLock { $0?.process.processIdentifier }
    }

    public var isRunning: Bool {
        running.withLock { $0?.process.isRunning ?? false }
    }

    private init(port: Int, password: String?, arguments: [String], executable: String, directory: String, running: Running) {
        self.port = port
        self.password = password
        self.arguments = arguments
        self.executable = executable
        self.directory = directory
        self.running = Mutex(running)
    }

    deinit {
        // Forgotten stop(): don't leak the server.
        if let running = running.withLock({ $0 }) {
            Self.deliver(SIGKILL, to: running)
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Starts a server on a free port and waits until it answers PING.
    public static func start(password: String? = nil, arguments: [String] = []) async throws -> RedisServer {
        let executable = try findExecutable()
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("chorus-redis-\(getpid())-\(UInt64.random(in: 0...UInt64.max))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var lastError: any Error = Failure(description: "no attempt made")
        for _ in 0..<10 {
            let port = try freePort()
            do {
                let running = try await launch(executable: executable, port: port, password: password,
                                               arguments: arguments, directory: directory)
                return RedisServer(port: port, password: password, arguments: arguments,
                                   executable: executable, directory: directory, running: running)
            } catch let error as PortInUse {
                lastError = error
                continue  // somebody took the port between probing and binding: try another
            }
        }
        try? FileManager.default.removeItem(atPath: directory)
        throw lastError
    }

    /// Runs `body` with a fresh server and stops the server afterwards, also when `body` throws.
    public static func with<Result>(
        password: String? = nil, arguments: [String] = [], _ body: (RedisServer) async throws -> Result
    ) async throws -> Result {
        let server = try await start(password: password, arguments: arguments)
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    /// Stops the server and waits for it to exit. Idempotent.
    ///
    /// Uses `SHUTDOWN NOSAVE` rather than SIGTERM: processes started with Foundation's `Process`
    /// from a test inherit the test thread's signal mask, in which SIGTERM is blocked. Falls back
    /// to SIGKILL after 3 s.
    public func stop() async {
        guard let stopping = running.withLock({ current -> Running? in
            defer { current = nil }
            return current
        }) else { return }
        _ = kill(stopping.watchdog.processIdentifier, SIGKILL)
        if stopping.process.isRunning {
            _ = kill(stopping.process.processIdentifier, SIGCONT)  // in case it is paused
            _ = Self.command(["SHUTDOWN", "NOSAVE"], port: port, password: password)
            _ = kill(stopping.process.processIdentifier, SIGTERM)  // effective where not blocked
        }
        if await !Self.waitForExit(stopping.process, timeout: .seconds(3)) {
            Self.deliver(SIGKILL, to: stopping)
            _ = await Self.waitForExit(stopping.process, timeout: .seconds(5))
        }
        _ = await Self.waitForExit(stopping.watchdog, timeout: .seconds(1))
        try? stopping.watchdogPipe.fileHandleForWriting.close()
    }

    /// Stops the server and starts a new, empty one on the same port with the same options.
    public func restart() async throws {
        await stop()
        try await startAgain()
    }

    /// Starts a new, empty server on the same port with the same options, after `stop()`
    /// (for outage tests that look at what happens while Redis is away).
    public func startAgain() async throws {
        guard !isRunning else { return }
        var lastError: any Error = Failure(description: "no attempt made")
        // The port is ours unless another process grabs it meanwhile; retry briefly.
        for _ in 0..<20 {
            do {
                let started = try await Self.launch(executable: executable, port: port, password: password,
                                                    arguments: arguments, directory: directory)
                running.withLock { $0 = started }
                return
            } catch let error as PortInUse {
                lastError = error
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        throw lastError
    }

    /// Freezes the server (SIGSTOP): connections stay open but nothing is answered.
    public func pause() {
        if let pid { _ = kill(pid, SIGSTOP) }
    }

    /// Undoes `pause()` (SIGCONT).
    public func resume() {
        if let pid { _ = kill(pid, SIGCONT) }
    }

    // MARK: Internals

    private struct PortInUse: Error, CustomStringConvertible {
        let port: Int
        var description: String { "port \(port) is in use" }
    }

    private static func findExecutable() throws -> String {
        if let path = ProcessInfo.processInfo.environment["REDIS_SERVER"], !path.isEmpty {
            return path
        }
        let searchPath = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in searchPath.split(separator: ":") {
            let candidate = "\(directory)/redis-server"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        for candidate in ["/usr/bin/redis-server", "/usr/local/bin/redis-server", "/opt/homebrew/bin/redis-server"]
        where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        throw Failure(description: "redis-server not found in PATH (set REDIS_SERVER to its path)")
    }

    /// A port that was free a moment ago: bind to port 0, read the port, close.
    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw -> Bool in
                bind(fd, raw, length) == 0 && getsockname(fd, raw, &length) == 0
            }
        }
        guard bound else { throw Failure(description: "bind() to a free port failed: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private static func launch(
        executable: String, port: Int, password: String?, arguments: [String], directory: String
    ) async throws -> Running {
        let logFile = "\(directory)/redis-\(port).log"
        try? FileManager.default.removeItem(atPath: logFile)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--daemonize", "no", "--dir", directory, "--logfile", logFile,
        ] + (password.map { ["--requirepass", $0] } ?? []) + arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()

        // Kills the server when our end of the pipe closes (we died); itself killed by stop().
        let pid = process.processIdentifier
        let pipe = Pipe()
        let watchdog = Process()
        watchdog.executableURL = URL(fileURLWithPath: "/bin/sh")
        watchdog.arguments = ["-c", "read -r _; kill -KILL \(pid) 2>/dev/null"]
        watchdog.standardInput = pipe.fileHandleForReading
        watchdog.standardOutput = FileHandle.nullDevice
        watchdog.standardError = FileHandle.nullDevice
        do {
            try watchdog.run()
        } catch {
            _ = kill(process.processIdentifier, SIGKILL)
            throw error
        }
        try? pipe.fileHandleForReading.close()
        let running = Running(process: process, watchdog: watchdog, watchdogPipe: pipe)

        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if !process.isRunning {
                _ = kill(watchdog.processIdentifier, SIGKILL)
                let log = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
                if log.contains("Address already in use") { throw PortInUse(port: port) }
                throw Failure(description: "redis-server exited at start (status \(process.terminationStatus)):\n\(log.suffix(2000))")
            }
            if let reply = ping(port: port), reply.hasPrefix("+PONG") || reply.hasPrefix("-NOAUTH") {
                return running
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        deliver(SIGKILL, to: running)
        throw Failure(description: "redis-server on port \(port) did not answer PING within 10 s")
    }

    private static func ping(port: Int) -> String? {
        command(["PING"], port: port, password: nil)
    }

    /// Sends one command (after AUTH, with a password) over a fresh TCP connection and returns
    /// the start of the reply, nil on failure. Blocking, with 1 s timeouts.
    private static func command(_ argv: [String], port: Int, password: String?) -> String? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else { return nil }
        func resp(_ argv: [String]) -> [UInt8] {
            argv.reduce(Array("*\(argv.count)\r\n".utf8)) { $0 + Array("$\($1.utf8.count)\r\n\($1)\r\n".utf8) }
        }
        var request = password.map { resp(["AUTH", $0]) } ?? []
        request += resp(argv)
        guard send(fd, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else { return nil }
        var reply = [UInt8](repeating: 0, count: 256)
        let count = recv(fd, &reply, reply.count, 0)
        guard count > 0 else { return nil }
        return String(decoding: reply.prefix(count), as: UTF8.self)
    }

    private static func deliver(_ signal: Int32, to running: Running) {
        guard running.process.isRunning else { return }
        let pid = running.process.processIdentifier
                _ = kill(pid, signal)
    }

    private static func waitForExit(_ process: Process, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }
}
