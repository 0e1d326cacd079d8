import ArgumentParser
import ChatDomain
import Foundation
import Logging
import NIOCore
import Node

/// `chorus-node`: one node of a Chorus cluster. Every flag has a `CHORUS_*` environment
/// equivalent (flag wins), e.g. `--max-connections` / `CHORUS_MAX_CONNECTIONS`.
@main
struct ChorusNodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chorus-node",
        abstract: "A Chorus chat node: the ElectroServer 3 XML socket protocol, clustered over Redis.",
        discussion: "Every option can also be set with an environment variable: CHORUS_ and the option name in capitals with underscores (--max-connections: CHORUS_MAX_CONNECTIONS). A flag given on the command line wins."
    )

    @Option(help: "Address to listen on (CHORUS_HOST). Default 0.0.0.0.") var host: String?
    @Option(help: "Client port (CHORUS_PORT); 0 picks a free port, logged at start. Default 9875.") var port: String?
    @Option(help: "Name of this node in logs and in Redis (CHORUS_NODE_ID); a random suffix is added at every start. Default: node.") var nodeId: String?
    @Option(help: "Redis URL redis://[user:password@]host:port[/db] (CHORUS_REDIS). Without it the node runs alone on the in-process bus.") var redis: String?
    @Option(help: "Prefix of every Redis key and channel, so clusters can share one Redis (CHORUS_REDIS_PREFIX). Default chorus:.") var redisPrefix: String?
    @Option(help: "Default zone (CHORUS_ZONE). Default Chat.") var zone: String?
    @Option(help: "Comma-separated permanent rooms of the default zone, e.g. \"Lobby,Help\" (CHORUS_ROOMS).") var rooms: String?
    @Option(help: "Accounts file: one `name:password` per line, # for comments (CHORUS_ACCOUNTS). With it, Login checks passwords. Default: any password.") var accounts: String?
    @Option(help: "Moderators file: one `name:password` per line, # for comments (CHORUS_MODERATORS). Moderators log in with AdminLogin, may kick and ban; their names are reserved. Default: none.") var moderators: String?
    @Option(help: .hidden) var banMinuteSeconds: String?
    @Option(help: "Most rooms in the cluster (CHORUS_MAX_ROOMS). Default unlimited.") var maxRooms: String?
    @Option(help: "Most rooms in one zone, permanent rooms included (CHORUS_MAX_ROOMS_PER_ZONE). Default unlimited.") var maxRoomsPerZone: String?
    @Option(help: "Longest room description, in characters (CHORUS_MAX_DESCRIPTION). Default 1024.") var maxDescription: String?
    @Option(help: "Most distinct recipients of one private message (CHORUS_MAX_PRIVATE_RECIPIENTS). Default 20.") var maxPrivateRecipients: String?
    @Option(help: "Most connections on this node (CHORUS_MAX_CONNECTIONS). Default 10000.") var maxConnections: String?
    @Option(help: "Most connections per client address, as seen through the PROXY protocol when it is on (CHORUS_MAX_CONNECTIONS_PER_IP); 0 for no limit. Default 1000.") var maxConnectionsPerIp: String?
    @Option(help: "Seconds without a frame after which a connection is closed (CHORUS_IDLE_TIMEOUT). Default 300.") var idleTimeout: String?
    @Option(help: "Largest frame in bytes (CHORUS_MAX_FRAME_BYTES). Default 65536.") var maxFrameBytes: String?
    @Option(help: "Unread outbound bytes after which a slow reader is disconnected (CHORUS_MAX_OUTBOUND_BYTES). Default 1048576.") var maxOutboundBytes: String?
    @Option(help: "Messages per second a session may send on average (CHORUS_FLOOD_RATE). Default 10.") var floodRate: String?
    @Option(help: "Burst of messages above the rate (CHORUS_FLOOD_BURST). Default 20.") var floodBurst: String?
    @Option(help: "Web port (CHORUS_HTTP_PORT): the chat page at /, WebSocket sessions at /ws (a document per text message) and /xmlsocket (the raw XMLSocket stream in binary messages, for Ruffle's socketProxy). Default off.") var httpPort: String?
    @Option(help: "Origins of pages allowed to open WebSocket sessions (CHORUS_WS_ORIGINS): comma-separated scheme://host[:port] origins, or * for any. Default: only the node's own page.") var wsOrigins: String?
    @Option(help: "Dedicated Flash socket policy port, e.g. 843 (CHORUS_POLICY_PORT). Default off.") var policyPort: String?
    @Option(help: "Domain allowed by the Flash socket policy (CHORUS_POLICY_DOMAIN). Default *.") var policyDomain: String?
    @Flag(help: "Expect a PROXY protocol v1/v2 header (HAProxy send-proxy) on every connection; connections without one are refused (CHORUS_PROXY_PROTOCOL=true).") var proxyProtocol = false
    @Option(help: "Operator HTTP port serving /health, /ready and /metrics (Prometheus) for the load balancer and monitoring (CHORUS_ADMIN_PORT), e.g. 8081; 0 picks a free port, logged at start. Default off.") var adminPort: String?
    @Option(help: "Seconds a node stopped by SIGTERM lets its sessions go on before closing them, taking no new clients and answering 503 on /ready meanwhile (CHORUS_DRAIN_SECONDS); 0 stops at once. A second SIGTERM or a SIGINT ends the wait. Default 5.") var drainSeconds: String?
    @Option(help: "Event-loop threads (CHORUS_THREADS). Default: one per core.") var threads: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (CHORUS_LOG_LEVEL). Default info.") var logLevel: String?

    func run() async throws {
        let configuration: NodeConfiguration
        do {
            configuration = try makeConfiguration(environment: ProcessInfo.processInfo.environment)
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("chorus-node: \(error.message)\n".utf8))
            throw ExitCode(2)
        }
        if let failure = UserName.lookAlikeCheckFailure {
            FileHandle.standardError.write(Data("chorus-node: cannot check names for look-alikes: \(failure). Install ICU (Debian: apt-get install libicu72).\n".utf8))
            throw ExitCode(2)
        }
        var logger = Logger(label: "chorus")
        logger.logLevel = configuration.logLevel
        Self.unblockShutdownSignals()
        try await ChorusNode(configuration: configuration, logger: logger).run()
    }

    /// Reads `name:password` lines (names as at Login; the password is everything after
    /// the first colon). Blank lines and lines starting with # are skipped.
    static func readAccounts(_ path: String, maxNameLength: Int) throws -> [String: String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigurationError("cannot read the accounts file \"\(path)\" (--accounts / CHORUS_ACCOUNTS): check that it exists and is readable UTF-8")
        }
        var accounts: [String: String] = [:]
        // By unicode scalars: a Character "\r\n" is not "\n", so CRLF files would be one line.
        let lines = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false)
        for (index, scalars) in lines.enumerated() {
            let raw = Substring(scalars)
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            if line.trimmingCharacters(in: .whitespaces).isEmpty || line.hasPrefix("#") { continue }
            guard let colon = line.firstIndex(of: ":"),
                  case .success(let name) = UserName.validate(String(line[..<colon]), maxLength: maxNameLength),
                  !name.mixesScripts else {
                throw ConfigurationError("accounts file \"\(path)\", line \(index + 1): expected name:password with a valid user name (letters of one script, digits, _ - . and inner spaces)")
            }
            accounts[name.key] = String(line[line.index(after: colon)...])
        }
        return accounts
    }

    /// Reads the moderators file (see `ModeratorsFile`); a mistake names the file, the line
    /// and what is wrong.
    static func readModerators(_ path: String, maxNameLength: Int) throws -> [String: String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigurationError("cannot read the moderators file \"\(path)\" (--moderators / CHORUS_MODERATORS): check that it exists and is readable UTF-8")
        }
        switch ModeratorsFile.parse(text, maxNameLength: maxNameLength) {
        case .success(let moderators): return moderators
        case .failure(let problem):
            throw ConfigurationError("moderators file \"\(path)\", line \(problem.line): \(problem.what); fix the line (name:password) or remove it")
        }
    }

    /// A parent may start us with SIGINT/SIGTERM blocked (Foundation's `Process` does):
    /// they are what stops a node, so they are unblocked before anything else starts.
    static func unblockShutdownSignals() {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &signals, nil)
    }

    func makeConfiguration(environment: [String: String]) throws -> NodeConfiguration {
        var settings = Settings(environment: environment)
        var c = NodeConfiguration()
        c.host = try settings.string(host, "host") ?? c.host
        c.port = try settings.int(port, "port", in: 0...65535) ?? c.port
        c.nodeName = try settings.string(nodeId, "node-id")
        c.redisURL = try settings.string(redis, "redis")
        c.redisPrefix = try settings.string(redisPrefix, "redis-prefix") ?? c.redisPrefix
        if let zone = try settings.string(zone, "zone") {
            guard let valid = RoomRules.normalizedZone(zone, maxLength: c.limits.maxRoomNameLength) else {
                throw ConfigurationError("invalid zone \"\(zone)\" (--zone / CHORUS_ZONE): use 1 to \(c.limits.maxRoomNameLength) characters, no control characters, no leading or trailing space")
            }
            c.defaultZone = valid
        }
        if let rooms = try settings.string(rooms, "rooms") {
            for raw in rooms.split(separator: ",") {
                let name = String(raw).trimmingCharacters(in: .whitespaces)
                guard case .success(let valid) = RoomRules.validateRoomName(name, maxLength: c.limits.maxRoomNameLength) else {
                    throw ConfigurationError("invalid room name \"\(name)\" in --rooms / CHORUS_ROOMS: use 1 to \(c.limits.maxRoomNameLength) characters, no control characters")
                }
                if !c.permanentRooms.contains(valid) { c.permanentRooms.append(valid) }
            }
        }
        if let path = try settings.string(accounts, "accounts") {
            c.limits.accounts = try Self.readAccounts(path, maxNameLength: c.limits.maxNameLength)
        }
        if let path = try settings.string(moderators, "moderators") {
            c.limits.moderators = try Self.readModerators(path, maxNameLength: c.limits.maxNameLength)
        }
        // Hidden, for tests: how many seconds one minute of a ban's Expires lasts.
        if let seconds = try settings.double(banMinuteSeconds, "ban-minute-seconds", in: 0.001...60) {
            c.limits.banMinuteMilliseconds = max(1, Int64(seconds * 1000))
        }
        c.maxRooms = try settings.int(maxRooms, "max-rooms", in: 1...Int.max)
        c.maxRoomsPerZone = try settings.int(maxRoomsPerZone, "max-rooms-per-zone", in: 1...Int.max)
        c.limits.maxDescriptionLength = try settings.int(maxDescription, "max-description", in: 0...(1 << 20)) ?? c.limits.maxDescriptionLength
        c.limits.maxPrivateRecipients = try settings.int(maxPrivateRecipients, "max-private-recipients", in: 1...10_000) ?? c.limits.maxPrivateRecipients
        c.maxConnections = try settings.int(maxConnections, "max-connections", in: 1...10_000_000) ?? c.maxConnections
        if let perAddress = try settings.int(maxConnectionsPerIp, "max-connections-per-ip", in: 0...10_000_000) {
            c.maxConnectionsPerAddress = perAddress == 0 ? nil : perAddress
        }
        if let seconds = try settings.double(idleTimeout, "idle-timeout", in: 0.1...31_536_000) {
            c.idleTimeout = .nanoseconds(Int64(seconds * 1e9))
        }
        c.maxFrameBytes = try settings.int(maxFrameBytes, "max-frame-bytes", in: 64...(64 << 20)) ?? c.maxFrameBytes
        c.maxOutboundBytes = try settings.int(maxOutboundBytes, "max-outbound-bytes", in: 4096...(1 << 30)) ?? c.maxOutboundBytes
        c.limits.floodRate = try settings.double(floodRate, "flood-rate", in: 0.001...1_000_000) ?? c.limits.floodRate
        c.limits.floodBurst = try settings.int(floodBurst, "flood-burst", in: 1...1_000_000) ?? c.limits.floodBurst
        c.httpPort = try settings.int(httpPort, "http-port", in: 0...65535)
        if let origins = try settings.string(wsOrigins, "ws-origins") {
            do {
                c.webSocketOrigins = try OriginPolicy(parsing: origins)
            } catch {
                throw ConfigurationError("\(error) (--ws-origins / CHORUS_WS_ORIGINS)")
            }
        }
        c.policyPort = try settings.int(policyPort, "policy-port", in: 1...65535)
        c.policyDomain = try settings.string(policyDomain, "policy-domain") ?? c.policyDomain
        c.proxyProtocol = try proxyProtocol || (settings.bool(nil, "proxy-protocol") ?? false)
        c.adminPort = try settings.int(adminPort, "admin-port", in: 0...65535)
        if let seconds = try settings.double(drainSeconds, "drain-seconds", in: 0...3600) {
            c.drainTime = .nanoseconds(Int64(seconds * 1e9))
        }
        c.threads = try settings.int(threads, "threads", in: 1...1024) ?? c.threads
        if let level = try settings.string(logLevel, "log-level") {
            guard let parsed = Logger.Level(rawValue: level.lowercased()) else {
                throw ConfigurationError("invalid log level \"\(level)\" (--log-level / CHORUS_LOG_LEVEL): use trace, debug, info, notice, warning, error or critical")
            }
            c.logLevel = parsed
        }
        if c.policyPort == c.port {
            throw ConfigurationError("--policy-port \(c.port) is the client port too: choose another port (Flash asks 843)")
        }
        if let web = c.httpPort, web != 0, web == c.port || web == c.policyPort {
            throw ConfigurationError("--http-port \(web) is already the \(web == c.port ? "client" : "policy") port: choose another port for web clients (e.g. 8080)")
        }
        if let admin = c.adminPort, admin != 0, admin == c.port || admin == c.policyPort || admin == c.httpPort {
            throw ConfigurationError("--admin-port \(admin) is also the \(admin == c.port ? "client" : admin == c.policyPort ? "policy" : "web") port: choose another port (e.g. 8081)")
        }
        return c
    }
}

