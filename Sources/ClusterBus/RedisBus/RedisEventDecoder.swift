import ChatDomain
import RedisClient
import NIOCore

/// Turns what the bus's channels carry back into cluster events. Everything read from
/// Redis may be wrong: anything malformed is dropped (and counted), never trusted.
enum RedisEventDecoder {
    private static let separator: UInt8 = 0x1F

    /// A room channel message: `S<incarnation>:<number>US` and the event (`roomEvent`).
    static func sequencedRoomEvent(_ payload: ByteBuffer) -> (incarnation: UInt64, sequence: UInt64, event: RoomEvent)? {
        let view = payload.readableBytesView
        guard view.first == UInt8(ascii: "S"), let separator = view.firstIndex(of: Self.separator) else { return nil }
        var incarnation: UInt64 = 0
        var sequence: UInt64 = 0
        var seenColon = false
        var digits = 0
        for byte in view[(view.startIndex + 1)..<separator] {
            if byte == UInt8(ascii: ":"), !seenColon, digits > 0 {
                seenColon = true
                digits = 0
                continue
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), digits < 19 else { return nil }
            digits += 1
            let digit = UInt64(byte - UInt8(ascii: "0"))
            if seenColon { sequence = sequence * 10 + digit } else { incarnation = incarnation * 10 + digit }
        }
        guard seenColon, digits > 0,
              let body = payload.getSlice(at: separator + 1, length: payload.writerIndex - separator - 1),
              let event = roomEvent(body) else { return nil }
        return (incarnation, sequence, event)
    }

    /// A batch of public messages (`RedisScripts.publish`): `T<incarnation>:<first number>:
    /// <count>[:<published>]US` then `<length>:<frame>` per message (`published`: the
    /// publisher's wall clock in microseconds, `PublishStamp`). Calls `body` with each
    /// message's number and frame, in order; false when the payload is malformed (then
    /// nothing of it is trusted: `body` is called only once the whole batch has been checked).
    static func forEachBatchedMessage(_ payload: ByteBuffer, _ body: (UInt64, UInt64, ByteBuffer) -> Void) -> Bool {
        var published: PublishStamp?
        return forEachBatchedMessage(payload, published: &published, body)
    }

    /// `forEachBatchedMessage(_:_:)`, also giving the batch's publish time if it has one.
    static func forEachBatchedMessage(_ payload: ByteBuffer, published: inout PublishStamp?,
                                      _ body: (UInt64, UInt64, ByteBuffer) -> Void) -> Bool {
        guard let header = batchHeader(payload) else { return false }
        let numbers = header.numbers
        let separator = header.separator
        var frames: [ByteBuffer] = []
        frames.reserveCapacity(Int(numbers[2]))
        var index = separator + 1
        let end = payload.writerIndex
        while index < end {
            var length = 0
            var lengthDigits = 0
            while index < end, let byte = payload.getInteger(at: index, as: UInt8.self), byte != UInt8(ascii: ":") {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), lengthDigits < 9 else { return false }
                length = length * 10 + Int(byte - UInt8(ascii: "0"))
                lengthDigits += 1
                index += 1
            }
            guard lengthDigits > 0, index < end, let frame = payload.getSlice(at: index + 1, length: length) else { return false }
            frames.append(frame)
            index += 1 + length
        }
        guard frames.count == Int(numbers[2]) else { return false }
        if numbers.count == 4 { published = PublishStamp(microseconds: numbers[3]) }
        for (offset, frame) in frames.enumerated() { body(numbers[0], numbers[1] + UInt64(offset), frame) }
        return true
    }

    /// The numbers of a `T` batch's header (3, or 4 with the publish time) and the index of
    /// its separator; nil when malformed.
    private static func batchHeader(_ payload: ByteBuffer) -> (numbers: [UInt64], separator: Int)? {
        let view = payload.readableBytesView
        guard view.first == UInt8(ascii: "T"), let separator = view.firstIndex(of: Self.separator) else { return nil }
        var numbers: [UInt64] = [0]
        numbers.reserveCapacity(4)
        var digits = 0
        for byte in view[(view.startIndex + 1)..<separator] {
            if byte == UInt8(ascii: ":") {
                guard digits > 0, numbers.count < 4 else { return nil }
                numbers.append(0)
                digits = 0
                continue
            }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9"), digits < 19 else { return nil }
            digits += 1
            numbers[numbers.count - 1] = numbers[numbers.count - 1] * 10 + UInt64(byte - UInt8(ascii: "0"))
        }
        guard numbers.count >= 3, digits > 0, numbers[2] > 0, numbers[2] <= 1_000_000 else { return nil }
        return (numbers, separator)
    }

    /// The `fetch` script's answer (see `RedisScripts.fetch`); nil for a room that is gone
    /// or an answer of the wrong shape.
    static func historyAnswer(_ reply: RESPValue) -> HistoryAnswer? {
        guard let values = reply.array, values.count >= 4,
              let incarnation = values[0].int.flatMap({ UInt64(exactly: $0) }),
              let resumeAfter = values[1].int, resumeAfter >= 0,
              let lost = values[2].int, lost >= 0,
              let count = values[3].int, count >= 0, values.count >= 4 + Int(count) else { return nil }
        var events: [(sequence: UInt64, event: RoomEvent)] = []
        for value in values[4..<(4 + Int(count))] {
            guard let payload = value.buffer, let (eventIncarnation, sequence, event) = sequencedRoomEvent(payload),
                  eventIncarnation == incarnation else { return nil }
            events.append((sequence, event))
        }
        var index = 4 + Int(count)
        var members: [(id: SessionID, profile: UserProfile)]?
        if index < values.count {
            guard let memberCount = values[index].int, memberCount >= 0, values.count == index + 1 + 2 * Int(memberCount) else { return nil }
            index += 1
            var list: [(id: SessionID, profile: UserProfile)] = []
            for _ in 0..<Int(memberCount) {
                guard let text = values[index].string, let id = SessionID(parsing: Substring(text)),
                      let serialized = values[index + 1].string, let profile = UserProfile(serialized: serialized) else { return nil }
                list.append((id, profile))
                index += 2
            }
            members = list
        }
        return HistoryAnswer(incarnation: incarnation, resumeAfter: UInt64(resumeAfter), lost: Int(lost),
                             events: events, membersBefore: members)
    }

    /// A room event: `M<payload>`, `J<session>US<profile>` or `L<session>US<profile>`.
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

    /// A node channel message: `P<session>US<payload>` (private message),
    /// `E<session>US<reason>` (the cluster ends the session) or `K<session>US<notice>` (a
    /// moderator's kick or ban: the notice, then the session ends).
    static func nodeEvent(_ payload: ByteBuffer) -> ClusterEvent? {
        var payload = payload
        guard let kind = payload.readInteger(as: UInt8.self), let (session, rest) = sessionAndRest(payload) else { return nil }
        switch kind {
        case UInt8(ascii: "P"): return .direct(session, rest)
        case UInt8(ascii: "E"): return Reason(rawValue: String(buffer: rest)).map { .evict(session, $0) }
        case UInt8(ascii: "K"): return .kick(session, rest)
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
