/// Redis answered a command with an error reply (`-ERR ...`, `-WRONGTYPE ...`, `-NOAUTH ...`).
/// The connection stays usable.
public struct RedisCommandError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The full error line as sent by Redis, e.g. `WRONGTYPE Operation against a key holding the wrong kind of value`.
    public let message: String

    public init(message: String) {
        self.message = message
    }

    /// The error code: the first word of the message (`ERR`, `WRONGTYPE`, `NOAUTH`, ...).
    var code: Substring {
        message.prefix { $0 != " " }
    }

    public var description: String {
        "Redis error: \(message)"
    }
}
