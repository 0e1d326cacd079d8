import NIOCore
@testable import Node
import Testing

/// The PROXY protocol header parser (HAProxy's `send-proxy` v1 and `send-proxy-v2`), in
/// process: split anywhere, refused when wrong.
struct ProxyHeaderTests {
    static func parse(_ bytes: [UInt8]) -> ProxyHeader {
        ProxyHeader.parse(ByteBuffer(bytes: bytes))
    }

    static let v1 = Array("PROXY TCP4 203.0.113.7 10.0.0.2 51234 9875\r\n".utf8)

    @Test func aVersionOneHeaderGivesTheClientsAddressAndLength() {
        guard case .header(let source, let length) = Self.parse(Self.v1 + Array("<XmlDoc/>".utf8)) else {
            Issue.record("not parsed: \(Self.parse(Self.v1))"); return
        }
        #expect(length == Self.v1.count)
        #expect(source?.ipAddress == "203.0.113.7")
        #expect(source?.port == 51234)
    }

    @Test func everyPrefixOfAHeaderNeedsMoreData() {
        for cut in 0..<Self.v1.count {
            #expect(Self.parse(Array(Self.v1[..<cut])) == .needMoreData, "cut at \(cut)")
        }
    }

    @Test func aVersionTwoHeaderGivesTheClientsAddress() {
        let signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
        // PROXY command, TCP over IPv4, 12 bytes of addresses.
        let header = signature + [0x21, 0x11, 0x00, 0x0C] + [198, 51, 100, 9] + [10, 0, 0, 2] + [0xC8, 0x1C] + [0x26, 0x9B]
        guard case .header(let source, let length) = Self.parse(header + [0x3C]) else { Issue.record("not parsed"); return }
        #expect(length == header.count)
        #expect(source?.ipAddress == "198.51.100.9")
        #expect(source?.port == 0xC81C)
        for cut in 0..<header.count {
            #expect(Self.parse(Array(header[..<cut])) == .needMoreData, "cut at \(cut)")
        }
    }

    @Test func anythingElseIsRefused() {
        for bad in ["<XmlDoc><Action>Ping</Action></XmlDoc>", "PROXY TCP4 1.2.3.4\r\n", "PROXY TCP9 1.2.3.4 5.6.7.8 1 2\r\n",
                    "PROXY TCP4 999.2.3.4 5.6.7.8 1 2\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 99999 2\r\n"] {
            guard case .invalid = Self.parse(Array(bad.utf8)) else {
                Issue.record("accepted: \(bad.debugDescription) → \(Self.parse(Array(bad.utf8)))"); continue
            }
        }
        // A v1 header must end within 107 bytes.
        guard case .invalid = Self.parse(Array("PROXY ".utf8) + [UInt8](repeating: 0x41, count: 200)) else {
            Issue.record("an endless v1 header was not refused"); return
        }
    }
}
