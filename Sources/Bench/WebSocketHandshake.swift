/// The client side of the WebSocket opening handshake (RFC 6455 4.1): the upgrade request, and
/// the check of the node's answer (status 101, `Upgrade: websocket`, `Connection: Upgrade`, and
/// `Sec-WebSocket-Accept` = base64(SHA-1(key + GUID))). Done by hand on raw bytes, like the rest of
/// the generator: no HTTP pipeline handlers per connection.
struct WebSocketHandshake {
    /// The GUID of RFC 6455 1.3, appended to the key before hashing.
    static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    /// A response head longer than this is refused (the node's is a few hundred bytes).
    static let maxHeadBytes = 8192

    /// `Sec-WebSocket-Key`: base64 of 16 random bytes.
    let key: String
    /// The response head received so far (until its blank line).
    private var head: [UInt8] = []

    init(keyBytes: [UInt8]) {
        precondition(keyBytes.count == 16, "RFC 6455: the key is 16 random bytes")
        key = Base64.encode(keyBytes)
    }

    /// The `Sec-WebSocket-Accept` value a server must answer `key` with.
    static func accept(forKey key: String) -> String {
        Base64.encode(SHA1.hash(Array((key + guid).utf8)))
    }

    /// The upgrade request for `path` on `host` (host:port, as in the Host header). No `Origin`:
    /// a node accepts requests without one (non-browser clients).
    func request(host: String, path: String) -> String {
        "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n\r\n"
    }

    enum Progress: Equatable {
        /// The head is not complete yet.
        case needMore
        /// The upgrade succeeded; the first `consumed` bytes of the last input were the end of the
        /// head, the rest are WebSocket frames.
        case upgraded(consumed: Int)
        case failed(String)
    }

    /// Feeds the bytes of one read. Once the head's blank line has arrived, checks the head.
    mutating func feed(_ bytes: UnsafeRawBufferPointer) -> Progress {
        let before = head.count
        head.append(contentsOf: bytes)
        var i = max(0, before - 3)
        while i + 4 <= head.count {
            if head[i] == 13 && head[i + 1] == 10 && head[i + 2] == 13 && head[i + 3] == 10 {
                let end = i + 4
                let text = String(decoding: head[0..<end], as: UTF8.self)
                head = []
                if let problem = Self.check(head: text, key: key) { return .failed(problem) }
                return .upgraded(consumed: end - before)
            }
            i += 1
        }
        if head.count > Self.maxHeadBytes {
            return .failed("no end of the HTTP response head within \(Self.maxHeadBytes) bytes")
        }
        return .needMore
    }

    /// Checks a complete response head (status line, headers, blank line) against `key`: nil
    /// when the upgrade is valid, otherwise what is wrong.
    static func check(head: String, key: String) -> String? {
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: true).map(String.init)
        guard !lines.isEmpty else { return "empty HTTP response" }
        let status = lines.removeFirst()
        let parts = status.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1.") else { return "not an HTTP response: \"\(status.prefix(80))\"" }
        guard parts[1] == "101" else {
            let hint: String
            switch parts[1] {
            case "403": hint = " (the node's Origin check refused it: see its --ws-origins)"
            case "404": hint = " (no WebSocket at this path: is --ws-nodes the node's --http-port?)"
            default: hint = ""
            }
            return "the node refused the WebSocket upgrade: \"\(status.prefix(80))\"\(hint)"
        }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { return "malformed header line \"\(line.prefix(80))\"" }
            let name = line[..<colon].lowercased()
            let value = trimmedSpaces(line[line.index(after: colon)...])
            headers[name] = headers[name].map { $0 + ", " + value } ?? value
        }
        guard headers["upgrade"]?.lowercased() == "websocket" else {
            return "101 without \"Upgrade: websocket\" (got \(headers["upgrade"].map { "\"\($0)\"" } ?? "none"))"
        }
        let connection = (headers["connection"] ?? "").lowercased().split(separator: ",").map { trimmedSpaces($0) }
        guard connection.contains("upgrade") else {
            return "101 without \"Connection: Upgrade\" (got \(headers["connection"].map { "\"\($0)\"" } ?? "none"))"
        }
        let expected = accept(forKey: key)
        guard headers["sec-websocket-accept"] == expected else {
            return "wrong Sec-WebSocket-Accept \(headers["sec-websocket-accept"].map { "\"\($0)\"" } ?? "(none)"), expected \"\(expected)\""
        }
        if let ext = headers["sec-websocket-extensions"], !ext.isEmpty {
            return "the node chose extensions the client did not offer: \"\(ext)\""
        }
        return nil
    }
}
