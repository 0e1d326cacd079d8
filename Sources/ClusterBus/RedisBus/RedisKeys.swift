import ChatDomain
import NIOCore

/// The names of the keys and channels of the cluster, under its prefix (docs/cluster.md,
/// "Keys"). The Lua scripts of `RedisScripts` build the same names (`K_*` in their prelude);
/// Swift builds them here only for the few commands it sends itself.
///
/// The layout makes collisions impossible whatever users name their rooms, zones or
/// themselves: after the prefix, every key is either a fixed name without `:` (`names`,
/// `nodes`, `seq`, `epoch`, `roomcount`) or a family tag (letters, then one `:`) followed by
/// one user- or node-supplied part, verbatim, **last**. The first `:` after the prefix thus
/// tells the family, and the rest is the part: two different (family, part) pairs can never
/// give the same key. A room's part is `zone US room`; zones can never contain `US` (0x1F, a
/// control character, which neither XML text nor the room and zone name rules admit, and
/// which the join script refuses), so it stands for exactly one (zone, room). Channels follow
/// the same rule after `ch:`.
struct RedisKeys: Sendable {
    let prefix: String

    /// The version of this layout, kept in the `epoch` hash: nodes of another layout refuse
    /// to share a Redis and prefix with this one (`RedisScripts.epoch`).
    static let layout = "2"

    // MARK: Keys

    /// Hash: name key → session id.
    var names: String { "\(prefix)names" }
    /// Set of the registered node ids.
    var nodes: String { "\(prefix)nodes" }
    /// Hash: the Redis lifetime's `id` and the key `layout`.
    var epoch: String { "\(prefix)epoch" }
    /// Counter: rooms in the cluster.
    var roomCount: String { "\(prefix)roomcount" }
    /// Counter: join and creation order.
    var seq: String { "\(prefix)seq" }
    /// Hash: one session.
    func session(_ id: String) -> String { "\(prefix)s:\(id)" }
    /// Set: the session ids of one node.
    func nodeSessions(_ node: NodeID) -> String { "\(prefix)sessions:\(node.rawValue)" }
    /// String with a TTL: the node's heartbeat.
    func alive(_ node: NodeID) -> String { "\(prefix)alive:\(node.rawValue)" }
    /// Hash: a room's options.
    func room(_ room: RoomRef) -> String { "\(prefix)room:\(Self.roomRef(room))" }
    /// Sorted set: a room's members by join order.
    func members(_ room: RoomRef) -> String { "\(prefix)members:\(Self.roomRef(room))" }
    /// Sorted set: a zone's room names by creation order.
    func zoneRooms(_ zone: String) -> String { "\(prefix)zrooms:\(zone)" }
    /// Counter: the users whose current zone this is.
    func zoneUsers(_ zone: String) -> String { "\(prefix)zusers:\(zone)" }
    /// Counter with a TTL (the window): wrong account passwords of a name key.
    func passwordFailures(_ nameKey: String) -> String { "\(prefix)pwfails:\(nameKey)" }
    /// String with a TTL (the lock): the name key's account logins are locked out.
    func passwordLock(_ nameKey: String) -> String { "\(prefix)pwlock:\(nameKey)" }

    // MARK: Channels

    /// Room events: `M` messages, `J`oins and `L`eaves, in the room's one order.
    func roomChannel(_ room: RoomRef) -> ByteBuffer {
        ByteBuffer(string: "\(prefix)ch:room:\(Self.roomRef(room))")
    }

    /// Room-list changes of every zone.
    var zonesChannel: ByteBuffer { ByteBuffer(string: "\(prefix)ch:zones") }

    /// Private messages and control for one node.
    func nodeChannel(_ node: NodeID) -> ByteBuffer { ByteBuffer(string: "\(prefix)ch:node:\(node.rawValue)") }

    /// `zone US room`, the form scripts and session hashes use for a room.
    static func roomRef(_ room: RoomRef) -> String { "\(room.zone)\u{1F}\(room.name)" }
}
