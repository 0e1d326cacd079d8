/// The moderators file (`--moderators`): one `name:password` per line; blank lines and lines
/// starting with `#` are skipped. The name is everything before the first colon, the
/// password everything after it (it may hold colons). Names follow the Login rules and are
/// keyed like them, so two spellings of one name (`Mod`, `MOD`, a look-alike) are one
/// moderator, listed twice: a mistake.
public enum ModeratorsFile {
    /// What is wrong on one line (1-based).
    public struct Problem: Error, Equatable, Sendable {
        public var line: Int
        public var what: String
    }

    /// Name key → password, or the first problem.
    public static func parse(_ text: String, maxNameLength: Int) -> Result<[String: String], Problem> {
        var moderators: [String: String] = [:]
        var firstLine: [String: Int] = [:]
        // "\r\n" is one Character in Swift: split on every kind of line break.
        for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let number = index + 1
            if line.allSatisfy(\.isWhitespace) || line.hasPrefix("#") { continue }
            guard let colon = line.firstIndex(of: ":") else {
                return .failure(Problem(line: number, what: "expected name:password, found no colon"))
            }
            let rawName = String(line[..<colon])
            let password = String(line[line.index(after: colon)...])
            let name: UserName
            switch UserName.validate(rawName, maxLength: maxNameLength) {
            case .failure(let reason):
                return .failure(Problem(line: number, what: "the name \"\(rawName)\" cannot log in: \(reason.rawValue)"))
            case .success(let valid) where valid.mixesScripts:
                return .failure(Problem(line: number, what: "the name \"\(rawName)\" cannot log in: it mixes scripts"))
            case .success(let valid):
                name = valid
            }
            if password.isEmpty {
                return .failure(Problem(line: number, what: "the moderator \"\(name.display)\" has an empty password"))
            }
            if let earlier = firstLine[name.key] {
                return .failure(Problem(line: number, what: "the moderator \"\(name.display)\" is listed already on line \(earlier) (names are compared like logins: case and look-alikes folded)"))
            }
            firstLine[name.key] = number
            moderators[name.key] = password
        }
        return .success(moderators)
    }
}
