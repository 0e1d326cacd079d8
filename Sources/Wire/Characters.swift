// Byte- and scalar-level character classes shared by the reader, the writer and the messages.

/// ASCII byte constants used by the parser and the writer.
enum ASCII {
    static let tab: UInt8 = 0x09
    static let lineFeed: UInt8 = 0x0A
    static let carriageReturn: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let exclamation: UInt8 = 0x21  // !
    static let quote: UInt8 = 0x22  // "
    static let hash: UInt8 = 0x23  // #
    static let ampersand: UInt8 = 0x26  // &
    static let apostrophe: UInt8 = 0x27  // '
    static let hyphen: UInt8 = 0x2D  // -
    static let period: UInt8 = 0x2E  // .
    static let slash: UInt8 = 0x2F  // /
    static let zero: UInt8 = 0x30
    static let nine: UInt8 = 0x39
    static let colon: UInt8 = 0x3A  // :
    static let semicolon: UInt8 = 0x3B  // ;
    static let lessThan: UInt8 = 0x3C  // <
    static let equals: UInt8 = 0x3D  // =
    static let greaterThan: UInt8 = 0x3E  // >
    static let question: UInt8 = 0x3F  // ?
    static let upperA: UInt8 = 0x41
    static let upperF: UInt8 = 0x46
    static let rightBracket: UInt8 = 0x5D  // ]
    static let underscore: UInt8 = 0x5F  // _
    static let lowerA: UInt8 = 0x61
    static let lowerF: UInt8 = 0x66
    static let lowerX: UInt8 = 0x78
    static let lowerZ: UInt8 = 0x7A

    /// XML white space (the `S` production): space, tab, carriage return, line feed.
    @inline(__always)
    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == space || byte == lineFeed || byte == carriageReturn || byte == tab
    }

    /// Folds `A`–`Z` to `a`–`z`; every other byte is returned unchanged.
    @inline(__always)
    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte &- upperA < 26 ? byte | 0x20 : byte
    }
}

/// True if `scalar` is allowed by the XML 1.0 `Char` production:
/// `#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]`.
@inline(__always)
func isXMLChar(_ scalar: UInt32) -> Bool {
    switch scalar {
    case 0x20...0xD7FF: true
    case 0x09, 0x0A, 0x0D: true
    case 0xE000...0xFFFD: true
    case 0x1_0000...0x10_FFFF: true
    default: false
    }
}

extension String {
    /// Compares two strings byte for byte, folding ASCII letters only (element names, actions).
    func equalsIgnoringASCIICase(_ other: String) -> Bool {
        guard self.utf8.count == other.utf8.count else { return false }
        var lhs = self
        var rhs = other
        return lhs.withUTF8 { lhs in
            rhs.withUTF8 { rhs in
                for index in 0..<lhs.count where ASCII.lowercased(lhs[index]) != ASCII.lowercased(rhs[index]) {
                    return false
                }
                return true
            }
        }
    }

    /// The string without leading and trailing XML white space.
    var trimmingXMLWhitespace: Substring {
        let utf8 = self.utf8
        guard let first = utf8.firstIndex(where: { !ASCII.isWhitespace($0) }),
            let last = utf8.lastIndex(where: { !ASCII.isWhitespace($0) })
        else { return "" }
        // Both ends border ASCII white space (or the string's ends), so they are character boundaries.
        return self[first..<utf8.index(after: last)]
    }

    /// True if the string is empty or consists of XML white space only.
    var isXMLWhitespace: Bool {
        self.utf8.allSatisfy(ASCII.isWhitespace)
    }
}
