import ChatDomain
import ClusterBus
import NIOCore
import Synchronization
import Wire

/// The node's end of the cluster's event stream. Each batch from the bus is encoded once
/// (user-list and room-list pushes; public and private messages arrive encoded already)
/// and handed to every event loop with one hop per loop.
///
/// Room count changes (`ChangeRoomDetails`) are coalesced: the latest state of each room is
/// pushed at most every `coalescingInterval` (PROTOCOL.md wants a kept list right within 1
/// second of the last change), so a burst of joins does not become a storm of room-list
/// pushes. Creations and deletions go out at once.
final class Fanout: ClusterEventSink {
    static let coalescingInterval: TimeAmount = .milliseconds(800)

    let registries: [LoopRegistry]
    private let bus: any ClusterBus
    private let allocator = ByteBufferAllocator()
    private let pendingChanges = Mutex<[RoomRef: ZoneChange]>([:])
    private let tasks: TaskTracker

    init(registries: [LoopRegistry], bus: any ClusterBus, tasks: TaskTracker) {
        self.registries = registries
        self.bus = bus
        self.tasks = tasks
    }

    func registry(for loop: any EventLoop) -> LoopRegistry {
        registries.first { $0.eventLoop === loop }!
    }

    func deliver(_ events: [ClusterEvent]) {
        deliver(events, oldestPublish: nil)
    }

    /// `oldestPublish` goes with the batch to every loop, which observes the
    /// publish-to-delivery lag once it has written the batch.
    func deliver(_ events: [ClusterEvent], oldestPublish: PublishStamp?) {
        var batch: [Delivery] = []
        batch.reserveCapacity(events.count)
        var run = MessageRun()
        for event in events {
            if case .room(let room, .message(let bytes)) = event {
                run.append(bytes, to: room)
                continue
            }
            run.flush(into: &batch)
            switch event {
            case .room(_, .message):
                break // gathered above
            case .room(let room, .joined(let id, let profile)):
                batch.append(.joined(room, id, ServerEvent.userJoined(WireUser(profile)).encoded(allocator: allocator)))
            case .room(let room, .left(let id, let profile)):
                batch.append(.left(room, id, ServerEvent.userLeft(WireUser(profile)).encoded(allocator: allocator)))
            case .room(let room, .lost(let count)):
                // PROTOCOL.md, SendPublicMessage: "Nothing is lost in silence".
                batch.append(.room(room, ServerEvent.error(.messagesLost, action: "", detail: "\(count)").encoded(allocator: allocator)))
            case .zone(let change):
                let ref = RoomRef(zone: change.zone, name: change.room.name)
                if change.kind == .changed {
                    pendingChanges.withLock { $0[ref] = change }
                } else {
                    pendingChanges.withLock { _ = $0.removeValue(forKey: ref) }
                    batch.append(.zone(change, ServerEvent.updateRoomList(change).encoded(allocator: allocator)))
                }
            case .direct(let id, let bytes):
                batch.append(.direct(id, bytes))
            case .evict(let id, let reason):
                batch.append(.evict(id, reason))
            case .kick(let id, let notice):
                batch.append(.kick(id, notice))
            case .resync:
                resyncRoomLists()
            }
        }
        run.flush(into: &batch)
        dispatch(batch, oldestPublish: oldestPublish)
    }

    /// Sends every local user a fresh `RoomList` of its zone (one listing per zone).
    private func resyncRoomLists() {
        let registries = registries
        let bus = bus
        let allocator = allocator
        tasks.run {
            var zones = Set<String>()
            for registry in registries {
                if let names = try? await registry.eventLoop.submit({ registry.zoneNames }).get() { zones.formUnion(names) }
            }
            var batch: [Delivery] = []
            for zone in zones {
                guard let listing = try? await bus.zoneListing(zone) else { continue }
                batch.append(.roomList(zone, ServerEvent.roomList(listing).encoded(allocator: allocator)))
            }
            self.dispatch(batch)
        }
    }

    /// Pushes the coalesced room count changes; called periodically. The changes of one zone
    /// are encoded once into one buffer of consecutive frames, so each user of the zone gets
    /// one write per flush, however many rooms changed.
    func flushChanges() {
        let changes = pendingChanges.withLock { pending in
            defer { pending.removeAll() }
            return Array(pending.values)
        }
        guard !changes.isEmpty else { return }
        var byZone: [String: (frames: ByteBuffer, count: Int)] = [:]
        for change in changes {
            byZone[change.zone, default: (allocator.buffer(capacity: 256), 0)].count += 1
            ServerEvent.updateRoomList(change).encode(into: &byZone[change.zone]!.frames)
        }
        dispatch(byZone.map { .zoneFrames($0.key, $0.value.frames, count: $0.value.count) })
    }

    private func dispatch(_ batch: [Delivery], oldestPublish: PublishStamp? = nil) {
        guard !batch.isEmpty else { return }
        for registry in registries {
            registry.eventLoop.execute { registry.apply(batch, oldestPublish: oldestPublish) }
        }
    }
}

/// Consecutive public messages of a batch, gathered per room into one buffer of frames (in
/// the room's order), so each member gets one write per batch instead of one per message.
/// A join or leave of the room ends the run, so membership changes keep their place.
struct MessageRun {
    private var rooms: [RoomRef] = []
    private var frames: [RoomRef: (buffer: ByteBuffer, count: Int)] = [:]

    mutating func append(_ message: ByteBuffer, to room: RoomRef) {
        if var run = frames.removeValue(forKey: room) {
            run.buffer.writeImmutableBuffer(message)
            run.count += 1
            frames[room] = run
        } else {
            rooms.append(room)
            frames[room] = (message, 1)
        }
    }

    mutating func flush(into batch: inout [Delivery]) {
        guard !rooms.isEmpty else { return }
        for room in rooms {
            let run = frames[room]!
            batch.append(.messages(room, run.buffer, count: run.count))
        }
        rooms.removeAll(keepingCapacity: true)
        frames.removeAll(keepingCapacity: true)
    }
}
