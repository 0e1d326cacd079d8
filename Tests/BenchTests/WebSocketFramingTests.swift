import NIOCore
import Testing
@testable import Bench

/// Byte i masked with key byte i mod 4, the key's bytes in wire order: RFC 6455 5.3 written out
/// plainly, to check the eight-bytes-at-a-time masking against.
private func referenceMask(_ bytes: [UInt8], key: UInt32) -> [UInt8] {
    let k = [UInt8(key >> 24), UInt8((key >> 16) & 0xFF), UInt8((key >> 8) & 0xFF), UInt8(key & 0xFF)]
    return bytes.enumerated().map { $0.element ^ k[$0.offset % 4] }
}

/// A server frame (unmasked) as a node sends it.
private func serverFrame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, forceLength: Int? = nil) -> [UInt8] {
    var out: [UInt8] = [(fin ? 0x80 : 0) | opcode]
    let n = forceLength ?? payload.count
    if n < 126 {
        out.append(UInt8(n))
    } else if n <= 0xFFFF {
        out += [126, UInt8(n >> 8), UInt8(n & 0xFF)]
    } else {
        out.append(127)
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: n >> shift)) }
    }
    return out + payload
}

private func payload(_ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) } }

private struct Received: Equatable {
    var opcode: WebSocketOpcode
    var bytes: [UInt8]
}

/// Feeds `chunks` to a deframer; what it handed out and the failure that ended the stream.
private func deframe(_ chunks: [[UInt8]], max: Int = 1 << 20) -> ([Received], WebSocketDeframer.Failure?) {
    var d = WebSocketDeframer(maxMessageBytes: max)
    var out: [Received] = []
    for chunk in chunks {
        let failure = chunk.withUnsafeBytes { raw in d.feed(raw) { out.append(Received(opcode: $0, bytes: Array($1))) } }
        if let failure { return (out, failure) }
    }
    return (out, nil)
}

@Suite struct WebSocketClientFrameTests {
    /// Header lengths at the 7-bit, 16-bit and 64-bit boundaries, and the header's bytes: FIN and
    /// the opcode, MASK and the length in the narrowest form, the key, then the masked payload.
    @Test(arguments: [0, 1, 125, 126, 127, 300, 65535, 65536, 70000])
    func headerAndMaskedPayload(n: Int) {
        let key: UInt32 = 0xA1B2_C3D4
        let plain = payload(n)
        let frame = WebSocketClientFrame.make(.text, payload: plain, maskKey: key, allocator: ByteBufferAllocator())
        let bytes = Array(frame.readableBytesView)
        let expectedHeader = n < 126 ? 6 : n <= 65535 ? 8 : 14
        #expect(WebSocketClientFrame.headerLength(payload: n) == expectedHeader)
        #expect(bytes.count == expectedHeader + n)
        #expect(bytes[0] == 0x81)
        #expect(bytes[1] & 0x80 == 0x80, "client frames are masked")
        switch expectedHeader {
        case 6:
            #expect(Int(bytes[1] & 0x7F) == n)
        case 8:
            #expect(bytes[1] & 0x7F == 126)
            #expect(Int(bytes[2]) << 8 | Int(bytes[3]) == n)
        default:
            #expect(bytes[1] & 0x7F == 127)
            let len = bytes[2..<10].reduce(0) { $0 << 8 | Int($1) }
            #expect(len == n)
        }
        #expect(Array(bytes[(expectedHeader - 4)..<expectedHeader]) == [0xA1, 0xB2, 0xC3, 0xD4])
        #expect(Array(bytes[expectedHeader...]) == referenceMask(plain, key: key))
    }

    /// Every length from 0 to 40 (whole words, tails of 1 to 7 bytes) at every start alignment
    /// against the plain byte-by-byte definition; masking twice gives the bytes back.
    @Test func maskMatchesTheDefinition() {
        for key: UInt32 in [0x0102_0304, 0xFFFF_FFFF, 0x8000_0001, 0] {
            for n in 0...40 {
                for offset in 0..<8 {
                    let plain = payload(n)
                    var buffer = [UInt8](repeating: 0xEE, count: offset) + plain
                    buffer.withUnsafeMutableBytes { raw in
                        WebSocketClientFrame.mask(UnsafeMutableRawBufferPointer(rebasing: raw[offset...]), key: key)
                    }
                    #expect(Array(buffer[offset...]) == referenceMask(plain, key: key), "key \(key) n \(n) offset \(offset)")
                    #expect(Array(buffer[..<offset]) == [UInt8](repeating: 0xEE, count: offset), "bytes before untouched")
                    buffer.withUnsafeMutableBytes { raw in
                        WebSocketClientFrame.mask(UnsafeMutableRawBufferPointer(rebasing: raw[offset...]), key: key)
                    }
                    #expect(Array(buffer[offset...]) == plain)
                }
            }
        }
    }

    /// The send path: a document written after `begin`'s headroom, sealed in place. The frame
    /// starts at the reader index, whatever the header's length.
    @Test func sealInPlace() {
        for n in [10, 200, 70000] {
            var buf = ByteBufferAllocator().buffer(capacity: 16)
            let start = WebSocketClientFrame.begin(&buf)
            #expect(start == WebSocketClientFrame.headroom)
            #expect(buf.readableBytes == 0)
            let plain = payload(n)
            buf.writeBytes(plain)
            WebSocketClientFrame.seal(&buf, payloadStart: start, opcode: .text, maskKey: 0x1234_5678)
            let h = WebSocketClientFrame.headerLength(payload: n)
            #expect(buf.readerIndex == start - h)
            let bytes = Array(buf.readableBytesView)
            #expect(bytes.count == h + n)
            #expect(Array(bytes[h...]) == referenceMask(plain, key: 0x1234_5678))
        }
    }

