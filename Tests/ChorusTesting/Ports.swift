import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin wrappers over the POSIX socket calls the tests need (IPv4 loopback only).
public enum Socket {
    /// A new TCP socket, close-on-exec so that processes started later never inherit it (an
    /// inherited copy would keep the connection open after the test closes it).
    public static func makeTCP() throws -> Int32 {
        #if canImport(Darwin)
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        if fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
        #else
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #endif
        guard fd >= 0 else { throw TestFailure("socket() failed: errno \(errno)") }
        return fd
    }

    public static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    /// `connect(2)` to 127.0.0.1:`port`; 0 on success.
    public static func connect(_ fd: Int32, port: Int) -> Int32 {
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                #if canImport(Darwin)
                Darwin.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                #else
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                #endif
            }
        }
    }

    /// The local port of a connected or bound socket.
    public static func localPort(_ fd: Int32) -> Int? {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return named == 0 ? Int(UInt16(bigEndian: address.sin_port)) : nil
    }

    public static func setOption(_ fd: Int32, level: Int32, name: Int32, value: Int32) {
        var value = value
        _ = setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Waits until `fd` is readable (or has an error or hang-up); false on timeout.
    public static func waitReadable(_ fd: Int32, milliseconds: Int32) -> Bool {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while true {
            let ready = poll(&descriptor, 1, milliseconds)
            if ready < 0, errno == EINTR { continue }
            return ready > 0
        }
    }

    /// Sends every byte, blocking; throws if the peer is gone.
    public static func sendAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { pointer -> Int in
                #if canImport(Darwin)
                send(fd, pointer.baseAddress, pointer.count, 0)
                #else
                send(fd, pointer.baseAddress, pointer.count, Int32(MSG_NOSIGNAL))
                #endif
            }
            if sent < 0 {
                if errno == EINTR { continue }
                throw TestFailure("send failed: errno \(errno) (connection closed by the peer?)")
            }
            offset += sent
        }
    }

    /// `close(2)`.
    public static func close(_ fd: Int32) {
        #if canImport(Darwin)
        _ = Darwin.close(fd)
        #else
        _ = Glibc.close(fd)
        #endif
    }
}

/// A port on 127.0.0.1 that was free a moment ago (bound with port 0, read back, released).
public func freePort() throws -> Int {
    let fd = try Socket.makeTCP()
    defer { Socket.close(fd) }
    var address = Socket.loopback(port: 0)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw TestFailure("bind(127.0.0.1:0) failed: errno \(errno)") }
    guard let port = Socket.localPort(fd) else { throw TestFailure("getsockname failed: errno \(errno)") }
    return port
}

/// `count` distinct free ports.
public func freePorts(_ count: Int) throws -> [Int] {
    var ports: [Int] = []
    while ports.count < count {
        let port = try freePort()
        if !ports.contains(port) { ports.append(port) }
    }
    return ports
}

/// Whether something accepts TCP connections on 127.0.0.1:`port` right now.
public func accepts(port: Int) -> Bool {
    guard let fd = try? Socket.makeTCP() else { return false }
    defer { Socket.close(fd) }
    return Socket.connect(fd, port: port) == 0
}
