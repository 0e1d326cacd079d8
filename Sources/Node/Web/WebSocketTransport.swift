import NIOCore
import NIOWebSocket
import Wire

/// A session's WebSocket (PROTOCOL.md section 8), between NIO's frame decoder and the
/// session: reassembles messages, answers pings and closes, enforces RFC 6455's rules for
/// client frames, and frames what the session writes (with the loop's `WebSocketFramer`,
/// so a room event is framed once per loop and written as the same bytes to every member).
///
/// - `/ws` (`kind == .text`): each text message is one document; it goes up as an
///   `InboundFrame`. A binary message is `UnreadableMessage`.
/// - `/xmlsocket` (`kind == .binary`): messages carry the raw zero-terminated stream, split
///   or joined anywhere; their bytes go up to the same frame decoder as TCP's.
///
/// A message over the limit goes up as `MessageTooLarge`; a broken frame closes the
/// connection with 1002. When the session closes, this sends the close frame, with the
/// status its `SessionClosing` reason maps to.
final class WebSocketTransport: ChannelDuplexHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let kind: WebSocketFramer.Kind
    private let maxMessageBytes: Int
    private let framer: WebSocketFramer
    private let allocator = ByteBufferAllocator()

    /// The message being reassembled from fragments, and its opcode.
    private var message: ByteBuffer?
    private var messageOpcode: WebSocketOpcode = .text
    /// Input is ignored from here on (a message was too large, or the frames broke a rule).
    private var stopped = false
    private var closeSent = false
    private var closeReason: SessionClosing.Reason = .normal

    init(kind: WebSocketFramer.Kind, maxMessageBytes: Int, framer: WebSocketFramer) {
        self.kind = kind
        self.maxMessageBytes = maxMessageBytes
        self.framer = framer
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !stopped else { return }
        let frame = unwrapInboundIn(data)
        if frame.rsv1 || frame.rsv2 || frame.rsv3 {
            return failProtocol(context, "reserved bits set without an extension")
        }
        if frame.maskKey == nil {
            return failProtocol(context, "client frames must be masked")
        }
        switch frame.opcode {
        case .ping:
            guard !closeSent else { return }
            let pong = WebSocketFramer.frame(frame.unmaskedData, opcode: .pong, allocator: allocator)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .pong:
            break
        case .connectionClose:
            clientClosed(context, frame)
        case .text, .binary:
            guard message == nil else {
                return failProtocol(context, "a new message began before the previous one was finished")
            }
            messageOpcode = frame.opcode
            message = frame.unmaskedData
            if frame.fin { finishMessage(context) } else { checkSize(context) }
        case .continuation:
            guard var partial = message else {
                return failProtocol(context, "a continuation frame without a message to continue")
            }
            message = nil
            var data = frame.unmaskedData
            partial.writeBuffer(&data)
            message = partial
            if frame.fin { finishMessage(context) } else { checkSize(context) }
        default:
            failProtocol(context, "unknown opcode \(frame.opcode)")
        }
    }

    private func checkSize(_ context: ChannelHandlerContext) {
        if let message, message.readableBytes > maxMessageBytes { tooLarge(context) }
    }

    private func finishMessage(_ context: ChannelHandlerContext) {
        guard var payload = message else { return }
        message = nil
        guard payload.readableBytes <= maxMessageBytes else { return tooLarge(context) }
        switch kind {
        case .binary:
            context.fireChannelRead(wrapInboundOut(payload))
        case .text:
            guard messageOpcode == .text else {
                context.fireUserInboundEventTriggered(UnreadableMessage())
                return
            }
            // A client that ends its document with the TCP terminator is forgiven it.
            if payload.readableBytesView.last == 0 { payload.moveWriterIndex(to: payload.writerIndex - 1) }
            // Empty or white-space-only messages are ignored, like empty frames on TCP.
            guard payload.readableBytesView.contains(where: { !Self.isWhiteSpace($0) }) else { return }
            context.fireChannelRead(NIOAny(InboundFrame.document(payload)))
        }
    }

    private static func isWhiteSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    private func tooLarge(_ context: ChannelHandlerContext) {
        stopped = true
        message = nil
        context.fireUserInboundEventTriggered(MessageTooLarge())
    }

    /// The client sent a close frame: answer with the same status (if we have not closed
    /// already), then close the connection.
    private func clientClosed(_ context: ChannelHandlerContext, _ frame: WebSocketFrame) {
        stopped = true
        if !closeSent {
            closeSent = true
            var data = frame.unmaskedData
            var code: UInt16 = 1000
            if data.readableBytes >= 2, let sent = data.readInteger(as: UInt16.self), Self.isValidClientCode(sent) {
                code = sent
            }
            let reply = WebSocketFramer.closeFrame(code: code, reason: "", allocator: allocator)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(reply)).whenComplete { _ in channel.close(promise: nil) }
        } else {
            context.close(promise: nil)
        }
    }

    private static func isValidClientCode(_ code: UInt16) -> Bool {
        (1000...1003).contains(code) || (1007...1011).contains(code) || (3000...4999).contains(code)
    }

    /// A frame broke RFC 6455: close with 1002 and stop reading.
    private func failProtocol(_ context: ChannelHandlerContext, _ why: String) {
        stopped = true
        message = nil
        guard !closeSent else { return }
        closeSent = true
        let frame = WebSocketFramer.closeFrame(code: 1002, reason: why, allocator: allocator)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(frame)).whenComplete { _ in channel.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error as? NIOWebSocketError {
        case .invalidFrameLength:
            // A single frame over the decoder's limit.
            if !stopped { tooLarge(context) }
        case .some:
            failProtocol(context, "invalid frame")
        case .none:
            context.fireErrorCaught(error)
        }
    }

    // MARK: Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let bytes = unwrapOutboundIn(data)
        guard !closeSent else {
            promise?.succeed(())
            return
        }
        guard bytes.readableBytes > 0 else {
            // Sessions write nothing to wait for what they wrote before (see SessionHandler).
            context.write(data, promise: promise)
            return
        }
        context.write(wrapOutboundOut(framer.frame(bytes, as: kind)), promise: promise)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        if let closing = event as? SessionClosing {
            closeReason = closing.reason
            promise?.succeed(())
        } else {
            context.triggerUserOutboundEvent(event, promise: promise)
        }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if !closeSent, mode != .input {
            closeSent = true
            let (code, reason) = Self.status(for: closeReason)
            context.write(wrapOutboundOut(WebSocketFramer.closeFrame(code: code, reason: reason, allocator: allocator)), promise: nil)
            context.flush()
        }
        context.close(mode: mode, promise: promise)
    }

    static func status(for reason: SessionClosing.Reason) -> (UInt16, String) {
        switch reason {
        case .normal: return (1000, "")
        case .tooLarge: return (1009, "message too large")
        case .protocolViolation: return (1002, "protocol violation")
        case .goingAway: return (1001, "server shutting down")
        case .policy: return (1008, "policy violation")
        }
    }
}
