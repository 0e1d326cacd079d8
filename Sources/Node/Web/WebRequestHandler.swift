import NIOCore
import NIOHTTP1
import NIOWebSocket

/// Answers the plain HTTP requests of the web port (anything the WebSocket upgrader did
/// not take): the chat page at `/`, 403 for a WebSocket request from a page whose origin is
/// not allowed, 426 for a plain GET of a WebSocket path, 404 and 405 otherwise. One request
/// per connection: the answer closes it, and a connection that has not sent its request
/// head within `requestDeadline` is closed, so an HTTP connection never lingers.
///
/// Also keeps the client address a PROXY header gave, for the WebSocket session.
final class WebRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    static let requestDeadline: TimeAmount = .seconds(10)

    private let origins: OriginPolicy
    private let client: WebClientAddress
    private var deadline: Scheduled<Void>?
    private var answered = false

    init(origins: OriginPolicy, client: WebClientAddress) {
        self.origins = origins
        self.client = client
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: Self.requestDeadline) { channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let proxied = event as? ProxiedConnection {
            client.address = proxied.source
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = unwrapInboundIn(data), !answered else { return }
        answered = true
        deadline?.cancel()
        let path = WebServer.path(of: head.uri)
        switch (head.method, path) {
        case (.GET, "/"), (.HEAD, "/"), (.GET, "/index.html"), (.HEAD, "/index.html"):
            respond(context, head, status: .ok, contentType: "text/html; charset=utf-8",
                    body: WebPage.html, extraHeaders: WebPage.securityHeaders)
        case (.GET, WebServer.textPath), (.GET, WebServer.streamPath):
            if !origins.allows(origin: head.headers.first(name: "origin"), host: head.headers.first(name: "host")) {
                respond(context, head, status: .forbidden,
                        text: "This page's origin may not open a chat WebSocket here. The node's operator can allow it with --ws-origins.\n")
            } else if !head.headers[canonicalForm: "upgrade"].contains(where: { $0.lowercased() == "websocket" }) {
                respond(context, head, status: .upgradeRequired,
                        text: "This is a WebSocket endpoint: connect with a WebSocket client (RFC 6455).\n",
                        extraHeaders: [("Upgrade", "websocket")])
            } else {
                respond(context, head, status: .badRequest,
                        text: "Not a valid WebSocket upgrade request (RFC 6455: version 13 and a Sec-WebSocket-Key are required).\n")
            }
        case (_, "/"), (_, "/index.html"), (_, WebServer.textPath), (_, WebServer.streamPath):
            respond(context, head, status: .methodNotAllowed, text: "Only GET is supported here.\n",
                    extraHeaders: [("Allow", "GET")])
        default:
            respond(context, head, status: .notFound,
                    text: "Not found. The chat page is at /, its WebSocket at /ws, and the XMLSocket tunnel at /xmlsocket.\n")
        }
    }

    private func respond(_ context: ChannelHandlerContext, _ request: HTTPRequestHead, status: HTTPResponseStatus,
                         text: String, extraHeaders: [(String, String)] = []) {
        var body = context.channel.allocator.buffer(capacity: text.utf8.count)
        body.writeString(text)
        respond(context, request, status: status, contentType: "text/plain; charset=utf-8", body: body,
                extraHeaders: extraHeaders)
    }

    private func respond(_ context: ChannelHandlerContext, _ request: HTTPRequestHead, status: HTTPResponseStatus,
                         contentType: String, body: ByteBuffer, extraHeaders: [(String, String)] = []) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        headers.add(name: "Connection", value: "close")
        headers.add(contentsOf: extraHeaders)
        let head = HTTPResponseHead(version: request.version, status: status, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A declined WebSocket upgrade is reported as an error, then the request comes
        // here to be answered (403, 400).
        if error is NIOWebSocketUpgradeError { return }
        context.close(promise: nil)
    }
}

/// The client address of one web connection, as the PROXY header (if any) gave it; read
/// when the connection becomes a WebSocket session. Only touched on the channel's loop.
final class WebClientAddress: @unchecked Sendable {
    var address: SocketAddress?
}
