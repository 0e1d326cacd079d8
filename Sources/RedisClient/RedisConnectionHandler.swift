import CHiredis
import Logging
import NIOCore

/// The channel handler behind `RedisConnection` and `RedisSubscriberConnection`.
///
/// Outbound, each request is encoded at once into a shared outbound buffer and remembered in a
/// FIFO of pending replies; the buffer goes out with one write+flush per batch (an explicit
/// `flush`, or one flush scheduled for the end of the current event-loop task), so any number
/// of commands can be in flight. Inbound, bytes are fed to hiredis's reader and replies
/// complete the FIFO in order.
///
/// In pub/sub mode, pushed `["message", channel, payload]` arrays are collected and handed to
/// the batch callback once per `channelRead`, in order, before the subscribe/unsubscribe
/// confirmations and replies read in the same call complete their futures. Payloads of one
/// batch are slices of one buffer (no allocation per message).
///
/// Failure of any kind (protocol error, oversized reply, reply timeout, I/O error, close)
/// fails every pending request with the same `RedisConnectionError` and closes the channel.
final class RedisConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = Request
    typealias OutboundOut = ByteBuffer

    /// A command to send and what to do with its reply.
    struct Request: Sendable {
        enum Arguments: Sendable {
            case buffers([ByteBuffer])
            case strings([String])
        }

        enum Kind: Sendable {
            /// One reply completes the promise; an error reply fails it with `RedisCommandError`.
            case command(EventLoopPromise<RESPValue>)
            /// SUBSCRIBE/UNSUBSCRIBE of `channels` channels: completes after that many confirmations.
            case subscribe(channels: Int, EventLoopPromise<Void>)
            case unsubscribe(channels: Int, EventLoopPromise<Void>)
        }

        var arguments: Arguments
        var kind: Kind

        func fail(_ error: any Error) {
            switch kind {
            case .command(let promise): promise.fail(error)
            case .subscribe(_, let promise), .unsubscribe(_, let promise): promise.fail(error)
            }
        }
    }

    enum Mode {
        case commands
        case pubSub(RedisMessageBatchHandler)
    }

    private struct Pending {
        enum Kind {
            case command(EventLoopPromise<RESPValue>)
            case subscription(subscribe: Bool, remaining: Int, EventLoopPromise<Void>)
        }

        var kind: Kind
        var deadline: NIODeadline

        func fail(_ error: any Error) {
            switch kind {
            case .command(let promise): promise.fail(error)
            case .subscription(_, _, let promise): promise.fail(error)
            }
        }
    }

    /// A completion held back until the message batch of the same read was delivered.
    private enum Completion {
        case command(EventLoopPromise<RESPValue>, RESPValue)
        case subscription(EventLoopPromise<Void>, RedisCommandError?)
    }

    private enum State {
        case active
        case closed(RedisConnectionError)
    }

    private let mode: Mode
    private let replyTimeout: TimeAmount
    private let maxPendingCommands: Int
    private let reader: HiredisReplyReader
    private let encoder = RedisCommandEncoder()
    private let allocator: ByteBufferAllocator
    private var logger: Logger

    private var context: ChannelHandlerContext?
    private var state = State.active
    private var pending = CircularBuffer<Pending>(initialCapacity: 64)
    private var outbound: ByteBuffer
    private var flushScheduled = false
    private var timer: Scheduled<Void>?

    // Pub/sub.
    private var subscribedChannels = 0
    private var messageSpans: [(channel: ByteBuffer, offset: Int, length: Int)] = []
    private var payloads: ByteBuffer
    private var lastChannel: ByteBuffer?
    private var completions: [Completion] = []

    var isPubSub: Bool {
        if case .pubSub = mode { return true }
        return false
    }

    /// Why the connection failed, once it has (read on the event loop).
    var closeError: RedisConnectionError? {
        if case .closed(let error) = state { return error }
        return nil
    }

    init(configuration: RedisConfiguration, mode: Mode, logger: Logger, allocator: ByteBufferAllocator = ByteBufferAllocator()) {
        self.mode = mode
        self.replyTimeout = configuration.replyTimeout
        self.maxPendingCommands = max(configuration.maxPendingCommands, 1)
        self.reader = HiredisReplyReader(maxReplyBytes: configuration.maxReplyBytes, allocator: allocator)
        self.logger = logger
        self.allocator = allocator
        self.outbound = allocator.buffer(capacity: 1024)
        self.payloads = allocator.buffer(capacity: 0)
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        fail(.connectionClosed, close: false)
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(.connectionClosed, close: false)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail((error as? RedisConnectionError) ?? .connectionLost("\(error)"), close: true)
    }

    // MARK: Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        enqueue(unwrapOutboundIn(data))
        promise?.succeed()
    }

    func flush(context: ChannelHandlerContext) {
        flushOutbound()
    }

    /// Encodes `request` into the outbound buffer and schedules a flush at the end of the
    /// current event-loop task. Must be called on the event loop.
    func enqueue(_ request: Request) {
        guard let context, case .active = state else {
            request.fail(closeError ?? .connectionClosed)
            return
        }
        guard pending.count < maxPendingCommands else {
            request.fail(RedisConnectionError.tooManyPendingCommands(limit: maxPendingCommands))
            return
        }
        let kind: Pending.Kind
        switch request.kind {
        case .command(let promise):
            kind = .command(promise)
        case .subscribe(let channels, let promise), .unsubscribe(let channels, let promise):
            guard isPubSub else {
                promise.fail(RedisConnectionError.invalidCommand("SUBSCRIBE/UNSUBSCRIBE need a subscriber connection"))
                return
            }
            guard channels > 0 else {
                promise.succeed()
                return
            }
            if case .subscribe = request.kind {
                kind = .subscription(subscribe: true, remaining: channels, promise)
            } else {
                kind = .subscription(subscribe: false, remaining: channels, promise)
            }
        }
        do {
            switch request.arguments {
            case .buffers(let argv): try encoder.encode(argv, into: &outbound)
            case .strings(let argv): try encoder.encode(argv, into: &outbound)
            }
        } catch {
            request.fail(error)
            return
        }
        pending.append(Pending(kind: kind, deadline: .now() + replyTimeout))
        if timer == nil {
            armTimer(context)
        }
        if !flushScheduled {
            flushScheduled = true
            context.eventLoop.assumeIsolated().execute {
                self.flushScheduled = false
                self.flushOutbound()
            }
        }
    }

    private func flushOutbound() {
        guard let context, case .active = state, outbound.readableBytes > 0 else { return }
        let batch = outbound
        outbound = allocator.buffer(capacity: min(max(batch.readableBytes, 1024), 64 * 1024))
        context.writeAndFlush(wrapOutboundOut(batch), promise: nil)
    }

    // MARK: Reply timeout

    private func armTimer(_ context: ChannelHandlerContext) {
        guard let deadline = pending.first?.deadline else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            self.timerFired()
        }
    }

    private func timerFired() {
        timer = nil
        guard let context, case .active = state, let oldest = pending.first else { return }
        if oldest.deadline <= .now() {
            fail(.replyTimeout(replyTimeout), close: true)
        } else {
            armTimer(context)
        }
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .active = state else { return }
        let bytes = unwrapInboundIn(data)
        do {
            try reader.feed(bytes)
            switch mode {
            case .commands:
                try readReplies()
            case .pubSub(let deliver):
                // Payloads of this read are at most about as large as the read itself.
                payloads.reserveCapacity(bytes.readableBytes)
                try readPubSub(deliver)
            }
        } catch let error as RedisConnectionError {
            fail(error, close: true)
        } catch {
            fail(.protocolError("\(error)"), close: true)
        }
    }

    private func readReplies() throws {
        while case .active = state, let reply = try reader.next() {
            guard let head = pending.popFirst() else {
                throw RedisConnectionError.protocolError("unexpected reply with no command outstanding: \(reply)")
            }
            // Subscriptions are refused in this mode (see enqueue), so every entry is a command.
            if case .command(let promise) = head.kind {
                Self.complete(promise, with: reply)
            }
        }
    }

    private static func complete(_ promise: EventLoopPromise<RESPValue>, with reply: RESPValue) {
        if case .error(let message) = reply {
            promise.fail(RedisCommandError(message: message))
        } else {
            promise.succeed(reply)
        }
    }

    private enum PubSubItem {
        case message
        case reply(RESPValue)
    }

    private func readPubSub(_ deliver: RedisMessageBatchHandler) throws {
        defer {
            deliverBatch(deliver)
            runCompletions()
        }
        while case .active = state {
            let item = try reader.withNextReply { reply -> PubSubItem in
                if subscribedChannels > 0, collectMessage(reply) {
                    return .message
                }
                return .reply(HiredisReplyReader.value(of: reply, allocator: allocator))
            }
            guard let item else { return }
            if case .reply(let reply) = item {
                try handlePubSubReply(reply)
            }
        }
    }

    /// The fast path: recognizes `["message", channel, payload]` without converting it, copies
    /// the payload into the batch buffer and reuses the previous channel buffer when equal.
    private func collectMessage(_ reply: UnsafePointer<redisReply>) -> Bool {
        let r = reply.pointee
        guard r.type == REDIS_REPLY_ARRAY, r.elements == 3,
              let kind = r.element[0], kind.pointee.type == REDIS_REPLY_STRING,
              HiredisReplyReader.bytes(kind.pointee).elementsEqual("message".utf8),
              let channel = r.element[1], channel.pointee.type == REDIS_REPLY_STRING,
              let payload = r.element[2], payload.pointee.type == REDIS_REPLY_STRING
        else { return false }

        let channelBytes = HiredisReplyReader.bytes(channel.pointee)
        let channelBuffer: ByteBuffer
        if let last = lastChannel, last.withUnsafeReadableBytes({ $0.elementsEqual(channelBytes) }) {
            channelBuffer = last
        } else {
            channelBuffer = HiredisReplyReader.buffer(channel.pointee, allocator: allocator)
            lastChannel = channelBuffer
        }
        let offset = payloads.writerIndex
        let length = payloads.writeBytes(HiredisReplyReader.bytes(payload.pointee))
        messageSpans.append((channelBuffer, offset, length))
        return true
    }

    private func handlePubSubReply(_ reply: RESPValue) throws {
        // A subscribe/unsubscribe confirmation: ["subscribe"|"unsubscribe", channel, count].
        if let parts = reply.array, parts.count == 3, case .integer(let count) = parts[2],
           let kind = parts[0].buffer.map({ String(buffer: $0) }), kind == "subscribe" || kind == "unsubscribe"
        {
            let isSubscribe = kind == "subscribe"
            guard var head = pending.first, case .subscription(isSubscribe, let remaining, let promise) = head.kind else {
                throw RedisConnectionError.protocolError("unexpected \(kind) confirmation \(reply)")
            }
            subscribedChannels = Int(clamping: count)
            if remaining > 1 {
                head.kind = .subscription(subscribe: isSubscribe, remaining: remaining - 1, promise)
                pending[pending.startIndex] = head
            } else {
                pending.removeFirst()
                completions.append(.subscription(promise, nil))
            }
            return
        }
        guard let head = pending.popFirst() else {
            throw RedisConnectionError.protocolError("unexpected reply with no command outstanding: \(reply)")
        }
        switch head.kind {
        case .command(let promise):
            completions.append(.command(promise, reply))
        case .subscription(_, _, let promise):
            // Redis rejects a whole SUBSCRIBE/UNSUBSCRIBE with one error (e.g. NOAUTH).
            guard case .error(let message) = reply else {
                throw RedisConnectionError.protocolError("unexpected reply to a subscription: \(reply)")
            }
            completions.append(.subscription(promise, RedisCommandError(message: message)))
        }
    }

    private func deliverBatch(_ deliver: RedisMessageBatchHandler) {
        guard !messageSpans.isEmpty else { return }
        var batch: [(channel: ByteBuffer, payload: ByteBuffer)] = []
        batch.reserveCapacity(messageSpans.count)
        for span in messageSpans {
            batch.append((span.channel, payloads.getSlice(at: span.offset, length: span.length)!))
        }
        messageSpans.removeAll(keepingCapacity: true)
        // The slices share the buffer; start a new one for the next batch.
        payloads = allocator.buffer(capacity: 0)
        deliver(batch)
    }

    private func runCompletions() {
        guard !completions.isEmpty else { return }
        let done = completions
        completions.removeAll(keepingCapacity: true)
        for completion in done {
            switch completion {
            case .command(let promise, let reply):
                Self.complete(promise, with: reply)
            case .subscription(let promise, nil):
                promise.succeed()
            case .subscription(let promise, let error?):
                promise.fail(error)
            }
        }
    }

    // MARK: Failure

    private func fail(_ error: RedisConnectionError, close: Bool) {
        guard case .active = state else { return }
        state = .closed(error)
        if error != .connectionClosed {
            logger.debug("Redis connection failed", metadata: ["error": "\(error)"])
        }
        timer?.cancel()
        timer = nil
        let failed = pending
        pending.removeAll()
        for request in failed {
            request.fail(error)
        }
        if close, let context {
            context.close(promise: nil)
        }
    }
}
