import ChorusTesting
import Foundation
import Testing

/// Issue 8 on two real nodes sharing one redis-server: what hostile users did to the
/// whole cluster no longer works.
@Suite("Hostile users on a cluster", .serialized, .nodeGate)
struct HostileClusterTests {
    @Test("Rooms named like another room's keys (X:m, then X) break nothing, on any node")
    func roomsNamedLikeKeysBreakNothing() async throws {
        try await NodeCluster.with(nodes: 2) { cluster in
            let u1 = try cluster.loggedIn(0, "u1")
            try u1.createRoom("X:m")
            let u2 = try cluster.loggedIn(1, "u2")
            try u2.createRoom("X")
            var creators = [u1, u2]
            for (index, suffix) in [":members", ":m:m", "chorus:", "room:X"].enumerated() {
                let creator = try cluster.loggedIn(index % 2, "c\(index)")
                try creator.createRoom("X" + suffix)
                creators.append(creator)
            }
            // Logins and listings keep working on both nodes.
            for index in 0..<2 {
                let late = try cluster.client(index, "late\(index)")
                let list = try late.login("late\(index)")
                #expect(Set(list.rooms.map(\.name)) == ["Lobby", "X:m", "X", "X:members", "X:m:m", "Xchorus:", "Xroom:X"])
                let rooms = try late.call(Request.getRoomsInZone("Chat"), "GetRoomsInZone")
                #expect(rooms.rooms.first { $0.name == "X:m" }?.users == 1)
                #expect(rooms.rooms.first { $0.name == "Xroom:X" }?.users == 1)
                try late.joinRoom("X:m")
            }
            // Everyone leaves (the late clients closed at the end of their loop): no ghost room stays.
            for client in creators { client.close() }
            let watcher = try cluster.loggedIn(0, "watcher")
            try #require(await eventually {
                let rooms = (try? watcher.call(Request.getRoomsInZone("Chat"), "GetRoomsInZone").rooms.map(\.name)) ?? []
                return rooms == ["Lobby"]
            }, "the rooms are gone")
        }
    }

    @Test("Ten wrong account passwords on two nodes lock the name everywhere: Too many attempts")
    func accountLockoutIsClusterWide() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-accounts-\(UUID().uuidString)").path
        try "alice:secret\nbob:hunter2\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await NodeCluster.with(nodes: 2, arguments: ["--accounts", path]) { cluster in
            // Five wrong passwords from a connection on each node (each answered at once).
            for index in 0..<2 {
                let guesser = try cluster.client(index, "guesser")
                for attempt in 0..<5 {
                    try guesser.send(Request.login("alice", password: "guess\(index)-\(attempt)"))
                    try guesser.expect("LoginResponse", result: "Denied", reason: "Incorrect password")
                }
            }
            // Now even the right password is refused, on either node; another name is not.
            for index in 0..<2 {
                let owner = try cluster.client(index, "owner")
                try owner.send(Request.login("alice", password: "secret"))
                try owner.expect("LoginResponse", result: "Denied", reason: "Too many attempts")
                try owner.send(Request.login("bob", password: "hunter2"))
                try owner.expect("RoomList")
                try owner.expect("LoginResponse", result: "Accepted")
            }
        }
    }

    @Test("Look-alike names cannot log in while the real user is online on another node")
    func lookAlikesAreRefused() async throws {
        try await NodeCluster.with(nodes: 2) { cluster in
            let alice = try cluster.loggedIn(0, "alice")
            defer { withExtendedLifetime(alice) {} }
            let lookAlikes = ["\u{0430}lice", "\u{FF41}\u{FF4C}\u{FF49}\u{FF43}\u{FF45}", "\u{1D41A}\u{1D425}\u{1D422}\u{1D41C}\u{1D41E}",
                              "al\u{0131}ce", "ALICE", "Alice"]
            for name in lookAlikes {
                let mallory = try cluster.client(1, "mallory")
                try mallory.send(Request.login(name))
                let answer = try mallory.expect("LoginResponse", result: "Denied")
                #expect(answer.reason == "Name is already in use", "\(name.unicodeScalars.map { String($0.value, radix: 16) }): \(answer.raw)")
            }
            let invisible = ["alice\u{034F}", "alice\u{180B}", "alice\u{17B4}", "ali\u{3164}ce", "\u{3164}", "\u{3164}\u{3164}"]
            for name in invisible {
                let mallory = try cluster.client(1, "mallory")
                try mallory.send(Request.login(name))
                let answer = try mallory.expect("LoginResponse", result: "Denied")
                #expect(answer.reason == "Name contains invalid characters" || answer.reason == "Name is required",
                        "\(name.unicodeScalars.map { String($0.value, radix: 16) }): \(answer.raw)")
            }
            // Mixed scripts never log in, even when nobody holds the look-alike.
            let mallory = try cluster.client(1, "mallory")
            try mallory.send(Request.login("b\u{03BF}b"))
            try mallory.expect("LoginResponse", result: "Denied", reason: "Name contains invalid characters")
            // One letter and 14,000 combining marks is not a 20-character name.
            try mallory.send(Request.login("a" + String(repeating: "\u{0301}", count: 14_000)))
            try mallory.expect("LoginResponse", result: "Denied", reason: "Name is too long")
            // Real names of other scripts still work.
            for (index, name) in ["\u{5C71}\u{7530}\u{30BF}\u{30ED}\u{30A6}", "\u{0905}\u{0928}\u{093F}\u{0932}", "Zo\u{00EB}"].enumerated() {
                let user = try cluster.loggedIn(index % 2, name)
                user.close()
            }
        }
    }
}
