import ChatDomain
import Logging
import NIOCore
import RedisClient
import Synchronization

/// The cluster on Redis: names, sessions, rooms and zones in Redis keys, changed only by
/// the Lua scripts of `RedisScripts` (atomic, each publishing the event it causes), and
/// events fanned out with pub/sub: one channel per room (subscribed while this node has
/// members there), one for room-list changes, one per node for private messages.
///
/// Every event, including those this node causes, reaches the node from its subscription,
/// so all members of a room, on every node, see the room's events in Redis's one order.
///
/// The bus mirrors its own live sessions locally, so that when Redis comes back empty (or
/// the node was taken for dead) it can put them back: see `recover()`.
public final class RedisClusterBus: ClusterBus {
    public let nodeID: NodeID
    private let keys: RedisKeys
    private let rules: ClusterRules
    private let logger: Logger
    private let configuration: RedisConfiguration
    private let eventLoop: any EventLoop
    private let scripts: RedisScriptRunner
    private let observer: (any ClusterBusObserver)?
    private let local = Mutex(LocalState())
    /// Public messages waiting for the end of the bus loop's turn (see `publish`).
    private let outbox = Mutex(Outbox())
    private let sinkBox = Mutex<(any ClusterEventSink)?>(nil)
    private let linkBox = Mutex<RedisLink?>(nil)
    private let heartbeat = Mutex<[RepeatedTask]>([])
    /// No reaping before this (just reconnected: the evidence may be stale).
    private let reapAllowedAfter = Mutex<NIODeadline>(.distantPast)
    /// The Redis epoch this node last registered in (see `RedisScripts.epoch`).
    private let knownEpoch = Mutex<String?>(nil)

    /// How long a node counts as alive after its last heartbeat; heartbeats go every third of it.
    static let heartbeatTTL: TimeAmount = .seconds(6)
    static let heartbeatInterval: TimeAmount = .seconds(2)
    /// Reapers run often: a node whose every Redis connection vanished (its process died)
    /// is reaped once its channel has had no subscriber for `noSubscriberGrace`.
    static let reapInterval: TimeAmount = .milliseconds(500)
    static let noSubscriberGrace: TimeAmount = .milliseconds(750)

    /// `observer` hears of round trips, reconnections and resyncs (the node's metrics).
    public init(nodeID: NodeID, url: String, prefix: String, rules: ClusterRules,
                eventLoop: any EventLoop, logger: Logger, observer: (any ClusterBusObserver)? = nil) throws {
        self.nodeID = nodeID
        self.observer = observer
        self.configuration = try RedisConfiguration(url: url)
        self.keys = RedisKeys(prefix: prefix)
        self.rules = rules
        self.eventLoop = eventLoop
        self.logger = logger
        self.scripts = RedisScriptRunner(prefix: prefix)
    }

    /// The link, for recovery: usable as soon as a connection exists.
    private var link: RedisLink {
        get throws(ClusterError) {
            guard let link = linkBox.withLock({ $0 }) else { throw .unavailable }
            return link
        }
    }

    /// The link, for sessions' operations: only once it is connected and recovered, so no
    /// operation sees a half-restored cluster.
    private var readyLink: RedisLink {
        get throws(ClusterError) {
            let link = try link
            guard link.isConnected else { throw .unavailable }
            return link
        }
    }

    // MARK: Life cycle

    public func start(sink: any ClusterEventSink) async throws {
        sinkBox.withLock { $0 = sink }
        let link = RedisLink(
            configuration: configuration, eventLoop: eventLoop, logger: logger,
            onMessages: { [weak self] batch in self?.received(batch) },
            onReconnect: { [weak self] in
                self?.observer?.clusterReconnected()
                try await self?.recover()
            }
        )
        linkBox.withLock { $0 = link }
        logger.info("connecting to Redis at \(configuration.redacted)")
        try await link.start()
        try await link.subscribe([keys.zonesChannel, keys.nodeChannel(nodeID)]).get()
        try await recover()
        let loop = eventLoop
        let beating = loop.scheduleRepeatedAsyncTask(initialDelay: Self.heartbeatInterval, delay: Self.heartbeatInterval) { [weak self] _ in
            let promise = loop.makePromise(of: Void.self)
            let bus = self
            promise.completeWithTask { await bus?.beat() }
            return promise.futureResult
        }
        let reaping = loop.scheduleRepeatedAsyncTask(initialDelay: Self.reapInterval, delay: Self.reapInterval) { [weak self] _ in
            let promise = loop.makePromise(of: Void.self)
            let bus = self
            promise.completeWithTask { await bus?.reap() }
            return promise.futureResult
        }
        heartbeat.withLock { $0 = [beating, reaping] }
    }

