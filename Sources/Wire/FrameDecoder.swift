import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One unit of inbound data produced by ``FrameDecoder``.
public enum InboundFrame: Sendable, Equatable {
    /// The bytes of one document, without its 0x00 terminator. Never empty or white space only.
    case document(ByteBuffer)
    /// A frame exceeded the size limit; its bytes were discarded (PROTOCOL.md: `Message too large`).
    case tooLarge
}

/// Splits the inbound byte stream into frames on 0x00 (PROTOCOL.md section 1).
///
/// - Frames that are empty or white space only (space, tab, CR, LF) are skipped silently.
/// - The size limit is enforced while scanning: the decoder remembers how far it has scanned the
///   current frame, never rescans, and never keeps more than `maxFrameBytes + 1` bytes of one
///   frame. A frame longer than `maxFrameBytes` yields ``InboundFrame/tooLarge`` once; the decoder
///   then discards everything up to and including the next 0x00 and carries on.
/// - At end of stream, an unterminated last frame is dropped: it was never a complete message.
public struct FrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = InboundFrame

    /// The largest frame accepted, in bytes, terminator excluded.
    public let maxFrameBytes: Int
    /// Bytes of the current frame already scanned (from the reader index) without finding 0x00.
    private var scanned = 0
    /// True while skipping the rest of an oversized frame.
    private var discarding = false

    public init(maxFrameBytes: Int = 65536) {
        precondition(maxFrameBytes > 0, "maxFrameBytes must be positive")
        self.maxFrameBytes = maxFrameBytes
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = nextFrame(from: &buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext,
        buffer: inout ByteBuffer,
        seenEOF: Bool
    ) throws -> DecodingState {
        while let frame = nextFrame(from: &buffer) {
            context.fireChannelRead(Self.wrapInboundOut(frame))
        }
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }

    /// Consumes bytes from `buffer` up to and including the next frame to deliver, and returns
    /// that frame; returns nil when `buffer` holds no complete frame yet. Bytes of a frame still
    /// being received stay in `buffer` (at most `maxFrameBytes + 1` of them); bytes being
    /// discarded are consumed at once.
    ///
    /// This is the whole decoder; ``decode(context:buffer:)`` only forwards its frames. Use it
    /// directly to split a stream outside a channel pipeline.
    public mutating func nextFrame(from buffer: inout ByteBuffer) -> InboundFrame? {
        while true {
            if discarding {
                guard let terminator = firstZero(in: buffer, from: 0, to: buffer.readableBytes) else {
                    buffer.moveReaderIndex(to: buffer.writerIndex)
                    return nil
                }
                buffer.moveReaderIndex(forwardBy: terminator + 1)
                discarding = false
                continue
            }
            let searchEnd = min(buffer.readableBytes, maxFrameBytes + 1)
            guard let terminator = firstZero(in: buffer, from: scanned, to: searchEnd) else {
                scanned = searchEnd
                guard scanned > maxFrameBytes else { return nil }
                buffer.moveReaderIndex(forwardBy: scanned)
                scanned = 0
                discarding = true
                return .tooLarge
            }
            scanned = 0
            let frame = buffer.readSlice(length: terminator)!
            buffer.moveReaderIndex(forwardBy: 1)
            if !isBlank(frame) {
                return .document(frame)
            }
        }
    }

    /// The offset from the reader index of the first 0x00 in readable bytes `start..<end`.
    private func firstZero(in buffer: ByteBuffer, from start: Int, to end: Int) -> Int? {
        guard start < end else { return nil }
        return buffer.withUnsafeReadableBytes { bytes in
            let base = bytes.baseAddress! + start
            guard let found = memchr(base, 0, end - start) else { return nil }
            return start + (UnsafeRawPointer(found) - UnsafeRawPointer(base))
        }
    }

    private func isBlank(_ frame: ByteBuffer) -> Bool {
        frame.withUnsafeReadableBytes { $0.allSatisfy(ASCII.isWhitespace) }
    }
}
