import NIOCore
import NIOEmbedded
import Wire

/// A frame as the checks compare it: the document bytes are copied out of the decoder's buffer,
/// so that keeping them does not pin (and copy on write) the buffer the decoder still appends to.
enum Frame: Equatable {
    case document([UInt8])
    case tooLarge
}

/// What ``FrameDecoder`` must deliver for `stream` followed by end of stream, however the stream
/// is cut into reads (PROTOCOL.md section 1, and the decoder's documentation): the stream split
/// on 0x00; a piece longer than `maxFrameBytes` is `tooLarge` (also an unterminated last one,
/// which is reported as soon as it is too long); an empty or white-space-only piece is skipped;
/// an unterminated last piece within the limit is dropped.
func expectedFrames(_ stream: UnsafeRawBufferPointer, maxFrameBytes: Int) -> [Frame] {
    var frames: [Frame] = []
    var start = 0
    while true {
        let end = stream[start...].firstIndex(of: 0)
        let piece = stream[start..<(end ?? stream.count)]
        if piece.count > maxFrameBytes {
            frames.append(.tooLarge)
        } else if end != nil, !piece.allSatisfy(isWhitespace) {
            frames.append(.document(Array(piece)))
        }
        guard let end else { return frames }
        start = end + 1
    }
}

/// The frames a channel pipeline with ``FrameDecoder`` delivers when `stream` arrives in reads
/// ending at each of `cuts` (ascending offsets), then the connection closes (`decodeLast`).
func pipelineFrames(_ stream: UnsafeRawBufferPointer, maxFrameBytes: Int, cuts: [Int]) -> [Frame] {
    let collector = FrameCollector()
    let channel = EmbeddedChannel(handlers: [ByteToMessageHandler(FrameDecoder(maxFrameBytes: maxFrameBytes)), collector])
    var start = 0
    for end in cuts + [stream.count] where end > start {
        do {
            try channel.writeInbound(ByteBuffer(bytes: stream[start..<end]))
        } catch {
            violation("the frame decoder threw \(error)")
        }
        start = end
    }
    do {
        _ = try channel.finish()
    } catch {
        violation("closing the channel threw \(error)")
    }
    return collector.frames
}

/// The last handler of the pipeline: keeps what the decoder delivers.
private final class FrameCollector: ChannelInboundHandler {
    typealias InboundIn = InboundFrame

    var frames: [Frame] = []

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .document(let bytes):
            require(bytes.readableBytes > 0, "the frame decoder delivered an empty document")
            frames.append(.document(Array(bytes.readableBytesView)))
        case .tooLarge:
            frames.append(.tooLarge)
        }
    }
}

/// Checks that the pipeline delivers exactly ``expectedFrames(_:maxFrameBytes:)`` when the stream
/// is cut at `cuts`, and returns those frames.
func checkFraming(_ stream: UnsafeRawBufferPointer, maxFrameBytes: Int, cuts: [Int]) -> [Frame] {
    let expected = expectedFrames(stream, maxFrameBytes: maxFrameBytes)
    let delivered = pipelineFrames(stream, maxFrameBytes: maxFrameBytes, cuts: cuts)
    require(
        delivered == expected,
        "frames differ (limit \(maxFrameBytes), reads cut at \(cuts)): delivered \(describe(delivered)), expected \(describe(expected))"
    )
    return delivered
}

private func describe(_ frames: [Frame]) -> String {
    "[" + frames.map { frame in
        switch frame {
        case .document(let bytes): "\"\(show(bytes, limit: 60))\""
        case .tooLarge: "tooLarge"
        }
    }.joined(separator: ", ") + "]"
}

/// XML white space, as the frame decoder skips it.
func isWhitespace(_ byte: UInt8) -> Bool {
    byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
}
