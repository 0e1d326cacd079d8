import ChorusTesting
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

    func greeting(_ client: TestClient) throws -> String {
        try client.next(action: "ConnectionResponse").raw
    }

    @Test("v1 header: greeted after the header, limit per claimed address")
    func v1Header() async throws {
        let node = try await SingleNode.start(["--proxy-protocol", "--max-connections-per-ip", "1"])
        do {
            let first = try TestClient(port: node.port, name: "first")
            // Nothing before the header: the node waits for it.
            #expect(try first.collect(for: 0.3).isEmpty)
            #expect(!first.closedByPeer)
            try first.send(text: Self.v1("203.0.113.7", port: 5555))
            #expect(try greeting(first).contains(Self.accepted))

            let sameAddress = try TestClient(port: node.port, name: "same address")
            try sameAddress.send(text: Self.v1("203.0.113.7", port: 5556))
            #expect(try greeting(sameAddress).contains(Self.denied))
            #expect(sameAddress.waitClosed())

            let otherAddress = try TestClient(port: node.port, name: "other address")
            try otherAddress.send(text: Self.v1("203.0.113.8", port: 5557))
            #expect(try greeting(otherAddress).contains(Self.accepted))

            // The first session still works.
            try first.request("Ping")
            _ = try first.next(action: "Pong")
            _ = try first.drainAvailable()
            #expect(!first.closedByPeer)
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
            let first = try TestClient(port: node.port, name: "v2 first")
            try first.sendRaw(Self.v2([198, 51, 100, 7], port: 40000))
            #expect(try greeting(first).contains(Self.accepted))

            let sameAddress = try TestClient(port: node.port, name: "v2 same address")
            try sameAddress.sendRaw(Self.v2([198, 51, 100, 7], port: 40001))
            #expect(try greeting(sameAddress).contains(Self.denied))
            #expect(sameAddress.waitClosed())

            // The same client address announced in a v1 header is the same client.
            let sameAddressV1 = try TestClient(port: node.port, name: "v1 same address")
            try sameAddressV1.send(text: Self.v1("198.51.100.7", port: 40002))
            #expect(try greeting(sameAddressV1).contains(Self.denied))

            let otherAddress = try TestClient(port: node.port, name: "v2 other address")
            try otherAddress.sendRaw(Self.v2([198, 51, 100, 8], port: 40003))
            #expect(try greeting(otherAddress).contains(Self.accepted))

            // LOCAL (no address): the connection's own address, 127.0.0.1, applies.
            let local = try TestClient(port: node.port, name: "v2 LOCAL")
            try local.sendRaw(Self.v2Local)
            #expect(try greeting(local).contains(Self.accepted))
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
            let client = try TestClient(port: node.port)
            try client.send(text: Self.v1("192.0.2.1", port: 1234) + "<XmlDoc><Action>Ping</Action><Parameters/></XmlDoc>\0")
            #expect(try greeting(client).contains(Self.accepted))
            _ = try client.next(action: "Pong")
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
            let client = try TestClient(port: node.port, name: "no header")
            try client.request("Login", "<Name>mallory</Name><Password></Password><UserVariables/>")
            let framesBeforeClose = try? client.expectClosed(timeout: 5)
            #expect(framesBeforeClose != nil)
            #expect(framesBeforeClose?.isEmpty == true, "the node answered a connection without a PROXY header")

            // It took no slot: a proper connection is still accepted.
            let proper = try TestClient(port: node.port, name: "proper")
            try proper.send(text: Self.v1("127.0.0.1", port: 1111))
            #expect(try greeting(proper).contains(Self.accepted))
            proper.close()
        } catch {
            await node.stop()
            throw error
        }
        await node.stop()
    }
}
