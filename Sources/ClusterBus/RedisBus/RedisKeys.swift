import ChatDomain
import NIOCore

/// The names of the keys and channels of the cluster, under its prefix (docs/cluster.md,
/// "Keys"). The Lua scripts of `RedisScripts` build the keys (`K_*` in their prelude); Swift
/// builds here the few it uses itself, and the channels.
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
    /// to share a Redis and prefix with this one (`RedisScripts.epoch`). 3: room and user
    /// variables, bans, room creators, and publish times in `T` batches, which nodes of
    /// layout 2 cannot read.
    static let layout = "3"

    // MARK: Keys (the ones Swift uses; the scripts build all of them)

    /// Hash: name key → session id.
    var names: String { "\(prefix)names" }
    /// String: the number of rooms in the cluster.
    var roomCount: String { "\(prefix)roomcount" }
    /// Set: the session ids of one node.
    func nodeSessions(_ node: NodeID) -> String { "\(prefix)sessions:\(node.rawValue)" }

    // MARK: Channels

    /// Room events: `M` messages (and user variable pushes), `J`oins, `L`eaves and `V`
    /// room variable changes, in the room's one order.
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
