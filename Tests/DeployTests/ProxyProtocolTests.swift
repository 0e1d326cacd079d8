import Foundation
import Testing

/// chorus-node --proxy-protocol, as HAProxy's send-proxy uses it: the node greets only after
/// the PROXY header, and the per-address limit counts the address the header claims. Every
/// test connects from 127.0.0.1, so each acceptance of a second or third connection also
/// shows that the limit does not count the TCP peer.
@Suite("PROXY protocol on a single node")
struct ProxyProtocolTests {
    static let accepted = "<Result>Accepted</Result>"
    static let denied = "<Result>Denied</Result><Reason>Server is full</Reason>"

    static func v1(_ source: String, port: Int) -> String {
        "PROXY TCP4 \(source) 127.0.0.1 \(port) 9875\r\n"
    }

    /// A PROXY protocol v2 header: PROXY command, TCP over IPv4.
    static func v2(_ source: [UInt8], port: UInt16) -> [UInt8] {
        let signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
        let destination: [UInt8] = [127, 0, 0, 1]
        let block = source + destination + [UInt8(port >> 8), UInt8(port & 0xFF), 0x26, 0x93]
        return signature + [0x21, 0x11, 0x00, UInt8(block.count)] + block
    }

    /// The LOCAL command of v2 (what health checkers may send): no address block.
    static let v2Local: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x20, 0x00, 0x00, 0x00]

    func greeting(_ client: TestClient) async throws -> String {
        try await client.next(action: "ConnectionResponse")
    }

    @Test("v1 header: greeted after the header, limit per claimed address")
    func v1Header() async throws {
        let node = try await SingleNode.start(["--proxy-protocol", "--max-connections-per-ip", "1"])
        do {
            let first = try await TestClient.connect(port: node.port, label: "first")
            // Nothing before the header: the node waits for it.
            try await Task.sleep(for: .milliseconds(300))
            #expect(first.inbox.pendingFrames == 0)
            #expect(!first.inbox.isClosed)
            try await first.send(text: Self.v1("203.0.113.7", port: 5555))
            #expect(try await greeting(first).contains(Self.accepted))

            let sameAddress = try await TestClient.connect(port: node.port, label: "same address")
            try await sameAddress.send(text: Self.v1("203.0.113.7", port: 5556))
            #expect(try await greeting(sameAddress).contains(Self.denied))
            #expect(await sameAddress.waitClosed())

            let otherAddress = try await TestClient.connect(port: node.port, label: "other address")
            try await otherAddress.send(text: Self.v1("203.0.113.8", port: 5557))
            #expect(try await greeting(otherAddress).contains(Self.accepted))

            // The first session still works.
            try await first.request("Ping")
            _ = try await first.next(action: "Pong")
            #expect(!first.inbox.isClosed)
            for client in [first, sameAddress, otherAddress] { client.close() }
        } catch {
            await node.stop()
            throw error
        }
        await node.stop()
    }

    @Test("v2 binary header works the same, and shares the limit with v1")
    func v2Header() async throws {
        let node = try await SingleNode.start(["--proxy-protocol", "--max-connections-per-ip", "1"])
        do {
            let first = try await TestClient.connect(port: node.port, label: "v2 first")
            try await first.send(bytes: Self.v2([198, 51, 100, 7], port: 40000))
            #expect(try await greeting(first).contains(Self.accepted))

            let sameAddress = try await TestClient.connect(port: node.port, label: "v2 same address")
            try await sameAddress.send(bytes: Self.v2([198, 51, 100, 7], port: 40001))
            #expect(try await greeting(sameAddress).contains(Self.denied))
            #expect(await sameAddress.waitClosed())

            // The same client address announced in a v1 header is the same client.
            let sameAddressV1 = try await TestClient.connect(port: node.port, label: "v1 same address")
            try await sameAddressV1.send(text: Self.v1("198.51.100.7", port: 40002))
            #expect(try await greeting(sameAddressV1).contains(Self.denied))

            let otherAddress = try await TestClient.connect(port: node.port, label: "v2 other address")
            try await otherAddress.send(bytes: Self.v2([198, 51, 100, 8], port: 40003))
            #expect(try await greeting(otherAddress).contains(Self.accepted))

            // LOCAL (no address): the connection's own address, 127.0.0.1, applies.
            let local = try await TestClient.connect(port: node.port, label: "v2 LOCAL")
            try await local.send(bytes: Self.v2Local)
            #expect(try await greeting(local).contains(Self.accepted))
            for client in [first, sameAddress, sameAddressV1, otherAddress, local] { client.close() }
        } catch {
            await node.stop()
            throw error
        }
        await node.stop()
    }

    @Test("bytes after the header in the same packet are the client's first frame")
    func headerAndFrameTogether() async throws {
        let node = try await SingleNode.start(["--proxy-protocol"])
        do {
            let client = try await TestClient.connect(port: node.port)
            try await client.send(text: Self.v1("192.0.2.1", port: 1234) + "<XmlDoc><Action>Ping</Action><Parameters/></XmlDoc>\0")
            #expect(try await greeting(client).contains(Self.accepted))
            _ = try await client.next(action: "Pong")
            client.close()
        } catch {
            await node.stop()
            throw error
        }
        await node.stop()
    }

    @Test("a connection without a header is closed without being served")
    func noHeader() async throws {
        let node = try await SingleNode.start(["--proxy-protocol", "--max-connections-per-ip", "1"])
        do {
            let client = try await TestClient.connect(port: node.port, label: "no header")
            try await client.request("Login", "<Name>mallory</Name><Password></Password><UserVariables/>")
            #expect(await client.waitClosed(timeout: .seconds(5)))
            #expect(client.inbox.pendingFrames == 0, "the node answered a connection without a PROXY header")

            // It took no slot: a proper connection is still accepted.
            let proper = try await TestClient.connect(port: node.port, label: "proper")
            try await proper.send(text: Self.v1("127.0.0.1", port: 1111))
            #expect(try await greeting(proper).contains(Self.accepted))
            proper.close()
        } catch {
            await node.stop()
            throw error
        }
        await node.stop()
    }
}
