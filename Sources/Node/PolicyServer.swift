import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Wire

/// The dedicated Flash socket policy port (Flash asks port 843 first): answers
/// `<policy-file-request/>` with the cross-domain policy and closes. Does nothing else.
struct PolicyServer: Service {
    let host: String
    let port: Int
    let clientPort: Int
    let domain: String
    let group: any EventLoopGroup
    let logger: Logger

    func run() async throws {
        let policy = policyFileResponse(domain: domain, port: clientPort)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: 1024)))
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: .seconds(10)))
                    try channel.pipeline.syncOperations.addHandler(PolicyHandler(policy: policy))
                }
            }
        let server: any Channel
        do {
            server = try await bootstrap.bind(host: host, port: port).get()
        } catch {
            logger.critical("cannot listen on policy port \(host):\(port): \(error). Ports below 1024 need privileges; choose another with --policy-port.")
            throw error
        }
        logger.info("Flash policy server listening on \(host):\(port)")
        try? await gracefulShutdown()
        try? await server.close()
    }
}

/// Answers one policy request, then closes; anything else just closes.
final class PolicyHandler: ChannelInboundHandler {
    typealias InboundIn = InboundFrame
    typealias OutboundOut = ByteBuffer
    let policy: ByteBuffer

    init(policy: ByteBuffer) { self.policy = policy }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let channel = context.channel
        if case .document(let frame) = unwrapInboundIn(data), isPolicyFileRequest(frame) {
            context.writeAndFlush(wrapOutboundOut(policy)).whenComplete { _ in channel.close(promise: nil) }
        } else {
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent { context.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