    public func shutdown() async {
        heartbeat.withLock { tasks in
            for task in tasks { task.cancel() }
            tasks = []
        }
        if let link = linkBox.withLock({ $0 }) {
            do {
                let removed = try await scripts.run(.deregister, [nodeID.rawValue], on: link)
                logger.info("left the cluster, removed \(removed.int ?? 0) sessions from Redis")
            } catch {
                logger.warning("could not remove this node's sessions from Redis (\(error)); other nodes will reap them within 10 s")
            }
            await link.shutdown()
        }
        local.withLock { $0 = LocalState() }
    }

    /// One heartbeat: refresh this node's liveness; if Redis had forgotten the node (it
    /// restarted, or took this node for dead), put its sessions back; reap dead nodes.
    private func beat() async {
        guard let link = try? link else { return }
        do {
            async let registered = logged(.heartbeat) {
                try await scripts.run(.heartbeat, [nodeID.rawValue, "\(Self.heartbeatTTL.nanoseconds / 1_000_000)"], on: link)
            }
            if try await registered.int == 1 {
                logger.warning("Redis had lost this node's registration: restoring its sessions")
                try await recover()
            }
        } catch {
            logger.debug("heartbeat failed: \(error)")
        }
    }

    /// Reaps dead nodes (see `RedisScripts.reapDead`), unless this node just reconnected.
    private func reap() async {
        guard let link = try? readyLink, NIODeadline.now() >= reapAllowedAfter.withLock({ $0 }) else { return }
        do {
            let reaped = try await logged(.reapDead) {
                try await scripts.run(.reapDead, [nodeID.rawValue, "\(Self.heartbeatTTL.nanoseconds / 1_000_000)",
                                                  "\(Self.noSubscriberGrace.nanoseconds / 1_000_000)"], on: link)
            }
            if let nodes = reaped.array, !nodes.isEmpty {
                logger.notice("reaped dead nodes: \(nodes.compactMap(\.string).joined(separator: ", "))")
            }
        } catch {
            logger.debug("reaping failed: \(error)")
        }
    }

    /// (Re-)registers this node and everything it holds: scripts, heartbeat, permanent
    /// rooms; releases sessions Redis still has but this node no longer does; puts back the
    /// sessions Redis lost. A session whose name a live session elsewhere took meanwhile is
    /// ended. Runs at start, after every reconnection, and when a heartbeat finds the node
    /// unregistered.
    func recover() async throws {
        let link = try link
        try await scripts.load(on: link)
        let run = { (script: RedisScriptRunner.Script, args: [String]) async throws -> RESPValue in
            try await self.logged(script) { try await self.scripts.run(script, args, on: link) }
        }
        // Same epoch: Redis kept its state and this node was reaped (everybody saw its users
        // leave): announce them again. New epoch: Redis lost everything, nobody saw anything
        // leave: put things back quietly, then have clients refresh their room lists.
        let candidate = String(UInt64.random(in: .min ... .max), radix: 36)
        guard let epoch = try await run(.epoch, [candidate, RedisKeys.layout]).string else {
            throw RedisCommandError(message: "no epoch")
        }
        let previous = knownEpoch.withLock { known in
            defer { known = epoch }
            return known
        }
        let redisLostState = previous != nil && previous != epoch
        if redisLostState { observer?.clusterResynced() }
        let announce = redisLostState ? "0" : "1"
        _ = try await run(.heartbeat, [nodeID.rawValue, "\(Self.heartbeatTTL.nanoseconds / 1_000_000)"])
        for (room, options) in rules.permanentRooms {
            _ = try await run(.ensurePermanentRoom, [room.zone, room.name, options.password ?? "",
                                                     options.hidden ? "1" : "0", options.updatable ? "1" : "0",
                                                     "\(options.capacity ?? -1)", options.description, announce])
        }
        let sessions = local.withLock { $0.sessions }
        let registered = try await link.send(["SMEMBERS", keys.nodeSessions(nodeID)]).get()
        for stale in (registered.array ?? []).compactMap(\.string) where !sessions.keys.contains(where: { $0.description == stale }) {
            _ = try await run(.logout, [stale])
        }
        // Pipelined: every restore is sent before the first reply is awaited.
        let restores = sessions.map { id, session in
            let options = session.roomOptions ?? RoomOptions()
            let args = [nodeID.rawValue, id.description, session.nameKey, session.profile, session.zone,
                        session.room.map(RedisKeys.roomRef) ?? "", options.password ?? "", options.hidden ? "1" : "0",
                        options.updatable ? "1" : "0", "\(options.capacity ?? -1)", options.description,
                        options.permanent ? "1" : "0", "\(session.memberOrder ?? 0)", "\(session.roomOrder ?? 0)", announce,
                        session.createdRoom ? "1" : "0"]
            return (id, scripts.start(.restore, args, on: link))
        }
        var evicted: [ClusterEvent] = []
        var restored = 0
        for (id, reply) in restores {
            switch try await logged(.restore, { try await reply.get() }).string {
            case "restored": restored += 1
            case "conflict":
                logger.notice("session \(id) lost its name to another node during the outage; ending it")
                evicted.append(.evict(id, .nameInUse))
            default: break
            }
        }
        if restored > 0 { logger.notice("restored \(restored) sessions in Redis") }
        if !evicted.isEmpty { deliver(evicted) }
        reapAllowedAfter.withLock { $0 = .now() + Self.heartbeatTTL }
        if redisLostState {
            // Every room is a new incarnation now: catch up on each from its start (events
            // published before this node subscribed again). Members who left during the
            // outage were never seen leaving: once every node had time to put its sessions
            // back, user lists are checked against the truth.
            catchUpAll(members: false, trusted: false)
            eventLoop.scheduleTask(in: Self.resyncDelays.last!) { [weak self] in self?.catchUpAll(members: true) }
        } else {
            // Events published while the subscriber was away reveal no gap by themselves.
            catchUpAll(members: false)
        }
        if redisLostState {
            // Rooms nobody restores (their members left during the outage) vanished without a
            // DeleteRoom; once every node had time to restore, clients get fresh room lists.
            for delay in Self.resyncDelays {
                eventLoop.scheduleTask(in: delay) { [weak self] in self?.deliver([.resync]) }
            }
        }
    }

