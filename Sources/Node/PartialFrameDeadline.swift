import NIOCore

/// Bounds how long one frame may take to arrive (PROTOCOL.md section 7, partial frames): a
/// frame must be complete within `timeout` of its first byte, so a client cannot park a
/// half-sent frame (and the memory it holds) by trickling a byte now and then.
///
/// Sits in front of the frame decoder and looks only for zero bytes: after each read, a
/// frame is open if bytes follow the last terminator. The deadline is set when a frame
/// opens and cleared when none is open; when it passes, ``PartialFrameTimedOut`` goes up
/// the pipeline (the session tells the client and closes).
final class PartialFrameDeadline: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let timeout: TimeAmount
    private var frameOpen = false
    private var deadline: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        if let lastByte = bytes.readableBytesView.last {
            let endsFrame = lastByte == 0
            let startsAnother = !endsFrame && bytes.readableBytesView.contains(0)
            if endsFrame {
                stop()
            } else if startsAnother || !frameOpen {
                start(context)
            }
        }
        context.fireChannelRead(data)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stop()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    private func start(_ context: ChannelHandlerContext) {
        deadline?.cancel()
        frameOpen = true
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: timeout) { [weak self] in
            guard let self, self.frameOpen else { return }
            self.frameOpen = false
            self.deadline = nil
            bound.value.fireUserInboundEventTriggered(PartialFrameTimedOut())
        }
    }

    private func stop() {
        frameOpen = false
        deadline?.cancel()
        deadline = nil
    }
}

/// A frame was not completed in time (see ``PartialFrameDeadline``).
struct PartialFrameTimedOut: Sendable {}
