import ClusterBus
import NIOCore

/// One line per cluster event, with what a client would see of it:
/// `room Chat/Arena joined alice`, `zone created Chat/Arena users=1 zoneUsers=2`, ...
public func describe(_ event: ClusterEvent) -> String {
    switch event {
    case .room(let ref, .message(let bytes)):
        return "room \(ref) message \(String(buffer: bytes))"
    case .room(let ref, .joined(_, let profile)):
        return "room \(ref) joined \(profile.name)"
    case .room(let ref, .left(_, let profile)):
        return "room \(ref) left \(profile.name)"
    case .room(let ref, .lost(let count)):
        return "room \(ref) lost \(count)"
    case .zone(let change):
        let kind: String
        switch change.kind {
        case .created: kind = "created"
        case .deleted: kind = "deleted"
        case .changed: kind = "changed"
        }
        return "zone \(kind) \(change.zone)/\(change.room.name) users=\(change.room.users) zoneUsers=\(change.zoneUsers)"
    case .direct(let session, let bytes):
        return "direct \(session) \(String(buffer: bytes))"
    case .evict(let session, let reason):
        return "evict \(session) \(reason.rawValue)"
    case .kick(let session, let notice):
        return "kick \(session) \(String(buffer: notice))"
    case .resync:
        return "resync"
    }
}
