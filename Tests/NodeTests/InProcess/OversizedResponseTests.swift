import ChorusTesting
import Foundation
import Testing

/// Issue 8: "Eighteen users can lock a zone" and "one request kicks anyone". A response or
/// push larger than the outbound bound never counts as slow reading by itself
/// (PROTOCOL.md section 7), descriptions are capped, and a private message reaches each
/// recipient once.
@Suite(.serialized)
struct OversizedResponseTests {
    @Test func aRoomListLargerThanTheOutboundBoundDoesNotCutANewLogin() async throws {
        let node = try await InProcessNode.start { $0.maxOutboundBytes = 4096 }
        defer { Task { await node.stop() } }
        try await onThreads(1) { _ in
            let description = String(repeating: "d", count: 1000)
            var creators: [TestClient] = []
            for index in 0..<18 {
                let creator = try TestClient.accepted(port: node.port, name: "c\(index)")
                try creator.login("creator\(index)")
                try creator.createRoom("Room\(index)", description: description)
                creators.append(creator)
            }
            // 18 rooms x 1 KB: the RoomList is four times the bound. A small receive buffer
            // keeps it in the node's outbound buffer until the client reads it.
            let newcomer = try TestClient.accepted(port: node.port, name: "newcomer", receiveBuffer: 4096)
            try newcomer.send(Request.login("newcomer"))
            Thread.sleep(forTimeInterval: 0.3) // the node queues the whole list before the client reads
            let list = try newcomer.expect("RoomList")
            #expect(list.rooms.count == 18)
            #expect(list.rooms.allSatisfy { $0.roomDescription == description })
            try newcomer.expect("LoginResponse", result: "Accepted")
            try newcomer.call(Request.ping, "Pong")
            try newcomer.joinRoom("Room0")
            withExtendedLifetime(creators) {}
        }
    }

    @Test func aJoinRoomListingLargeUserVariablesDoesNotCutTheJoiner() async throws {
        let node = try await InProcessNode.start { $0.maxOutboundBytes = 4096 }
        defer { Task { await node.stop() } }
        try await onThreads(1) { _ in
            let big = String(repeating: "v", count: 3000)
            let host = try TestClient.accepted(port: node.port, name: "host")
            try host.login("host")
            try host.createRoom("Big")
            var members = [host]
            for index in 0..<16 {
                let member = try TestClient.accepted(port: node.port, name: "m\(index)")
                try member.send(Request.login("member\(index)", variables: [("blob", big)]))
                try member.expect("RoomList")
                try member.expect("LoginResponse", result: "Accepted")
                try member.joinRoom("Big")
                members.append(member)
            }
            let joiner = try TestClient.accepted(port: node.port, name: "joiner", receiveBuffer: 4096)
            try joiner.login("joiner")
            try joiner.send(Request.joinRoom("Big"))
            Thread.sleep(forTimeInterval: 0.3)
            let joined = try joiner.expect("JoinRoom", result: "Success")
            #expect(joined.users.count == 18)
            try joiner.call(Request.ping, "Pong")
            withExtendedLifetime(members) {}
        }
    }

    @Test func aDescriptionOverTheLimitIsRefused() async throws {
        let node = try await InProcessNode.start { $0.limits.maxDescriptionLength = 1024 }
        defer { Task { await node.stop() } }
        try await onThreads(1) { _ in
            let client = try TestClient.accepted(port: node.port, name: "c")
            try client.login("creator")
            try client.send(Request.createRoom("Long", description: String(repeating: "x", count: 1025)))
            try client.expect("CreateRoom", result: "Failure", reason: "Description is too long")
            try client.createRoom("Fits", description: String(repeating: "x", count: 1024))
        }
    }

    @Test func aPrivateMessageNamingTheVictimThousandsOfTimesDeliversOneCopy() async throws {
        let node = try await InProcessNode.start { $0.maxOutboundBytes = 1 << 20 }
        defer { Task { await node.stop() } }
        try await onThreads(1) { _ in
            let victim = try TestClient.accepted(port: node.port, name: "victim", receiveBuffer: 8192)
            try victim.login("victim")
            let mallory = try TestClient.accepted(port: node.port, name: "mallory")
            try mallory.login("mallory")
            let text = String(repeating: "k", count: 3000)
            let spellings = ["victim", "VICTIM", "Victim"]
            try mallory.send(Request.privateMessage(to: (0..<3000).map { spellings[$0 % 3] }, text))
            try mallory.call(Request.ping, "Pong")
            Thread.sleep(forTimeInterval: 0.3)
            let message = try victim.expect("SendPrivateMessage")
            #expect(message.message == text)
            #expect(message.sender == "mallory")
            try victim.expectNothing(within: 0.5)
            try victim.call(Request.ping, "Pong")
        }
    }

    @Test func moreDistinctRecipientsThanTheLimitGetTooManyRecipientsAndNothingIsSent() async throws {
        let node = try await InProcessNode.start { $0.limits.maxPrivateRecipients = 3 }
        defer { Task { await node.stop() } }
        try await onThreads(1) { _ in
            let bob = try TestClient.accepted(port: node.port, name: "bob")
            try bob.login("bob")
            let alice = try TestClient.accepted(port: node.port, name: "alice")
            try alice.login("alice")
            try alice.send(Request.privateMessage(to: ["bob", "carol", "dave", "erin"], "hi"))
            try alice.expectError("Too many recipients", requestAction: "SendPrivateMessage")
            try bob.expectNothing(within: 0.3)
            try alice.send(Request.privateMessage(to: ["bob", "carol", "BOB"], "hi"))
            #expect(try bob.expect("SendPrivateMessage").message == "hi")
            let missing = try alice.expectError("User not found", requestAction: "SendPrivateMessage")
            #expect(missing.param("Detail") == "carol")
            try alice.call(Request.ping, "Pong")
            try bob.expectNothing(within: 0.3)
        }
    }
}
