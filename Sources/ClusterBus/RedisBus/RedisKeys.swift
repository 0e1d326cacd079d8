import ChatDomain
import NIOCore

/// Names of the channels `RedisClusterBus` uses, under the cluster's prefix (docs/cluster.md).
/// Keys are built by the Lua scripts from the same prefix.
struct RedisKeys: Sendable {
    let prefix: String

    /// Room events: `M` messages, `J`oins and `L`eaves, in the room's one order.
    func roomChannel(_ room: RoomRef) -> ByteBuffer {
        ByteBuffer(string: "\(prefix)ch:room:\(room.zone)\u{1F}\(room.name)")
    }

    /// Room-list changes of every zone.
    var zonesChannel: ByteBuffer { ByteBuffer(string: "\(prefix)ch:zones") }

    /// Private messages and control for one node.
    func nodeChannel(_ node: NodeID) -> ByteBuffer { ByteBuffer(string: "\(prefix)ch:node:\(node.rawValue)") }

    /// `zone US room`, the form scripts and session hashes use for a room.
    static func roomRef(_ room: RoomRef) -> String { "\(room.zone)\u{1F}\(room.name)" }
}
