import ChorusTesting
import Foundation
import Testing

/// PROTOCOL.md section 5, room and user variables, on one node without Redis (the in-process
/// cluster), over real sockets: the same requests, pushes and rules as across the cluster.
@Suite("Variables on one node", .nodeGate)
struct VariablesTests {
    typealias V = VariablesClusterTests

    @Test("Room and user variables: pushes to the room, refusals, lists, the creator leaving, a small limit")
    func variablesOnOneNode() throws {
        let node = try NodeProcess.start(["--max-room-variables", "2", "--max-user-variables", "1"])
        defer { node.kill() }
        let alice = try TestClient(node, name: "alice")
        try alice.send(Request.login("alice", variables: [("mood", "calm")]))
        try alice.expect("RoomList")
        try alice.expect("LoginResponse", result: "Accepted")
        let bob = try TestClient(node, name: "bob")
        try bob.login("bob")
        let members = [alice, bob]
        try alice.createRoom("Vars")
        let join = try bob.call(Request.joinRoom("Vars"), "JoinRoom")
        #expect(V.usersWithVariables(join) == ["alice[mood=calm]", "bob[]"])

        try alice.send(V.createRoomVariable("topic", "cats", persistent: false, locked: true))
        try V.expectLine("RV Create topic=cats P=false L=true", at: members)
        try bob.send(V.updateRoomVariable("topic", "dogs"))
        try bob.expectError("Variable is locked", requestAction: "UpdateRoomVariable")
        try bob.send(V.createRoomVariable("score", "1"))
        try V.expectLine("RV Create score=1 P=false L=false", at: members)
        try bob.send(V.createRoomVariable("third", "3"))
        try bob.expectError("Too many variables", requestAction: "CreateRoomVariable")
        try bob.send(Request.publicMessage("between"))
        try V.expectLine("M bob between", at: members)

        // One user variable at most: alice has hers from the login already.
        try alice.send(V.updateUserVariable("Create", "avatar", "x"))
        try alice.expectError("Too many variables", requestAction: "UpdateUserVariable")
        try alice.send(V.updateUserVariable("Create", "mood", "glad"))
        try V.expectLine("UV Update alice mood=glad", at: members)
        try alice.send(V.deleteUserVariable("mood"))
        try V.expectLine("UV Delete alice mood", at: members)

        // Alice leaves: her non-persistent variable goes first; bob's stays.
        try alice.call(Request.leaveRoom, "LeaveRoom")
        #expect(try V.nextLine(bob) == "RV Delete topic P=false L=true")
        try bob.expect("UpdateUserList", minor: "UserLeft")
        try alice.send(V.updateUserVariable("Update", "mood", "alone"))
        #expect(try V.nextLine(alice) == "UV Create alice mood=alone", "a user in no room gets its push alone")
        try bob.expectNothing(within: 0.3)
        let again = try alice.call(Request.joinRoom("Vars"), "JoinRoom")
        #expect(V.roomVariables(again) == ["score=1 P=false L=false"])
        #expect(V.usersWithVariables(again) == ["bob[]", "alice[mood=alone]"])
    }
}
