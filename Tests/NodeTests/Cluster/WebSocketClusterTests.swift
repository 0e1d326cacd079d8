import ChorusTesting
import Foundation
import Testing

/// PROTOCOL.md section 8 across a cluster: TCP, `/ws` and `/xmlsocket` users on two real
/// nodes share names, rooms, user lists and one order of messages.
@Suite("WebSocket across two nodes", .serialized, .nodeGate)
struct WebSocketClusterTests {
    @Test("TCP, /ws and /xmlsocket users on two nodes chat in one room, in one order")
    func mixedTransportsAcrossTwoNodes() async throws {
        try await NodeCluster.with(nodes: 2, arguments: ["--flood-rate", "1000", "--flood-burst", "1000"], web: true) { cluster in
            let web1 = try cluster.loggedIn(0, "web1", transport: .ws)
            let tcp1 = try cluster.loggedIn(0, "tcp1")
            let web2 = try cluster.loggedIn(1, "web2", transport: .ws)
            let flash2 = try cluster.loggedIn(1, "flash2", transport: .xmlsocket)
            let members = [web1, tcp1, web2, flash2]
            for member in members { try member.joinRoom("Lobby") }
            for member in members.dropLast() { try member.waitForUserListChange("UserJoined", "flash2") }
            let joined = try flash2.history.last { $0.action == "JoinRoom" }
            #expect(Set(joined?.users.map(\.name) ?? []) == ["web1", "tcp1", "web2", "flash2"])

            // Names are one namespace whatever the transport.
            let copycat = try cluster.client(0, "copycat", transport: .ws)
            try copycat.expectLoginDenial(as: "FLASH2", reason: "Name is already in use")

            let perSender = 15
            let boxes = members.map(ClusterUnchecked.init)
            DispatchQueue.concurrentPerform(iterations: boxes.count) { index in
                let sender = boxes[index].value
                for k in 0..<perSender {
                    do {
                        try sender.send(Request.publicMessage("m\(index) #\(k)"))
                    } catch {
                        Issue.record("\(sender.name) could not send: \(error)")
                        return
                    }
                }
            }
            let total = perSender * members.count
            let sequences = try members.map { try $0.publicMessages(total).map { "\($0.sender ?? "?"): \($0.message ?? "?")" } }
            for (member, sequence) in zip(members, sequences).dropFirst() {
                #expect(sequence == sequences[0], "\(member.name) saw another order than \(members[0].name)")
            }
            for (index, member) in members.enumerated() {
                let own = sequences[0].filter { $0.hasPrefix("\(member.name.split(separator: "@")[0]):") }
                #expect(own == (0..<perSender).map { "\(member.name.split(separator: "@")[0]): m\(index) #\($0)" })
            }

            // Private messages cross nodes and transports.
            try web1.send(Request.privateMessage(to: ["flash2"], "to the emulator"))
            let whisper = try flash2.next(action: "SendPrivateMessage")
            #expect(whisper.message == "to the emulator" && whisper.sender == "web1")
            try flash2.send(Request.privateMessage(to: ["web1"], "to the browser"))
            #expect(try web1.next(action: "SendPrivateMessage").message == "to the browser")

            // A WebSocket user leaving is seen on the other node.
            web2.close()
            try tcp1.waitForUserListChange("UserLeft", "web2")
            try web1.waitForUserListChange("UserLeft", "web2")
        }
    }
}
