import ChorusTesting
import Foundation
import Testing

/// A mistake in the moderators file stops `chorus-node` at start-up with one line naming the
/// file, the line number and what is wrong; the passwords are never printed.
@Suite struct ModeratorsFileStartupTests {
    @Test("A wrong moderators file stops the node, naming the file, the line and the problem",
          arguments: [
              ("# mods\nAda:pw\nno colon here\n", "line 3", "no colon"),
              ("Ada:secret-one\nADA:secret-two\n", "line 2", "listed already on line 1"),
              ("\n\nBob:\n", "line 3", "empty password"),
          ])
    func wrongFile(text: String, line: String, problem: String) throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("chorus-moderators-\(UUID().uuidString)")
        try text.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let (status, stdout, stderr) = try NodeProcess.run(["--moderators", file.path, "--port", "0"])
        #expect(status != 0)
        let lines = stderr.split(whereSeparator: \.isNewline).filter { !$0.allSatisfy(\.isWhitespace) }
        #expect(lines.count == 1, "stderr:\n\(stderr)")
        let message = String(lines.first ?? "")
        #expect(message.contains(file.path) && message.contains(line) && message.contains(problem), "\(message)")
        #expect(!stderr.contains("secret") && !stdout.contains("secret"))
        #expect(!stdout.contains("accepting connections"))
    }

    @Test func anUnreadableFileIsNamed() throws {
        let (status, _, stderr) = try NodeProcess.run(["--moderators", "/nonexistent/moderators", "--port", "0"])
        #expect(status != 0)
        #expect(stderr.contains("/nonexistent/moderators") && stderr.contains("CHORUS_MODERATORS"), "\(stderr)")
    }
}
