import Foundation
import NIOCore

/// Where Redis is and how to talk to it. A plain value; every field has a default.
///
/// `description`, `debugDescription`, `redacted` and reflection (`dump`, `Mirror`) never show
/// the password, so the configuration can be logged as is.
public struct RedisConfiguration: Sendable, Hashable {
    var host: String
    var port: Int
    /// Database selected with `SELECT` right after connecting, unless 0.
    var db: Int
    /// ACL user name for `AUTH username password` (Redis 6+); nil for `AUTH password`.
    var username: String?
    /// Password for `AUTH`; nil sends no `AUTH`.
    var password: String?
    /// Limit on establishing the TCP connection.
    var connectTimeout: TimeAmount
    /// Limit on waiting for the reply to the oldest outstanding command. When it passes, the
    /// connection is closed and every outstanding command fails with `replyTimeout`.
    var replyTimeout: TimeAmount
    /// Commands awaiting a reply on one connection; beyond it `send` fails at once with
    /// `tooManyPendingCommands`.
    var maxPendingCommands: Int
    /// Largest single reply accepted, counted both on the wire and as hiredis's in-memory reply
    /// objects; a larger reply fails the connection with `replyTooLarge`.
    var maxReplyBytes: Int
    /// How often `RedisLink` pings its connections to notice a dead or stalled Redis when idle
    /// (a missing pong then trips `replyTimeout`); nil disables pings.
    var healthCheckInterval: TimeAmount?

    static let defaultPort = 6379

    init(
        host: String = "127.0.0.1",
        port: Int = RedisConfiguration.defaultPort,
        db: Int = 0,
        username: String? = nil,
        password: String? = nil,
        connectTimeout: TimeAmount = .seconds(2),
        replyTimeout: TimeAmount = .seconds(5),
        maxPendingCommands: Int = 100_000,
        maxReplyBytes: Int = 64 * 1024 * 1024,
        healthCheckInterval: TimeAmount? = .seconds(1)
    ) {
        self.host = host
        self.port = port
        self.db = db
        self.username = username
        self.password = password
        self.connectTimeout = connectTimeout
        self.replyTimeout = replyTimeout
        self.maxPendingCommands = maxPendingCommands
        self.maxReplyBytes = maxReplyBytes
        self.healthCheckInterval = healthCheckInterval
    }

    /// Parses `redis://[user[:password]@]host[:port][/db]`; timeouts and limits keep their
    /// defaults. User and password may be percent-encoded; an IPv6 host goes in brackets.
    public init(url: String) throws {
        self.init()
        func fail(_ reason: String) -> RedisConfigurationError {
            RedisConfigurationError(message: "invalid Redis URL \"\(Self.redact(url: url))\": \(reason)")
        }

        let lowered = url.lowercased()
        if lowered.hasPrefix("rediss://") {
            throw fail("TLS (rediss://) is not supported")
        }
        guard lowered.hasPrefix("redis://") else {
            throw fail("expected redis://host:port[/db]")
        }
        var rest = Substring(url.dropFirst("redis://".count))

        // User info: everything up to the last "@", so an unencoded "@" or "/" in a password works.
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let user: Substring
            let secret: Substring?
            if let colon = userInfo.firstIndex(of: ":") {
                user = userInfo[..<colon]
                secret = userInfo[userInfo.index(after: colon)...]
            } else {
                user = userInfo
                secret = nil
            }
            guard let decodedUser = Self.percentDecode(user) else { throw fail("invalid percent-encoding in the user name") }
            let decodedSecret = try secret.map { secret -> String in
                guard let decoded = Self.percentDecode(secret) else { throw fail("invalid percent-encoding in the password") }
                return decoded
            }
            if !decodedUser.isEmpty && decodedSecret == nil {
                throw fail("a user name needs a password (redis://user:password@host)")
            }
            self.username = decodedUser.isEmpty ? nil : decodedUser
            self.password = decodedSecret
        }

        if rest.contains("?") || rest.contains("#") {
            throw fail("query parameters and fragments are not supported")
        }

        // Path: optional "/db".
        var authority = rest
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            let path = rest[rest.index(after: slash)...]
            if !path.isEmpty {
                guard path.allSatisfy(\.isASCIIDigit), let db = Int(path) else {
                    throw fail("database \"\(path)\" is not a non-negative integer")
                }
                self.db = db
            }
        }

        // Host and port.
        var portText: Substring? = nil
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw fail("unterminated IPv6 address") }
            self.host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw fail("expected \":port\" after the IPv6 address") }
                portText = after.dropFirst()
            }
        } else {
            let colons = authority.filter { $0 == ":" }.count
            if colons > 1 { throw fail("an IPv6 address must be in brackets, e.g. redis://[::1]:6379") }
            if let colon = authority.firstIndex(of: ":") {
                self.host = String(authority[..<colon])
                portText = authority[authority.index(after: colon)...]
            } else {
                self.host = String(authority)
            }
        }
        if self.host.isEmpty {
            throw fail("missing host; expected redis://host:port[/db]")
        }
        if let portText {
            guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy(\.isASCIIDigit),
                  let port = Int(portText), (1...65535).contains(port)
            else {
                throw fail("port \"\(portText)\" is not a number between 1 and 65535")
            }
            self.port = port
        }
    }

    /// `redis://[user:]***@host:port/db`: the endpoint as a URL with the password replaced.
    public var redacted: String {
        var result = "redis://"
        if password != nil {
            if let username { result += Self.percentEncode(username) + ":" } else { result += ":" }
            result += "***@"
        }
        result += host.contains(":") ? "[\(host)]" : host
        result += ":\(port)/\(db)"
        return result
    }

    /// Replaces the password of something that looks like a URL with `***` (for error messages).
    static func redact(url: String) -> String {
        let start = url.range(of: "://")?.upperBound ?? url.startIndex
        guard let at = url[start...].lastIndex(of: "@"),
              let colon = url[start..<at].firstIndex(of: ":")
        else { return url }
        return String(url[..<url.index(after: colon)]) + "***" + String(url[at...])
    }

    static func percentDecode(_ text: Substring) -> String? {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(Self.hexValue), let low = iterator.next().flatMap(Self.hexValue) else {
                    return nil
                }
                bytes.append(high << 4 | low)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    static func percentEncode(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            let scalar = Unicode.Scalar(byte)
            if byte < 0x80 && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "-._~".unicodeScalars.contains(scalar)) {
                result.unicodeScalars.append(scalar)
            } else {
                result += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return result
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension RedisConfiguration: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String {
        redacted
    }

    public var debugDescription: String {
        "RedisConfiguration(\(redacted), connectTimeout: \(connectTimeout), replyTimeout: \(replyTimeout), "
            + "maxPendingCommands: \(maxPendingCommands), maxReplyBytes: \(maxReplyBytes))"
    }

    public var customMirror: Mirror {
        Mirror(self, children: ["endpoint": redacted, "connectTimeout": connectTimeout, "replyTimeout": replyTimeout,
                                "maxPendingCommands": maxPendingCommands, "maxReplyBytes": maxReplyBytes])
    }
}

private extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

private extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