/// A configuration mistake, reported at start-up in one line.
struct ConfigurationError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// Reads one option from its flag or, failing that, its `CHORUS_*` variable.
struct Settings {
    let environment: [String: String]

    private func raw(_ flag: String?, _ name: String) -> (value: String, source: String)? {
        if let flag { return (flag, "--\(name)") }
        let variable = "CHORUS_" + name.uppercased().replacingOccurrences(of: "-", with: "_")
        if let value = environment[variable], !value.isEmpty { return (value, variable) }
        return nil
    }

    mutating func string(_ flag: String?, _ name: String) throws -> String? {
        raw(flag, name)?.value
    }

    mutating func int(_ flag: String?, _ name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let (value, source) = raw(flag, name) else { return nil }
        guard let number = Int(value.trimmingCharacters(in: .whitespaces)), range.contains(number) else {
            throw ConfigurationError("invalid value \"\(value)\" for \(source): expected a whole number from \(range.lowerBound) to \(range.upperBound == Int.max ? "any" : String(range.upperBound))")
        }
        return number
    }

    mutating func double(_ flag: String?, _ name: String, in range: ClosedRange<Double>) throws -> Double? {
        guard let (value, source) = raw(flag, name) else { return nil }
        guard let number = Double(value.trimmingCharacters(in: .whitespaces)), range.contains(number) else {
            throw ConfigurationError("invalid value \"\(value)\" for \(source): expected a number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    mutating func bool(_ flag: String?, _ name: String) throws -> Bool? {
        guard let (value, source) = raw(flag, name) else { return nil }
        switch value.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw ConfigurationError("invalid value \"\(value)\" for \(source): expected true or false")
        }
    }
}
