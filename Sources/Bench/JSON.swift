// A small ordered JSON value: results are written with their keys in a fixed, readable order,
// and `chorus-bench report` reads them back.

enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.number(let x), .number(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    subscript(key: String) -> JSONValue? {
        if case .object(let fields) = self { return fields.first { $0.0 == key }?.1 }
        return nil
    }

    var double: Double? { if case .number(let v) = self { return v }; return nil }
    var string: String? { if case .string(let v) = self { return v }; return nil }
    var int: Int64? { double.map { Int64($0) } }

    func serialized() -> String {
        var out = ""
        write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let v):
            if !v.isFinite {
                out += "null"
            } else if v == v.rounded() && abs(v) < 1e15 {
                out += String(Int64(v))
            } else {
                out += String((v * 1000).rounded() / 1000)
            }
        case .string(let s): JSONValue.quote(s, into: &out)
        case .array(let items):
            out += "["
            for (k, item) in items.enumerated() {
                if k > 0 { out += "," }
                item.write(to: &out)
            }
            out += "]"
        case .object(let fields):
            out += "{"
            for (k, (key, value)) in fields.enumerated() {
                if k > 0 { out += "," }
                JSONValue.quote(key, into: &out)
                out += ":"
                value.write(to: &out)
            }
            out += "}"
        }
    }

    private static func quote(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }

    struct ParseError: Error {}

    static func parse(_ text: String) throws -> JSONValue {
        var p = Parser(bytes: Array(text.utf8))
        let v = try p.value()
        p.skipSpace()
        guard p.pos == p.bytes.count else { throw ParseError() }
        return v
    }

    private struct Parser {
        let bytes: [UInt8]
        var pos = 0

        mutating func skipSpace() {
            while pos < bytes.count, bytes[pos] == 0x20 || bytes[pos] == 0x0A || bytes[pos] == 0x0D || bytes[pos] == 0x09 { pos += 1 }
        }

        mutating func expect(_ literal: String) throws {
            for b in literal.utf8 {
                guard pos < bytes.count, bytes[pos] == b else { throw ParseError() }
                pos += 1
            }
        }

        mutating func value() throws -> JSONValue {
            skipSpace()
            guard pos < bytes.count else { throw ParseError() }
            switch bytes[pos] {
            case UInt8(ascii: "{"):
                pos += 1
                var fields: [(String, JSONValue)] = []
                skipSpace()
                if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(fields) }
                while true {
                    skipSpace()
                    let key = try string()
                    skipSpace()
                    try expect(":")
                    fields.append((key, try value()))
                    skipSpace()
                    guard pos < bytes.count else { throw ParseError() }
                    if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                    try expect("}")
                    return .object(fields)
                }
            case UInt8(ascii: "["):
                pos += 1
                var items: [JSONValue] = []
                skipSpace()
                if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
                while true {
                    items.append(try value())
                    skipSpace()
                    guard pos < bytes.count else { throw ParseError() }
                    if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                    try expect("]")
                    return .array(items)
                }
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"): try expect("true"); return .bool(true)
            case UInt8(ascii: "f"): try expect("false"); return .bool(false)
            case UInt8(ascii: "n"): try expect("null"); return .null
            default:
                let start = pos
                while pos < bytes.count, "+-0123456789.eE".utf8.contains(bytes[pos]) { pos += 1 }
                guard let v = Double(String(decoding: bytes[start..<pos], as: UTF8.self)) else { throw ParseError() }
                return .number(v)
            }
        }

        mutating func string() throws -> String {
            try expect("\"")
            var out: [UInt8] = []
            while pos < bytes.count {
                let b = bytes[pos]
                pos += 1
                if b == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
                if b == UInt8(ascii: "\\") {
                    guard pos < bytes.count else { throw ParseError() }
                    let e = bytes[pos]
                    pos += 1
                    switch e {
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "u"):
                        guard pos + 4 <= bytes.count,
                              let code = UInt32(String(decoding: bytes[pos..<pos + 4], as: UTF8.self), radix: 16)
                        else { throw ParseError() }
                        pos += 4
                        out.append(contentsOf: Array(String(Unicode.Scalar(code) ?? "?").utf8))
                    default: out.append(e)
                    }
                } else {
                    out.append(b)
                }
            }
            throw ParseError()
        }
    }
}

/// Builds an ordered JSON object.
struct JSONObject {
    private(set) var fields: [(String, JSONValue)] = []
    mutating func set(_ key: String, _ value: JSONValue) { fields.append((key, value)) }
    mutating func set(_ key: String, _ value: Int) { fields.append((key, .number(Double(value)))) }
    mutating func set(_ key: String, _ value: Int64) { fields.append((key, .number(Double(value)))) }
    mutating func set(_ key: String, _ value: Double) { fields.append((key, .number(value))) }
    mutating func set(_ key: String, _ value: String) { fields.append((key, .string(value))) }
    mutating func set(_ key: String, _ value: Bool) { fields.append((key, .bool(value))) }
    var value: JSONValue { .object(fields) }
}