    /// When, after Redis lost its state, room lists are sent afresh: soon (the list is right
    /// within a second), and again once every node had time to restore its sessions.
    static let resyncDelays: [TimeAmount] = [.milliseconds(500), .seconds(3)]

    // MARK: Operations

    public var isAvailable: Bool { (try? readyLink) != nil }

    public func roomCount() async throws(ClusterError) -> Int {
        let link = try readyLink
        do {
            let reply = try await link.send(["GET", keys.roomCount]).get()
            return reply.string.flatMap { Int($0) } ?? 0
        } catch {
            throw .unavailable
        }
    }

    public func login(_ request: LoginRequest) async throws(ClusterError) -> LoginOutcome {
        let profile = request.profile.serialized
        let started = ContinuousClock.now
        let reply = try await run(.login, [request.session.description, nodeID.rawValue, request.name.key, profile, request.zone,
                                           request.address])
        observe(.login, since: started)
        var cursor = try ReplyCursor(reply)
        switch try cursor.int() {
        case 1: break
        case 2: return .nameBanned
        default: return .nameInUse
        }
        let listing = try cursor.listing(zone: request.zone)
        local.withLock {
            $0.sessions[request.session] = LocalSession(nameKey: request.name.key, profile: profile, zone: request.zone)
        }
        return .accepted(listing)
    }

