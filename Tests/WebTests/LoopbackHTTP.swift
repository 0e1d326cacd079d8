import Foundation
import Testing
import ChorusTesting
#if canImport(Glibc)
import Glibc
#endif

/// A minimal HTTP/1.1 client for servers on 127.0.0.1 (chromedriver): one request per
/// connection, `Connection: close`, the answer read to its `Content-Length` or to the close.
///
/// Not URLSession: FoundationNetworking on Linux refuses chromedriver's header lines, which
/// have no space after the colon (`Content-Length:250`), as "Failed writing header".
enum LoopbackHTTP {
    struct Response {
        let status: Int
        let body: Data
    }

    static func request(_ method: String, port: Int, path: String, body: Data? = nil,
                        timeout: Double = 60) throws -> Response {
        let fd = try Socket.makeTCP()
        defer { Socket.close(fd) }
        guard Socket.connect(fd, port: port) == 0 else {
            throw TestFailure("HTTP \(method) \(path): cannot connect to 127.0.0.1:\(port) (errno \(errno))")
        }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\nAccept: application/json\r\n"
        if let body { head += "Content-Type: application/json; charset=utf-8\r\nContent-Length: \(body.count)\r\n" }
        try Socket.sendAll(fd, Array((head + "\r\n").utf8) + Array(body ?? Data()))

        let deadline = Date().addingTimeInterval(timeout)
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            if let response = try parse(received, complete: false) { return response }
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else {
                throw TestFailure("HTTP \(method) \(path) on port \(port): no complete answer within \(timeout) s")
            }
            if !Socket.waitReadable(fd, milliseconds: Int32(min(left, 1) * 1000)) { continue }
            let count = recv(fd, &buffer, buffer.count, 0)
            if count < 0, errno == EINTR || errno == EAGAIN { continue }
            if count < 0 { throw TestFailure("HTTP \(method) \(path): read failed (errno \(errno))") }
            if count == 0 {
                guard let response = try parse(received, complete: true) else {
                    throw TestFailure("HTTP \(method) \(path): connection closed before a complete answer")
                }
                return response
            }
            received += buffer[0..<count]
        }
    }

    /// The response in `bytes` if it is complete (`complete`: the connection has closed, so
    /// a body without `Content-Length` ends here); nil if more is needed.
    private static func parse(_ bytes: [UInt8], complete: Bool) throws -> Response? {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let end = bytes.indices.dropLast(3).first(where: { Array(bytes[$0..<$0 + 4]) == separator }) else {
            return nil
        }
        let head = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = head.first?.split(separator: " ") ?? []
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw TestFailure("HTTP: not a status line: \(head.first ?? "")")
        }
        var length: Int?
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            if line[..<colon].trimmingCharacters(in: .whitespaces).lowercased() == "content-length" {
                length = Int(line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            }
        }
        let body = bytes[(end + 4)...]
        if let length {
            return body.count >= length ? Response(status: status, body: Data(body.prefix(length))) : nil
        }
        return complete ? Response(status: status, body: Data(body)) : nil
    }
}
