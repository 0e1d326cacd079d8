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
/// pushed at most every `coalescingInterval` (PROTOCOL.md allows it within 1 second), so a
/// burst of joins does not become a storm of room-list pushes. Creations and deletions go
/// out at once.
final class Fanout: ClusterEventSink {
    let registries: [LoopRegistry]
    private let bus: any ClusterBus
    private let allocator = ByteBufferAllocator()
    private let pendingChanges = Mutex<[RoomRef: ZoneChange]>([:])

    init(registries: [LoopRegistry], bus: any ClusterBus) {
        self.registries = registries
        self.bus = bus
    }

    func registry(for loop: any EventLoop) -> LoopRegistry {
        registries.first { $0.eventLoop === loop }!
    }

    func deliver(_ events: [ClusterEvent]) {
        var batch: [Delivery] = []
        batch.reserveCapacity(events.count)
        for event in events {
            switch event {
            case .room(let room, .message(let bytes)):
                batch.append(.room(room, bytes))
            case .room(let room, .joined(let id, let profile)):
                batch.append(.joined(room, id, ServerEvent.userJoined(WireUser(profile)).encoded(allocator: allocator)))
            case .room(let room, .left(let id, let profile)):
                batch.append(.left(room, id, ServerEvent.userLeft(WireUser(profile)).encoded(allocator: allocator)))
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
            case .resync:
                resyncRoomLists()
            }
        }
        dispatch(batch)
    }

    /// Sends every local user a fresh `RoomList` of its zone (one listing per zone).
    private func resyncRoomLists() {
        let registries = registries
        let bus = bus
        let allocator = allocator
        Task {
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
        var byZone: [String: ByteBuffer] = [:]
        for change in changes {
            ServerEvent.updateRoomList(change).encode(into: &byZone[change.zone, default: allocator.buffer(capacity: 256)])
        }
        dispatch(byZone.map { .zoneFrames($0.key, $0.value) })
    }

    private func dispatch(_ batch: [Delivery]) {
        guard !batch.isEmpty else { return }
        for registry in registries {
            registry.eventLoop.execute { registry.apply(batch) }
        }
    }
}
