import ChatDomain
import ClusterBus
import Logging
import NIOCore
import Wire

/// One client connection over TCP or WebSocket (any pipeline that delivers `InboundFrame`s
/// and takes zero-terminated frames; `WebSocketTransport` adapts a WebSocket): admits it, feeds its frames and events to the session's rules
/// (`SessionMachine`, where every protocol decision is made), and performs what they say:
/// writes, cluster calls, timers, closing. Also the transport's own duties: the connection
/// slot, the Flash policy file, the slow-reader judgement and the flush policy.
///
/// Responses written while handling input are flushed once per read batch; cluster events
/// once per fan-out batch (the loop registry calls `flushBatch`).
final class SessionHandler: ChannelDuplexHandler {
    typealias InboundIn = InboundFrame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let id: SessionID
    /// How the client reaches the node (also the `transport` label of the connection metrics).
    let transport: SessionTransport
    private let node: NodeContext
    private let registry: LoopRegistry
    private var machine: SessionMachine
    private var context: ChannelHandlerContext?
    private var remoteAddress = "unknown"
    private var admitted = false
    /// The cluster is being asked whether the client's address is banned.
    private var admitting = false
    /// Frames received while `admitting` (at most one read's worth: reading is held).
    private var framesWhileAdmitting: [InboundFrame] = []
    private var inputClosedWhileAdmitting = false
    /// Frame-level events received while `admitting`, after the frames before them.
    private var eventsWhileAdmitting: [Any] = []
    /// Denied at admission: never a session.
    private var denied = false
    /// The transport is closing after its last writes (input is dropped).
    private var closing = false
    private var readHeld = false
    private var framesSeen = 0
    /// Something was written and not flushed yet.
    private var needsFlush = false
    /// The loop registry will flush this session at the end of its current batch.
    private var awaitingBatchFlush = false
    /// Responses written since the last flush (counted once per flush; cluster events are
    /// counted by the loop registry, once per batch).
    private var unflushedResponses = 0
    /// What the metrics were told: the connection is open, the session is logged in.
    private var countedOpen = false
    private var countedLoggedIn = false

    /// The client's address when the transport learnt it before this handler was added
    /// (a WebSocket's HTTP request, possibly behind a PROXY header).
    private let knownAddress: SocketAddress?
    /// Why the session is closing, for transports that can tell the client (WebSocket
    /// close status): set around the machine calls that may close.
    private var closeReason: SessionClosing.Reason = .normal

    /// What this client leaves unread (PROTOCOL.md section 7), and the pending verdict.
    private var slowReader: SlowReaderJudge
    private var slowReaderCheck: Scheduled<Void>?

    /// The same bytes for every connection.
    private static let connectionAccepted = ServerEvent.connectionAccepted.encoded()

    init(id: SessionID, node: NodeContext, registry: LoopRegistry,
         transport: SessionTransport = .tcp, knownAddress: SocketAddress? = nil) {
        self.id = id
        self.transport = transport
        self.knownAddress = knownAddress
        self.node = node
        self.registry = registry
        let configuration = node.configuration
        self.machine = SessionMachine(id: id, configuration: SessionMachine.Configuration(
            limits: configuration.limits, defaultZone: configuration.defaultZone,
            maxMalformedFrames: configuration.maxMalformedFrames, maxHeldBytes: configuration.maxOutboundBytes,
            idleTimeoutSeconds: configuration.idleTimeout.nanoseconds / 1_000_000_000,
            partialFrameTimeoutSeconds: configuration.partialFrameTimeout.nanoseconds / 1_000_000_000))
        self.slowReader = SlowReaderJudge(bound: configuration.maxOutboundBytes)
        LiveObjects.sessionHandlers.add(1, ordering: .relaxed)
    }

    deinit {
        LiveObjects.sessionHandlers.subtract(1, ordering: .relaxed)
    }

    private var ended: Bool { machine.ended || denied }

