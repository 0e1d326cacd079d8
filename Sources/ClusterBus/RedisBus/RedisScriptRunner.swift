import NIOCore
import RedisClient
import Synchronization

/// Loads the Lua scripts once (SCRIPT LOAD) and calls them by SHA (EVALSHA); a script Redis
/// has forgotten (NOSCRIPT, after a restart) is loaded again and the call repeated once.
final class RedisScriptRunner: Sendable {
    enum Script: CaseIterable, Sendable {
        case login, join, leave, logout, sendPrivate, listing, heartbeat, reapDead, deregister, ensurePermanentRoom, restore, epoch
        case isLockedOut, recordWrongPassword, publish, fetch, moderate, isAddressBanned, changeRoomDetails

        var body: String {
            switch self {
            case .login: RedisScripts.login
            case .join: RedisScripts.join
            case .leave: RedisScripts.leave
            case .logout: RedisScripts.logout
            case .sendPrivate: RedisScripts.sendPrivate
            case .listing: RedisScripts.listing
            case .heartbeat: RedisScripts.heartbeat
            case .reapDead: RedisScripts.reapDead
            case .deregister: RedisScripts.deregister
            case .ensurePermanentRoom: RedisScripts.ensurePermanentRoom
            case .restore: RedisScripts.restore
            case .epoch: RedisScripts.epoch
            case .isLockedOut: RedisScripts.isLockedOut
            case .recordWrongPassword: RedisScripts.recordWrongPassword
            case .publish: RedisScripts.publish
            case .fetch: RedisScripts.fetch
            case .moderate: RedisScripts.moderate
            case .isAddressBanned: RedisScripts.isAddressBanned
            case .changeRoomDetails: RedisScripts.changeRoomDetails
            }
        }

        var source: String { RedisScripts.prelude + "\n" + body }
    }

    private let prefix: String
    private let prefixBuffer: ByteBuffer
    private let shas = Mutex<[Script: ByteBuffer]>([:])
    private static let evalsha = ByteBuffer(string: "EVALSHA")
    private static let noKeys = ByteBuffer(string: "0")

    init(prefix: String) {
        self.prefix = prefix
        self.prefixBuffer = ByteBuffer(string: prefix)
    }

    /// Loads every script (pipelined) and remembers their SHAs.
    func load(on link: RedisLink) async throws {
        let replies = Script.allCases.map { ($0, link.send(["SCRIPT", "LOAD", $0.source])) }
        for (script, reply) in replies {
            guard let sha = try await reply.get().string else { throw RedisCommandError(message: "SCRIPT LOAD gave no SHA") }
            shas.withLock { $0[script] = ByteBuffer(string: sha) }
        }
    }

    /// Starts a call without waiting (for pipelining many calls).
    func start(_ script: Script, _ args: [String], on link: RedisLink) -> EventLoopFuture<RESPValue> {
        start(script, args.map { ByteBuffer(string: $0) }, on: link)
    }

    /// Starts a call with binary arguments, passed on byte for byte.
    func start(_ script: Script, _ args: [ByteBuffer], on link: RedisLink) -> EventLoopFuture<RESPValue> {
        let prefix = prefixBuffer
        guard let sha = shas.withLock({ $0[script] }) else {
            return link.send([ByteBuffer(string: "EVAL"), ByteBuffer(string: script.source), Self.noKeys, prefix] + args)
        }
        var call = [Self.evalsha, sha, Self.noKeys, prefix]
        call.append(contentsOf: args)
        return link.send(call).flatMapError { error in
            guard let redisError = error as? RedisCommandError, redisError.message.hasPrefix("NOSCRIPT") else {
                return link.eventLoop.makeFailedFuture(error)
            }
            return link.send(["SCRIPT", "LOAD", script.source]).flatMap { _ in link.send(call) }
        }
    }

    func run(_ script: Script, _ args: [String], on link: RedisLink) async throws -> RESPValue {
        try await start(script, args, on: link).get()
    }
}