    public func join(_ request: JoinRequest) async throws(ClusterError) -> JoinOutcome {
        let started = ContinuousClock.now
        defer { observe(.join, since: started) }
        try await subscribe(to: request.room)
        // The leave of the current room that this join causes is this node's own doing.
        local.withLock { state in
            let current = state.sessions[request.session]?.room
            state.sessions[request.session]?.departing = current
        }
        defer { local.withLock { $0.sessions[request.session]?.departing = nil } }
        let options = request.create ?? RoomOptions()
        let reply: RESPValue
        do {
            reply = try await run(.join, [request.session.description, request.room.zone, request.room.name,
                                          request.create != nil ? (options.password ?? "") : (request.password ?? ""),
                                          request.create != nil ? "1" : "0", options.hidden ? "1" : "0",
                                          options.updatable ? "1" : "0", "\(options.capacity ?? -1)", options.description,
                                          "\(rules.maxRooms ?? -1)", "\(rules.maxRoomsPerZone ?? -1)"])
        } catch {
            unsubscribe(from: request.room)
            throw error
        }
        var cursor = try ReplyCursor(reply)
        if try cursor.string() == "E" {
            unsubscribe(from: request.room)
            guard let reason = Reason(rawValue: try cursor.string()) else { throw .unavailable }
            return .failed(reason)
        }
        let created = try cursor.string() == "1"
        let leftRef = try cursor.string()
        let zoneUsers = try cursor.int()
        let summary = try cursor.room()
        let memberOrder = try cursor.int()
        let roomOrder = try cursor.int()
        let incarnation = try cursor.int()
        let sequence = try cursor.int()
        var members: [(id: SessionID, profile: UserProfile)] = []
        for _ in 0..<max(0, try cursor.int()) {
            let id = try cursor.string()
            let serialized = try cursor.string()
            if let id = SessionID(parsing: Substring(id)), let profile = UserProfile(serialized: serialized) {
                members.append((id, profile))
            }
        }
        let newZone = try cursor.int() == 1 ? try cursor.listing(zone: request.room.zone) : nil
        let left = Self.room(fromRef: leftRef)
        let roomOptions = RoomOptions(password: summary.passwordProtected ? (request.create?.password ?? request.password) : nil,
                                      hidden: summary.hidden, updatable: summary.updatable, capacity: summary.capacity,
                                      description: summary.description, permanent: rules.permanentRooms[request.room] != nil)
        local.withLock {
            $0.rooms[request.room]?.tracker.seed(incarnation: UInt64(incarnation), sequence: UInt64(sequence), members: members)
            $0.sessions[request.session]?.room = request.room
            $0.sessions[request.session]?.zone = request.room.zone
            $0.sessions[request.session]?.roomOptions = roomOptions
            $0.sessions[request.session]?.memberOrder = memberOrder
            $0.sessions[request.session]?.roomOrder = roomOrder
            $0.sessions[request.session]?.createdRoom = created
        }
        if let left { unsubscribe(from: left) }
        return .joined(JoinedRoom(room: request.room, summary: summary, members: members.map(\.profile), created: created,
                                  left: left, newZone: newZone, zoneUsers: zoneUsers))
    }

    public func leave(session: SessionID) async throws(ClusterError) -> Bool {
        let room = local.withLock { state in
            let current = state.sessions[session]?.room
            state.sessions[session]?.departing = current
            return current
        }
        defer { local.withLock { $0.sessions[session]?.departing = nil } }
        let started = ContinuousClock.now
        let left = try await run(.leave, [session.description]).int == 1
        observe(.leave, since: started)
        local.withLock {
            $0.sessions[session]?.room = nil
            $0.sessions[session]?.roomOptions = nil
            $0.sessions[session]?.createdRoom = false
        }
        if let room { unsubscribe(from: room) }
        return left
    }

    public func logout(session: SessionID) async {
        guard let removed = local.withLock({ $0.sessions.removeValue(forKey: session) }) else { return }
        if let room = removed.room { unsubscribe(from: room) }
        do {
            _ = try await run(.logout, [session.description])
        } catch {
            // Redis is unreachable: recover() releases it when the connection comes back.
            logger.debug("logout of \(session) deferred until Redis is back")
        }
    }

    /// Runs the `publish` script (pipelined: nothing waits for its reply but `completion`),
    /// which numbers the message in the room's stream and keeps it in the room's history.
    ///
    /// Messages published during one turn of the bus's event loop are gathered per room and
    /// sent as one script call (`RedisScripts.publish`): one PUBLISH per room per turn, so
    /// Redis's cost per message stays small under load.
    public func publish(to room: RoomRef, from session: SessionID, message: ByteBuffer,
                        completion: @escaping @Sendable (ClusterError?) -> Void) {
        guard (try? readyLink) != nil, let ref = local.withLock({ $0.rooms[room]?.ref }) else {
            completion(.unavailable)
            return
        }
        let item = OutgoingMessage(session: ByteBuffer(string: session.description), frame: message, completion: completion)
        let first = outbox.withLock { outbox -> Bool in
            // The clock is read once per room and turn (the default is only built when missing).
            outbox.rooms[room, default: OutgoingBatch(ref: ref, published: .now())].messages.append(item)
            defer { outbox.scheduled = true }
            return !outbox.scheduled
        }
        if first { eventLoop.execute { [weak self] in self?.flushOutbox() } }
    }

