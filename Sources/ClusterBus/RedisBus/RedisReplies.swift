import ChatDomain
import RedisClient

/// Reads the scripts' replies (flat arrays, see RedisScripts). A reply of the wrong shape
/// is treated as the cluster being unavailable, never trusted.
struct ReplyCursor {
    private let values: [RESPValue]
    private var index = 0

    init(_ reply: RESPValue) throws(ClusterError) {
        guard let values = reply.array else { throw .unavailable }
        self.values = values
    }

    var isAtEnd: Bool { index >= values.count }

    mutating func string() throws(ClusterError) -> String {
        guard index < values.count, let text = values[index].string ?? values[index].int.map(String.init) else { throw .unavailable }
        index += 1
        return text
    }

    mutating func int() throws(ClusterError) -> Int {
        guard index < values.count, let number = values[index].int else { throw .unavailable }
        index += 1
        return Int(number)
    }

    /// Seven fields: name, users, capacity, password-protected, updatable, hidden, description.
    mutating func room() throws(ClusterError) -> RoomSummary {
        let name = try string()
        let users = try int()
        let capacity = try int()
        let passwordProtected = try string() == "1"
        let updatable = try string() != "0"
        let hidden = try string() == "1"
        let description = try string()
        return RoomSummary(name: name, users: users, capacity: capacity < 0 ? nil : capacity,
                           passwordProtected: passwordProtected, hidden: hidden, updatable: updatable,
                           description: description)
    }

    /// Zone users, then rooms to the end of the reply.
    mutating func listing(zone: String) throws(ClusterError) -> ZoneListing {
        let users = try int()
        var rooms: [RoomSummary] = []
        while !isAtEnd { rooms.append(try room()) }
        return ZoneListing(zone: zone, users: users, rooms: rooms)
    }
}
