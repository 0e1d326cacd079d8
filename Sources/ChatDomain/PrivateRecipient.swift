/// One distinct recipient of a private message: the name as the sender wrote it (for the
/// `User not found` detail) and its uniqueness key (as at login).
public struct PrivateRecipient: Hashable, Sendable {
    public var name: String
    public var key: String

    public init(name: String, key: String) {
        self.name = name
        self.key = key
    }
}
