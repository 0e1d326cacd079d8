import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One HTTP/1.1 response as read off a socket.
public struct HTTPResponse: Sendable {
    public let status: Int
    /// Header names in lower case.
    public let headers: [String: String]
    public let body: String
}

/// A minimal blocking HTTP/1.1 client over a real socket to 127.0.0.1, for the operator
/// port: one request per connection (`Connection: close`), the response read to its end.
public enum HTTPProbe {
    /// `GET path` (or another method); throws if the connection fails or no complete
    /// response comes within `timeout` seconds.
    public static func get(port: Int, _ path: String, method: String = "GET", timeout: Double = 5,
                           sourceLocation: SourceLocation = #_sourceLocation) throws -> HTTPResponse {
        let request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n"
        let (response, _) = try exchange(port: port, Array(request.utf8), timeout: timeout)
        guard let response else {
            throw TestFailure("no HTTP response to \(method) \(path) on port \(port)", sourceLocation: sourceLocation)
        }
        return response
    }

    /// Sends `bytes` as they are, then reads until the server closes the connection or
    /// `timeout` passes: the response (nil if none could be parsed) and whether the server
    /// closed the connection.
    public static func exchange(port: Int, _ bytes: [UInt8], timeout: Double = 5) throws -> (HTTPResponse?, closed: Bool) {
        let fd = try Socket.makeTCP()
        defer { Socket.close(fd) }
        guard Socket.connect(fd, port: port) == 0 else {
            throw TestFailure("cannot connect to 127.0.0.1:\(port): errno \(errno)")
        }
        try? Socket.sendAll(fd, bytes)  // a server may close before reading it all
        var received: [UInt8] = []
        var closed = false
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 65536)
        while Date() < deadline {
            let left = Int32(max(1, deadline.timeIntervalSinceNow * 1000))
            guard Socket.waitReadable(fd, milliseconds: left) else { break }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 {
                closed = true
                break
            }
            received += buffer[0..<count]
            if let response = parse(received), response.complete { return (response.response, false) }
        }
        return (parse(received)?.response, closed)
    }

    /// Are the operator endpoints answering at all? (A connection refused is `nil`.)
    public static func status(port: Int, _ path: String) -> Int? {
        try? get(port: port, path, timeout: 2).status
    }

    private static func parse(_ bytes: [UInt8]) -> (response: HTTPResponse, complete: Bool)? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = bytes.indices.first(where: { bytes[$0...].starts(with: separator) }) else { return nil }
        let head = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        guard let statusLine = head.first?.split(separator: " "), statusLine.count >= 2, let status = Int(statusLine[1]) else { return nil }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let body = Array(bytes[(end + 4)...])
        let length = headers["content-length"].flatMap { Int($0) }
        let complete = length.map { body.count >= $0 } ?? false
        return (HTTPResponse(status: status, headers: headers, body: String(decoding: body.prefix(length ?? body.count), as: UTF8.self)), complete)
    }
}
