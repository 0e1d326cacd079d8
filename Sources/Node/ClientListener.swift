import NIOCore
import NIOPosix
import ServiceLifecycle

/// What the client port and the web port share: the socket options of a listener whose
/// connections become sessions, and when it stops accepting.
enum ClientListener {
    /// A bootstrap for session connections: a long backlog, no Nagle delay, the outbound
    /// bound as write-buffer watermarks (slow readers, PROTOCOL.md section 7), bounded reads
    /// per loop turn, and half-closure seen by the session (a client may close its sending
    /// side and still read the answers).
    static func bootstrap(group: any EventLoopGroup, configuration: NodeConfiguration,
                          initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>) -> ServerBootstrap {
        ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.maxMessagesPerRead, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // A TCP-level option: `.socketOption(.tcp_nodelay)` would set option 1 of
            // SOL_SOCKET, SO_DEBUG, which a node not running as root may not set: every
            // accepted connection would be closed at once.
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark,
                                value: .init(low: configuration.maxOutboundBytes / 2, high: configuration.maxOutboundBytes))
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer(initializer)
    }

    /// Returns when the listener must stop accepting: a drain began (SIGTERM), or the
    /// service group shuts down.
    static func untilDrainOrShutdown(_ lifecycle: NodeLifecycle) async {
        await withTaskGroup(of: Void.self) { waiting in
            waiting.addTask { await lifecycle.wait(for: .draining) }
            waiting.addTask { try? await gracefulShutdown() }
            await waiting.next()
            waiting.cancelAll()
        }
    }
}
