/// Which web pages may open a WebSocket to the node (PROTOCOL.md section 8): by default
/// only the node's own page (an `Origin` whose host and port are the request's `Host`),
/// `*` for any, or a list of origins (`https://chat.example.com`).
///
/// A request without `Origin` does not come from a browser page (browsers always send it
/// on WebSocket requests), so no page can abuse a visitor's access through it: allowed.
public enum OriginPolicy: Sendable, Equatable {
    case sameHost
    case any
    case list(Set<String>)

    /// Parses `--ws-origins`: empty or `self` → ``sameHost``; `*` → ``any``; else a
    /// comma-separated list of `scheme://host[:port]` origins.
    public init(parsing text: String) throws(OriginPolicyError) {
        let entries = text.split(separator: ",").map { String($0.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed()) }
            .filter { !$0.isEmpty }
        if entries.isEmpty || entries == ["self"] {
            self = .sameHost
            return
        }
        if entries.contains("*") {
            guard entries == ["*"] else { throw OriginPolicyError(entry: "*", why: "`*` allows every origin; list it alone") }
            self = .any
            return
        }
        var origins = Set<String>()
        for entry in entries {
            guard let origin = Self.normalized(entry) else {
                throw OriginPolicyError(entry: entry, why: "an origin is scheme://host[:port], e.g. https://chat.example.com")
            }
            origins.insert(origin)
        }
        self = .list(origins)
    }

    /// Whether a WebSocket request with this `Origin` and `Host` may upgrade.
    public func allows(origin: String?, host: String?) -> Bool {
        guard let origin else { return true }
        switch self {
        case .any:
            return true
        case .list(let origins):
            guard let normalized = Self.normalized(origin) else { return false }
            return origins.contains(normalized)
        case .sameHost:
            guard let host, let normalized = Self.normalized(origin) else { return false }
            let authority = normalized.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first.map(String.init)
            return authority == host.lowercased() || authority.map { Self.withoutDefaultPort($0) } == Self.withoutDefaultPort(host.lowercased())
        }
    }

    /// `scheme://host[:port]`, lower-cased, or nil if it is not such an origin (`null`,
    /// paths, user info).
    static func normalized(_ origin: String) -> String? {
        let lower = origin.lowercased()
        for scheme in ["http://", "https://"] where lower.hasPrefix(scheme) {
            let authority = lower.dropFirst(scheme.count)
            guard !authority.isEmpty, !authority.contains("/"), !authority.contains("@"),
                  !authority.contains(where: { $0 == " " || $0 == "?" || $0 == "#" }) else { return nil }
            return scheme + authority
        }
        return nil
    }

    private static func withoutDefaultPort(_ authority: String) -> String {
        for suffix in [":80", ":443"] where authority.hasSuffix(suffix) {
            return String(authority.dropLast(suffix.count))
        }
        return authority
    }
}

/// A `--ws-origins` entry that is not an origin.
public struct OriginPolicyError: Error, CustomStringConvertible, Sendable {
    public let entry: String
    public let why: String
    public var description: String { "invalid --ws-origins entry \"\(entry)\": \(why)" }
}