    /// Sends the gathered messages, one script call per room (at most `maxBatch` each).
    private func flushOutbox() {
        let batches = outbox.withLock { outbox in
            defer { outbox = Outbox() }
            return outbox.rooms
        }
        guard let link = try? readyLink else {
            for batch in batches.values { for message in batch.messages { message.completion(.unavailable) } }
            return
        }
        for batch in batches.values {
            var start = 0
            while start < batch.messages.count {
                let messages = Array(batch.messages[start..<min(batch.messages.count, start + Self.maxBatch)])
                start += messages.count
                var args: [ByteBuffer] = [batch.ref, ByteBuffer(string: String(batch.published.microseconds))]
                args.reserveCapacity(2 + 2 * messages.count)
                for message in messages {
                    args.append(message.session)
                    args.append(message.frame)
                }
                let started = ContinuousClock.now
                scripts.start(.publish, args, on: link).whenComplete { [observer] result in
                    if case .success = result {
                        observer?.clusterRoundTrip(.publish, nanoseconds: Self.nanoseconds(since: started))
                    }
                    let verdicts = (try? result.get())?.array ?? []
                    for (index, message) in messages.enumerated() {
                        message.completion(index < verdicts.count && verdicts[index].int == 1 ? nil : .unavailable)
                    }
                }
            }
        }
    }

    /// The most messages of one room in one script call.
    static let maxBatch = 256

    public func sendPrivate(to nameKeys: [String], message: ByteBuffer) async throws(ClusterError) -> [Int] {
        let link = try readyLink
        let reply: RESPValue
        do {
            reply = try await logged(.sendPrivate) {
                try await scripts.start(.sendPrivate, [message] + nameKeys.map { ByteBuffer(string: $0) }, on: link).get()
            }
        } catch {
            throw .unavailable
        }
        return (reply.array ?? []).compactMap { $0.int.map { Int($0) - 1 } }
    }

    public func zoneListing(_ zone: String) async throws(ClusterError) -> ZoneListing {
        var cursor = try ReplyCursor(try await run(.listing, [zone]))
        return try cursor.listing(zone: zone)
    }

    public func isNameTaken(nameKey: String) async throws(ClusterError) -> Bool {
        let link = try readyLink
        do {
            return try await link.send(["HEXISTS", "\(keys.prefix)names", nameKey]).get().int == 1
        } catch {
            throw .unavailable
        }
    }

    public func loggedInCount() async throws(ClusterError) -> Int {
        let link = try readyLink
        do {
            guard let count = try await link.send(["HLEN", keys.names]).get().int else { throw ClusterError.unavailable }
            return Int(count)
        } catch {
            if let error = error as? RedisCommandError { logger.error("HLEN of the names failed in Redis: \(error.message)") }
            throw .unavailable
        }
    }

    public func isLockedOut(nameKey: String) async throws(ClusterError) -> Bool {
        guard let locked = try await run(.isLockedOut, [nameKey]).int else { throw .unavailable }
        return locked == 1
    }

    public func recordWrongPassword(nameKey: String) async throws(ClusterError) -> Bool {
        let policy = rules.passwordLockout
        let args = [nameKey, "\(policy.failures)", "\(Self.milliseconds(policy.window))", "\(Self.milliseconds(policy.lock))"]
        guard let locked = try await run(.recordWrongPassword, args).int else { throw .unavailable }
        return locked == 1
    }

    public func moderate(_ request: ModerationRequest) async throws(ClusterError) -> ModerationOutcome {
        let action: String, milliseconds: Int64, address: Bool
        switch request.action {
        case .kick: (action, milliseconds, address) = ("K", -1, false)
        case .ban(let ms, let withAddress): (action, milliseconds, address) = ("B", ms ?? -1, withAddress)
        case .unban: (action, milliseconds, address) = ("U", -1, false)
        }
        let link = try readyLink
        let reply: RESPValue
        do {
            reply = try await logged(.moderate) {
                try await scripts.start(.moderate, [ByteBuffer(string: action), ByteBuffer(string: request.targetKey),
                                                    ByteBuffer(string: "\(milliseconds)"), ByteBuffer(string: address ? "1" : "0"),
                                                    request.notice], on: link).get()
            }
        } catch {
            throw .unavailable
        }
        guard let done = reply.int else { throw .unavailable }
        return done == 1 ? .done : .userNotFound
    }

