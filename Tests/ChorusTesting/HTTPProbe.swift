import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One raw HTTP/1.1 request over a fresh connection to 127.0.0.1, read until the server
/// closes: for the web and operator ports, with exactly the bytes a test wants to send.
public struct HTTPProbe: Sendable {
    public let status: Int
    public let head: String
    public let body: String

    /// The value of header `name` (case-insensitive), if present.
    public func header(_ name: String) -> String? {
        for line in head.split(separator: "\r\n").dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == name.lowercased() {
                return parts[1].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }

    /// Sends `method path` with `headers` (Host is added unless given) and reads the answer.
    public static func request(port: Int, _ path: String, method: String = "GET", headers: [String] = [],
                               timeout: Double = 5) throws -> HTTPProbe {
        var lines = ["\(method) \(path) HTTP/1.1"]
        if !headers.contains(where: { $0.lowercased().hasPrefix("host:") }) { lines.append("Host: 127.0.0.1:\(port)") }
        lines += headers
        return try raw(port: port, Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8), timeout: timeout)
    }

    /// Sends `bytes` as given and reads until the server closes.
    public static func raw(port: Int, _ bytes: [UInt8], timeout: Double = 5) throws -> HTTPProbe {
        let fd = try Socket.makeTCP()
        defer { Socket.close(fd) }
        guard Socket.connect(fd, port: port) == 0 else { throw TestFailure("connect to 127.0.0.1:\(port) failed") }
        try Socket.sendAll(fd, bytes)
        var received: [UInt8] = []
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { throw TestFailure("no complete HTTP answer within \(timeout) s: \(String(decoding: received, as: UTF8.self))") }
            guard Socket.waitReadable(fd, milliseconds: Int32(remaining * 1000) + 1) else { continue }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            received += chunk[0..<count]
        }
        let text = String(decoding: received, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else {
            throw TestFailure("not an HTTP answer: \(text.prefix(300))")
        }
        let head = String(text[..<split.lowerBound])
        let status = head.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return HTTPProbe(status: status, head: head, body: String(text[split.upperBound...]))
    }
}
