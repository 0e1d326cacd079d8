import ChorusTesting
import Foundation
import Testing

/// PROTOCOL.md section 5, Moderation, over real sockets on three real nodes behind the
/// PROXY protocol (each client claims its own address): a moderator on node 1 clears users
/// of node 2 out of a busy room; the ban holds on node 3, survives node 1's restart, is
/// lifted by Unban; a ban expires on time; the moderator's password never reaches a client.
@Suite("Moderation across three nodes", .serialized, .nodeGate)
struct ModerationClusterTests {
    static let password = "m0d-pa55:word"

    /// A node flag set: moderators from a temporary file, one ban minute = 1 s, PROXY headers.
    static func arguments() throws -> [String] {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-moderators-\(UUID().uuidString)")
        try "# moderators of the test\nMod:\(password)\n".write(to: file, atomically: true, encoding: .utf8)
        return ["--moderators", file.path, "--ban-minute-seconds", "1", "--proxy-protocol"]
    }

    /// A client of node `index` whose PROXY header claims `address`; returns it with the
    /// `ConnectionResponse` it got.
    static func connect(_ cluster: NodeCluster, _ index: Int, _ name: String, from address: String,
                        sourceLocation: SourceLocation = #_sourceLocation) throws -> (TestClient, Frame) {
        let client = try TestClient(port: cluster[index].port, name: "\(name)@n\(index + 1)")
        try client.send(text: "PROXY TCP4 \(address) 127.0.0.1 \(client.localPort ?? 1) \(cluster[index].port)\r\n")
        return (client, try client.expect("ConnectionResponse", sourceLocation: sourceLocation))
    }

    static func user(_ cluster: NodeCluster, _ index: Int, _ name: String, from address: String,
                     sourceLocation: SourceLocation = #_sourceLocation) throws -> TestClient {
        let (client, greeting) = try connect(cluster, index, name, from: address, sourceLocation: sourceLocation)
        #expect(greeting.result == "Accepted", "\(greeting.raw)", sourceLocation: sourceLocation)
        try client.login(name, sourceLocation: sourceLocation)
        return client
    }

    static func moderator(_ cluster: NodeCluster, _ index: Int, sourceLocation: SourceLocation = #_sourceLocation) throws -> TestClient {
        let (client, greeting) = try connect(cluster, index, "Mod", from: "192.0.2.1", sourceLocation: sourceLocation)
        #expect(greeting.result == "Accepted", sourceLocation: sourceLocation)
        try client.send(Request.envelope("AdminLogin", "<Name>Mod</Name><Password>\(Request.escape(password))</Password>"))
        #expect(try client.next(sourceLocation: sourceLocation).action == "RoomList", sourceLocation: sourceLocation)
        try client.expect("LoginResponse", result: "Accepted", sourceLocation: sourceLocation)
        return client
    }

    static func command(_ minor: String, _ user: String, reason: String = "", expires: String? = nil, address: Bool = false) -> String {
        Request.envelope("ModeratorCommand", "<MinorAction>\(minor)</MinorAction><UserName>\(user)</UserName><Reason>\(reason)</Reason>"
                         + (expires.map { "<Expires>\($0)</Expires>" } ?? "") + (address ? "<Address>true</Address>" : ""))
    }

    @Test("Kick and ban a user of another node in a busy room; the ban holds everywhere, survives a restart, is lifted")
    func kickBanUnbanAcrossNodes() async throws {
        try await NodeCluster.with(nodes: 3, arguments: Self.arguments()) { cluster in
            var everyone: [TestClient] = []
            defer { for client in everyone { client.close() } }
            let mod = try Self.moderator(cluster, 0)
            let bob = try Self.user(cluster, 1, "bob", from: "203.0.113.7")
            let carol = try Self.user(cluster, 1, "carol", from: "198.51.100.2")
            let dave = try Self.user(cluster, 2, "dave", from: "198.51.100.3")
            everyone += [mod, bob, carol, dave]
            try bob.createRoom("Busy")
            for (member, name) in [(carol, "carol"), (dave, "dave")] {
                try member.call(Request.joinRoom("Busy"), "JoinRoom")
                try member.send(Request.publicMessage("hi from \(name)"))
            }
            // The moderator shows as one in every user list, on every node.
            let join = try mod.call(Request.joinRoom("Busy"), "JoinRoom")
            #expect(join.users.map(\.name) == ["bob", "carol", "dave", "Mod"])
            #expect(join.users.map(\.moderator) == ["false", "false", "false", "true"])
            for member in [bob, carol, dave] {
                let pushed = try member.waitForUserListChange("UserJoined", "Mod")
                #expect(pushed.raw.contains(#"<User Moderator="true"><Name>Mod</Name>"#), "\(pushed.raw)")
            }
            // The name is reserved while the file lists it.
            let (impostor, _) = try Self.connect(cluster, 2, "impostor", from: "198.51.100.9")
            everyone.append(impostor)
            try impostor.expectLoginDenial(as: "MOD", reason: "Name is already in use")
            try impostor.send(Request.envelope("AdminLogin", "<Name>Mod</Name><Password>guess</Password>"))
            try impostor.expect("LoginResponse", result: "Denied", reason: "Incorrect password")

            // A user who is not a moderator: Not allowed, and nothing happens.
            try carol.send(Self.command("Kick", "dave"))
            try carol.expectError("Not allowed", requestAction: "ModeratorCommand")
            try mod.send(Self.command("Kick", "nobody"))
            try mod.expectError("User not found", requestAction: "ModeratorCommand")

            // Kick carol (node 2) from node 1: her notice, then she is gone from the room.
            let started = Date()
            try mod.send(Self.command("Kick", "CAROL", reason: "spam &amp; &lt;eggs&gt;"))
            let kicked = try carol.next(action: "Kicked")
            #expect(kicked.raw.contains("<Parameters><Reason>spam &amp; &lt;eggs&gt;</Reason><Moderator>Mod</Moderator></Parameters>"),
                    "\(kicked.raw)")
            #expect(carol.waitClosed())
            #expect(Date().timeIntervalSince(started) < 3, "cleared within a second or so")
            try mod.next(action: "ModeratorCommand", containing: ["<Result>Success</Result>"])
            // The leave may reach the moderator before or after the command's answer.
            for member in [bob, dave, mod] {
                try member.waitForOrSeen("UserLeft carol") { $0.action == "UpdateUserList" && $0.minorAction == "UserLeft" && $0.userName == "carol" }
            }
            let carolAgain = try Self.user(cluster, 2, "carol", from: "198.51.100.2")
            everyone.append(carolAgain)

            // Ban bob (node 2) with his address, until Unban.
            try mod.send(Self.command("Ban", "bob", reason: "enough", expires: "-1", address: true))
            let banned = try bob.next(action: "Banned")
            #expect(banned.raw.contains("<Parameters><Reason>enough</Reason><Moderator>Mod</Moderator><Expires>-1</Expires></Parameters>"),
                    "\(banned.raw)")
            #expect(bob.waitClosed())
            try mod.next(action: "ModeratorCommand", containing: ["<Result>Success</Result>"])
            // The leave may reach the moderator before or after the command's answer.
            for member in [dave, mod] {
                try member.waitForOrSeen("UserLeft bob") { $0.action == "UpdateUserList" && $0.minorAction == "UserLeft" && $0.userName == "bob" }
            }

