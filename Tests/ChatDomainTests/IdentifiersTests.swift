import ChatDomain
import Testing

@Suite struct IdentifiersTests {
    @Test func sessionIDTextForm() {
        let id = SessionID(node: NodeID("n1.0000beef"), number: 42)
        #expect(id.description == "n1.0000beef/42")
        #expect(SessionID(parsing: Substring(id.description)) == id)
    }

    @Test func sessionIDParsingUsesTheLastSlash() throws {
        let id = try #require(SessionID(parsing: "a/b/7"))
        #expect(id.node == NodeID("a/b"))
        #expect(id.number == 7)
    }

    @Test("malformed session ids are refused", arguments: ["", "n1", "/5", "n1/", "n1/x", "n1/-1", "n1/5 ", "n1/18446744073709551616"])
    func malformedSessionID(_ text: String) {
        #expect(SessionID(parsing: Substring(text)) == nil)
    }

    @Test func freshNodeIDHasNameAndEightHexDigits() {
        for (name, prefix) in [("n1", "n1."), (nil, "node."), ("", "node.")] as [(String?, String)] {
            let id = NodeID.fresh(name: name).rawValue
            #expect(id.hasPrefix(prefix))
            let suffix = id.dropFirst(prefix.count)
            #expect(suffix.count == 8)
            let hex = suffix.allSatisfy { $0.isHexDigit }
            #expect(hex, "\(id)")
        }
    }

    @Test func freshNodeIDsDiffer() {
        let ids = Set((0..<20).map { _ in NodeID.fresh(name: "n1") })
        #expect(ids.count == 20)
    }
}
