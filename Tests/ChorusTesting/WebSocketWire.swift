import Foundation

/// The client side of RFC 6455 for tests, by hand: the upgrade request, masked frames out,
/// unmasked frames in. Kept free of the server's code, so the tests check the server
/// against the RFC, not against itself.
public enum WebSocketWire {
    public enum Opcode: UInt8, Sendable {
        case continuation = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA
    }

    /// One frame received from the server.
    public struct Frame: Sendable, Equatable {
        public let fin: Bool
        public let opcode: UInt8
        public let masked: Bool
        public let payload: [UInt8]

        public init(fin: Bool, opcode: UInt8, masked: Bool, payload: [UInt8]) {
            self.fin = fin
            self.opcode = opcode
            self.masked = masked
            self.payload = payload
        }

        /// The status code of a close frame (nil if it has none).
        public var closeCode: UInt16? {
            guard opcode == Opcode.close.rawValue, payload.count >= 2 else { return nil }
            return UInt16(payload[0]) << 8 | UInt16(payload[1])
        }
    }

    /// The HTTP upgrade request for `path`.
    public static func upgradeRequest(path: String, host: String, key: String, origin: String?,
                                      extraHeaders: [String] = []) -> [UInt8] {
        var lines = ["GET \(path) HTTP/1.1", "Host: \(host)", "Upgrade: websocket", "Connection: Upgrade",
                     "Sec-WebSocket-Key: \(key)", "Sec-WebSocket-Version: 13"]
        if let origin { lines.append("Origin: \(origin)") }
        lines += extraHeaders
        return Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8)
    }

    /// A random 16-byte key, base64.
    public static func makeKey() -> String {
        Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
    }

    /// A client frame: masked with a random key unless `masked` is false (to test refusals).
    public static func frame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, masked: Bool = true,
                             rsv: UInt8 = 0) -> [UInt8] {
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | (rsv << 4) | opcode]
        let maskBit: UInt8 = masked ? 0x80 : 0
        if payload.count < 126 {
            bytes.append(maskBit | UInt8(payload.count))
        } else if payload.count <= 0xFFFF {
            bytes.append(maskBit | 126)
            bytes += [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            bytes.append(maskBit | 127)
            bytes += (0..<8).reversed().map { UInt8((UInt64(payload.count) >> (8 * UInt64($0))) & 0xFF) }
        }
        guard masked else { return bytes + payload }
        let key = (0..<4).map { _ in UInt8.random(in: 0...255) }
        bytes += key
        bytes += payload.enumerated().map { $0.element ^ key[$0.offset % 4] }
        return bytes
    }

    /// Takes one complete frame off the front of `buffer`, if there is one.
    public static func takeFrame(_ buffer: inout [UInt8]) -> Frame? {
        guard buffer.count >= 2 else { return nil }
        let first = buffer[0], second = buffer[1]
        var length = Int(second & 0x7F)
        var offset = 2
        if length == 126 {
            guard buffer.count >= 4 else { return nil }
            length = Int(buffer[2]) << 8 | Int(buffer[3])
            offset = 4
        } else if length == 127 {
            guard buffer.count >= 10 else { return nil }
            length = buffer[2..<10].reduce(0) { $0 << 8 | Int($1) }
            offset = 10
        }
        let masked = second & 0x80 != 0
        var key: [UInt8] = []
        if masked {
            guard buffer.count >= offset + 4 else { return nil }
            key = Array(buffer[offset..<offset + 4])
            offset += 4
        }
        guard buffer.count >= offset + length else { return nil }
        var payload = Array(buffer[offset..<offset + length])
        if masked { payload = payload.enumerated().map { $0.element ^ key[$0.offset % 4] } }
        buffer.removeFirst(offset + length)
        return Frame(fin: first & 0x80 != 0, opcode: first & 0x0F, masked: masked, payload: payload)
    }
}

extension WebSocketWire {
    /// `Sec-WebSocket-Accept` for `key`: base64(SHA-1(key + the RFC's GUID)).
    public static func acceptValue(key: String) -> String {
        Data(SHA1.digest(Array((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8))).base64EncodedString()
    }
}

/// SHA-1 (FIPS 180-4), for the handshake check only.
enum SHA1 {
    static func digest(_ message: [UInt8]) -> [UInt8] {
        var h: [UInt32] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0]
        var data = message + [0x80]
        while data.count % 64 != 56 { data.append(0) }
        let bits = UInt64(message.count) * 8
        data += (0..<8).reversed().map { UInt8((bits >> (8 * UInt64($0))) & 0xFF) }
        for chunk in stride(from: 0, to: data.count, by: 64) {
            var w = [UInt32](repeating: 0, count: 80)
            for i in 0..<16 {
                w[i] = (0..<4).reduce(UInt32(0)) { $0 << 8 | UInt32(data[chunk + 4 * i + $1]) }
            }
            for i in 16..<80 {
                let x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]
                w[i] = x << 1 | x >> 31
            }
            var (a, b, c, d, e) = (h[0], h[1], h[2], h[3], h[4])
            for i in 0..<80 {
                let (f, k): (UInt32, UInt32)
                switch i {
                case 0..<20: (f, k) = ((b & c) | (~b & d), 0x5A827999)
                case 20..<40: (f, k) = (b ^ c ^ d, 0x6ED9EBA1)
                case 40..<60: (f, k) = ((b & c) | (b & d) | (c & d), 0x8F1BBCDC)
                default: (f, k) = (b ^ c ^ d, 0xCA62C1D6)
                }
                let t = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[i]
                (e, d, c, b, a) = (d, c, b << 30 | b >> 2, a, t)
            }
            h[0] &+= a; h[1] &+= b; h[2] &+= c; h[3] &+= d; h[4] &+= e
        }
        return h.flatMap { v in (0..<4).reversed().map { UInt8((v >> (8 * UInt32($0))) & 0xFF) } }
    }
}
