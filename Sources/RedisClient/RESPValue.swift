import NIOCore

/// One RESP2 value as read from Redis.
///
/// hiredis 0.14 reports a null bulk string (`$-1`) and a null array (`*-1`) with the same
/// reply type; `HiredisReplyReader` tells them apart, so `.bulk(nil)` and `.array(nil)` are
/// both produced faithfully. Use `isNull` when the difference does not matter.
public enum RESPValue: Sendable, Hashable {
    case simpleString(String)
    case error(String)
    case integer(Int64)
    /// A bulk string; `nil` is the null bulk string.
    case bulk(ByteBuffer?)
    /// An array; `nil` is the null array.
    case array([RESPValue]?)

    /// The text of a simple string or (UTF-8 decoded) bulk string; nil for anything else.
    public var string: String? {
        switch self {
        case .simpleString(let text): text
        case .bulk(let buffer?): String(buffer: buffer)
        default: nil
        }
    }

    /// An integer reply, or a simple/bulk string holding a decimal integer (what `GET` returns
    /// for a counter); nil otherwise.
    public var int: Int64? {
        switch self {
        case .integer(let value): value
        case .simpleString(let text): Int64(text)
        case .bulk(let buffer?): Int64(String(buffer: buffer))
        default: nil
        }
    }

    /// The elements of a non-null array; nil for anything else.
    public var array: [RESPValue]? {
        if case .array(let elements?) = self { return elements }
        return nil
    }

    /// The bytes of a non-null bulk string; nil for anything else.
    public var buffer: ByteBuffer? {
        if case .bulk(let buffer?) = self { return buffer }
        return nil
    }

    /// True for the null bulk string and the null array.
    var isNull: Bool {
        switch self {
        case .bulk(nil), .array(nil): true
        default: false
        }
    }

    /// The message of an error reply; nil for anything else.
    var errorMessage: String? {
        if case .error(let message) = self { return message }
        return nil
    }
}

extension RESPValue: CustomStringConvertible {
    public var description: String {
        switch self {
        case .simpleString(let text): return "+\(text)"
        case .error(let message): return "-\(message)"
        case .integer(let value): return ":\(value)"
        case .bulk(nil): return "(nil)"
        case .bulk(let buffer?):
            let shown = buffer.getSlice(at: buffer.readerIndex, length: min(buffer.readableBytes, 64)) ?? buffer
            let text = String(decoding: shown.readableBytesView, as: UTF8.self)
            return buffer.readableBytes > 64 ? "\"\(text)…\" (\(buffer.readableBytes) bytes)" : "\"\(text)\""
        case .array(nil): return "(nil array)"
        case .array(let elements?): return "[" + elements.map(\.description).joined(separator: ", ") + "]"
        }
    }
}
