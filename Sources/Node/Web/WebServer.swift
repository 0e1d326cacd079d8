import ChatDomain
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Wire

/// The web port (PROTOCOL.md section 8): the chat page at `/`, WebSocket sessions at `/ws`
/// (one document per text message) and `/xmlsocket` (the raw zero-terminated stream in
/// binary messages, for Flash emulators' socket proxies). A WebSocket session is the same
/// `SessionHandler` as a TCP one, behind a `WebSocketTransport`: same rules, limits, flood
/// control and slow-reader bound, in the same rooms across the cluster.
///
/// Starts once the cluster bus has; when a drain begins (`NodeLifecycle`, SIGTERM) or on
/// graceful shutdown it stops accepting (the client server closes every session, TCP and
/// WebSocket alike, at graceful shutdown).
struct WebServer: Service {
    static let textPath = "/ws"
    static let streamPath = "/xmlsocket"

    let context: NodeContext
    let group: any EventLoopGroup
    let port: Int
    let origins: OriginPolicy
    let ready: BusReadiness
    let lifecycle: NodeLifecycle
    let onListening: (@Sendable (Int) -> Void)?

    func run() async throws {
        let node = context
        let configuration = context.configuration
        guard await ready.wait() else { return }
        let origins = origins
        let bootstrap = ClientListener.bootstrap(group: group, configuration: configuration) { channel in
            channel.eventLoop.makeCompletedFuture {
                try Self.configure(channel, node: node, origins: origins)
            }
        }
        let server: any Channel
        do {
            server = try await bootstrap.bind(host: configuration.host, port: port).get()
        } catch {
            node.logger.critical("cannot listen for web clients on \(configuration.host):\(port): \(error). Is another process using the port? Choose another with --http-port.")
            throw error
        }
        let boundPort = server.localAddress?.port ?? port
        node.logger.info("serving web clients on \(configuration.host):\(boundPort): the chat page at /, WebSocket at \(Self.textPath) and \(Self.streamPath)")
        onListening?(boundPort)
        await ClientListener.untilDrainOrShutdown(lifecycle)
        try? await server.close()
        try? await gracefulShutdown()
    }

    private static func configure(_ channel: any Channel, node: NodeContext, origins: OriginPolicy) throws {
        let configuration = node.configuration
        let handlers = channel.pipeline.syncOperations
        if configuration.proxyProtocol {
            try handlers.addHandler(ProxyProtocolDecoder(logger: node.logger))
        }
        let client = WebClientAddress()
        let requests = WebRequestHandler(origins: origins, client: client)
        let boundRequests = NIOLoopBound(requests, eventLoop: channel.eventLoop)
        let upgrader = WebSocketUpgrader(
            maxFrameSize: configuration.maxFrameBytes + 1,
            shouldUpgrade: { head in
                let path = Self.path(of: head.uri)
                return (path == textPath || path == streamPath)
                    && origins.allows(origin: head.headers.first(name: "origin"), host: head.headers.first(name: "host"))
            },
            pipeline: { channel, head in
                try Self.addSession(to: channel, stream: Self.path(of: head.uri) == streamPath, node: node,
                                    address: client.address ?? channel.remoteAddress)
            })
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderFieldSize = 8 * 1024
        limits.maxHeaderListSize = 16 * 1024
        limits.maxHeaderFieldCount = 64
        try handlers.configureHTTPServerPipeline(
            withPipeliningAssistance: false,
            withServerUpgrade: (upgraders: [upgrader], completionHandler: { context in
                context.pipeline.syncOperations.removeHandler(boundRequests.value, promise: nil)
            }),
            withErrorHandling: true,
            withEncoderConfiguration: .init(),
            withDecoderLimitConfiguration: limits)
        try handlers.addHandler(requests)
    }

    /// A WebSocket session's handlers, after NIO's frame decoder.
    private static func addSession(to channel: any Channel, stream: Bool, node: NodeContext, address: SocketAddress?) throws {
        let configuration = node.configuration
        let registry = node.fanout.registry(for: channel.eventLoop)
        let handlers = channel.pipeline.syncOperations
        try handlers.addHandler(WebSocketTransport(
            kind: stream ? .binary : .text,
            maxMessageBytes: stream ? configuration.maxFrameBytes + 1 : configuration.maxFrameBytes,
            framer: registry.webSocketFramer))
        if stream {
            try handlers.addHandler(PartialFrameDeadline(timeout: configuration.partialFrameTimeout))
            try handlers.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: configuration.maxFrameBytes)))
        }
        try handlers.addHandler(IdleStateHandler(readTimeout: configuration.idleTimeout))
        try handlers.addHandler(SessionHandler(id: node.makeSessionID(), node: node, registry: registry,
                                               transport: stream ? .xmlsocket : .ws, knownAddress: address))
    }

    static func path(of uri: String) -> String {
        uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? uri
    }
}
