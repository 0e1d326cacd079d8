/// Splits the server-to-client byte stream of a WebSocket (RFC 6455 5.2) into messages. Server
/// frames are unmasked; a frame that arrives whole inside one read is handed out in place (no
/// copy), like `FrameSplitter` does for zero-terminated frames. Only a frame split across reads
/// is assembled in `carry`, and only a fragmented message in `fragments`.
struct WebSocketDeframer {
    /// What makes the stream unusable; the client fails its connection with it (RFC 6455 7.1.7).
    enum Failure: Error, Equatable, CustomStringConvertible {
        case maskedServerFrame
        case reservedBits(UInt8)
        case unknownOpcode(UInt8)
        case badControlFrame(String)
        case unexpectedContinuation
        case interruptedFragments
        case tooLarge(UInt64)

        var description: String {
            switch self {
            case .maskedServerFrame: return "WebSocket: the node sent a masked frame (RFC 6455 5.1: server frames are never masked)"
            case .reservedBits(let b): return "WebSocket: reserved bits \(b) set without a negotiated extension"
            case .unknownOpcode(let o): return "WebSocket: unknown opcode \(o)"
            case .badControlFrame(let why): return "WebSocket: control frame \(why)"
            case .unexpectedContinuation: return "WebSocket: a continuation frame with no message to continue"
            case .interruptedFragments: return "WebSocket: a new message began before the fragmented one ended"
            case .tooLarge(let n): return "WebSocket: a message of \(n) bytes, over the generator's limit"
            }
        }
    }

    /// A frame header as read from the wire.
    struct Header: Equatable {
        var fin: Bool
        var opcode: WebSocketOpcode
        var headerLength: Int
        var payloadLength: Int
    }

    enum HeaderParse: Equatable {
        /// The header is at least this many bytes long and not all of them are there.
        case needBytes(Int)
        case header(Header)
        case failure(Failure)
    }

    /// Messages (and frames, during carry) larger than this fail the stream.
    let maxMessageBytes: Int
    private var carry: [UInt8] = []
    private var fragments: [UInt8] = []
    private var fragmentOpcode: WebSocketOpcode?

    init(maxMessageBytes: Int = 1 << 20) {
        self.maxMessageBytes = maxMessageBytes
    }

    /// Reads the frame header at `p` (`count` bytes available).
    @inline(__always)
    static func parseHeader(_ p: UnsafeRawPointer, count: Int, maxPayload: Int) -> HeaderParse {
        guard count >= 2 else { return .needBytes(2) }
        let b0 = p.load(as: UInt8.self)
        let b1 = p.load(fromByteOffset: 1, as: UInt8.self)
        if b1 & 0x80 != 0 { return .failure(.maskedServerFrame) }
        if b0 & 0x70 != 0 { return .failure(.reservedBits((b0 & 0x70) >> 4)) }
        guard let opcode = WebSocketOpcode(rawValue: b0 & 0x0F) else { return .failure(.unknownOpcode(b0 & 0x0F)) }
        let fin = b0 & 0x80 != 0
        let len7 = Int(b1 & 0x7F)
        if opcode.isControl {
            if !fin { return .failure(.badControlFrame("fragmented")) }
            if len7 > 125 { return .failure(.badControlFrame("longer than 125 bytes")) }
        }
        switch len7 {
        case 126:
            guard count >= 4 else { return .needBytes(4) }
            let n = Int(p.load(fromByteOffset: 2, as: UInt8.self)) << 8 | Int(p.load(fromByteOffset: 3, as: UInt8.self))
            if n > maxPayload { return .failure(.tooLarge(UInt64(n))) }
            return .header(Header(fin: fin, opcode: opcode, headerLength: 4, payloadLength: n))
        case 127:
            guard count >= 10 else { return .needBytes(10) }
            var n: UInt64 = 0
            for k in 0..<8 { n = n << 8 | UInt64(p.load(fromByteOffset: 2 + k, as: UInt8.self)) }
            if n > UInt64(maxPayload) { return .failure(.tooLarge(n)) }
            return .header(Header(fin: fin, opcode: opcode, headerLength: 10, payloadLength: Int(n)))
        default:
            return .header(Header(fin: fin, opcode: opcode, headerLength: 2, payloadLength: len7))
        }
    }

