import ChorusTesting
@testable import RedisClient
import Logging
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// Shared pieces of the Redis tests.
enum RedisTestSupport {
    static var eventLoop: any EventLoop {
        MultiThreadedEventLoopGroup.singleton.next()
    }

    static let logger = Logger(label: "chorus.redis.test", factory: { _ in SwiftLogNoOpLogHandler() })

    static func connect(_ configuration: RedisConfiguration, on eventLoop: any EventLoop = eventLoop) async throws -> RedisConnection {
        try await RedisConnection.connect(to: configuration, eventLoop: eventLoop, logger: logger).get()
    }

    static func connect(_ redis: RedisServer) async throws -> RedisConnection {
        try await connect(try RedisConfiguration(url: redis.url))
    }

    /// Runs `body` with a local port on which connections are refused: bound (so nobody else
    /// can take it meanwhile) but not listening.
    static func withRefusingPort<Result>(_ body: (Int) async throws -> Result) async throws -> Result {
        let (fd, port) = boundSocket()
        defer { close(fd) }
        return try await body(port)
    }

    /// Runs `body` with a local port where connecting hangs: a listener with a full accept
    /// queue (Linux then drops new SYNs).
    static func withUnansweredPort<Result>(_ body: (Int) async throws -> Result) async throws -> Result {
        let (fd, port) = boundSocket()
        defer { close(fd) }
        precondition(listen(fd, 0) == 0, "listen() failed")
        var fillers: [Int32] = []
        defer { fillers.forEach { _ = close($0) } }
        for _ in 0..<3 {  // backlog 0 still queues one; fill it (non-blocking connects)
            let filler = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            var address = loopback(port: port)
            _ = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(filler, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            fillers.append(filler)
        }
        try await Task.sleep(for: .milliseconds(50))
        return try await body(port)
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    private static func boundSocket() -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        precondition(fd >= 0, "socket() failed")
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(fd, raw, length) == 0 && getsockname(fd, raw, &length) == 0
            }
        }
        precondition(bound, "bind() failed")
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// The error a future failed with, or nil if it succeeded.
    static func error<Value: Sendable>(of future: EventLoopFuture<Value>) async -> (any Error)? {
        do {
            _ = try await future.get()
            return nil
        } catch {
            return error
        }
    }
}
