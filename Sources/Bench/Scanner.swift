#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// The receive side of the generator: a targeted scanner for the frames a Chorus node sends
// (PROTOCOL.md: one XML document + 0x00 per frame). At ~1 million deliveries per second on a
// shared 2-core box there is no room for a DOM or a String per delivery, so the scanner works
// on raw bytes: memchr for the 0x00 terminator, fixed-offset checks for the fixed markup the
// node emits (`<XmlDoc><Action>`, `</Action><Parameters><Message>`, `</Message><User>`) and a
// slower substring search only when the fast path does not match (other servers, a leading XML
// declaration, CDATA).

/// Splits a byte stream into zero-terminated frames. Frames that arrive whole inside one read are
/// handed out in place (no copy); only a frame split across reads is assembled in `carry`.
struct FrameSplitter {
    /// The start of a frame whose terminator has not arrived yet.
    private(set) var carry: [UInt8] = []
    /// A frame growing past this is dropped (counted in `oversized`).
    var maxFrameBytes: Int
    /// Frames dropped for being too large.
    private(set) var oversized = 0
    private var discarding = false

    init(maxFrameBytes: Int = 1 << 20) {
        self.maxFrameBytes = maxFrameBytes
    }

    /// Calls `onFrame` for every complete, non-empty frame in `bytes` (terminator excluded), in
    /// order, and keeps an unterminated tail for the next call. `onFrame` must not keep the
    /// buffer it is given.
    @inline(__always)
    mutating func feed(_ bytes: UnsafeRawBufferPointer, _ onFrame: (UnsafeRawBufferPointer) -> Void) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        let n = bytes.count
        var pos = 0
        if !carry.isEmpty || discarding {
            guard let z = memchr(base, 0, n) else {
                appendCarry(UnsafeRawBufferPointer(start: base, count: n))
                return
            }
            let zi = UnsafeRawPointer(z) - UnsafeRawPointer(base)
            appendCarry(UnsafeRawBufferPointer(start: base, count: zi))
            if discarding {
                discarding = false
            } else if !carry.isEmpty {
                carry.withUnsafeBytes { onFrame($0) }
            }
            carry.removeAll(keepingCapacity: carry.capacity <= 65536)
            pos = zi + 1
        }
        while pos < n {
            guard let z = memchr(base + pos, 0, n - pos) else {
                appendCarry(UnsafeRawBufferPointer(start: base + pos, count: n - pos))
                return
            }
            let zi = UnsafeRawPointer(z) - UnsafeRawPointer(base)
            if zi > pos {
                onFrame(UnsafeRawBufferPointer(start: base + pos, count: zi - pos))
            }
            pos = zi + 1
        }
    }

    private mutating func appendCarry(_ bytes: UnsafeRawBufferPointer) {
        if discarding || bytes.isEmpty { return }
        if carry.count + bytes.count > maxFrameBytes {
            carry.removeAll()
            discarding = true
            oversized += 1
            return
        }
        carry.append(contentsOf: bytes)
    }
}

/// The actions the generator tells apart. Everything else (UpdateRoomList, UpdateUserList, ...)
/// is `.other` and costs one length check.
enum FrameKind: Equatable, Sendable {
    case publicMessage, privateMessage, error
    case connectionResponse, roomList, loginResponse, joinRoom, createRoom
    case other
}

/// Byte-level helpers over a frame. All offsets are relative to the frame start.
enum Scan {
    @inline(__always)
    static func equals(_ frame: UnsafeRawBufferPointer, at offset: Int, _ literal: StaticString) -> Bool {
        let len = literal.utf8CodeUnitCount
        guard offset >= 0, offset + len <= frame.count else { return false }
        return memcmp(frame.baseAddress! + offset, literal.utf8Start, len) == 0
    }

    /// The offset of the first `byte` at or after `from`, or nil.
    @inline(__always)
    static func index(of byte: UInt8, in frame: UnsafeRawBufferPointer, from: Int) -> Int? {
        guard from < frame.count, let base = frame.baseAddress else { return nil }
        guard let p = memchr(base + from, Int32(byte), frame.count - from) else { return nil }
        return UnsafeRawPointer(p) - base
    }

    /// The offset of the first occurrence of `literal` at or after `from`, or nil.
    static func find(_ literal: StaticString, in frame: UnsafeRawBufferPointer, from: Int) -> Int? {
        let len = literal.utf8CodeUnitCount
        guard len > 0, let base = frame.baseAddress else { return nil }
        let first = literal.utf8Start.pointee
        var pos = max(0, from)
        while pos + len <= frame.count {
            guard let p = memchr(base + pos, Int32(first), frame.count - pos - len + 1) else { return nil }
            let i = UnsafeRawPointer(p) - base
            if memcmp(base + i, literal.utf8Start, len) == 0 { return i }
            pos = i + 1
        }
        return nil
    }

    /// Where the text of `<Name>` starts: the offset after the start tag, searching from `from`.
    static func textStart(of open: StaticString, in frame: UnsafeRawBufferPointer, from: Int) -> Int? {
        guard let i = find(open, in: frame, from: from) else { return nil }
        return i + open.utf8CodeUnitCount
    }

    /// The text between `open` and the next `<` (plain, unescaped content), as a String. For the
    /// rare frames (handshake, errors) only.
    static func text(after open: StaticString, in frame: UnsafeRawBufferPointer, from: Int = 0) -> String? {
        guard let s = textStart(of: open, in: frame, from: from) else { return nil }
        let e = index(of: UInt8(ascii: "<"), in: frame, from: s) ?? frame.count
        return String(decoding: UnsafeRawBufferPointer(rebasing: frame[s..<e]), as: UTF8.self)
    }

