import NIOCore

/// WebSocket opcodes (RFC 6455 5.2) the generator deals with.
enum WebSocketOpcode: UInt8, Sendable {
    case continuation = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA

    var isControl: Bool { rawValue & 0x8 != 0 }
}

/// Client-to-server frames (RFC 6455 5.2, 5.3): FIN set, no fragmentation, always masked. A
/// message is written into a buffer after `headroom` free bytes; `seal` then writes the header
/// just in front of it and masks the payload in place, so a frame costs no copy and no second
/// buffer (the generator sends ~100,000 of them per second).
enum WebSocketClientFrame {
    /// The longest client header: 2 bytes, a 64-bit length, a 4-byte masking key.
    static let headroom = 14

    /// Header bytes of a masked frame with `payload` bytes: 2, plus 2 (16-bit length) or 8
    /// (64-bit length), plus the 4-byte masking key.
    static func headerLength(payload n: Int) -> Int {
        (n < 126 ? 2 : n <= 0xFFFF ? 4 : 10) + 4
    }

    /// Reserves the headroom in an empty buffer: write the payload after this, then `seal`.
    @inline(__always)
    static func begin(_ buf: inout ByteBuffer) -> Int {
        buf.writeRepeatingByte(0, count: headroom)
        buf.moveReaderIndex(forwardBy: headroom)
        return buf.writerIndex
    }

    /// Turns the bytes from `payloadStart` to the writer index into one final, masked frame of
    /// `opcode`: writes its header in the headroom before them, moves the reader index to the
    /// header, and masks the payload with `maskKey` (the 4 key bytes in wire order, big-endian).
    @inline(__always)
    static func seal(_ buf: inout ByteBuffer, payloadStart: Int, opcode: WebSocketOpcode, maskKey: UInt32) {
        let n = buf.writerIndex - payloadStart
        let h = headerLength(payload: n)
        let start = payloadStart - h
        precondition(start >= 0, "WebSocketClientFrame.seal: no headroom before the payload")
        buf.setInteger(0x80 | opcode.rawValue, at: start)
        if n < 126 {
            buf.setInteger(UInt8(0x80 | n), at: start + 1)
        } else if n <= 0xFFFF {
            buf.setInteger(UInt8(0x80 | 126), at: start + 1)
            buf.setInteger(UInt16(n), at: start + 2)
        } else {
            buf.setInteger(UInt8(0x80 | 127), at: start + 1)
            buf.setInteger(UInt64(n), at: start + 2)
        }
        buf.setInteger(maskKey, at: payloadStart - 4)
        buf.moveReaderIndex(to: start)
        buf.withUnsafeMutableReadableBytes { raw in
            mask(UnsafeMutableRawBufferPointer(rebasing: raw[h...]), key: maskKey)
        }
    }

    /// XORs `bytes` with the masking key (RFC 6455 5.3: byte i with key byte i mod 4), eight
    /// bytes at a time. Masking twice with the same key gives the bytes back.
    @inline(__always)
    static func mask(_ bytes: UnsafeMutableRawBufferPointer, key: UInt32) {
        guard let base = bytes.baseAddress else { return }
        let n = bytes.count
        // The key's bytes in memory in wire order, twice: byte i of the word masks byte i.
        let k = key.bigEndian
        let wide = UInt64(k) | UInt64(k) << 32
        var i = 0
        while i + 8 <= n {
            let v = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            base.storeBytes(of: v ^ wide, toByteOffset: i, as: UInt64.self)
            i += 8
        }
        while i < n {
            let keyByte = UInt8(truncatingIfNeeded: key >> UInt32(24 - 8 * (i & 3)))
            base.storeBytes(of: base.load(fromByteOffset: i, as: UInt8.self) ^ keyByte, toByteOffset: i, as: UInt8.self)
            i += 1
        }
    }

    /// A whole frame of `payload` (control frames, tests).
    static func make(_ opcode: WebSocketOpcode, payload: some Collection<UInt8>, maskKey: UInt32, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buf = allocator.buffer(capacity: headroom + payload.count)
        let start = begin(&buf)
        buf.writeBytes(payload)
        seal(&buf, payloadStart: start, opcode: opcode, maskKey: maskKey)
        return buf
    }
}
