import ChatDomain
import Logging
import NIOCore

/// Everything a node is configured with. Plain values with the defaults of PROTOCOL.md;
/// `ChorusNodeCommand` fills it from flags and `CHORUS_*` environment variables.
struct NodeConfiguration: Sendable {
    var host = "0.0.0.0"
    var port = 9875
    /// The node's name; a random incarnation suffix is added at every start.
    var nodeName: String?
    /// `redis://host:port[/db]`; nil runs the node alone on the in-process bus.
    var redisURL: String?
    var redisPrefix = "chorus:"
    var defaultZone = "Chat"
    /// Permanent rooms of the default zone.
    var permanentRooms: [String] = []
    var maxRooms: Int?
    var maxConnections = 10_000
    var maxConnectionsPerAddress: Int?
    var idleTimeout: TimeAmount = .minutes(5)
    var maxFrameBytes = 64 * 1024
    var maxMalformedFrames = 10
    /// Unread outbound bytes after which a session is cut (PROTOCOL.md section 7).
    var maxOutboundBytes = 1024 * 1024
    var policyPort: Int?
    var policyDomain = "*"
    var proxyProtocol = false
    var threads = System.coreCount
    var logLevel: Logger.Level = .info
    var limits = ChatLimits()
}
