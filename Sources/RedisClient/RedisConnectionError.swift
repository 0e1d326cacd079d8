import NIOCore

/// A Redis connection could not be made or failed. When a connection fails, every command
/// outstanding on it fails with the same error and the connection is closed.
enum RedisConnectionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The TCP connection was not established within `RedisConfiguration.connectTimeout`.
    case connectTimeout(TimeAmount)
    /// The TCP connection could not be established (refused, unreachable, unresolvable...).
    case connectFailed(String)
    /// `AUTH` was rejected (wrong password, unknown user, no password configured on the server...).
    case authenticationFailed(String)
    /// `SELECT db` was rejected.
    case selectFailed(String)
    /// The oldest outstanding command got no reply within `RedisConfiguration.replyTimeout`.
    case replyTimeout(TimeAmount)
    /// Redis sent bytes that are not valid RESP, or a reply nobody asked for.
    case protocolError(String)
    /// One reply exceeded `RedisConfiguration.maxReplyBytes` (on the wire or in memory).
    case replyTooLarge(limit: Int)
    /// `RedisConfiguration.maxPendingCommands` commands are already awaiting replies.
    case tooManyPendingCommands(limit: Int)
    /// The command cannot be encoded (empty argv, too large).
    case invalidCommand(String)
    /// The connection failed with an I/O error.
    case connectionLost(String)
    /// The connection is closed (by either side).
    case connectionClosed

    var description: String {
        switch self {
        case .connectTimeout(let amount): "connecting to Redis timed out after \(Self.format(amount))"
        case .connectFailed(let reason): "cannot connect to Redis: \(reason)"
        case .authenticationFailed(let message): "Redis authentication failed: \(message)"
        case .selectFailed(let message): "Redis SELECT failed: \(message)"
        case .replyTimeout(let amount): "Redis did not reply within \(Self.format(amount))"
        case .protocolError(let message): "Redis protocol error: \(message)"
        case .replyTooLarge(let limit): "Redis reply larger than the \(limit) byte limit"
        case .tooManyPendingCommands(let limit): "too many Redis commands awaiting replies (limit \(limit))"
        case .invalidCommand(let reason): "invalid Redis command: \(reason)"
        case .connectionLost(let reason): "Redis connection lost: \(reason)"
        case .connectionClosed: "Redis connection closed"
        }
    }

    static func format(_ amount: TimeAmount) -> String {
        let ms = amount.nanoseconds / 1_000_000
        return ms % 1000 == 0 ? "\(ms / 1000) s" : "\(ms) ms"
    }
}
