import NIOCore
import NIOEmbedded
import Testing

import Wire

@Suite struct FrameDecoderTests {
    /// Feeds `chunks` through a `ByteToMessageHandler(FrameDecoder)` in an `EmbeddedChannel`,
    /// closes it, and returns every frame it produced.
    private func frames(of chunks: [[UInt8]], maxFrameBytes: Int = 65536) throws -> [InboundFrame] {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(maxFrameBytes: maxFrameBytes)))
        var frames: [InboundFrame] = []
        for chunk in chunks {
            try channel.writeInbound(ByteBuffer(bytes: chunk))
            while let frame = try channel.readInbound(as: InboundFrame.self) {
                frames.append(frame)
            }
        }
        _ = try channel.finish()
        while let frame = try channel.readInbound(as: InboundFrame.self) {
            frames.append(frame)
        }
        return frames
    }

    private func document(_ text: String) -> InboundFrame {
        .document(ByteBuffer(string: text))
    }

    @Test func splitsOnZeroBytes() throws {
        let stream = Array("<a/>\0<b>x</b>\0".utf8)
        #expect(try frames(of: [stream]) == [document("<a/>"), document("<b>x</b>")])
    }

    @Test func aFrameSplitAtEveryByteBoundaryYieldsTheSameFrames() throws {
        let stream = Array("<a/>\0 \0<b>x é</b>\0\0<c d='1'/>\0".utf8)
        let expected = [document("<a/>"), document("<b>x é</b>"), document("<c d='1'/>")]
        #expect(try frames(of: [stream]) == expected)
        for split in 0...stream.count {
            #expect(try frames(of: [Array(stream[..<split]), Array(stream[split...])]) == expected, "split at \(split)")
        }
        #expect(try frames(of: stream.map { [$0] }) == expected, "one byte at a time")
    }

    @Test func manyFramesInOneRead() throws {
        let stream = (0..<1000).map { "<m n='\($0)'/>\0" }.joined()
        let decoded = try frames(of: [Array(stream.utf8)])
        #expect(decoded.count == 1000)
        #expect(decoded.first == document("<m n='0'/>"))
        #expect(decoded.last == document("<m n='999'/>"))
    }

    @Test func emptyAndWhitespaceOnlyFramesAreSkipped() throws {
        let stream = Array("\0\0 \0\t\r\n \0<a/>\0\n\0".utf8)
        #expect(try frames(of: [stream]) == [document("<a/>")])
    }

    @Test func frameOfExactlyTheLimitIsAccepted() throws {
        let exact = String(repeating: "x", count: 16)
        #expect(try frames(of: [Array("\(exact)\0".utf8)], maxFrameBytes: 16) == [document(exact)])
    }

    @Test func oversizedFrameYieldsTooLargeOnceAndDecodingResumesAfterItsTerminator() throws {
        let oversized = String(repeating: "y", count: 17)
        let stream = Array("<a/>\0\(oversized)\0<b/>\0".utf8)
        let expected = [document("<a/>"), .tooLarge, document("<b/>")]
        #expect(try frames(of: [stream], maxFrameBytes: 16) == expected)
        for split in 0...stream.count {
            let chunks = [Array(stream[..<split]), Array(stream[split...])]
            #expect(try frames(of: chunks, maxFrameBytes: 16) == expected, "split at \(split)")
        }
    }

    @Test func hugeFrameArrivingInPiecesYieldsTooLargeOnceWithoutBufferingIt() {
        var decoder = FrameDecoder(maxFrameBytes: 64)
        var buffer = ByteBuffer()
        var produced: [InboundFrame] = []
        let chunk = [UInt8](repeating: UInt8(ascii: "z"), count: 10)
        for _ in 0..<1000 {
            buffer.writeBytes(chunk)
            while let frame = decoder.nextFrame(from: &buffer) {
                produced.append(frame)
            }
            #expect(buffer.readableBytes <= 65)
        }
        buffer.writeBytes(Array("zz\0<ok/>\0".utf8))
        while let frame = decoder.nextFrame(from: &buffer) {
            produced.append(frame)
        }
        #expect(produced == [.tooLarge, .document(ByteBuffer(string: "<ok/>"))])
        #expect(buffer.readableBytes == 0)
    }

    @Test func partialFrameIsKeptUntilItsTerminatorArrives() {
        var decoder = FrameDecoder(maxFrameBytes: 64)
        var buffer = ByteBuffer(string: "<a>hel")
        #expect(decoder.nextFrame(from: &buffer) == nil)
        #expect(buffer.readableBytes == 6)
        buffer.writeString("lo</a>\0")
        #expect(decoder.nextFrame(from: &buffer) == .document(ByteBuffer(string: "<a>hello</a>")))
        #expect(decoder.nextFrame(from: &buffer) == nil)
    }

    @Test func unterminatedLastFrameIsDroppedAtEndOfStream() throws {
        // `frames(of:)` closes the channel, which runs `decodeLast`.
        #expect(try frames(of: [Array("<a/>\0<b>unfinished".utf8)]) == [document("<a/>")])
    }
}