    /// Parses an unsigned decimal number at `pos`; returns the value and the offset after it.
    @inline(__always)
    static func decimal(_ frame: UnsafeRawBufferPointer, at start: Int, end: Int) -> (value: Int64, next: Int)? {
        var pos = start
        var v: Int64 = 0
        while pos < end {
            let c = frame[pos] &- 48
            if c > 9 { break }
            v = v &* 10 &+ Int64(c)
            pos += 1
        }
        return pos == start || pos - start > 18 ? nil : (v, pos)
    }
}

/// Where the interesting parts of a delivered message are inside its frame.
struct MessageFields: Equatable {
    /// Send time (ns, monotonic clock of the generator) and per-sender sequence from the text.
    var timestamp: Int64
    var sequence: Int64
    /// The sender's name, as offsets into the frame.
    var userStart: Int
    var userEnd: Int
}

enum FrameScanner {
    /// Classifies a frame by its `Action`; also returns the offset just after `</Action>` (the
    /// node always emits `<XmlDoc><Action>NAME</Action><Parameters>`).
    @inline(__always)
    static func classify(_ frame: UnsafeRawBufferPointer) -> (kind: FrameKind, after: Int) {
        var start = 16
        if !Scan.equals(frame, at: 0, "<XmlDoc><Action>") {
            guard let s = Scan.textStart(of: "<Action>", in: frame, from: 0) else { return (.other, frame.count) }
            start = s
        }
        guard let end = Scan.index(of: UInt8(ascii: "<"), in: frame, from: start) else { return (.other, frame.count) }
        let after = end + 9  // "</Action>"
        switch end - start {
        case 17:
            if Scan.equals(frame, at: start, "SendPublicMessage") { return (.publicMessage, after) }
        case 18:
            if Scan.equals(frame, at: start, "SendPrivateMessage") { return (.privateMessage, after) }
            if Scan.equals(frame, at: start, "ConnectionResponse") { return (.connectionResponse, after) }
        case 5:
            if Scan.equals(frame, at: start, "Error") { return (.error, after) }
        case 8:
            if Scan.equals(frame, at: start, "JoinRoom") { return (.joinRoom, after) }
            if Scan.equals(frame, at: start, "RoomList") { return (.roomList, after) }
        case 10:
            if Scan.equals(frame, at: start, "CreateRoom") { return (.createRoom, after) }
        case 13:
            if Scan.equals(frame, at: start, "LoginResponse") { return (.loginResponse, after) }
        default:
            break
        }
        return (.other, after)
    }

    /// Parses `<Message>TS SEQ PAD</Message><User>NAME</User>` of a SendPublicMessage or
    /// SendPrivateMessage frame, starting at `from` (the offset after `</Action>`). Returns nil
    /// when the text is not one of ours (no leading `ts seq`).
    @inline(__always)
    static func message(_ frame: UnsafeRawBufferPointer, from: Int) -> MessageFields? {
        var t: Int
        var plain = true
        if Scan.equals(frame, at: from, "<Parameters><Message>") {
            t = from + 21
        } else {
            guard let s = Scan.textStart(of: "<Message>", in: frame, from: from) else { return nil }
            t = s
        }
        if Scan.equals(frame, at: t, "<![CDATA[") {
            t += 9
            plain = false
        }
        let n = frame.count
        guard let ts = Scan.decimal(frame, at: t, end: n), ts.next < n, frame[ts.next] == UInt8(ascii: " ") else { return nil }
        guard let seq = Scan.decimal(frame, at: ts.next + 1, end: n) else { return nil }
        // The end of the text: the first `<` (plain text cannot contain one; CDATA ends with `]]>`).
        guard var textEnd = Scan.index(of: UInt8(ascii: "<"), in: frame, from: seq.next) else { return nil }
        if !plain {
            guard let e = Scan.find("]]>", in: frame, from: seq.next) else { return nil }
            textEnd = e + 3
        }
        var u: Int
        if Scan.equals(frame, at: textEnd, "</Message><User>") {
            u = textEnd + 16
        } else {
            guard let s = Scan.textStart(of: "<User>", in: frame, from: textEnd) else { return nil }
            u = s
        }
        let userEnd: Int
        if Scan.equals(frame, at: u, "<![CDATA[") {
            u += 9
            guard let e = Scan.find("]]>", in: frame, from: u) else { return nil }
            userEnd = e
        } else {
            guard let e = Scan.index(of: UInt8(ascii: "<"), in: frame, from: u) else { return nil }
            userEnd = e
        }
        return MessageFields(timestamp: ts.value, sequence: seq.value, userStart: u, userEnd: userEnd)
    }

    /// The client index in a user name `PREFIX<decimal>`, or -1 when the name is not ours.
    @inline(__always)
    static func clientIndex(_ frame: UnsafeRawBufferPointer, start: Int, end: Int, prefix: UnsafeRawBufferPointer) -> Int {
        let p = prefix.count
        guard end - start > p, memcmp(frame.baseAddress! + start, prefix.baseAddress!, p) == 0,
              let d = Scan.decimal(frame, at: start + p, end: end), d.next == end
        else { return -1 }
        return Int(d.value)
    }

    /// `<Result>X</Result>` of a response, e.g. "Accepted", "Success", "Denied", "Failure".
    static func result(_ frame: UnsafeRawBufferPointer) -> String? {
        Scan.text(after: "<Result>", in: frame)
    }

    static func reason(_ frame: UnsafeRawBufferPointer) -> String? {
        Scan.text(after: "<Reason>", in: frame)
    }
}