    public func changeRoomDetails(_ request: RoomDetailsRequest) async throws(ClusterError) -> RoomDetailsOutcome {
        let field: String, value: String
        switch request.change {
        case .description(let text): (field, value) = ("desc", text)
        case .capacity(let capacity): (field, value) = ("cap", "\(capacity ?? -1)")
        case .hidden(let hidden): (field, value) = ("hidden", hidden ? "1" : "0")
        case .password(let password): (field, value) = ("pw", password ?? "")
        case .updatable(let updatable): (field, value) = ("upd", updatable ? "1" : "0")
        }
        let reply = try await run(.changeRoomDetails, [request.session.description, request.moderator ? "1" : "0", field, value])
        var cursor = try ReplyCursor(reply)
        if try cursor.string() == "E" {
            guard let reason = Reason(rawValue: try cursor.string()) else { throw .unavailable }
            return .failed(reason)
        }
        _ = try cursor.int()
        let summary = try cursor.room()
        // This node's members of the room remember its details for restores (docs/cluster.md:
        // other nodes' members keep what they knew, the password included).
        local.withLock { state in
            guard let room = state.sessions[request.session]?.room else { return }
            for (id, session) in state.sessions where session.room == room {
                if let options = session.roomOptions {
                    state.sessions[id]?.roomOptions = request.change.applied(to: options)
                }
            }
        }
        return .changed(summary)
    }

    public func isAddressBanned(_ address: String) async throws(ClusterError) -> Bool {
        guard let banned = try await run(.isAddressBanned, [address]).int else { throw .unavailable }
        return banned == 1
    }

    // MARK: Subscriptions

    /// Subscribes to a room's channel before a local session joins it (so the session's own
    /// join event, and everything after it, arrives); counts local interest. Every joiner
    /// waits for the same confirmation. The decisions are `SubscriptionStateMachine`'s; the
    /// commands are issued inside the same lock as the decisions, so Redis sees them in the
    /// order of the decisions (a late UNSUBSCRIBE can never undo a newer SUBSCRIBE).
    private func subscribe(to room: RoomRef) async throws(ClusterError) {
        let link = try readyLink
        let channel = keys.roomChannel(room)
        let waiting = local.withLock { state -> (SubscriptionStateMachine<RoomRef>.Attempt, EventLoopFuture<Void>)? in
            if state.rooms[room] == nil {
                state.rooms[room] = RoomInterest(channel: channel, ref: ByteBuffer(string: RedisKeys.roomRef(room)))
                state.channels[channel] = room
            }
            switch state.subscriptions.subscribe(room) {
            case .subscribe(let attempt):
                let confirmation = link.subscribe([channel])
                state.rooms[room]!.confirmation = confirmation
                return (attempt, confirmation)
            case .waitForConfirmation(let attempt):
                return state.rooms[room]!.confirmation.map { (attempt, $0) }
            case .none:
                return nil
            }
        }
        guard let (attempt, confirmation) = waiting else { return }
        do {
            try await confirmation.get()
            local.withLock { $0.subscriptions.subscribeSucceeded(room, attempt: attempt) }
        } catch {
            let link = try? self.link
            local.withLock { state in
                if state.subscriptions.subscribeFailed(room, attempt: attempt) == .unsubscribe {
                    Self.forget(room, in: &state, link: link)
                }
            }
            throw .unavailable
        }
    }

    private func unsubscribe(from room: RoomRef) {
        let link = try? link
        local.withLock { state in
            if state.subscriptions.unsubscribe(room) == .unsubscribe {
                Self.forget(room, in: &state, link: link)
            }
        }
    }

    /// The last local interest in `room` is gone: UNSUBSCRIBE (under the caller's lock).
    private static func forget(_ room: RoomRef, in state: inout LocalState, link: RedisLink?) {
        guard let interest = state.rooms.removeValue(forKey: room) else { return }
        state.channels[interest.channel] = nil
        _ = link?.unsubscribe([interest.channel])
    }

    // MARK: Events

