import ChorusTesting
@testable import RedisClient
import NIOCore
import NIOPosix
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The socket options of a connection to Redis. Option 1 of SOL_SOCKET is SO_DEBUG, which
/// needs CAP_NET_ADMIN: TCP_NODELAY (also 1, but of IPPROTO_TCP) once went in at the socket
/// level, so every chorus-node not running as root (the container image's user) failed to
/// connect with "setsockopt: Permission denied", while root (the tests) never noticed.
@Suite struct RedisSocketOptionsTests {
    @Test("a connection sets TCP_NODELAY and SO_KEEPALIVE, and not SO_DEBUG")
    func options() async throws {
        try await RedisServer.with { redis in
            let (channel, _) = try await RedisBootstrap.connect(
                to: try RedisConfiguration(url: redis.url), eventLoop: RedisTestSupport.eventLoop,
                mode: .commands, logger: RedisTestSupport.logger).get()
            let debugOption = ChannelOptions.Types.SocketOption(
                level: NIOBSDSocket.OptionLevel(rawValue: SOL_SOCKET), name: NIOBSDSocket.Option(rawValue: SO_DEBUG))
            let noDelay = try await channel.getOption(ChannelOptions.tcpOption(.tcp_nodelay)).get()
            let keepAlive = try await channel.getOption(ChannelOptions.socketOption(.so_keepalive)).get()
            let debug = try await channel.getOption(debugOption).get()
            try await channel.close()
            #expect(noDelay != 0)
            #expect(keepAlive != 0)
            #expect(debug == 0, "SO_DEBUG is set: a non-root node cannot connect to Redis")
        }
    }
}
