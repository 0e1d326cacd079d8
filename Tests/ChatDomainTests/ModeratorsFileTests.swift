import ChatDomain
import Testing

/// The moderators file (`--moderators`): what it accepts, and the line and reason of what it
/// refuses (the node stops at start-up with them).
@Suite struct ModeratorsFileTests {
    @Test func readsNamesByKeyAndPasswordsVerbatim() throws {
        let text = "# moderators\n\nAlice:pa:ss word \r\n  \nB\u{F3}b:x\n#carol:y\n"
        let moderators = try ModeratorsFile.parse(text, maxNameLength: 20).get()
        #expect(moderators == [UserName.key(for: "alice"): "pa:ss word ", UserName.key(for: "BO\u{301}B"): "x"])
        #expect(try ModeratorsFile.parse("", maxNameLength: 20).get().isEmpty)
    }

    @Test("a wrong line is named with what is wrong", arguments: [
        ("ok:1\nnocolon\n", 2, "no colon"),
        ("ok:1\n:pw\n", 2, "Name is required"),
        (" spaced:pw", 1, "Name contains invalid characters"),
        ("\u{0430}lice:pw", 1, "mixes scripts"),
        ("averyveryverylongname1:pw", 1, "Name is too long"),
        ("mod:", 1, "empty password"),
        ("mod:a\n# x\nMOD:b\n", 3, "listed already on line 1"),
        ("mod:a\nm\u{043E}d:b\n", 2, "mixes scripts"),
    ])
    func refusals(_ entry: (String, Int, String)) {
        guard case .failure(let problem) = ModeratorsFile.parse(entry.0, maxNameLength: 20) else {
            Issue.record("accepted: \(entry.0)")
            return
        }
        #expect(problem.line == entry.1)
        #expect(problem.what.contains(entry.2), "\(problem.what)")
    }
}
