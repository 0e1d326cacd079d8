/// A Redis URL could not be parsed. The message never contains the password.
public struct RedisConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    public let message: String

    public init(message: String) {
        self.message = message
    }

    public var description: String {
        message
    }
}
