import NIOCore
import NIOHTTP1

/// One connection to the operator port, behind NIOHTTP1's server pipeline (which bounds
/// the request line and headers, answers 400 to what it cannot parse, and orders pipelined
/// requests). Requests carry no body worth reading: a body over `maxBodyBytes` gets 413 and
/// the connection is closed; a connection idle for `IdleStateHandler`'s timeout is closed.
final class AdminHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    static let maxBodyBytes = 4096

    private let endpoints: AdminEndpoints
    private var head: HTTPRequestHead?
    private var bodyBytes = 0
    private var refused = false

    init(endpoints: AdminEndpoints) {
        self.endpoints = endpoints
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        switch unwrapInboundIn(data) {
        case .head(let request):
            head = request
            bodyBytes = 0
        case .body(let chunk):
            bodyBytes += chunk.readableBytes
            if bodyBytes > Self.maxBodyBytes {
                refused = true
                let response = AdminEndpoints.Response(status: .payloadTooLarge, body: ByteBuffer(string: "request body too large\n"))
                write(response, context: context, keepAlive: false, includeBody: true)
            }
        case .end:
            guard let request = head else { return }
            head = nil
            let response = endpoints.respond(method: request.method, uri: request.uri)
            write(response, context: context, keepAlive: request.isKeepAlive, includeBody: request.method != .HEAD)
        }
    }

    private func write(_ response: AdminEndpoints.Response, context: ChannelHandlerContext, keepAlive: Bool, includeBody: Bool) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: String(response.body.readableBytes))
        headers.add(name: "Cache-Control", value: "no-store")
        for (name, value) in response.extraHeaders { headers.add(name: name, value: value) }
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: response.status, headers: headers))), promise: nil)
        if includeBody { context.write(wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil) }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
