import ChatDomain
import Foundation
import NIOCore
import Testing
import Wire

/// docs/protocol.md is the client authors' reference. These tests tie it to the code: its
/// reason table lists exactly the `Reason` strings, its action table exactly the actions the
/// request decoder knows, and nothing it calls "not yet implemented" is decoded.
///
/// The tables are found by HTML comment markers (invisible when rendered), e.g.
/// `<!-- reasons:begin -->` … `<!-- reasons:end -->`; each table row's first cell is a
/// backquoted name: | `Name is required` | ... |
@Suite struct ProtocolDocumentTests {
    static let path = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // ProtocolDocumentTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()  // repository root
        .appendingPathComponent("docs/protocol.md")

    static func document() throws -> String {
        try String(contentsOf: path, encoding: .utf8)
    }

    /// The first backquoted cell of every table row between the `marker` comments, in order.
    static func tableNames(_ marker: String, in document: String) throws -> [String] {
        let begin = "<!-- \(marker):begin -->", end = "<!-- \(marker):end -->"
        let start = try #require(document.range(of: begin),
                                 "docs/protocol.md has no \(begin) marker")
        let stop = try #require(document.range(of: end, range: start.upperBound..<document.endIndex),
                                "docs/protocol.md has no \(end) marker after \(begin)")
        var names: [String] = []
        for line in document[start.upperBound..<stop.lowerBound].split(separator: "\n") {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false)
            // "| `Name` | ... |" splits into "", " `Name` ", ...
            guard line.hasPrefix("|"), cells.count > 2 else { continue }
            let cell = cells[1].trimmingCharacters(in: .whitespaces)
            guard cell.count > 2, cell.hasPrefix("`"), cell.hasSuffix("`") else { continue }
            names.append(String(cell.dropFirst().dropLast()))
        }
        return names
    }

    @Test func documentExists() {
        #expect(FileManager.default.fileExists(atPath: Self.path.path),
                "docs/protocol.md not found at \(Self.path.path)")
    }

    @Test func reasonTableListsEveryReason() throws {
        let listed = try Self.tableNames("reasons", in: Self.document())
        #expect(!listed.isEmpty, "docs/protocol.md's reason table (<!-- reasons:begin/end -->) lists no reason")
        for reason in Reason.allCases where !listed.contains(reason.rawValue) {
            Issue.record("""
                The reason "\(reason.rawValue)" (Reason case \(reason), Sources/ChatDomain/Reasons.swift) is missing \
                from docs/protocol.md's reason table: add a row saying when it is sent
                """)
        }
        let known = Set(Reason.allCases.map(\.rawValue))
        for text in listed where !known.contains(text) {
            Issue.record("""
                docs/protocol.md's reason table lists "\(text)", which is no Reason \
                (Sources/ChatDomain/Reasons.swift): fix the spelling or remove the row
                """)
        }
        for text in Set(listed) where listed.count(where: { $0 == text }) > 1 {
            Issue.record("docs/protocol.md's reason table lists \"\(text)\" more than once")
        }
    }

    @Test func actionTableListsEveryDecodedAction() throws {
        let document = try Self.document()
        let listed = try Self.tableNames("actions", in: document)
        let known = ClientRequest.knownActions
        #expect(!known.isEmpty)
        for action in known where !listed.contains(action) {
            Issue.record("""
                The request decoder knows the action "\(action)" (ClientRequest.knownActions, \
                Sources/Wire/ClientRequest.swift), but docs/protocol.md's action table \
                (<!-- actions:begin/end -->) does not list it
                """)
        }
        for action in listed where !known.contains(action) {
            Issue.record("""
                docs/protocol.md's action table lists "\(action)", which the request decoder does \
                not know (ClientRequest.knownActions, Sources/Wire/ClientRequest.swift): such a \
                request gets `Unknown action`; move it to "Not yet" or remove it
                """)
        }
        for action in known where !document.contains("\n### \(action)") {
            Issue.record("docs/protocol.md has no \"### \(action)\" section describing the request \"\(action)\"")
        }
    }

    /// What the document says is not implemented yet really is answered `Unknown action`.
    @Test func notYetActionsAreNotDecoded() throws {
        let notYet = try Self.tableNames("not-yet", in: Self.document())
        // Empty since every action of ES3's client class is implemented; the markers stay (tableNames
        // requires them) for what ES3 may turn out to have more.
        for action in notYet {
            let frame = "<XmlDoc><Action>\(action)</Action><Parameters/></XmlDoc>"
            let request = try ClientRequest.decode(ByteBuffer(string: frame))
            #expect(request == .unknown(action: action), """
                docs/protocol.md says "\(action)" is not implemented yet, but the request decoder \
                decodes it as \(request): move it to the action table and document it
                """)
        }
    }
}