    @Test func controlFrames() {
        let close = WebSocketClientFrame.make(.close, payload: [0x03, 0xE8], maskKey: 0, allocator: ByteBufferAllocator())
        #expect(Array(close.readableBytesView) == [0x88, 0x82, 0, 0, 0, 0, 0x03, 0xE8])
        let pong = WebSocketClientFrame.make(.pong, payload: [UInt8](), maskKey: 0xDEAD_BEEF, allocator: ByteBufferAllocator())
        #expect(Array(pong.readableBytesView) == [0x8A, 0x80, 0xDE, 0xAD, 0xBE, 0xEF])
    }
}

@Suite struct WebSocketDeframerTests {
    @Test(arguments: [0, 5, 125, 126, 65535, 65536, 100_000])
    func lengthsOfEveryWidth(n: Int) {
        let p = payload(n)
        let (got, failure) = deframe([serverFrame(0x1, p)])
        #expect(failure == nil)
        #expect(got == [Received(opcode: .text, bytes: p)])
    }

    /// Three frames (7-bit, 16-bit and a ping) in one stream, cut at every pair of positions:
    /// the same messages come out, in order.
    @Test func splitAnywhere() {
        let a = Array("<XmlDoc><Action>Ping</Action></XmlDoc>".utf8)
        let b = payload(300)
        let stream = serverFrame(0x1, a) + serverFrame(0x1, b) + serverFrame(0x9, [1, 2, 3])
        let expected = [Received(opcode: .text, bytes: a), Received(opcode: .text, bytes: b), Received(opcode: .ping, bytes: [1, 2, 3])]
        for i in 0...stream.count {
            for j in stride(from: i, through: stream.count, by: 7) {
                let (got, failure) = deframe([Array(stream[..<i]), Array(stream[i..<j]), Array(stream[j...])])
                #expect(failure == nil)
                #expect(got == expected, "cuts \(i), \(j)")
            }
        }
        // One byte per read.
        let (got, failure) = deframe(stream.map { [$0] })
        #expect(failure == nil)
        #expect(got == expected)
    }

    /// A message in three fragments with a ping between them: the ping comes out as it arrives,
    /// the message once whole.
    @Test func fragmentsAndInterleavedControl() {
        let stream = serverFrame(0x1, Array("<Xml".utf8), fin: false) + serverFrame(0x9, [7])
            + serverFrame(0x0, Array("Doc/".utf8), fin: false) + serverFrame(0x0, Array(">".utf8))
            + serverFrame(0x1, Array("<b/>".utf8))
        for cut in 0...stream.count {
            let (got, failure) = deframe([Array(stream[..<cut]), Array(stream[cut...])])
            #expect(failure == nil)
            #expect(got == [Received(opcode: .ping, bytes: [7]), Received(opcode: .text, bytes: Array("<XmlDoc/>".utf8)),
                            Received(opcode: .text, bytes: Array("<b/>".utf8))], "cut \(cut)")
        }
    }

    @Test func protocolViolations() {
        var masked = serverFrame(0x1, [1, 2])
        masked[1] |= 0x80
        let cases: [([UInt8], WebSocketDeframer.Failure)] = [
            (masked, .maskedServerFrame),
            ([0xC1, 0x00], .reservedBits(4)),
            ([0x83, 0x00], .unknownOpcode(3)),
            ([0x8B, 0x00], .unknownOpcode(11)),
            (serverFrame(0x9, [], fin: false), .badControlFrame("fragmented")),
            (serverFrame(0x8, payload(126)), .badControlFrame("longer than 125 bytes")),
            (serverFrame(0x0, [1]), .unexpectedContinuation),
            (serverFrame(0x1, [1], fin: false) + serverFrame(0x1, [2]), .interruptedFragments),
            (serverFrame(0x1, [], forceLength: 1 << 21), .tooLarge(1 << 21)),
            ([0x81, 127, 0x80, 0, 0, 0, 0, 0, 0, 0], .tooLarge(1 << 63)),
        ]
        for (stream, expected) in cases {
            let (got, failure) = deframe([stream])
            #expect(failure == expected, "\(stream.prefix(12))")
            #expect(got.isEmpty)
            // The same when the header arrives one byte at a time.
            let (_, slow) = deframe(stream.map { [$0] })
            #expect(slow == expected, "byte by byte: \(stream.prefix(12))")
        }
        // Fragments that add up to more than the limit.
        let (_, failure) = deframe([serverFrame(0x1, payload(600), fin: false) + serverFrame(0x0, payload(600))], max: 1000)
        #expect(failure == .tooLarge(1200))
    }

    /// A frame before the violation is still handed out; nothing after it is.
    @Test func stopsAtTheViolation() {
        let (got, failure) = deframe([serverFrame(0x1, [65]) + [0x83, 0x00] + serverFrame(0x1, [66])])
        #expect(got == [Received(opcode: .text, bytes: [65])])
        #expect(failure == .unknownOpcode(3))
    }
}
