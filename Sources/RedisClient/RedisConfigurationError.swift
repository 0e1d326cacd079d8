/// A Redis URL could not be parsed. The message never contains the password.
struct RedisConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    let message: String

    init(message: String) {
        self.message = message
    }

    var description: String {
        message
    }
}
