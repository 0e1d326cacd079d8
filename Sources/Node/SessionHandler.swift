import ChatDomain
import ClusterBus
import Foundation
import Logging
import NIOCore
import Wire

/// One client connection: decodes requests, asks the session state machine what they mean,
/// performs the cluster operations they need, and writes the responses and pushes of
/// PROTOCOL.md in their documented order.
///
/// Requests are handled one at a time in arrival order: while a cluster operation is in
/// flight, later requests wait in a bounded queue and reading pauses when it is full.
/// Responses written while handling input are flushed once per read batch.
final class SessionHandler: ChannelDuplexHandler {
    typealias InboundIn = InboundFrame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let id: SessionID
    private let node: NodeContext
    private let registry: LoopRegistry
    private var state: SessionState
    private var context: ChannelHandlerContext?
    private var remoteAddress = "unknown"
    private var admitted = false
    private var ended = false

    /// Requests waiting for the one in flight.
    private var queue = CircularBuffer<ClientRequest>()
    private var busy = false
    private var readHeld = false
    private static let maxQueued = 64

    /// The node is closing this connection (`closeAfterWrites`): input is dropped.
    private var closing = false

    /// The client closed its sending side: finish its requests, then close.
    private var inputClosed = false
    private var closeScheduled = false

    private var framesSeen = 0
    private var malformedFrames = 0

    /// A join in flight: room events that arrive for it before its response wait here.
    private var pendingJoin: (room: RoomRef, buffered: [ByteBuffer], bytes: Int)?
    /// The creator of a listed room sends its own `UpdateRoomList CreateRoom` in order
    /// (before `JoinRoom`), so the cluster's copy of that push is skipped once.
    private var suppressCreatedPush: RoomRef?
    /// Something was written and not flushed yet.
    private var needsFlush = false
    /// The loop registry will flush this session at the end of its current batch.
    private var awaitingBatchFlush = false

    /// What this client leaves unread (PROTOCOL.md section 7), and the pending verdict.
    private var slowReader: SlowReaderJudge
    private var slowReaderCheck: Scheduled<Void>?

    /// The same bytes for every connection.
    private static let connectionAccepted = ServerEvent.connectionAccepted.encoded()

    init(id: SessionID, node: NodeContext, registry: LoopRegistry) {
        self.id = id
        self.node = node
        self.registry = registry
        self.state = SessionState(limits: node.configuration.limits, defaultZone: node.configuration.defaultZone)
        self.slowReader = SlowReaderJudge(bound: node.configuration.maxOutboundBytes)
        LiveObjects.sessionHandlers.add(1, ordering: .relaxed)
    }

    deinit {
        LiveObjects.sessionHandlers.subtract(1, ordering: .relaxed)
    }

