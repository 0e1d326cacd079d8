import ChorusTesting
import Foundation
import Testing

/// PROTOCOL.md section 7: flooding and slow readers.
@Suite("Fair use", .nodeGate)
struct FairUseTests {
    @Test("Flooding: 40 messages at once with the defaults (10/s, burst 20) → some Error Flooding, at most 21 delivered")
    func flooding() throws {
        let node = try NodeProcess.start(["--rooms", "Lobby"])
        let alice = try TestClient(node, name: "Alice")
        try alice.login("Alice")
        try alice.joinRoom("Lobby")
        let bob = try TestClient(node, name: "Bob")
        try bob.login("Bob")
        try bob.joinRoom("Lobby")
        try alice.expect("UpdateUserList", minor: "UserJoined")

        var batch: [UInt8] = []
        for index in 0..<40 { batch += Array(Request.publicMessage("flood \(index)").utf8) + [0] }
        try alice.sendRaw(batch)

        var delivered: [String] = []
        var refused = 0
        for _ in 0..<40 {
            let frame = try alice.next()
            switch frame.action {
            case "SendPublicMessage":
                #expect(frame.sender == "Alice")
                delivered.append(frame.message ?? "")
            case "Error":
                #expect(frame.reason == "Flooding", "\(frame.raw)")
                #expect(frame.param("RequestAction") == "SendPublicMessage", "\(frame.raw)")
                refused += 1
            default:
                Issue.record("unexpected frame: \(frame.raw)")
            }
        }
        #expect(refused > 0, "no Flooding error for 40 messages at once")
        #expect(delivered.count <= 21, "\(delivered.count) messages delivered")
        #expect(delivered.count >= 20, "the burst of 20 should go through, \(delivered.count) did")
        // The first messages are the ones delivered, in order.
        #expect(delivered == (0..<delivered.count).map { "flood \($0)" })

        // Bob receives exactly the delivered messages.
        var bobReceived: [String] = []
        for _ in delivered { bobReceived.append(try bob.expect("SendPublicMessage").message ?? "") }
        #expect(bobReceived == delivered)
        try bob.expectNothing()
    }

    @Test("Flooding applies to private messages too, and the budget refills")
    func floodingPrivateAndRefill() throws {
        let node = try NodeProcess.start(["--flood-rate", "5", "--flood-burst", "3"])
        let alice = try TestClient(node, name: "Alice")
        try alice.login("Alice")
        let bob = try TestClient(node, name: "Bob")
        try bob.login("Bob")
        var batch: [UInt8] = []
        for index in 0..<6 { batch += Array(Request.privateMessage(to: ["Bob"], "pm \(index)").utf8) + [0] }
        try alice.sendRaw(batch)
        var refused = 0
        for _ in 0..<3 {
            _ = try alice.expectError("Flooding", requestAction: "SendPrivateMessage")
            refused += 1
        }
        #expect(refused == 3)
        for index in 0..<3 { #expect(try bob.expect("SendPrivateMessage").message == "pm \(index)") }
        try bob.expectNothing(within: 0.3)
        // After a second (5/s), messages go through again.
        let deadline = Date().addingTimeInterval(5)
        var through = false
        while !through, Date() < deadline {
            try alice.send(Request.privateMessage(to: ["Bob"], "later"))
            if (try? bob.expect("SendPrivateMessage", timeout: 0.5))?.message == "later" {
                through = true
            } else {
                _ = try alice.expectError("Flooding", requestAction: "SendPrivateMessage")
            }
        }
        #expect(through, "no message went through after waiting")
    }

    @Test("Slow reader: a member that never reads is disconnected; a reading member loses nothing",
          arguments: [(ClientTransport.tcp, ClientTransport.tcp), (.ws, .ws), (.xmlsocket, .xmlsocket)])
    func slowReader(readerTransport: ClientTransport, slothTransport: ClientTransport) throws {
        let node = try NodeProcess.start([
            "--rooms", "Lobby", "--flood-rate", "1000000", "--flood-burst", "1000000", "--max-outbound-bytes", "65536",
        ], web: true)
        let flooder = try TestClient(node, name: "Flooder")
        try flooder.login("Flooder")
        try flooder.joinRoom("Lobby")
        let reader = try TestClient(node, name: "Reader", transport: readerTransport)
        try reader.login("Reader")
        try reader.joinRoom("Lobby")
        let sloth = try TestClient(node, name: "Sloth", receiveBuffer: 4096, transport: slothTransport)
        try sloth.login("Sloth")
        try sloth.joinRoom("Lobby")
        // From here on, Sloth never reads.
        try flooder.waitFor("UserJoined Sloth") { $0.action == "UpdateUserList" && $0.userName == "Sloth" }
        try reader.waitFor("UserJoined Sloth") { $0.action == "UpdateUserList" && $0.userName == "Sloth" }

        let padding = String(repeating: "x", count: 3900)
        func text(_ index: Int) -> String { "m\(index)|\(padding)" }
        var readerTexts: [String] = []
        var flooderTexts: [String] = []
        var slothLeftAt: Int?
        func absorb(_ frames: [Frame], into texts: inout [String], watchLeave: Bool, sent: Int) {
            for frame in frames {
                if frame.action == "SendPublicMessage" {
                    texts.append(frame.message ?? "")
                } else if frame.action == "UpdateUserList", frame.minorAction == "UserLeft" {
                    #expect(frame.userName == "Sloth", "unexpected UserLeft: \(frame.raw)")
                    if watchLeave, slothLeftAt == nil { slothLeftAt = sent }
                } else if !frame.isCountUpdate {
                    Issue.record("unexpected frame: \(String(frame.raw.prefix(300)))")
                }
            }
        }

        let limit = 6000  // 6000 × 4 KB = 24 MB: far more than any socket buffers hold
        var sent = 0
        while sent < limit {
            try flooder.send(Request.publicMessage(text(sent)))
            sent += 1
            absorb(try flooder.drainAvailable(), into: &flooderTexts, watchLeave: false, sent: sent)
            absorb(try reader.drainAvailable(), into: &readerTexts, watchLeave: true, sent: sent)
            if let at = slothLeftAt, sent >= at + 50 { break }
        }
        #expect(slothLeftAt != nil, "Sloth was not disconnected after \(sent) messages of 4 KB")
        try flooder.send(Request.publicMessage("END"))
        sent += 1
        for (client, texts) in [(reader, readerTexts), (flooder, flooderTexts)] {
            var texts = texts
            while texts.last != "END" {
                let frame = try client.next(timeout: 10)
                absorb([frame], into: &texts, watchLeave: false, sent: sent)
            }
            let expected = (0..<(sent - 1)).map(text) + ["END"]
            #expect(texts.count == expected.count, "\(client.name) received \(texts.count) of \(expected.count) messages")
            #expect(texts == expected, "\(client.name) lost or reordered messages")
        }
        #expect(flooder.history.contains { $0.action == "UpdateUserList" && $0.minorAction == "UserLeft" && $0.userName == "Sloth" },
                "the flooder did not see Sloth leave")
        try sloth.expectClosed(timeout: 10)
    }
}
