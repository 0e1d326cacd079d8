import NIOCore

/// Turns protocol frames (one XML document and its zero byte, as sessions write them) into
/// server WebSocket frames (RFC 6455: unmasked, so the framed bytes are the same for every
/// recipient).
///
/// One framer per event loop remembers the last frame it built: the fan-out writes the
/// same buffer to every member of a room on a loop, one after another, so an event is
/// framed once per loop and transport, and every WebSocket recipient gets the same bytes.
/// A hit is decided by identity, not content: the cached source keeps its storage alive,
/// so a buffer at the same address with the same length is the same unchanged bytes.
final class WebSocketFramer {
    /// What a message carries: one document without its zero byte (`/ws`), or the raw
    /// byte stream (`/xmlsocket`).
    enum Kind {
        case text
        case binary
    }

    private var cache: [Entry?] = [nil, nil]

    private struct Entry {
        let source: ByteBuffer
        let framed: ByteBuffer
    }

    private let allocator = ByteBufferAllocator()

    /// The WebSocket frame for one protocol frame written by a session.
    func frame(_ bytes: ByteBuffer, as kind: Kind) -> ByteBuffer {
        let slot = kind == .text ? 0 : 1
        if let entry = cache[slot], Self.sameBytes(entry.source, bytes) {
            return entry.framed
        }
        let framed = kind == .text ? textFrames(bytes) : Self.frame(bytes, opcode: .binary, allocator: allocator)
        cache[slot] = Entry(source: bytes, framed: framed)
        return framed
    }

    /// One text message per document: a write may hold several zero-terminated documents
    /// (a batch of room events, coalesced room-list updates).
    private func textFrames(_ bytes: ByteBuffer) -> ByteBuffer {
        let view = bytes.readableBytesView
        guard let firstEnd = view.firstIndex(of: 0), firstEnd != view.index(before: view.endIndex) else {
            var payload = bytes
            if view.last == 0 { payload.moveWriterIndex(to: payload.writerIndex - 1) }
            return Self.frame(payload, opcode: .text, allocator: allocator)
        }
        var framed = allocator.buffer(capacity: bytes.readableBytes + 16)
        var start = view.startIndex
        var end: Int? = firstEnd
        while start < view.endIndex {
            let stop = end ?? view.endIndex
            if stop > start {
                let payload = bytes.getSlice(at: start, length: stop - start)!
                Self.writeFrame(payload, opcode: .text, into: &framed)
            }
            start = stop + 1
            end = start < view.endIndex ? view[start...].firstIndex(of: 0) : nil
        }
        return framed
    }

    private static func sameBytes(_ cached: ByteBuffer, _ candidate: ByteBuffer) -> Bool {
        guard cached.readableBytes == candidate.readableBytes else { return false }
        let a = cached.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        let b = candidate.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        return a == b && a != 0
    }

    /// One final, unmasked frame: the 2 to 10 byte header, then the payload.
    static func frame(_ payload: ByteBuffer, opcode: WebSocketOpcodeByte, allocator: ByteBufferAllocator) -> ByteBuffer {
        var framed = allocator.buffer(capacity: payload.readableBytes + 10)
        writeFrame(payload, opcode: opcode, into: &framed)
        return framed
    }

    private static func writeFrame(_ payload: ByteBuffer, opcode: WebSocketOpcodeByte, into framed: inout ByteBuffer) {
        let length = payload.readableBytes
        framed.writeInteger(0x80 | opcode.rawValue)
        if length < 126 {
            framed.writeInteger(UInt8(length))
        } else if length <= 0xFFFF {
            framed.writeInteger(UInt8(126))
            framed.writeInteger(UInt16(length))
        } else {
            framed.writeInteger(UInt8(127))
            framed.writeInteger(UInt64(length))
        }
        framed.writeImmutableBuffer(payload)
    }

    /// A close frame with a status code and a short reason (at most 123 bytes of it).
    static func closeFrame(code: UInt16, reason: String, allocator: ByteBufferAllocator) -> ByteBuffer {
        var payload = allocator.buffer(capacity: 2 + 123)
        payload.writeInteger(code)
        payload.writeString(String(decoding: reason.utf8.prefix(123), as: UTF8.self))
        return frame(payload, opcode: .close, allocator: allocator)
    }
}

/// The opcodes the server sends (RFC 6455 section 5.2).
enum WebSocketOpcodeByte: UInt8 {
    case text = 0x1
    case binary = 0x2
    case close = 0x8
    case ping = 0x9
    case pong = 0xA
}
