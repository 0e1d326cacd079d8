import ChorusTesting
import NIOCore
@testable import Node
import Testing

struct WebSocketFramerTests {
    private func document(_ text: String) -> ByteBuffer { ByteBuffer(string: text + "\0") }

    /// The frames in `bytes`, decoded with the test kit's independent RFC 6455 reader.
    private func frames(_ bytes: ByteBuffer) -> [WebSocketWire.Frame] {
        var wire = Array(bytes.readableBytesView)
        var frames: [WebSocketWire.Frame] = []
        while let frame = WebSocketWire.takeFrame(&wire) { frames.append(frame) }
        #expect(wire.isEmpty, "bytes left over after the last frame")
        return frames
    }

    @Test func aDocumentBecomesOneFinalUnmaskedTextMessageWithoutItsZeroByte() {
        let framer = WebSocketFramer()
        let decoded = frames(framer.frame(document("<XmlDoc/>"), as: .text))
        #expect(decoded == [WebSocketWire.Frame(fin: true, opcode: 1, masked: false, payload: Array("<XmlDoc/>".utf8))])
    }

    @Test func severalDocumentsInOneWriteBecomeOneTextMessageEach() {
        let framer = WebSocketFramer()
        let batch = ByteBuffer(string: "<a/>\0<b/>\0<c/>\0")
        #expect(frames(framer.frame(batch, as: .text)).map { String(decoding: $0.payload, as: UTF8.self) } == ["<a/>", "<b/>", "<c/>"])
    }

    @Test func theStreamIsCarriedAsIsInABinaryMessage() {
        let framer = WebSocketFramer()
        let batch = ByteBuffer(string: "<a/>\0<b/>\0")
        #expect(frames(framer.frame(batch, as: .binary)) == [WebSocketWire.Frame(fin: true, opcode: 2, masked: false, payload: Array("<a/>\0<b/>\0".utf8))])
    }

    @Test(arguments: [0, 125, 126, 65535, 65536, 200_000])
    func lengthsUseTheShortestHeader(length: Int) {
        let framer = WebSocketFramer()
        let payload = String(repeating: "x", count: length)
        let framed = framer.frame(ByteBuffer(string: payload), as: .binary)
        let header = length < 126 ? 2 : length <= 65535 ? 4 : 10
        #expect(framed.readableBytes == header + length)
        #expect(frames(framed).first?.payload.count == length)
    }

    @Test func oneEventIsFramedOnceForEveryRecipientOnTheLoop() {
        let framer = WebSocketFramer()
        let event = document("<XmlDoc><Action>SendPublicMessage</Action></XmlDoc>")
        let first = framer.frame(event, as: .text)
        let copy = event  // what the fan-out hands the next member: the same storage
        let second = framer.frame(copy, as: .text)
        let address = { (buffer: ByteBuffer) in buffer.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) } }
        #expect(address(first) == address(second), "the second recipient gets the very same bytes")
        // Equal content in other storage is framed anew (identity, not content, decides).
        let other = framer.frame(document("<XmlDoc><Action>SendPublicMessage</Action></XmlDoc>"), as: .text)
        #expect(address(other) != address(first))
        #expect(other == first)
    }

    @Test func closeFramesCarryTheStatusCode() {
        let close = WebSocketFramer.closeFrame(code: 1009, reason: "message too large", allocator: ByteBufferAllocator())
        #expect(frames(close).first?.closeCode == 1009)
        let long = WebSocketFramer.closeFrame(code: 1000, reason: String(repeating: "r", count: 500), allocator: ByteBufferAllocator())
        #expect(frames(long).first?.payload.count == 125, "a control frame's payload stays within 125 bytes")
    }
}
