import Node
import Testing

struct OriginPolicyTests {
    @Test func theDefaultAllowsOnlyThePagesOwnHost() throws {
        let policy = try OriginPolicy(parsing: "")
        #expect(policy == .sameHost)
        #expect(policy.allows(origin: "http://chat.example:8080", host: "chat.example:8080"))
        #expect(policy.allows(origin: "https://Chat.Example", host: "chat.example"))
        #expect(policy.allows(origin: "https://chat.example:443", host: "chat.example"))
        #expect(!policy.allows(origin: "http://evil.example:8080", host: "chat.example:8080"))
        #expect(!policy.allows(origin: "http://chat.example:8081", host: "chat.example:8080"))
        #expect(!policy.allows(origin: "null", host: "chat.example"))
        #expect(!policy.allows(origin: "http://chat.example", host: nil))
        #expect(policy.allows(origin: nil, host: "chat.example"), "no Origin: not a page")
    }

    @Test func aListAllowsExactlyItsOrigins() throws {
        let policy = try OriginPolicy(parsing: " https://a.example , http://b.example:8000")
        #expect(policy.allows(origin: "https://A.example", host: "node:8080"))
        #expect(policy.allows(origin: "http://b.example:8000", host: "node:8080"))
        #expect(!policy.allows(origin: "http://a.example", host: "node:8080"))
        #expect(!policy.allows(origin: "http://node:8080", host: "node:8080"))
    }

    @Test func aStarAllowsAny() throws {
        #expect(try OriginPolicy(parsing: "*") == .any)
        #expect(OriginPolicy.any.allows(origin: "null", host: nil))
    }

    @Test(arguments: ["chat.example", "https://a.example/path", "*,https://a.example", "ftp://x", "https://user@a.example"])
    func mistakesAreRefusedWithAReason(_ text: String) {
        #expect(throws: OriginPolicyError.self) { try OriginPolicy(parsing: text) }
    }
}
