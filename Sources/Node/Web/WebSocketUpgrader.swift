import NIOCore
import NIOHTTP1
import NIOWebSocket

/// The WebSocket handshake of the web port. NIO's `NIOWebSocketServerUpgrader` checks the
/// request and computes the accept header; this does the pipeline itself: NIO's frame
/// decoder, then the session's handlers, with no frame encoder, because the session's
/// `WebSocketTransport` writes frames that are built once per loop for every recipient
/// (NIO's encoder would build a header per recipient).
struct WebSocketUpgrader: HTTPServerProtocolUpgrader, Sendable {
    private let handshake: NIOWebSocketServerUpgrader
    private let maxFrameSize: Int
    private let pipeline: @Sendable (Channel, HTTPRequestHead) throws -> Void

    /// - Parameters:
    ///   - maxFrameSize: the largest frame NIO's decoder accepts (larger ones are
    ///     `MessageTooLarge`).
    ///   - shouldUpgrade: whether this request may upgrade (path and origin).
    ///   - pipeline: adds the session's handlers after the frame decoder.
    init(maxFrameSize: Int, shouldUpgrade: @escaping @Sendable (HTTPRequestHead) -> Bool,
         pipeline: @escaping @Sendable (Channel, HTTPRequestHead) throws -> Void) {
        self.maxFrameSize = maxFrameSize
        self.pipeline = pipeline
        handshake = NIOWebSocketServerUpgrader(
            maxFrameSize: maxFrameSize, automaticErrorHandling: false,
            shouldUpgrade: { channel, head in
                channel.eventLoop.makeSucceededFuture(shouldUpgrade(head) ? HTTPHeaders() : nil)
            },
            upgradePipelineHandler: { channel, _ in channel.eventLoop.makeSucceededVoidFuture() })
    }

    var supportedProtocol: String { handshake.supportedProtocol }
    var requiredUpgradeHeaders: [String] { handshake.requiredUpgradeHeaders }

    func buildUpgradeResponse(channel: Channel, upgradeRequest: HTTPRequestHead,
                              initialResponseHeaders: HTTPHeaders) -> EventLoopFuture<HTTPHeaders> {
        handshake.buildUpgradeResponse(channel: channel, upgradeRequest: upgradeRequest,
                                       initialResponseHeaders: initialResponseHeaders)
    }

    func upgrade(context: ChannelHandlerContext, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<Void> {
        let channel = context.channel
        return context.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: maxFrameSize)))
            try pipeline(channel, upgradeRequest)
        }
    }
}
