import ChorusTesting
import Foundation
import Testing

/// Issue 8: password guessing is no longer free (PROTOCOL.md section 7). The delays are
/// shortened here; the defaults (250 ms doubling to 8 s) are in PasswordAttemptsTests.
@Suite(.serialized)
struct PasswordGuessingTests {
    @Test func roomPasswordGuessesAreSlowedThenTheGuesserIsCut() async throws {
        let node = try await InProcessNode.start {
            $0.limits.passwordAttempts.firstDelay = 100
            $0.limits.passwordAttempts.maximumDelay = 200
        }
        defer { Task { await node.stop() } }
        try await onThreads(1) { _ in
            let owner = try TestClient.accepted(port: node.port, name: "owner")
            try owner.login("owner")
            try owner.createRoom("Vault", password: "secret")
            let guesser = try TestClient.accepted(port: node.port, name: "guesser")
            try guesser.login("guesser")
            var answerTimes: [Double] = []
            for attempt in 1...19 {
                let started = Date()
                try guesser.send(Request.joinRoom("Vault", password: "guess\(attempt)"))
                try guesser.expect("JoinRoom", result: "Failure", reason: "Incorrect password")
                answerTimes.append(Date().timeIntervalSince(started))
            }
            // From the 6th wrong password on, each answer waits at least the penalty.
            #expect(answerTimes[5] >= 0.1, "6th answer after \(answerTimes[5]) s")
            #expect(answerTimes[6] >= 0.2, "7th answer after \(answerTimes[6]) s")
            #expect(answerTimes[18] >= 0.2, "19th answer after \(answerTimes[18]) s")
            // The 20th is answered, then the session ends; the right password is too late.
            try guesser.send(Request.joinRoom("Vault", password: "guess20"))
            try guesser.send(Request.joinRoom("Vault", password: "secret"))
            let last = try guesser.expectClosed()
            #expect(last.map(\.reason) == ["Incorrect password"])
            #expect(!last.contains { $0.result == "Success" })
            try owner.call(Request.ping, "Pong")
        }
    }
}
