/// What other members see of a user: its display name, moderator flag and user variables.
/// The cluster stores it as one opaque string (`serialized`), so a node can build a room's
/// user list for a member it never met.
public struct UserProfile: Hashable, Sendable {
    public var name: String
    public var moderator: Bool
    public var variables: [Variable]

    public init(name: String, moderator: Bool = false, variables: [Variable] = []) {
        self.name = name
        self.moderator = moderator
        self.variables = variables
    }

    // Separators are control characters, which the wire refuses in XML text, so they
    // cannot occur inside a name or a variable.
    private static let field: Character = "\u{1F}"
    private static let record: Character = "\u{1E}"

    /// `name US moderator (RS varName US varData)*`
    public var serialized: String {
        var out = name
        out.append(Self.field)
        out.append(moderator ? "1" : "0")
        for variable in variables {
            out.append(Self.record)
            out.append(variable.name)
            out.append(Self.field)
            out.append(variable.data)
        }
        return out
    }

    /// Parses `serialized`; nil if the text was not produced by it (e.g. corrupted in Redis).
    public init?(serialized text: String) {
        let records = text.split(separator: Self.record, omittingEmptySubsequences: false)
        guard let head = records.first else { return nil }
        let headFields = head.split(separator: Self.field, omittingEmptySubsequences: false)
        guard headFields.count == 2, headFields[1] == "0" || headFields[1] == "1" else { return nil }
        var variables: [Variable] = []
        variables.reserveCapacity(records.count - 1)
        for item in records.dropFirst() {
            let parts = item.split(separator: Self.field, maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { return nil }
            variables.append(Variable(name: String(parts[0]), data: String(parts[1])))
        }
        self.init(name: String(headFields[0]), moderator: headFields[1] == "1", variables: variables)
    }
}