    /// Calls `onMessage` for every complete message in `bytes` (data messages reassembled from
    /// their fragments; control frames as they come), in order, and keeps an incomplete tail for
    /// the next call. `onMessage` must not keep the buffer it is given. Returns the failure that
    /// ends the stream, if any (nothing after it is handed out).
    @inline(__always)
    mutating func feed(_ bytes: UnsafeRawBufferPointer, _ onMessage: (WebSocketOpcode, UnsafeRawBufferPointer) -> Void) -> Failure? {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return nil }
        let n = bytes.count
        var pos = 0
        if !carry.isEmpty {
            // Complete the carried frame with just the bytes it still needs.
            while true {
                let parse = carry.withUnsafeBytes { Self.parseHeader($0.baseAddress!, count: $0.count, maxPayload: maxMessageBytes) }
                let needed: Int
                var header: Header?
                switch parse {
                case .failure(let f): return f
                case .needBytes(let k): needed = k
                case .header(let h):
                    needed = h.headerLength + h.payloadLength
                    header = h
                }
                let take = min(needed - carry.count, n - pos)
                carry.append(contentsOf: UnsafeRawBufferPointer(start: base + pos, count: take))
                pos += take
                if carry.count < needed { return nil }
                guard let h = header else { continue }
                var frame: [UInt8] = []
                swap(&frame, &carry)
                let failure = frame.withUnsafeBytes { raw in
                    process(h, UnsafeRawBufferPointer(rebasing: raw[h.headerLength...]), onMessage)
                }
                frame.removeAll(keepingCapacity: frame.capacity <= 65536)
                swap(&frame, &carry)
                if let failure { return failure }
                break
            }
        }
        while pos < n {
            switch Self.parseHeader(base + pos, count: n - pos, maxPayload: maxMessageBytes) {
            case .failure(let f):
                return f
            case .needBytes:
                carry.append(contentsOf: UnsafeRawBufferPointer(start: base + pos, count: n - pos))
                return nil
            case .header(let h):
                let total = h.headerLength + h.payloadLength
                guard total <= n - pos else {
                    carry.append(contentsOf: UnsafeRawBufferPointer(start: base + pos, count: n - pos))
                    return nil
                }
                if let failure = process(h, UnsafeRawBufferPointer(start: base + pos + h.headerLength, count: h.payloadLength), onMessage) {
                    return failure
                }
                pos += total
            }
        }
        return nil
    }

    /// One complete frame: hand it out, or add it to the fragmented message.
    @inline(__always)
    private mutating func process(_ h: Header, _ payload: UnsafeRawBufferPointer, _ onMessage: (WebSocketOpcode, UnsafeRawBufferPointer) -> Void) -> Failure? {
        switch h.opcode {
        case .text, .binary:
            if fragmentOpcode != nil { return .interruptedFragments }
            if h.fin {
                onMessage(h.opcode, payload)
            } else {
                fragmentOpcode = h.opcode
                fragments.append(contentsOf: payload)
            }
        case .continuation:
            guard let opcode = fragmentOpcode else { return .unexpectedContinuation }
            if fragments.count + payload.count > maxMessageBytes { return .tooLarge(UInt64(fragments.count + payload.count)) }
            fragments.append(contentsOf: payload)
            if h.fin {
                var message: [UInt8] = []
                swap(&message, &fragments)
                fragmentOpcode = nil
                message.withUnsafeBytes { onMessage(opcode, $0) }
            }
        case .close, .ping, .pong:
            onMessage(h.opcode, payload)
        }
        return nil
    }
}
