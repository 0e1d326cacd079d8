import NIOCore
import NIOPosix

/// A TCP server that pretends to be Redis and answers whatever the test wants, so tests can
/// feed a client hostile bytes.
final class RedisFakeServer: Sendable {
    typealias Responder = @Sendable (_ request: ByteBuffer) -> ByteBuffer?

    private let channel: any Channel
    let port: Int

    private init(channel: any Channel) {
        self.channel = channel
        self.port = channel.localAddress!.port!
    }

    /// `greeting` is sent as soon as a client connects; `respond` answers each chunk read.
    static func start(greeting: ByteBuffer? = nil, respond: @escaping Responder) async throws -> RedisFakeServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Handler(greeting: greeting, respond: respond))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return RedisFakeServer(channel: channel)
    }

    func stop() async {
        try? await channel.close()
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let greeting: ByteBuffer?
        let respond: Responder

        init(greeting: ByteBuffer?, respond: @escaping Responder) {
            self.greeting = greeting
            self.respond = respond
        }

        func channelActive(context: ChannelHandlerContext) {
            if let greeting { context.writeAndFlush(wrapOutboundOut(greeting), promise: nil) }
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if let reply = respond(unwrapInboundIn(data)) {
                context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
