import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// What a connection received: the zero-terminated frames so far, and whether it closed.
final class Inbox: Sendable {
    private struct State {
        var partial: [UInt8] = []
        var frames: [String] = []
        var raw: [UInt8] = []
        var closed = false
    }
    private let state = Mutex(State())

    func append(_ bytes: [UInt8]) {
        state.withLock { state in
            for byte in bytes {
                if byte == 0 {
                    state.frames.append(String(decoding: state.partial, as: UTF8.self))
                    state.partial.removeAll(keepingCapacity: true)
                } else {
                    state.partial.append(byte)
                }
            }
        }
    }

    /// Keeps bytes as they came, for text that is not framed (HAProxy's runtime API).
    func appendRaw(_ bytes: [UInt8]) { state.withLock { $0.raw += bytes } }

    var text: String { state.withLock { String(decoding: $0.raw, as: UTF8.self) } }

    func markClosed() { state.withLock { $0.closed = true } }

    /// Takes the oldest frame, if any; `closed` says whether more can come.
    func take() -> (frame: String?, closed: Bool) {
        state.withLock { state in
            if state.frames.isEmpty { return (nil, state.closed) }
            return (state.frames.removeFirst(), state.closed)
        }
    }

    var isClosed: Bool { state.withLock { $0.closed } }
    var pendingFrames: Int { state.withLock { $0.frames.count } }
}

private final class InboxHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let inbox: Inbox
    init(inbox: Inbox) { self.inbox = inbox }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        inbox.append(buffer.readBytes(length: buffer.readableBytes) ?? [])
    }

    func channelInactive(context: ChannelHandlerContext) {
        inbox.markClosed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

struct ClientError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A raw TCP client speaking PROTOCOL.md's framing: bytes out, zero-terminated frames in.
final class TestClient: Sendable {
    let channel: any Channel
    let inbox: Inbox
    let label: String

    private init(channel: any Channel, inbox: Inbox, label: String) {
        self.channel = channel
        self.inbox = inbox
        self.label = label
    }

    static func connect(host: String = "127.0.0.1", port: Int, label: String = "client") async throws -> TestClient {
        let inbox = Inbox()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(3))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(InboxHandler(inbox: inbox))
                }
            }
            .connect(host: host, port: port).get()
        return TestClient(channel: channel, inbox: inbox, label: label)
    }

    /// This end's port: what HAProxy reports as the client's source port.
    var localPort: Int? { channel.localAddress?.port }

    func send(bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(channel.allocator.buffer(bytes: bytes)).get()
    }

    func send(text: String) async throws { try await send(bytes: Array(text.utf8)) }

    /// Sends one request frame: the envelope of PROTOCOL.md section 2 and a zero byte.
    func request(_ action: String, _ parameters: String = "") async throws {
        try await send(text: "<XmlDoc><Action>\(action)</Action><Parameters>\(parameters)</Parameters></XmlDoc>\0")
    }

    /// The next frame; throws when none comes within `timeout` or the connection closed.
    func next(timeout: Duration = .seconds(5)) async throws -> String {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            let (frame, closed) = inbox.take()
            if let frame { return frame }
            if closed { throw ClientError("\(label): connection closed while waiting for a frame") }
            if clock.now >= deadline { throw ClientError("\(label): no frame within \(timeout)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Skips frames until one satisfies `match`; returns it.
    func next(timeout: Duration = .seconds(5), _ what: String, where match: (String) -> Bool) async throws -> String {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var skipped: [String] = []
        while true {
            let left = deadline - clock.now
            guard left > .zero else {
                throw ClientError("\(label): no \(what) within \(timeout); skipped: \(skipped.map { String($0.prefix(160)) })")
            }
            let frame: String
            do { frame = try await next(timeout: left) } catch {
                throw ClientError("\(label): waiting for \(what): \(error); skipped: \(skipped.map { String($0.prefix(160)) })")
            }
            if match(frame) { return frame }
            skipped.append(frame)
        }
    }

    /// The next frame whose Action is `action` (others are skipped).
    func next(action: String, timeout: Duration = .seconds(5), containing parts: [String] = []) async throws -> String {
        try await next(timeout: timeout, "\(action) \(parts)") { frame in
            frame.contains("<Action>\(action)</Action>") && parts.allSatisfy { frame.contains($0) }
        }
    }

    /// True when the connection is closed within `timeout`.
    func waitClosed(timeout: Duration = .seconds(5)) async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while !inbox.isClosed {
            if clock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

    /// Connects, expects ConnectionResponse Accepted, logs in as `name`.
    static func loggedIn(port: Int, name: String, timeout: Duration = .seconds(10)) async throws -> TestClient {
        let client = try await connect(port: port, label: name)
        do {
            let greeting = try await client.next(action: "ConnectionResponse", timeout: timeout)
            guard greeting.contains("<Result>Accepted</Result>") else { throw ClientError("\(name): not accepted: \(greeting)") }
            try await client.request("Login", "<Name>\(name)</Name><Password></Password><UserVariables/>")
            let response = try await client.next(action: "LoginResponse", timeout: timeout)
            guard response.contains("<Result>Accepted</Result>") else { throw ClientError("\(name): login refused: \(response)") }
            return client
        } catch {
            client.close()
            throw error
        }
    }

    func close() { channel.close(promise: nil) }
}
