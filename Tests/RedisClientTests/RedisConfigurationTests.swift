@testable import RedisClient
import NIOCore
import Testing

@Suite struct RedisConfigurationTests {
    @Test func defaults() {
        let configuration = RedisConfiguration()
        #expect(configuration.host == "127.0.0.1" && configuration.port == 6379 && configuration.db == 0)
        #expect(configuration.connectTimeout == .seconds(2) && configuration.replyTimeout == .seconds(5))
        #expect(configuration.maxPendingCommands == 100_000 && configuration.maxReplyBytes == 64 << 20)
        #expect(configuration.username == nil && configuration.password == nil)
    }

    @Test func parsesFullURL() throws {
        let configuration = try RedisConfiguration(url: "redis://alice:p%40ss:w@rd@cache.local:6380/3")
        #expect(configuration.username == "alice")
        #expect(configuration.password == "p@ss:w@rd")
        #expect(configuration.host == "cache.local" && configuration.port == 6380 && configuration.db == 3)
    }

    @Test func parsesShortForms() throws {
        let plain = try RedisConfiguration(url: "redis://localhost")
        #expect(plain.host == "localhost" && plain.port == 6379 && plain.db == 0 && plain.password == nil)
        let passwordOnly = try RedisConfiguration(url: "REDIS://:secret@10.0.0.1:7000/")
        #expect(passwordOnly.username == nil && passwordOnly.password == "secret")
        #expect(passwordOnly.host == "10.0.0.1" && passwordOnly.port == 7000 && passwordOnly.db == 0)
        let ipv6 = try RedisConfiguration(url: "redis://[::1]:6390/2")
        #expect(ipv6.host == "::1" && ipv6.port == 6390 && ipv6.db == 2)
        #expect(ipv6.redacted == "redis://[::1]:6390/2")
    }

    @Test(arguments: [
        ("x", "invalid Redis URL \"x\": expected redis://host:port[/db]"),
        ("http://host", "invalid Redis URL \"http://host\": expected redis://host:port[/db]"),
        ("rediss://host", "invalid Redis URL \"rediss://host\": TLS (rediss://) is not supported"),
        ("redis://", "invalid Redis URL \"redis://\": missing host; expected redis://host:port[/db]"),
        ("redis://:6379", "invalid Redis URL \"redis://:6379\": missing host; expected redis://host:port[/db]"),
        ("redis://host:abc", "invalid Redis URL \"redis://host:abc\": port \"abc\" is not a number between 1 and 65535"),
        ("redis://host:0", "invalid Redis URL \"redis://host:0\": port \"0\" is not a number between 1 and 65535"),
        ("redis://host:70000", "invalid Redis URL \"redis://host:70000\": port \"70000\" is not a number between 1 and 65535"),
        ("redis://host:", "invalid Redis URL \"redis://host:\": port \"\" is not a number between 1 and 65535"),
        ("redis://host/x", "invalid Redis URL \"redis://host/x\": database \"x\" is not a non-negative integer"),
        ("redis://host/1/2", "invalid Redis URL \"redis://host/1/2\": database \"1/2\" is not a non-negative integer"),
        ("redis://host?db=1", "invalid Redis URL \"redis://host?db=1\": query parameters and fragments are not supported"),
        ("redis://::1:6379", "invalid Redis URL \"redis://::1:6379\": an IPv6 address must be in brackets, e.g. redis://[::1]:6379"),
        ("redis://bob@host", "invalid Redis URL \"redis://bob@host\": a user name needs a password (redis://user:password@host)"),
    ])
    func rejectsBadURLs(url: String, message: String) {
        #expect(throws: RedisConfigurationError(message: message)) { try RedisConfiguration(url: url) }
    }

    @Test func errorsNeverShowThePassword() {
        for url in ["redis://:hunter2@host:notaport", "redis://u:hunter2@:1", "redis://u:hunter2@host/db", "redis://:hunter%2@host"] {
            do {
                _ = try RedisConfiguration(url: url)
                Issue.record("\(url) parsed")
            } catch {
                #expect(!"\(error)".contains("hunter"), "\(error)")
                #expect("\(error)".contains("***"), "\(error)")
            }
        }
    }

    @Test func redactionNeverShowsThePassword() throws {
        let configuration = try RedisConfiguration(url: "redis://alice:hunter2@cache:6380/4")
        #expect(configuration.redacted == "redis://alice:***@cache:6380/4")
        #expect(configuration.description == configuration.redacted)
        var dumped = ""
        dump(configuration, to: &dumped)
        for text in [configuration.description, configuration.debugDescription, String(reflecting: configuration),
                     "\(configuration)", dumped] {
            #expect(!text.contains("hunter2"), "\(text)")
        }
        #expect(try RedisConfiguration(url: "redis://:pw@h").redacted == "redis://:***@h:6379/0")
        #expect(try RedisConfiguration(url: "redis://h:1/2").redacted == "redis://h:1/2")
        #expect(RedisUnavailable(endpoint: configuration.redacted).description == "Redis at redis://alice:***@cache:6380/4 is unavailable")
    }
}
