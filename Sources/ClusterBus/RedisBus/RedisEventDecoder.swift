import ChatDomain
import NIOCore

/// Turns what the bus's channels carry back into cluster events. Everything read from
/// Redis may be wrong: anything malformed is dropped (and counted), never trusted.
enum RedisEventDecoder {
    private static let separator: UInt8 = 0x1F

    /// A room channel message: `M<payload>`, `J<session>US<profile>` or `L<session>US<profile>`.
    static func roomEvent(_ payload: ByteBuffer) -> RoomEvent? {
        var payload = payload
        guard let kind = payload.readInteger(as: UInt8.self) else { return nil }
        switch kind {
        case UInt8(ascii: "M"):
            return .message(payload)
        case UInt8(ascii: "J"), UInt8(ascii: "L"):
            guard let (session, rest) = sessionAndRest(payload), let profile = UserProfile(serialized: String(buffer: rest)) else { return nil }
            return kind == UInt8(ascii: "J") ? .joined(session, profile) : .left(session, profile)
        default:
            return nil
        }
    }

    /// A node channel message: `P<session>US<payload>` (private message) or
    /// `E<session>US<reason>` (the cluster ends the session).
    static func nodeEvent(_ payload: ByteBuffer) -> ClusterEvent? {
        var payload = payload
        guard let kind = payload.readInteger(as: UInt8.self), let (session, rest) = sessionAndRest(payload) else { return nil }
        switch kind {
        case UInt8(ascii: "P"): return .direct(session, rest)
        case UInt8(ascii: "E"): return Reason(rawValue: String(buffer: rest)).map { .evict(session, $0) }
        default: return nil
        }
    }

    /// A zone channel message: kind (`C`reate, `D`elete, `U`pdate), then zone, zone users,
    /// room name, users, capacity, password-protected, updatable, hidden, description.
    static func zoneChange(_ payload: ByteBuffer) -> ZoneChange? {
        var payload = payload
        guard let kindByte = payload.readInteger(as: UInt8.self) else { return nil }
        let kind: ZoneChange.Kind
        switch kindByte {
        case UInt8(ascii: "C"): kind = .created
        case UInt8(ascii: "D"): kind = .deleted
        case UInt8(ascii: "U"): kind = .changed
        default: return nil
        }
        let fields = String(buffer: payload).split(separator: "\u{1F}", maxSplits: 8, omittingEmptySubsequences: false)
        guard fields.count == 9, let zoneUsers = Int(fields[1]), let users = Int(fields[3]), let capacity = Int(fields[4]) else { return nil }
        let room = RoomSummary(name: String(fields[2]), users: users, capacity: capacity < 0 ? nil : capacity,
                               passwordProtected: fields[5] == "1", hidden: fields[7] == "1",
                               updatable: fields[6] != "0", description: String(fields[8]))
        return ZoneChange(kind: kind, zone: String(fields[0]), zoneUsers: zoneUsers, room: room)
    }

    private static func sessionAndRest(_ buffer: ByteBuffer) -> (SessionID, ByteBuffer)? {
        guard let index = buffer.readableBytesView.firstIndex(of: separator) else { return nil }
        let length = index - buffer.readerIndex
        guard let text = buffer.getString(at: buffer.readerIndex, length: length),
              let session = SessionID(parsing: Substring(text)),
              let rest = buffer.getSlice(at: index + 1, length: buffer.writerIndex - index - 1) else { return nil }
        return (session, rest)
    }
}
