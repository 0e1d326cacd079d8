import ChorusTesting
import Foundation
import Testing

/// Issue 8, the smaller ones: a trickled frame is cut after the partial-frame deadline,
/// and the last `Error` before a server-side close reaches the client (flush, half-close,
/// then close: no reset while the client still has bytes in flight).
@Suite(.serialized)
struct ClosingTests {
    @Test func aFrameTrickledPastTheDeadlineIsCut() async throws {
        let node = try await InProcessNode.start { $0.partialFrameTimeout = .seconds(1) }
        defer { Task { await node.stop() } }
        try await onThreads(1) { _ in
            let bystander = try TestClient.accepted(port: node.port, name: "bystander")
            try bystander.login("bystander")
            let trickler = try TestClient.accepted(port: node.port, name: "trickler")
            // Complete frames sent slowly are fine: the deadline is per frame.
            for _ in 0..<3 {
                try trickler.sendRaw(Array(Request.ping.utf8) + [0])
                try trickler.expect("Pong")
                Thread.sleep(forTimeInterval: 0.4)
            }
            // A frame that never completes: one byte every 100 ms keeps the idle timer happy.
            let started = Date()
            var sent = 0
            let partial = Array("<XmlDoc><Action>Ping</Action><Parameters>".utf8)
            while !trickler.closedByPeer, Date().timeIntervalSince(started) < 10 {
                try? trickler.sendRaw([partial[sent % partial.count]])
                sent += 1
                if let frames = try? trickler.drainAvailable(), frames.contains(where: { $0.action == "Error" }) { break }
                Thread.sleep(forTimeInterval: 0.1)
            }
            let last = trickler.history.last { $0.action == "Error" }
            #expect(last?.reason == "Malformed message", "no Error for the trickled frame: \(trickler.history.map(\.raw))")
            try trickler.expectClosed()
            #expect(Date().timeIntervalSince(started) < 5)
            try bystander.call(Request.ping, "Pong")
        }
    }

    @Test func theLastErrorBeforeACloseIsDeliveredWhileTheClientStillSends() async throws {
        let node = try await InProcessNode.start()
        defer { Task { await node.stop() } }
        try await onThreads(1) { _ in
            for round in 0..<5 {
                let mallory = try TestClient.accepted(port: node.port, name: "mallory\(round)")
                // 11 malformed frames end the session; 200 more follow in the same write.
                let garbage = Array("<XmlDoc><Unclosed>".utf8) + [0]
                try mallory.sendRaw(Array(repeating: garbage, count: 211).flatMap { $0 })
                let frames = try mallory.expectClosed()
                #expect(frames.count == 11, "round \(round): \(frames.count) errors before the close")
                #expect(frames.allSatisfy { $0.action == "Error" && $0.reason == "Malformed message" })
                #expect(!mallory.resetByPeer, "round \(round): the node reset the connection")
            }
        }
    }

    @Test func messageTooLargeReachesAClientThatKeepsSending() async throws {
        let node = try await InProcessNode.start { $0.maxFrameBytes = 1024 }
        defer { Task { await node.stop() } }
        try await onThreads(1) { _ in
            let mallory = try TestClient.accepted(port: node.port, name: "mallory")
            try mallory.sendRaw([UInt8](repeating: 0x41, count: 2048) + [0] + Array(Request.ping.utf8) + [0])
            let frames = try mallory.expectClosed()
            #expect(frames.map(\.reason) == ["Message too large"])
            #expect(!mallory.resetByPeer)
        }
    }
}

/// Issue 8: the per-address connection limit is on by default (1000: a school behind one
/// NAT does not reach it; one address cannot take a node's 10,000 slots).
@Suite(.serialized)
struct DefaultAddressLimitTests {
    @Test func theThousandAndFirstConnectionFromOneAddressIsDenied() async throws {
        let node = try await InProcessNode.start()
        defer { Task { await node.stop() } }
        try await onThreads(1) { _ in
            var open: [TestClient] = []
            for index in 0..<1000 {
                open.append(try TestClient.accepted(port: node.port, name: "c\(index)"))
            }
            let extra = try TestClient(port: node.port, name: "extra")
            let response = try extra.expect("ConnectionResponse")
            #expect(response.result == "Denied")
            #expect(response.reason == "Server is full")
            try extra.expectClosed()
            open.removeLast().close()
            // A slot of this address is free again once the node has seen the close.
            let deadline = Date().addingTimeInterval(5)
            var admitted = false
            while !admitted, Date() < deadline {
                let retry = try TestClient(port: node.port, name: "retry")
                admitted = try retry.expect("ConnectionResponse").result == "Accepted"
                if !admitted { Thread.sleep(forTimeInterval: 0.05) } else { open.append(retry) }
            }
            #expect(admitted)
            withExtendedLifetime(open) {}
        }
    }
}
