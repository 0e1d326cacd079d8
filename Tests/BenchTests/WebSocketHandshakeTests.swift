import Testing
@testable import Bench

private func hex(_ bytes: [UInt8]) -> String {
    bytes.map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }.joined()
}

@Suite struct SHA1AndBase64Tests {
    /// FIPS 180-2 appendix A vectors, the empty message, and a message one byte short of a block
    /// boundary (padding spills into a second block).
    @Test func sha1KnownVectors() {
        #expect(hex(SHA1.hash(Array("abc".utf8))) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(hex(SHA1.hash([])) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(hex(SHA1.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
                == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        #expect(hex(SHA1.hash([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)))
                == "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
        #expect(hex(SHA1.hash([UInt8](repeating: UInt8(ascii: "a"), count: 63)))
                == "03f09f5b158a7a8cdad920bddc29b81c18a551f5")
    }

    /// RFC 4648 section 10.
    @Test func base64KnownVectors() {
        let cases = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in cases {
            #expect(Base64.encode(Array(plain.utf8)) == encoded, "\"\(plain)\"")
        }
        #expect(Base64.encode([0xFB, 0xFF, 0xBF]) == "+/+/")
    }
}

@Suite struct WebSocketHandshakeTests {
    /// The worked example of RFC 6455 1.3 and 4.2.2.
    static let sampleNonce = Array("the sample nonce".utf8)
    static let sampleKey = "dGhlIHNhbXBsZSBub25jZQ=="
    static let sampleAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

    static func response(accept: String = sampleAccept, status: String = "101 Switching Protocols",
                         upgrade: String? = "websocket", connection: String? = "Upgrade", extra: String = "") -> String {
        "HTTP/1.1 \(status)\r\n"
            + (upgrade.map { "Upgrade: \($0)\r\n" } ?? "")
            + (connection.map { "connection: \($0)\r\n" } ?? "")
            + "Sec-WebSocket-Accept: \(accept)\r\n" + extra + "\r\n"
    }

    @Test func acceptOfTheRFCExample() {
        let hs = WebSocketHandshake(keyBytes: Self.sampleNonce)
        #expect(hs.key == Self.sampleKey)
        #expect(WebSocketHandshake.accept(forKey: Self.sampleKey) == Self.sampleAccept)
    }

    @Test func requestCarriesTheUpgradeHeaders() {
        let request = WebSocketHandshake(keyBytes: Self.sampleNonce).request(host: "127.0.0.1:8080", path: "/ws")
        #expect(request.hasPrefix("GET /ws HTTP/1.1\r\n"))
        #expect(request.hasSuffix("\r\n\r\n"))
        for line in ["Host: 127.0.0.1:8080", "Upgrade: websocket", "Connection: Upgrade",
                     "Sec-WebSocket-Key: \(Self.sampleKey)", "Sec-WebSocket-Version: 13"] {
            #expect(request.contains("\r\n\(line)\r\n"), "\(line)")
        }
        #expect(!request.lowercased().contains("origin:"))
    }

    /// The head split after every byte, with the first WebSocket frame's bytes right behind it in
    /// the last read: the upgrade completes exactly at the blank line and says where the frames begin.
    @Test func headSplitAnywhereThenFrames() {
        let head = Array(Self.response().utf8)
        let frame: [UInt8] = [0x81, 0x03, 0x61, 0x62, 0x63]
        let all = head + frame
        for cut in 1..<head.count {
            var hs = WebSocketHandshake(keyBytes: Self.sampleNonce)
            let first = all[0..<cut].withUnsafeBytes { hs.feed($0) }
            #expect(first == .needMore, "cut \(cut)")
            let second = all[cut...].withUnsafeBytes { hs.feed($0) }
            #expect(second == .upgraded(consumed: head.count - cut), "cut \(cut)")
        }
        var whole = WebSocketHandshake(keyBytes: Self.sampleNonce)
        #expect(all.withUnsafeBytes { whole.feed($0) } == .upgraded(consumed: head.count))
    }

    @Test func refusals() {
        let bad: [(String, String)] = [
            (Self.response(accept: "AAAAAAAAAAAAAAAAAAAAAAAAAAA="), "Sec-WebSocket-Accept"),
            (Self.response(status: "403 Forbidden"), "Origin"),
            (Self.response(status: "404 Not Found"), "--ws-nodes"),
            (Self.response(status: "200 OK"), "refused"),
            (Self.response(upgrade: nil), "Upgrade: websocket"),
            (Self.response(upgrade: "h2c"), "Upgrade: websocket"),
            (Self.response(connection: nil), "Connection: Upgrade"),
            (Self.response(extra: "Sec-WebSocket-Extensions: permessage-deflate\r\n"), "extensions"),
            ("SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP response"),
        ]
        for (text, expected) in bad {
            var hs = WebSocketHandshake(keyBytes: Self.sampleNonce)
            let progress = Array(text.utf8).withUnsafeBytes { hs.feed($0) }
            guard case .failed(let why) = progress else {
                Issue.record("accepted: \(text.debugDescription)")
                continue
            }
            #expect(why.contains(expected), "\(why)")
        }
        // A token list in Connection is fine.
        var ok = WebSocketHandshake(keyBytes: Self.sampleNonce)
        let text = Self.response(connection: "keep-alive, Upgrade")
        #expect(Array(text.utf8).withUnsafeBytes { ok.feed($0) } == .upgraded(consumed: text.utf8.count))
    }

    @Test func endlessHeadIsRefused() {
        var hs = WebSocketHandshake(keyBytes: Self.sampleNonce)
        let line = Array("X-Filler: 0123456789012345678901234567890123456789\r\n".utf8)
        var progress = WebSocketHandshake.Progress.needMore
        var fed = 0
        while progress == .needMore && fed < 100_000 {
            progress = line.withUnsafeBytes { hs.feed($0) }
            fed += line.count
        }
        guard case .failed(let why) = progress else {
            Issue.record("still \(progress) after \(fed) bytes")
            return
        }
        #expect(why.contains("\(WebSocketHandshake.maxHeadBytes)"))
        #expect(fed <= WebSocketHandshake.maxHeadBytes + line.count)
    }
}