    // MARK: Connection life cycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // A WebSocket session starts on a connection that is active already.
        if transport != .tcp, context.channel.isActive {
            begin(clientAddress: knownAddress ?? context.channel.remoteAddress)
        }
    }

    /// The pipeline is torn down: let go of the context, which holds this handler (a
    /// handler that kept it would keep itself, its context and its pipeline alive).
    func handlerRemoved(context: ChannelHandlerContext) {
        end()
        if countedOpen {
            countedOpen = false
            node.metrics.connectionClosed(transport)
        }
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
            if admitting {
                inputClosedWhileAdmitting = true // its frames are answered first
            } else if closing {
                context.close(promise: nil) // the client read our last words and closed too
            } else {
                perform(machine.inputClosed())
            }
        } else if admitting, !closing, event is PartialFrameTimedOut || event is MessageTooLarge || event is UnreadableMessage {
            eventsWhileAdmitting.append(event) // answered in order once admitted
        } else if event is PartialFrameTimedOut {
            node.metrics.malformed.add(1)
            perform(machine.partialFrameTimedOut(), closing: .protocolViolation)
        } else if event is MessageTooLarge {
            guard admitted, !ended, !closing else { return }
            perform(machine.tooLarge(), closing: .tooLarge)
            flushIfNeeded()
        } else if event is UnreadableMessage {
            guard admitted, !ended, !closing else { return }
            node.metrics.framesIn.add(1)
            node.metrics.malformed.add(1)
            perform(machine.malformed(), closing: .protocolViolation)
        } else if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            node.metrics.idleClosed.add(1)
            perform(machine.idle())
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// Admits the connection (or denies it) once its client address is known: a free slot
    /// first, then the cluster's word that the address is not banned (PROTOCOL.md section 5).
    /// Frames that arrive meanwhile wait (`admitting`), and reading stops until the answer.
    private func begin(clientAddress: SocketAddress?) {
        guard let context, !admitted, !admitting, !ended else { return }
        remoteAddress = clientAddress?.ipAddress ?? "unknown"
        guard node.limiter.admit(remoteAddress) else {
            deny(.serverFull, context)
            return
        }
        admitting = true
        let bus = node.bus
        let address = remoteAddress
        let promise = context.eventLoop.makePromise(of: Bool.self)
        // A cluster that cannot answer does not keep clients out: their logins will tell them.
        node.tasks.run { promise.succeed((try? await bus.isAddressBanned(address)) ?? false) }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        promise.futureResult.whenSuccess { banned in bound.value.admit(banned: banned) }
    }

    /// The cluster answered whether the client's address is banned.
    private func admit(banned: Bool) {
        admitting = false
        guard let context, context.channel.isActive, !denied else {
            // The client left while the cluster was asked: give its slot back.
            node.limiter.release(remoteAddress)
            return
        }
        if banned {
            node.limiter.release(remoteAddress)
            deny(.addressBanned, context)
            return
        }
        admitted = true
        machine.clientAddress = remoteAddress
        node.metrics.accepted.add(1)
        countedOpen = true
        node.metrics.connectionOpened(transport)
        registry.add(self)
        context.writeAndFlush(wrapOutboundOut(Self.connectionAccepted), promise: nil)
        let early = framesWhileAdmitting
        framesWhileAdmitting = []
        for frame in early { read(frame, context: context) }
        let events = eventsWhileAdmitting
        eventsWhileAdmitting = []
        for event in events { userInboundEventTriggered(context: context, event: event) }
        if inputClosedWhileAdmitting {
            inputClosedWhileAdmitting = false
            perform(machine.inputClosed())
        }
        flushIfNeeded()
        if readHeld, machine.wantsInput {
            readHeld = false
            context.read()
        }
    }

    /// `ConnectionResponse` `Denied` with `reason`, then the connection closes.
    private func deny(_ reason: Reason, _ context: ChannelHandlerContext) {
        node.metrics.denied.add(1)
        let why = reason == .serverFull ? "server is full" : "the address is banned"
        node.logger.notice("connection denied: \(why)", metadata: ["client": "\(remoteAddress)"])
        let denial = ServerEvent.connectionDenied(reason: reason.rawValue)
        node.metrics.countRefusal(denial)
        context.write(wrapOutboundOut(denial.encoded()), promise: nil)
        closeAfterWrites(context)
        denied = true
    }

    func channelInactive(context: ChannelHandlerContext) {
        end()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        node.logger.debug("connection error", metadata: ["session": "\(id)", "error": "\(error)"])
        context.close(promise: nil)
    }

    /// The session is over: forget it locally and end it in the cluster, after any
    /// operation still in flight (so a login completing late cannot leave a ghost).
    private func end() {
        guard admitted, !machine.ended else { return }
        let zone = machine.state.isLoggedIn ? machine.state.zone : nil
        let (endNow, loggedIn) = machine.closed()
        registry.remove(self, zone: zone)
        countLogin()
        if endNow { logoutFromCluster(loggedIn: loggedIn) }
    }

    /// Tells the metrics when the session logs in, or stops being logged in.
    private func countLogin() {
        let now = machine.state.isLoggedIn && !ended
        guard now != countedLoggedIn else { return }
        countedLoggedIn = now
        node.metrics.loggedInChanged(now)
    }

    /// Closes so that the client reads our last message (a final `Error`) first: flush, end
    /// the session (its name is free at once), half-close (FIN after the data), then drop
    /// whatever the client still sends until it closes too or `lingerAfterClose` passes.
    /// Closing with unread input would send a reset, which can destroy the answer in flight.
    private func closeAfterWrites(_ context: ChannelHandlerContext) {
        guard !closing else { return }
        closing = true
        needsFlush = false
        if unflushedResponses > 0 {
            node.metrics.framesOut.increment(by: unflushedResponses)
            unflushedResponses = 0
        }
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
    private func logoutFromCluster(loggedIn: Bool) {
        let limiter = node.limiter
        let address = remoteAddress
        guard loggedIn else {
            limiter.release(address)
            return
        }
        let bus = node.bus
        let id = id
        node.tasks.run {
            await bus.logout(session: id)
            limiter.release(address)
        }
    }

    // MARK: Reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if admitting, !closing {
            // Bounded: reading is held while admitting, so this is what one read held.
            if eventsWhileAdmitting.isEmpty { framesWhileAdmitting.append(frame) }
            return
        }
        read(frame, context: context)
    }

    private func read(_ frame: InboundFrame, context: ChannelHandlerContext) {
        guard admitted, !ended, !closing else { return }
        node.metrics.framesIn.add(1)
        framesSeen += 1
        switch frame {
        case .tooLarge:
            perform(machine.tooLarge(), closing: .tooLarge)
        case .document(let frame):
            if framesSeen == 1, isPolicyFileRequest(frame) {
                writeBytes(policyFileResponse(domain: node.configuration.policyDomain, port: node.configuration.port))
                closeAfterWrites(context)
                return
            }
            do {
                perform(machine.received(try ClientRequest.decode(frame, limits: node.xmlLimits)))
                countLogin()
            } catch {
                node.metrics.malformed.add(1)
                node.logger.debug("malformed frame", metadata: ["session": "\(id)", "error": "\(error)"])
                perform(machine.malformed(), closing: .protocolViolation)
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushIfNeeded()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if !admitting, machine.wantsInput {
            context.read()
        } else {
            readHeld = true
        }
    }

    // MARK: Performing what the session's rules say

    private func perform(_ actions: [SessionAction]) {
        for action in actions { perform(action) }
    }

    /// Performs what the machine said, telling the transport `reason` if it closes.
    private func perform(_ actions: [SessionAction], closing reason: SessionClosing.Reason) {
        closeReason = reason
        perform(actions)
        closeReason = .normal
    }

    /// Tells the transport why the session is closing (see `SessionClosing`).
    private func announceClose(_ context: ChannelHandlerContext) {
        guard transport != .tcp else { return }
        context.triggerUserOutboundEvent(SessionClosing(reason: closeReason), promise: nil)
    }

    private func perform(_ action: SessionAction) {
        switch action {
        case .send(let event):
            node.metrics.countRefusal(event)
            writeBytes(event.encoded())
        case .sendBytes(let bytes):
            writeBytes(bytes)
        case .ask(let call):
            ask(call)
        case .publish(let room, let event):
            node.metrics.publishedPublic.increment()
            publish(event.encoded(), to: room)
        case .wait(let milliseconds):
            guard let context else { return }
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .milliseconds(Int64(milliseconds))) {
                bound.value.afterOperation(bound.value.machine.waited())
            }
        case .enterZone(let zone):
            registry.enterZone(self, zone: zone)
        case .leaveZone(let zone):
            registry.leaveZone(id, zone: zone)
        case .close(.afterWrites):
            if let context {
                announceClose(context)
                closeAfterWrites(context)
            }
        case .close(.drained):
            // One loop turn later, so that events already queued for it on this loop go out first.
            guard let context else { return }
            announceClose(context)
            flushIfNeeded()
            let channel = context.channel
            context.eventLoop.execute { channel.close(promise: nil) }
        case .endInCluster(let loggedIn):
            logoutFromCluster(loggedIn: loggedIn)
        case .log(let entry):
            log(entry)
        }
    }

    /// After an answer or a timer: perform, flush, and read again if reading was held.
    private func afterOperation(_ actions: [SessionAction]) {
        perform(actions)
        countLogin()
        flushIfNeeded()
        if readHeld, machine.wantsInput, let context {
            readHeld = false
            context.read()
        }
    }

    /// Runs one cluster operation; its answer comes back to the machine on this loop.
    private func ask(_ call: SessionMachine.ClusterCall) {
        guard let context else { return }
        let bus = node.bus
        let loop = context.eventLoop
        let promise = loop.makePromise(of: SessionMachine.ClusterAnswer.self)
        let metrics = node.metrics
        node.tasks.run { promise.succeed(await Self.run(call, on: bus, metrics: metrics)) }
        let bound = NIOLoopBound(self, eventLoop: loop)
        promise.futureResult.whenSuccess { answer in
            let session = bound.value
            session.afterOperation(session.machine.answered(answer))
        }
    }

    private static func run(_ call: SessionMachine.ClusterCall, on bus: any ClusterBus,
                            metrics: NodeMetrics) async -> SessionMachine.ClusterAnswer {
        func result<T>(_ body: () async throws(ClusterError) -> T) async -> Result<T, ClusterError> {
            do { return .success(try await body()) } catch { return .failure(error) }
        }
        switch call {
        case .login(let request): return .login(await result { () async throws(ClusterError) in try await bus.login(request) })
        case .join(let request): return .join(await result { () async throws(ClusterError) in try await bus.join(request) })
        case .leave(let session): return .left(await result { () async throws(ClusterError) in try await bus.leave(session: session) })
        case .loggedInCount: return .count(await result { () async throws(ClusterError) in try await bus.loggedInCount() })
        case .zoneListing(let zone): return .listing(await result { () async throws(ClusterError) in try await bus.zoneListing(zone) })
        case .sendPrivate(let keys, let message):
            metrics.publishedPrivate.increment()
            let bytes = message.encoded()
            return .privateSent(await result { () async throws(ClusterError) in try await bus.sendPrivate(to: keys, message: bytes) })
        case .isLockedOut(let key): return .flag(await result { () async throws(ClusterError) in try await bus.isLockedOut(nameKey: key) })
        case .recordWrongPassword(let key):
            return .flag(await result { () async throws(ClusterError) in try await bus.recordWrongPassword(nameKey: key) })
        case .isNameTaken(let key): return .flag(await result { () async throws(ClusterError) in try await bus.isNameTaken(nameKey: key) })
        case .moderate(let request): return .moderated(await result { () async throws(ClusterError) in try await bus.moderate(request) })
        case .changeRoomDetails(let request):
            return .roomDetails(await result { () async throws(ClusterError) in try await bus.changeRoomDetails(request) })
        }
    }

    /// Acknowledged without holding later requests: only a refusal comes back here.
    private func publish(_ bytes: ByteBuffer, to room: RoomRef) {
        guard let context else { return }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loop = context.eventLoop
        node.bus.publish(to: room, from: id, message: bytes) { error in
            guard error != nil else { return }
            loop.execute {
                let session = bound.value
                session.perform(session.machine.publishRefused())
                session.flushIfNeeded()
            }
        }
    }

    private func log(_ entry: SessionMachine.Log) {
        let metadata: Logger.Metadata = ["session": "\(id)", "client": "\(remoteAddress)"]
        switch entry {
        case .tooManyMalformedFrames: node.logger.notice("disconnecting client after too many malformed frames", metadata: metadata)
        case .tooManyWrongPasswords: node.logger.notice("disconnecting client after too many wrong passwords", metadata: metadata)
        case .nameLockedOut: node.logger.notice("name locked out after too many wrong passwords", metadata: metadata)
        case .evicted(let reason): node.logger.notice("session ended by the cluster: \(reason.rawValue)", metadata: metadata)
        case .removedByModerator: node.logger.notice("session ended by a moderator's kick or ban", metadata: metadata)
        case .moderated(let moderation):
            node.logger.notice("moderator \(machine.state.profile?.name ?? "") carried out \(moderation.action) of \(moderation.targetName): \(moderation.reason)",
                               metadata: metadata)
        case .partialFrameTimedOut: node.logger.notice("disconnecting client: a frame was not completed in time", metadata: metadata)
        case .idle: node.logger.debug("closing idle session", metadata: metadata)
        }
    }

    // MARK: Slow readers

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
        node.metrics.slowReadersCut.add(1)
        node.logger.notice("disconnecting slow reader", metadata: ["session": "\(id)", "client": "\(remoteAddress)"])
        slowReaderCheck?.cancel()
        closeReason = .policy
        announceClose(context)
        context.close(promise: nil)
    }

    // MARK: Cluster events (called by the loop registry)

    /// Each returns whether the bytes were written (for the registry's counts).
    func receiveRoomEvent(_ bytes: ByteBuffer, in room: RoomRef) -> Bool {
        switch machine.roomEvent(bytes, in: room) {
        case .write: return writeFromBatch(bytes)
        case .held, .ignore: return false
        case .cutSlowReader:
            if let context { cutSlowReader(context) }
            return false
        }
    }

    func receiveZoneEvent(_ bytes: ByteBuffer, change: ZoneChange) -> Bool {
        machine.zoneEvent(change) && writeFromBatch(bytes)
    }

    func receiveDirect(_ bytes: ByteBuffer) -> Bool {
        machine.direct() && writeFromBatch(bytes)
    }

    func evict(_ reason: Reason) {
        perform(machine.evicted(reason))
        countLogin()
    }

    /// A moderator's `Kicked` or `Banned`: sent, then the connection closes.
    func kick(_ notice: ByteBuffer) {
        perform(machine.kicked(notice), closing: .policy)
    }

    /// Closes the connection for node shutdown, telling the client why.
    func closeForShutdown() {
        perform(machine.shuttingDown(), closing: .goingAway)
        flushIfNeeded()
    }

    func flushBatch() {
        awaitingBatchFlush = false
        flushIfNeeded()
    }

    // MARK: Writing

    /// Writes a response; flushed at the end of the read batch or of the operation.
    private func writeBytes(_ bytes: ByteBuffer) {
        guard let context, !ended else { return }
        let overBound = slowReader.watching
        context.write(wrapOutboundOut(bytes), promise: nil)
        needsFlush = true
        unflushedResponses += 1
        if overBound { judgeQueued(bytes.readableBytes, context) }
    }

    /// Bytes queued on top of a buffer that was already over the bound (not the write that
    /// crossed it): past another bound's worth, the client is cut at once, so memory stays
    /// bounded whatever it does.
    private func judgeQueued(_ count: Int, _ context: ChannelHandlerContext) {
        if slowReader.queued(count) { cutSlowReader(context) }
    }

    /// Writes a cluster event; flushed once when the registry finishes the batch.
    private func writeFromBatch(_ bytes: ByteBuffer) -> Bool {
        guard let context, !ended else { return false }
        let overBound = slowReader.watching
        context.write(wrapOutboundOut(bytes), promise: nil)
        needsFlush = true
        if overBound { judgeQueued(bytes.readableBytes, context) }
        if !awaitingBatchFlush {
            awaitingBatchFlush = true
            registry.markTouched(self)
        }
        return true
    }

    private func flushIfNeeded() {
        guard needsFlush, let context else { return }
        needsFlush = false
        if unflushedResponses > 0 {
            node.metrics.framesOut.increment(by: unflushedResponses)
            unflushedResponses = 0
        }
        context.flush()
    }
}

/// Fired by the PROXY protocol decoder with the client's real address.
struct ProxiedConnection: Sendable {
    let source: SocketAddress?
}
