import ChorusTesting
import Foundation
import Testing

/// Starting and stopping `chorus-node`: SIGTERM and configuration errors.
@Suite("Lifecycle", .nodeGate)
struct LifecycleTests {
    @Test("SIGTERM with --drain-seconds 0: the node exits 0 within 5 s and connected clients see the connection close")
    func sigterm() throws {
        let node = try NodeProcess.start(["--rooms", "Lobby", "--drain-seconds", "0"])
        let inRoom = try TestClient(node, name: "inRoom")
        try inRoom.login("Stayer")
        try inRoom.joinRoom("Lobby")
        let loggedIn = try TestClient(node, name: "loggedIn")
        try loggedIn.login("Wanderer")
        let anonymous = try TestClient(node, name: "anonymous")

        let started = Date()
        let status = try node.stop(timeout: 5)
        #expect(status == 0, "exit status \(status); log:\n\(node.logTail())")
        #expect(Date().timeIntervalSince(started) < 5)
        for client in [inRoom, loggedIn, anonymous] {
            let last = try client.expectClosed(timeout: 1)
            #expect(last.filter { $0.action == "Error" }.map(\.reason) == ["Server shutting down"], "\(client.name): \(last.map(\.raw))")
        }
    }

    @Test("An idle node stops on SIGTERM with status 0")
    func sigtermIdle() throws {
        let node = try NodeProcess.start()
        #expect(try node.stop(timeout: 5) == 0)
    }

    @Test("Bad configuration: exit status ≠ 0 and one clear line on stderr naming the option",
          arguments: [
              (["--port", "abc"], "--port"),
              (["--port", "70000"], "--port"),
              (["--log-level", "loud"], "--log-level"),
              (["--max-connections", "0"], "--max-connections"),
              (["--idle-timeout", "soon"], "--idle-timeout"),
              (["--flood-rate=-1"], "--flood-rate"),
              (["--max-frame-bytes", "10"], "--max-frame-bytes"),
              (["--http-port", "web"], "--http-port"),
              (["--port", "9999", "--http-port", "9999"], "--http-port"),
              (["--ws-origins", "chat.example.com"], "--ws-origins"),
              (["--ws-origins", "https://a.example/chat"], "--ws-origins"),
          ])
    func badConfiguration(arguments: [String], option: String) throws {
        let (status, stdout, stderr) = try NodeProcess.run(arguments)
        #expect(status != 0, "chorus-node \(arguments.joined(separator: " ")) exited with 0")
        let lines = stderr.split(whereSeparator: \.isNewline).filter { !$0.allSatisfy(\.isWhitespace) }
        #expect(lines.count == 1, "stderr:\n\(stderr)")
        #expect(lines.first?.contains(option) == true, "stderr does not name \(option):\n\(stderr)")
        #expect(!stdout.contains("accepting connections"))
    }

    @Test("Command-line syntax errors: exit status ≠ 0, the first stderr line names the option",
          arguments: [
              (["--flood-rate", "-1"], "--flood-rate"),  // "-1" read as a flag: missing value
              (["--no-such-flag"], "--no-such-flag"),
              (["--port"], "--port"),
          ])
    func syntaxErrors(arguments: [String], option: String) throws {
        let (status, _, stderr) = try NodeProcess.run(arguments)
        #expect(status != 0)
        let first = stderr.split(whereSeparator: \.isNewline).first { !$0.allSatisfy(\.isWhitespace) }
        #expect(first?.contains(option) == true, "stderr:\n\(stderr)")
    }

    @Test("A port already in use: exit status ≠ 0 with a message naming the port")
    func portInUse() throws {
        let node = try NodeProcess.start()
        let (status, stdout, stderr) = try NodeProcess.run(["--host", "127.0.0.1", "--port", String(node.port)])
        #expect(status != 0)
        #expect((stdout + stderr).contains(String(node.port)), "output:\n\(stdout)\(stderr)")
        // The running node is unaffected.
        let client = try TestClient(node)
        try client.login("StillHere")
    }
}