    /// One read's worth of pub/sub messages, in Redis's order, as one batch of events.
    private func received(_ batch: [(channel: ByteBuffer, payload: ByteBuffer)]) {
        let zones = keys.zonesChannel
        let node = nodeID
        var events: [ClusterEvent] = []
        events.reserveCapacity(batch.count)
        var fetches: [(RoomRef, RoomTracker.Fetch)] = []
        var checks: [RoomRef] = []
        var dropped = 0
        var oldestPublish: PublishStamp?
        local.withLock { state in
            for (channel, payload) in batch {
                if let room = state.channels[channel] {
                    let sessions = state.sessions
                    func take(_ incarnation: UInt64, _ sequence: UInt64, _ event: RoomEvent) {
                        // The common case, in order, costs no allocation.
                        if state.rooms[room]!.tracker.receiveInOrder(incarnation: incarnation, sequence: sequence, event) {
                            events.append(.room(room, event))
                            return
                        }
                        let step = state.rooms[room]!.tracker.receive(incarnation: incarnation, sequence: sequence, event) {
                            Self.isOwnReap($0, in: room, node: node, sessions: sessions)
                        }
                        for event in step.events { events.append(.room(room, event)) }
                        if let fetch = step.fetch { fetches.append((room, fetch)) }
                        if step.checkListsLater { checks.append(room) }
                    }
                    if payload.readableBytesView.first == UInt8(ascii: "T") {
                        var published: PublishStamp?
                        let valid = RedisEventDecoder.forEachBatchedMessage(payload, published: &published) { incarnation, sequence, frame in
                            take(incarnation, sequence, .message(frame))
                        }
                        if !valid { dropped += 1 }
                        if let published, oldestPublish.map({ published < $0 }) ?? true { oldestPublish = published }
                    } else if let (incarnation, sequence, event) = RedisEventDecoder.sequencedRoomEvent(payload) {
                        take(incarnation, sequence, event)
                    } else {
                        dropped += 1
                    }
                } else if channel == zones {
                    if let change = RedisEventDecoder.zoneChange(payload) { events.append(.zone(change)) } else { dropped += 1 }
                } else if let event = RedisEventDecoder.nodeEvent(payload) {
                    events.append(event)
                }
            }
        }
        if dropped > 0 { logger.warning("dropped \(dropped) malformed messages from Redis") }
        if !events.isEmpty { sinkBox.withLock { $0 }?.deliver(events, oldestPublish: oldestPublish) }
        for (room, fetch) in fetches { self.fetch(room, fetch) }
        for room in checks {
            eventLoop.scheduleTask(in: Self.resyncDelays.last!) { [weak self] in self?.checkLists(of: room) }
        }
    }

    /// Checks the clients' user lists of one room against the truth (see `catchUpAll`).
    private func checkLists(of room: RoomRef) {
        guard let fetch = local.withLock({ $0.rooms[room]?.tracker.beginCatchUp(members: true) }) else { return }
        self.fetch(room, fetch)
    }

    /// The leave of a local session that this node still has in the room, and is not
    /// taking out of it: the node was taken for dead while alive (frozen), and others
    /// reaped its sessions. Its own clients never saw them leave, and must not: the node
    /// puts them back (`recover`), and the others see them join again.
    static func isOwnReap(_ event: RoomEvent, in room: RoomRef, node: NodeID, sessions: [SessionID: LocalSession]) -> Bool {
        guard case .left(let id, _) = event, id.node == node, let session = sessions[id] else { return false }
        return session.room == room && session.departing != room
    }

    /// Asks the room's history for what this node missed (docs/cluster.md, "Sequenced room
    /// streams"), then delivers it in order.
    private func fetch(_ room: RoomRef, _ request: RoomTracker.Fetch) {
        guard let link = try? link, let ref = local.withLock({ $0.rooms[room]?.ref }) else {
            local.withLock { $0.rooms[room]?.tracker.fetchFailed() }
            return
        }
        let args = [ref, ByteBuffer(string: "\(request.incarnation)"), ByteBuffer(string: "\(request.from)"),
                    ByteBuffer(string: request.members ? "1" : "0")]
        scripts.start(.fetch, args, on: link).whenComplete { [weak self] result in
            guard let self else { return }
            let answer: HistoryAnswer?
            switch result {
            case .success(let reply):
                answer = RedisEventDecoder.historyAnswer(reply)
                if answer == nil, reply.array?.first?.string != "G" {
                    self.logger.warning("dropped a malformed history answer from Redis for room \(room)")
                }
            case .failure(let error):
                self.logger.debug("catching up on room \(room) failed: \(error)")
                answer = nil
            }
            let node = self.nodeID
            var again: RoomTracker.Fetch?
            var events: [ClusterEvent] = []
            self.local.withLock { state in
                guard state.rooms[room] != nil else { return }
                guard let answer else {
                    state.rooms[room]!.tracker.fetchFailed()
                    return
                }
                let sessions = state.sessions
                let step = state.rooms[room]!.tracker.caughtUp(answer, keep: { id in
                    id.node == node && sessions[id]?.room == room
                }, suppress: { Self.isOwnReap($0, in: room, node: node, sessions: sessions) })
                events = step.events.map { .room(room, $0) }
                again = step.fetch
            }
            if let lost = events.lazy.compactMap({ event -> Int? in
                if case .room(_, .lost(let count)) = event { return count }
                return nil
            }).first {
                self.logger.warning("room \(room): \(lost) events were no longer in Redis's history; members are told")
            }
            if !events.isEmpty { self.deliver(events) }
            if let again { self.fetch(room, again) }
        }
    }