            // The ban holds on node 3, for the name and the address.
            func expectBanned(sourceLocation: SourceLocation = #_sourceLocation) throws {
                let (fromAddress, greeting) = try Self.connect(cluster, 2, "bob's address", from: "203.0.113.7", sourceLocation: sourceLocation)
                everyone.append(fromAddress)
                #expect(greeting.raw.contains("<Result>Denied</Result><Reason>Address is banned</Reason>"), "\(greeting.raw)",
                        sourceLocation: sourceLocation)
                #expect(fromAddress.waitClosed(), sourceLocation: sourceLocation)
                let (elsewhere, _) = try Self.connect(cluster, 2, "bob elsewhere", from: "198.51.100.77", sourceLocation: sourceLocation)
                everyone.append(elsewhere)
                try elsewhere.expectLoginDenial(as: "Bob", reason: "Name is banned", sourceLocation: sourceLocation)
            }
            try expectBanned()

            // Node 1, which issued the ban, restarts: the ban stays.
            try cluster.restart(0)
            try expectBanned()

            // Unban from the restarted node 1 lifts both.
            let mod2 = try Self.moderator(cluster, 0)
            everyone.append(mod2)
            try mod2.send(Self.command("Unban", "BOB"))
            try mod2.next(action: "ModeratorCommand", containing: ["<Result>Success</Result>"])
            try mod2.send(Self.command("Unban", "bob"))
            try mod2.expectError("User not found", requestAction: "ModeratorCommand")
            let bobAgain = try Self.user(cluster, 2, "bob", from: "203.0.113.7")
            everyone.append(bobAgain)

            // The moderator's password never reached any client.
            for client in everyone {
                for frame in client.history {
                    #expect(!frame.raw.contains(Self.password) && !frame.raw.contains(Request.escape(Self.password)),
                            "\(client.name) received the moderator's password: \(frame.raw)")
                }
            }
        }
    }

    @Test("A ban expires on time (Expires in minutes; one minute is 1 s here) and is a Redis key with that TTL")
    func aBanExpires() async throws {
        try await NodeCluster.with(nodes: 2, arguments: Self.arguments()) { cluster in
            let mod = try Self.moderator(cluster, 0)
            defer { mod.close() }
            try mod.send(Self.command("Ban", "eve", reason: "cool off", expires: "3"))
            try mod.next(action: "ModeratorCommand", containing: ["<Result>Success</Result>"])
            let banned = Date()
            let keys = try cluster.keys().filter { $0.hasPrefix("ban:") }
            #expect(keys.count == 1, "\(keys)")
            let key = try #require(keys.first)
            let ttl = try #require(Int(try cluster.redisCLI(["PTTL", "chorus:\(key)"]).first ?? ""))
            #expect(ttl > 0 && ttl <= 3000, "PTTL \(ttl)")
            let (eve, _) = try Self.connect(cluster, 1, "eve", from: "198.51.100.5")
            defer { eve.close() }
            try eve.expectLoginDenial(as: "EVE", reason: "Name is banned")
            let admitted = try await eventually(timeout: .seconds(8), every: .milliseconds(200)) {
                try eve.send(Request.login("eve"))
                return try eve.next(action: "LoginResponse").result == "Accepted"
            }
            #expect(admitted)
            #expect(Date().timeIntervalSince(banned) > 2.5, "not before its time")
        }
    }
}
