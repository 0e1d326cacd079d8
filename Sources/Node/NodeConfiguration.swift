import ChatDomain
import ClusterBus
import Logging
import NIOCore

/// Everything a node is configured with. Plain values with the defaults of PROTOCOL.md;
/// `ChorusNodeCommand` fills it from flags and `CHORUS_*` environment variables.
public struct NodeConfiguration: Sendable {
    public init() {}

    public var host = "0.0.0.0"
    public var port = 9875
    /// The node's name; a random incarnation suffix is added at every start.
    public var nodeName: String?
    /// `redis://host:port[/db]`; nil runs the node alone on the in-process bus.
    public var redisURL: String?
    public var redisPrefix = "chorus:"
    public var defaultZone = "Chat"
    /// Permanent rooms of the default zone.
    public var permanentRooms: [String] = []
    public var maxRooms: Int?
    /// Rooms per zone (permanent rooms included); nil: unlimited.
    public var maxRoomsPerZone: Int?
    /// Account logins of a name are refused for a while after too many wrong passwords,
    /// cluster-wide (PROTOCOL.md section 7).
    public var passwordLockout = PasswordLockout()
    public var maxConnections = 10_000
    /// Connections per client address; nil: unlimited. High enough for a school behind one
    /// NAT, low enough that one address cannot take a node's every slot.
    public var maxConnectionsPerAddress: Int? = 1000
    public var idleTimeout: TimeAmount = .minutes(5)
    public var maxFrameBytes = 64 * 1024
    /// A frame must be complete within this time of its first byte (PROTOCOL.md section 7).
    public var partialFrameTimeout: TimeAmount = .seconds(30)
    public var maxMalformedFrames = 10
    /// Unread outbound bytes after which a session is cut (PROTOCOL.md section 7).
    public var maxOutboundBytes = 1024 * 1024
    /// How long a client over the outbound bound may go without reading anything before it
    /// is cut (a large response being read is progress, not slowness).
    public var slowReaderGrace: TimeAmount = .seconds(5)
    /// The web port (PROTOCOL.md section 8): the chat page and WebSocket sessions; nil: off.
    public var httpPort: Int?
    /// Which pages may open WebSocket sessions (`--ws-origins`).
    public var webSocketOrigins: OriginPolicy = .sameHost
    public var policyPort: Int?
    public var policyDomain = "*"
    public var proxyProtocol = false
    /// The operator HTTP port (`/health`, `/ready`, `/metrics`; PROTOCOL.md section 9); nil: off.
    public var adminPort: Int?
    /// How long a node stopped by SIGTERM lets its sessions go on (no new clients, `/ready`
    /// 503) before it closes them; a second SIGTERM or a SIGINT ends the wait.
    public var drainTime: Duration = .seconds(5)
    public var threads = System.coreCount
    public var logLevel: Logger.Level = .info
    public var limits = ChatLimits()
}