    /// Catches up on every room this node has members in (after reconnecting), or checks
    /// their user lists against the truth (`members`, after Redis lost its state).
    private func catchUpAll(members: Bool, trusted: Bool = true) {
        let fetches = local.withLock { state in
            state.rooms.keys.compactMap { room in
                state.rooms[room]!.tracker.beginCatchUp(members: members, trusted: trusted).map { (room, $0) }
            }
        }
        for (room, fetch) in fetches { self.fetch(room, fetch) }
    }

    private func deliver(_ events: [ClusterEvent]) {
        sinkBox.withLock { $0 }?.deliver(events)
    }

    // MARK: Helpers

    private func observe(_ operation: ClusterOperation, since started: ContinuousClock.Instant) {
        observer?.clusterRoundTrip(operation, nanoseconds: Self.nanoseconds(since: started))
    }

    private static func nanoseconds(since started: ContinuousClock.Instant) -> Int64 {
        let (seconds, attoseconds) = (ContinuousClock.now - started).components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    private func run(_ script: RedisScriptRunner.Script, _ args: [String]) async throws(ClusterError) -> RESPValue {
        let link = try readyLink
        do {
            return try await logged(script) { try await scripts.run(script, args, on: link) }
        } catch {
            throw .unavailable
        }
    }

    /// Runs one script call; when Redis answers it with an error (a bug or foreign data, not
    /// an outage: the caller still only sees `Cluster unavailable`), says so at error level,
    /// with the script's name and Redis's message.
    private func logged<T>(_ script: RedisScriptRunner.Script, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as RedisCommandError {
            logger.error("Redis script \(script) failed: \(error.message)",
                         metadata: ["script": "\(script)", "redis-error": "\(error.message)"])
            throw error
        }
    }

    /// Whole milliseconds, at least 1 (Redis TTLs).
    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }

    private static func room(fromRef ref: String) -> RoomRef? {
        guard let separator = ref.firstIndex(of: "\u{1F}") else { return nil }
        return RoomRef(zone: String(ref[..<separator]), name: String(ref[ref.index(after: separator)...]))
    }
}

/// What the bus remembers of one of its own sessions, to put it back into Redis.
struct LocalSession: Sendable {
    var nameKey: String
    var profile: String
    var zone: String
    var room: RoomRef?
    var roomOptions: RoomOptions?
    /// The member's and the room's places in join and creation order, kept for restores.
    var memberOrder: Int?
    var roomOrder: Int?
    /// The session created its room (it may change the room's details; restores say so).
    var createdRoom = false
    /// The room this node is taking the session out of (a join elsewhere, a leave) while
    /// the script runs: its leave event is the node's own doing, not a reap.
    var departing: RoomRef?
}

struct RoomInterest: Sendable {
    var channel: ByteBuffer
    /// `zone US room`, as the scripts take it.
    var ref: ByteBuffer
    /// The room's stream as this node receives it, and its members as its clients know them.
    var tracker = RoomTracker()
    /// The confirmation of the last SUBSCRIBE issued (`LocalState.subscriptions` says
    /// whether it is pending); every joiner waits for it.
    var confirmation: EventLoopFuture<Void>?
}

struct LocalState: Sendable {
    var sessions: [SessionID: LocalSession] = [:]
    /// Rooms this node has local interest in (members or joiners): exactly the rooms
    /// `subscriptions` knows.
    var rooms: [RoomRef: RoomInterest] = [:]
    var channels: [ByteBuffer: RoomRef] = [:]
    /// Local interest per room, and when to SUBSCRIBE and UNSUBSCRIBE.
    var subscriptions = SubscriptionStateMachine<RoomRef>()
}

/// Public messages gathered for one script call per room (see `RedisClusterBus.publish`).
struct Outbox: Sendable {
    var rooms: [RoomRef: OutgoingBatch] = [:]
    /// A flush is scheduled on the bus's event loop.
    var scheduled = false
}

struct OutgoingBatch: Sendable {
    var ref: ByteBuffer
    /// When the first of these messages reached the bus (travels in the `T` batch).
    var published: PublishStamp
    var messages: [OutgoingMessage] = []
}

struct OutgoingMessage: Sendable {
    var session: ByteBuffer
    var frame: ByteBuffer
    var completion: @Sendable (ClusterError?) -> Void
}