    // MARK: Connection life cycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    /// The pipeline is torn down: let go of the context, which holds this handler (a
    /// handler that kept it would keep itself, its context and its pipeline alive).
    func handlerRemoved(context: ChannelHandlerContext) {
        end()
        slowReaderCheck?.cancel()
        slowReaderCheck = nil
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        if !node.configuration.proxyProtocol {
            begin(clientAddress: context.channel.remoteAddress)
        }
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let proxied = event as? ProxiedConnection {
            begin(clientAddress: proxied.source)
        } else if case .some(.inputClosed) = event as? ChannelEvent {
            inputClosed = true
            if closing {
                context.close(promise: nil) // the client read our last words and closed too
            } else {
                closeWhenDrained()
            }
        } else if event is PartialFrameTimedOut {
            node.metrics.malformed.add(1, ordering: .relaxed)
            node.logger.notice("disconnecting client: a frame was not completed in time",
                               metadata: ["session": "\(id)", "client": "\(remoteAddress)"])
            write(.error(.malformedMessage, action: "", detail: "A message must be completed within \(node.configuration.partialFrameTimeout.nanoseconds / 1_000_000_000) seconds of its first byte."))
            closeAfterWrites(context)
        } else if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            node.metrics.idleClosed.add(1, ordering: .relaxed)
            node.logger.debug("closing idle session", metadata: ["session": "\(id)"])
            let seconds = node.configuration.idleTimeout.nanoseconds / 1_000_000_000
            write(.error(.idleTimeout, action: "", detail: "Nothing was received for \(seconds) seconds; connect again to go on."))
            closeAfterWrites(context)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// Admits the connection (or denies it) once its client address is known.
    private func begin(clientAddress: SocketAddress?) {
        guard let context, !admitted, !ended else { return }
        remoteAddress = clientAddress?.ipAddress ?? "unknown"
        guard node.limiter.admit(remoteAddress) else {
            node.metrics.denied.add(1, ordering: .relaxed)
            node.logger.notice("connection denied: server is full", metadata: ["client": "\(remoteAddress)"])
            ended = true
            context.write(wrapOutboundOut(ServerEvent.connectionDenied(reason: Reason.serverFull.rawValue).encoded()), promise: nil)
            closeAfterWrites(context)
            return
        }
        admitted = true
        node.metrics.accepted.add(1, ordering: .relaxed)
        registry.add(self)
        context.writeAndFlush(wrapOutboundOut(Self.connectionAccepted), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        end()
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            slowReader.becameWritable()
        } else if !ended {
            // More than the outbound bound waits for this client. That alone is no verdict
            // (one large response can do it): the client is judged on what stays unread.
            slowReader.becameUnwritable(buffered: bufferedBytes(context))
            scheduleSlowReaderCheck(context)
        }
        context.fireChannelWritabilityChanged()
    }

    private func bufferedBytes(_ context: ChannelHandlerContext) -> Int {
        (try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? Int.max
    }

    private func scheduleSlowReaderCheck(_ context: ChannelHandlerContext) {
        slowReaderCheck?.cancel()
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        slowReaderCheck = context.eventLoop.scheduleTask(in: node.configuration.slowReaderGrace) {
            let session = bound.value
            guard let context = session.context, !session.ended else { return }
            if session.slowReader.check(writable: context.channel.isWritable, buffered: session.bufferedBytes(context)) {
                session.cutSlowReader(context)
            } else if !context.channel.isWritable {
                session.scheduleSlowReaderCheck(context)
            }
        }
    }

    private func cutSlowReader(_ context: ChannelHandlerContext) {
        guard !ended else { return }
        node.metrics.slowReadersCut.add(1, ordering: .relaxed)
        node.logger.notice("disconnecting slow reader", metadata: ["session": "\(id)", "client": "\(remoteAddress)"])
        slowReaderCheck?.cancel()
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        node.logger.debug("connection error", metadata: ["session": "\(id)", "error": "\(error)"])
        context.close(promise: nil)
    }

    /// The session is over: forget it locally and end it in the cluster, after any
    /// operation still in flight (so a login completing late cannot leave a ghost).
    private func end() {
        guard !ended else { return }
        ended = true
        queue.removeAll()
        pendingJoin = nil
        guard admitted else { return }
        registry.remove(self, zone: state.isLoggedIn ? state.zone : nil)
        if !busy { logoutFromCluster() }
    }

    /// A half-closed client (e.g. `printf ... | nc`) still gets the answers to everything it
    /// sent; then the session ends at once (its name is free again), one loop turn later so
    /// that events already queued for it on this loop go out first.
    private func closeWhenDrained() {
        guard inputClosed, !closeScheduled, !busy, queue.isEmpty, !ended, let context else { return }
        closeScheduled = true
        flushIfNeeded()
        let channel = context.channel
        context.eventLoop.execute { channel.close(promise: nil) }
    }

    /// Closes so that the client reads our last message (a final `Error`) first: flush, end
    /// the session (its name is free at once), half-close (FIN after the data), then drop
    /// whatever the client still sends until it closes too or `lingerAfterClose` passes.
    /// Closing with unread input would send a reset, which can destroy the answer in flight.
    private func closeAfterWrites(_ context: ChannelHandlerContext) {
        guard !closing else { return }
        closing = true
        needsFlush = false
        let channel = context.channel
        let loop = context.eventLoop
        context.writeAndFlush(wrapOutboundOut(ByteBuffer())).whenComplete { _ in
            channel.close(mode: .output).whenComplete { _ in
                loop.scheduleTask(in: Self.lingerAfterClose) { channel.close(promise: nil) }
            }
        }
        end()
    }

    /// How long a closing connection waits for the client to close its side.
    static let lingerAfterClose: TimeAmount = .seconds(2)

    /// Ends the session in the cluster, then gives back its connection slot: a client that
    /// gets a slot again finds its old name free.
    private func logoutFromCluster() {
        let limiter = node.limiter
        let address = remoteAddress
        guard state.isLoggedIn else {
            limiter.release(address)
            return
        }
        let bus = node.bus
        let id = id
        Task {
            await bus.logout(session: id)
            limiter.release(address)
        }
    }

    // MARK: Reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard admitted, !ended, !closing else { return }
        node.metrics.framesIn.add(1, ordering: .relaxed)
        framesSeen += 1
        switch unwrapInboundIn(data) {
        case .tooLarge:
            write(.error(.messageTooLarge, action: ""))
            closeAfterWrites(context)
        case .document(let frame):
            if framesSeen == 1, isPolicyFileRequest(frame) {
                writeBytes(policyFileResponse(domain: node.configuration.policyDomain, port: node.configuration.port))
                closeAfterWrites(context)
                return
            }
            do {
                let request = try ClientRequest.decode(frame, limits: node.xmlLimits)
                enqueue(request)
            } catch {
                malformed(context: context, error: error)
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushIfNeeded()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if queue.count >= Self.maxQueued {
            readHeld = true
        } else {
            context.read()
        }
    }

    private func malformed(context: ChannelHandlerContext, error: any Error) {
        node.metrics.malformed.add(1, ordering: .relaxed)
        malformedFrames += 1
        write(.error(.malformedMessage, action: ""))
        if malformedFrames > node.configuration.maxMalformedFrames {
            node.logger.notice("disconnecting client after too many malformed frames",
                               metadata: ["session": "\(id)", "client": "\(remoteAddress)", "last_error": "\(error)"])
            closeAfterWrites(context)
        }
    }

    private func enqueue(_ request: ClientRequest) {
        if busy {
            queue.append(request)
        } else {
            handle(request)
        }
    }

    /// Runs queued requests until one needs the cluster or the queue is empty.
    private func drain() {
        while !busy, !ended, let next = queue.popFirst() {
            handle(next)
        }
        flushIfNeeded()
        closeWhenDrained()
        if readHeld, queue.count < Self.maxQueued, let context {
            readHeld = false
            context.read()
        }
    }

    // MARK: Requests

    private func handle(_ request: ClientRequest) {
        switch request {
        case .login(let name, let password, let variables):
            login(name: name, password: password, variables: variables.map(Variable.init))
        case .createRoom(let zone, let spec):
            let options = RoomOptions(password: spec.password, hidden: spec.hidden, updatable: spec.updatable,
                                      capacity: spec.capacity, description: spec.description)
            switch state.checkCreate(zone: zone, room: spec.name, options: options) {
            case .failure(let reason): write(.createRoomFailure(reason: reason.rawValue))
            case .success(let (room, options)): join(room, password: nil, create: options)
            }
        case .joinRoom(let zone, let room, let password):
            switch state.checkJoin(zone: zone, room: room) {
            case .failure(let reason): write(.joinRoomFailure(reason: reason.rawValue))
            case .success(let room): join(room, password: password, create: nil)
            }
        case .leaveRoom:
            leaveRoom()
        case .logout:
            write(.logoutSuccess)
            if let context { closeAfterWrites(context) }
        case .publicMessage(let text, let variables):
            publicMessage(text: text, variables: variables)
        case .privateMessage(let names, let text, let variables):
            privateMessage(to: names, text: text, variables: variables)
        case .getLoggedInUserCount:
            let bus = node.bus
            perform({ () async throws(ClusterError) -> Int in try await bus.loggedInCount() }) { session, result in
                switch result {
                case .success(let count): session.write(.loggedInUserCount(count))
                case .failure: session.write(.error(.clusterUnavailable, action: request.action))
                }
            }
        case .getServerTime:
            write(.serverTime(milliseconds: Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))))
        case .getRoomsInZone(let raw):
            guard let zone = state.resolveZone(raw) else {
                write(.roomsInZone(zone: raw, zoneUsers: 0, rooms: []))
                return
            }
            let bus = node.bus
            perform({ () async throws(ClusterError) -> ZoneListing in try await bus.zoneListing(zone) }) { session, result in
                switch result {
                case .success(let listing): session.write(.roomsInZone(listing))
                case .failure: session.write(.error(.clusterUnavailable, action: request.action))
                }
            }
        case .ping:
            write(.pong)
        case .unknown(let action):
            write(.error(.unknownAction, action: action))
        }
    }

    private func login(name raw: String, password: String, variables: [Variable]) {
        switch state.checkLogin(name: raw, password: password, variables: variables) {
        case .failure(.incorrectPassword):
            guard case .success(let name) = UserName.validate(raw, maxLength: state.limits.maxNameLength) else { return }
            checkAccount(name, passwordMatches: false) { _ in }
        case .failure(let reason):
            write(.loginDenied(reason: reason.rawValue))
        case .success(let (name, _)) where name.mixesScripts:
            // A name mixing scripts never logs in; if it is a look-alike of someone online,
            // say so (PROTOCOL.md: `аlice` with a Cyrillic а is `alice`).
            let bus = node.bus
            let key = name.key
            perform({ () async throws(ClusterError) -> Bool in try await bus.isNameTaken(nameKey: key) }) { session, result in
                switch result {
                case .success(true): session.write(.loginDenied(reason: Reason.nameInUse.rawValue))
                case .success(false): session.write(.loginDenied(reason: Reason.nameInvalid.rawValue))
                case .failure: session.write(.loginDenied(reason: Reason.clusterUnavailable.rawValue))
                }
            }
        case .success(let (name, profile)):
            if state.checksPasswords {
                checkAccount(name, passwordMatches: true) { $0.claim(name, profile: profile) }
            } else {
                claim(name, profile: profile)
            }
        }
    }

    /// The account check of a login (PROTOCOL.md section 7): a name locked out after too
    /// many wrong passwords, on any node, gets `Too many attempts`, right password or not;
    /// a wrong password is counted cluster-wide and answered as the session's penalty says.
    private func checkAccount(_ name: UserName, passwordMatches: Bool, then accepted: @escaping (SessionHandler) -> Void) {
        let bus = node.bus
        let key = name.key
        perform({ () async throws(ClusterError) -> Bool in try await bus.isLockedOut(nameKey: key) }) { session, result in
            guard !session.ended else { return }
            switch result {
            case .failure:
                session.write(.loginDenied(reason: Reason.clusterUnavailable.rawValue))
            case .success(true):
                session.answerWrongPassword(.loginDenied(reason: Reason.tooManyAttempts.rawValue))
            case .success(false) where passwordMatches:
                accepted(session)
            case .success(false):
                session.perform({ () async throws(ClusterError) -> Bool in try await bus.recordWrongPassword(nameKey: key) }) { session, result in
                    let locked = (try? result.get()) ?? false
                    if locked {
                        session.node.logger.notice("name locked out after too many wrong passwords",
                                                   metadata: ["session": "\(session.id)", "client": "\(session.remoteAddress)"])
                    }
                    session.answerWrongPassword(.loginDenied(reason: Reason.incorrectPassword.rawValue))
                }
            }
        }
    }

    /// Claims the validated name cluster-wide and, once accepted, sends the default zone's
    /// room list, then `LoginResponse` (PROTOCOL.md section 3).
    private func claim(_ name: UserName, profile: UserProfile) {
        guard !ended else { return }
        let request = LoginRequest(session: id, name: name, profile: profile, zone: state.defaultZone)
        let bus = node.bus
        perform({ () async throws(ClusterError) -> LoginOutcome in try await bus.login(request) }) { session, result in
            switch result {
            case .success(.accepted(let listing)):
                session.state.loggedIn(as: name, profile: profile)
                if session.ended {
                    return // logged out right after, once this completes
                }
                session.registry.enterZone(session, zone: listing.zone)
                session.write(.roomList(listing))
                session.write(.loginAccepted)
            case .success(.nameInUse):
                session.write(.loginDenied(reason: Reason.nameInUse.rawValue))
            case .failure:
                session.write(.loginDenied(reason: Reason.clusterUnavailable.rawValue))
            }
        }
    }

    private func join(_ room: RoomRef, password: String?, create: RoomOptions?) {
        let request = JoinRequest(session: id, room: room, password: password, create: create)
        pendingJoin = (room, [], 0)
        if let create, !create.hidden { suppressCreatedPush = room }
        let bus = node.bus
        perform({ () async throws(ClusterError) -> JoinOutcome in try await bus.join(request) }) { session, result in
            let buffered = session.pendingJoin?.buffered ?? []
            session.pendingJoin = nil
            let failure: Reason
            switch result {
            case .success(.joined(let joined)):
                session.completeJoin(joined, buffered: buffered)
                return
            case .success(.failed(let reason)): failure = reason
            case .failure: failure = .clusterUnavailable
            }
            if session.suppressCreatedPush == room { session.suppressCreatedPush = nil }
            let answer: ServerEvent = create != nil ? .createRoomFailure(reason: failure.rawValue) : .joinRoomFailure(reason: failure.rawValue)
            if failure == .incorrectPassword {
                session.answerWrongPassword(answer)
            } else {
                session.write(answer)
            }
        }
    }

    /// JoinRoom success in the order of PROTOCOL.md: CreateRoom result, RoomList of a new
    /// zone, UpdateRoomList CreateRoom, JoinRoom, then the room's events since the join.
    private func completeJoin(_ joined: JoinedRoom, buffered: [ByteBuffer]) {
        let previousZone = state.zone
        state.joined(joined.room)
        if ended { return }
        if joined.created { write(.createRoomSuccess) }
        if var listing = joined.newZone {
            registry.leaveZone(id, zone: previousZone)
            registry.enterZone(self, zone: listing.zone)
            if joined.created { listing.rooms.removeAll { $0.name == joined.room.name } }
            write(.roomList(listing))
        }
        if joined.created, !joined.summary.hidden {
            write(.updateRoomList(ZoneChange(kind: .created, zone: joined.room.zone, zoneUsers: joined.zoneUsers, room: joined.summary)))
        }
        let users = joined.members.map(WireUser.init)
        write(.joinRoomSuccess(room: WireRoom(joined.summary), roomVariables: [], users: users))
        for bytes in buffered { writeBytes(bytes) }
    }

    private func leaveRoom() {
        guard state.room != nil else {
            write(.leaveRoomFailure(reason: Reason.notInRoom.rawValue))
            return
        }
        let bus = node.bus
        let id = id
        perform({ () async throws(ClusterError) -> Bool in try await bus.leave(session: id) }) { session, result in
            switch result {
            case .success(let left):
                session.state.leftRoom()
                session.write(left ? .leaveRoomSuccess : .leaveRoomFailure(reason: Reason.notInRoom.rawValue))
            case .failure:
                session.write(.leaveRoomFailure(reason: Reason.clusterUnavailable.rawValue))
            }
        }
    }

    private func publicMessage(text: String, variables: [WireVariable]) {
        let action = "SendPublicMessage"
        switch state.checkPublicMessage(text, now: NIODeadline.now().uptimeNanoseconds) {
        case .failure(let reason):
            write(.error(reason, action: action))
        case .success(let room):
            guard let context else { return }
            let bytes = ServerEvent.publicMessage(text: text, sender: state.profile?.name ?? "", variables: variables).encoded()
            // Acknowledged without holding later requests: only a refusal comes back here.
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            let loop = context.eventLoop
            node.bus.publish(to: room, from: id, message: bytes) { error in
                guard error != nil else { return }
                loop.execute {
                    let session = bound.value
                    session.write(.error(.clusterUnavailable, action: action))
                    session.flushIfNeeded()
                }
            }
        }
    }

    private func privateMessage(to names: [String], text: String, variables: [WireVariable]) {
        let action = "SendPrivateMessage"
        switch state.checkPrivateMessage(to: names, text, now: NIODeadline.now().uptimeNanoseconds) {
        case .failure(let reason):
            write(.error(reason, action: action))
        case .success(let recipients):
            guard !recipients.isEmpty else { return }
            let bytes = ServerEvent.privateMessage(text: text, sender: state.profile?.name ?? "", variables: variables).encoded()
            let keys = recipients.map(\.key)
            let bus = node.bus
            perform({ () async throws(ClusterError) -> [Int] in try await bus.sendPrivate(to: keys, message: bytes) }) { session, result in
                switch result {
                case .success(let missing):
                    for index in missing { session.write(.error(.userNotFound, action: action, detail: recipients[index].name)) }
                case .failure:
                    session.write(.error(.clusterUnavailable, action: action))
                }
            }
        }
    }

    /// Answers a wrong room or account password as PROTOCOL.md section 7 says: at once for
    /// the first few, then more and more slowly (nothing else of the session runs
    /// meanwhile), and past the limit the session is disconnected after the answer.
    private func answerWrongPassword(_ answer: ServerEvent) {
        guard !ended else { return }
        switch state.passwordAttempts.recordWrong() {
        case .none:
            write(answer)
        case .delay(let milliseconds):
            pause(.milliseconds(Int64(milliseconds))) { $0.write(answer) }
        case .disconnect:
            write(answer)
            node.logger.notice("disconnecting client after too many wrong passwords",
                               metadata: ["session": "\(id)", "client": "\(remoteAddress)"])
            if let context { closeAfterWrites(context) }
        }
    }

    /// Holds the session's requests for `delay`, then runs `then` and goes on.
    private func pause(_ delay: TimeAmount, then: @escaping (SessionHandler) -> Void) {
        guard let context else { return }
        busy = true
        let bound = NIOLoopBound((self, then), eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: delay) {
            let (session, then) = bound.value
            session.busy = false
            then(session)
            session.finishedOperation()
        }
    }

    /// After an operation's answer: end the session in the cluster if it closed meanwhile,
    /// else go on with the queued requests (unless the answer started another operation).
    private func finishedOperation() {
        if ended {
            if !busy { logoutFromCluster() }
        } else {
            drain()
        }
    }

    /// Runs one cluster operation; later requests wait until `then` has run on this loop.
    private func perform<T: Sendable>(_ operation: @escaping @Sendable () async throws(ClusterError) -> T,
                                      then: @escaping (SessionHandler, Result<T, ClusterError>) -> Void) {
        guard let context else { return }
        busy = true
        let loop = context.eventLoop
        let promise = loop.makePromise(of: T.self)
        promise.completeWithTask { try await operation() }
        let bound = NIOLoopBound((self, then), eventLoop: loop)
        promise.futureResult.whenComplete { result in
            let (session, then) = bound.value
            session.busy = false
            then(session, result.mapError { $0 as? ClusterError ?? .unavailable })
            session.finishedOperation()
        }
    }

    // MARK: Cluster events (called by the loop registry)

    func receiveRoomEvent(_ bytes: ByteBuffer, in room: RoomRef) {
        if var pending = pendingJoin, pending.room == room {
            pending.buffered.append(bytes)
            pending.bytes += bytes.readableBytes
            pendingJoin = pending
            if pending.bytes > node.configuration.maxOutboundBytes, let context { cutSlowReader(context) }
            return
        }
        guard state.room == room else { return }
        writeFromBatch(bytes)
    }

    func receiveZoneEvent(_ bytes: ByteBuffer, change: ZoneChange) {
        if change.kind == .created, let suppressed = suppressCreatedPush,
           suppressed.zone == change.zone, suppressed.name == change.room.name {
            suppressCreatedPush = nil
            return
        }
        writeFromBatch(bytes)
    }

    func receiveDirect(_ bytes: ByteBuffer) {
        guard state.isLoggedIn else { return }
        writeFromBatch(bytes)
    }

    func evict(_ reason: Reason) {
        node.logger.notice("session ended by the cluster", metadata: ["session": "\(id)", "reason": "\(reason.rawValue)"])
        write(.error(reason, action: "", detail: "This session was ended by the server."))
        if let context { closeAfterWrites(context) }
    }

    /// Closes the connection for node shutdown, telling the client why.
    func closeForShutdown() {
        guard let context else { return }
        write(.error(.serverShuttingDown, action: "", detail: "This node is stopping; connect again to reach another."))
        closeAfterWrites(context)
    }

    func flushBatch() {
        awaitingBatchFlush = false
        flushIfNeeded()
    }

    // MARK: Writing

    private func write(_ event: ServerEvent) {
        writeBytes(event.encoded())
    }

    /// Writes a response; flushed at the end of the read batch or of the operation.
    private func writeBytes(_ bytes: ByteBuffer) {
        guard let context, !ended else { return }
        let overBound = slowReader.watching
        context.write(wrapOutboundOut(bytes), promise: nil)
        needsFlush = true
        if overBound { judgeQueued(bytes.readableBytes, context) }
    }

    /// Bytes queued on top of a buffer that was already over the bound (not the write that
    /// crossed it): past another bound's worth, the client is cut at once, so memory stays
    /// bounded whatever it does.
    private func judgeQueued(_ count: Int, _ context: ChannelHandlerContext) {
        if slowReader.queued(count) { cutSlowReader(context) }
    }

    /// Writes a cluster event; flushed once when the registry finishes the batch.
    private func writeFromBatch(_ bytes: ByteBuffer) {
        guard let context, !ended else { return }
        let overBound = slowReader.watching
        context.write(wrapOutboundOut(bytes), promise: nil)
        needsFlush = true
        if overBound { judgeQueued(bytes.readableBytes, context) }
        if !awaitingBatchFlush {
            awaitingBatchFlush = true
            registry.markTouched(self)
        }
    }

    private func flushIfNeeded() {
        guard needsFlush, let context else { return }
        needsFlush = false
        context.flush()
    }
}

/// Fired by the PROXY protocol decoder with the client's real address.
struct ProxiedConnection: Sendable {
    let source: SocketAddress?
}
