import NIOCore

/// A strict, non-validating XML 1.0 reader for the protocol's small documents.
///
/// It accepts exactly what PROTOCOL.md section 1 allows and refuses everything else:
/// - input must be well-formed UTF-8 (no overlong forms, surrogates, or truncated sequences),
///   and every character, literal or referenced, must match the XML 1.0 `Char` production;
/// - a UTF-8 byte order mark may precede everything, and an optional XML declaration may open
///   the document (after optional white space); DTDs, other markup declarations and any other
///   processing instruction are refused;
/// - only the five predefined entities and numeric character references are understood;
/// - CDATA sections are accepted wherever character data is; comments are skipped;
/// - ``XMLLimits`` are enforced as the bytes are read, and nesting is tracked on an explicit
///   stack, so hostile input fails fast and never recurses.
///
/// Deliberately, line ends and attribute-value white space are *not* normalized: the protocol
/// promises that text arrives "byte for byte after XML unescaping".
public enum XMLReader {
    /// Parses exactly one document: the root element, optionally preceded by a byte order mark,
    /// an XML declaration, white space and comments, and followed by nothing but white space and
    /// comments.
    public static func parse(_ bytes: ByteBuffer, limits: XMLLimits = XMLLimits()) throws(XMLParseError) -> XMLElement {
        let result = bytes.withUnsafeReadableBytes { pointer in
            Result { () throws(XMLParseError) -> XMLElement in
                var parser = XMLParser(bytes: pointer, limits: limits)
                return try parser.parseDocument()
            }
        }
        return try result.get()
    }
}

/// The reader's state over one document's bytes. Every method advances `position`.
private struct XMLParser {
    /// An element whose end tag has not been read yet.
    private struct OpenElement {
        var element: XMLElement
        /// Where the element's name sits in `bytes`, to match the end tag without building a String.
        var name: Range<Int>
    }

    /// The five entities XML predefines; no others exist for this reader.
    private static let predefinedEntities: [(name: StaticString, scalar: Unicode.Scalar)] = [
        ("lt", "<"), ("gt", ">"), ("amp", "&"), ("quot", "\""), ("apos", "'"),
    ]

    private let bytes: UnsafeRawBufferPointer
    private let limits: XMLLimits
    private var position = 0

    init(bytes: UnsafeRawBufferPointer, limits: XMLLimits) {
        self.bytes = bytes
        self.limits = limits
    }

    // MARK: Document structure

    mutating func parseDocument() throws(XMLParseError) -> XMLElement {
        _ = consume("\u{FEFF}")  // the UTF-8 byte order mark, PROTOCOL.md section 1
        skipWhitespace()
        let declaration: StaticString = "<?xml"
        let afterName = position + declaration.utf8CodeUnitCount
        if hasPrefix(declaration), afterName < bytes.count,
            ASCII.isWhitespace(bytes[afterName]) || bytes[afterName] == ASCII.question
        {
            position = afterName
            _ = try scanCharacters(until: "?>")
        }
        try skipMisc()
        guard position < bytes.count else { throw error(.missingRootElement) }
        let root = try parseRootElement()
        try skipMisc()
        guard position == bytes.count else { throw error(.contentOutsideRootElement) }
        return root
    }

    /// Skips white space and comments outside the root element. Stops at the end of input or at
    /// the `<` of an element; refuses declarations, processing instructions and character data.
    private mutating func skipMisc() throws(XMLParseError) {
        while true {
            skipWhitespace()
            guard position < bytes.count else { return }
            guard bytes[position] == ASCII.lessThan else { throw error(.contentOutsideRootElement) }
            guard position + 1 < bytes.count else { throw error(.unexpectedEnd) }
            switch bytes[position + 1] {
            case ASCII.exclamation:
                if consume("<!--") {
                    try skipComment()
                } else {
                    throw declarationError()
                }
            case ASCII.question:
                throw error(.processingInstructionNotAllowed)
            default:
                return
            }
        }
    }

    /// Parses the root element and everything inside it, with an explicit stack of open elements.
    /// `position` is at the `<` of the root's start tag.
    private mutating func parseRootElement() throws(XMLParseError) -> XMLElement {
        guard limits.maxDepth >= 1 else { throw error(.tooDeep) }
        let (root, selfClosing) = try parseStartTag()
        if selfClosing { return root.element }
        var stack = [root]
        stack.reserveCapacity(min(limits.maxDepth, 16))
        while true {
            guard position < bytes.count else { throw error(.unexpectedEnd) }
            switch bytes[position] {
            case ASCII.lessThan:
                guard position + 1 < bytes.count else { throw error(.unexpectedEnd) }
                switch bytes[position + 1] {
                case ASCII.slash:
                    let closed = try parseEndTag(of: stack.removeLast())
                    if stack.isEmpty { return closed }
                    stack[stack.count - 1].element.children.append(closed)
                case ASCII.exclamation:
                    if consume("<!--") {
                        try skipComment()
                    } else if consume("<![CDATA[") {
                        let content = try scanCharacters(until: "]]>")
                        try append(content, to: &stack[stack.count - 1].element.text)
                    } else {
                        throw declarationError()
                    }
                case ASCII.question:
                    throw error(.processingInstructionNotAllowed)
                default:
                    guard stack.count < limits.maxDepth else { throw error(.tooDeep) }
                    let (opened, selfClosing) = try parseStartTag()
                    if selfClosing {
                        stack[stack.count - 1].element.children.append(opened.element)
                    } else {
                        stack.append(opened)
                    }
                }
            case ASCII.ampersand:
                let scalar = try parseReference()
                try append(scalar, to: &stack[stack.count - 1].element.text)
            default:
                let run = try scanRun(until: ASCII.lessThan, inText: true)
                try append(run, to: &stack[stack.count - 1].element.text)
            }
        }
    }

    /// Parses `<name attr="value" ...>` or `<name .../>`, starting at the `<`.
    private mutating func parseStartTag() throws(XMLParseError) -> (OpenElement, selfClosing: Bool) {
        position += 1
        let nameRange = try scanName()
        var opened = OpenElement(element: XMLElement(name: string(nameRange)), name: nameRange)
        while true {
            let sawWhitespace = skipWhitespace()
            guard position < bytes.count else { throw error(.unexpectedEnd) }
            switch bytes[position] {
            case ASCII.greaterThan:
                position += 1
                return (opened, false)
            case ASCII.slash:
                position += 1
                guard position < bytes.count else { throw error(.unexpectedEnd) }
                guard bytes[position] == ASCII.greaterThan else { throw error(.malformedMarkup) }
                position += 1
                return (opened, true)
            default:
                guard sawWhitespace else { throw error(.malformedMarkup) }
                guard opened.element.attributes.count < limits.maxAttributes else { throw error(.tooManyAttributes) }
                let attributeStart = position
                let name = string(try scanName())
                skipWhitespace()
                guard position < bytes.count else { throw error(.unexpectedEnd) }
                guard bytes[position] == ASCII.equals else { throw error(.malformedMarkup) }
                position += 1
                skipWhitespace()
                let value = try parseAttributeValue()
                guard !opened.element.attributes.contains(where: { $0.name == name }) else {
                    throw XMLParseError(.duplicateAttribute, at: attributeStart)
                }
                opened.element.attributes.append(XMLAttribute(name: name, value: value))
            }
        }
    }

    /// Parses `</name>` (white space allowed before `>`), starting at the `<`, and checks that it
    /// closes `open`.
    private mutating func parseEndTag(of open: OpenElement) throws(XMLParseError) -> XMLElement {
        let tagStart = position
        position += 2
        let nameRange = try scanName()
        guard bytesEqual(nameRange, open.name) else { throw XMLParseError(.mismatchedEndTag, at: tagStart) }
        skipWhitespace()
        guard position < bytes.count else { throw error(.unexpectedEnd) }
        guard bytes[position] == ASCII.greaterThan else { throw error(.malformedMarkup) }
        position += 1
        return open.element
    }

    /// The error for `<!` opening neither a comment nor (inside the root) a CDATA section.
    private func declarationError() -> XMLParseError {
        error(hasPrefix("<!DOCTYPE") ? .doctypeNotAllowed : .declarationNotAllowed)
    }

    /// Skips the rest of a comment, after its `<!--`, up to and including `-->`. `--` may not
    /// occur inside.
    private mutating func skipComment() throws(XMLParseError) {
        _ = try scanCharacters(until: "--")
        guard position < bytes.count else { throw error(.unexpectedEnd) }
        guard bytes[position] == ASCII.greaterThan else { throw error(.malformedComment) }
        position += 1
    }

    // MARK: Values

    /// Parses a quoted attribute value, starting at the opening quote, and returns it unescaped.
    private mutating func parseAttributeValue() throws(XMLParseError) -> String {
        guard position < bytes.count else { throw error(.unexpectedEnd) }
        let quote = bytes[position]
        guard quote == ASCII.quote || quote == ASCII.apostrophe else { throw error(.unquotedAttributeValue) }
        position += 1
        var value = ""
        while true {
            guard position < bytes.count else { throw error(.unexpectedEnd) }
            switch bytes[position] {
            case quote:
                position += 1
                return value
            case ASCII.lessThan:
                throw error(.lessThanInAttributeValue)
            case ASCII.ampersand:
                try append(try parseReference(), to: &value)
            default:
                try append(try scanRun(until: quote, inText: false), to: &value)
            }
        }
    }

    /// Parses `&name;`, `&#decimal;` or `&#xhex;`, starting at the `&`.
    private mutating func parseReference() throws(XMLParseError) -> Unicode.Scalar {
        let start = position
        position += 1
        guard position < bytes.count else { throw error(.unexpectedEnd) }
        if bytes[position] == ASCII.hash {
            position += 1
            return try parseCharacterReference(start: start)
        }
        let nameStart = position
        while position < bytes.count, position - nameStart <= 4, bytes[position] != ASCII.semicolon {
            position += 1
        }
        guard position < bytes.count, bytes[position] == ASCII.semicolon else {
            throw XMLParseError(.undefinedEntity, at: start)
        }
        let name = nameStart..<position
        guard let entity = Self.predefinedEntities.first(where: { bytesEqual(name, $0.name) }) else {
            throw XMLParseError(.undefinedEntity, at: start)
        }
        position += 1
        return entity.scalar
    }

    /// Parses the digits and `;` of a character reference; `start` is the offset of its `&`.
    private mutating func parseCharacterReference(start: Int) throws(XMLParseError) -> Unicode.Scalar {
        let hexadecimal = position < bytes.count && bytes[position] == ASCII.lowerX
        if hexadecimal { position += 1 }
        let digitsStart = position
        var value: UInt32 = 0
        while position < bytes.count, bytes[position] != ASCII.semicolon {
            guard let digit = digitValue(bytes[position], hexadecimal: hexadecimal) else {
                throw XMLParseError(.malformedCharacterReference, at: start)
            }
            // Saturate: anything past U+10FFFF is refused below, however long the digit string.
            value = min(value * (hexadecimal ? 16 : 10) + digit, 0x11_0000)
            position += 1
        }
        guard position < bytes.count else { throw error(.unexpectedEnd) }
        guard position > digitsStart else { throw XMLParseError(.malformedCharacterReference, at: start) }
        guard isXMLChar(value), let scalar = Unicode.Scalar(value) else {
            throw XMLParseError(.illegalCharacter, at: start)
        }
        position += 1
        return scalar
    }

    private func digitValue(_ byte: UInt8, hexadecimal: Bool) -> UInt32? {
        switch byte {
        case ASCII.zero...ASCII.nine: UInt32(byte - ASCII.zero)
        case ASCII.lowerA...ASCII.lowerF where hexadecimal: UInt32(byte - ASCII.lowerA + 10)
        case ASCII.upperA...ASCII.upperF where hexadecimal: UInt32(byte - ASCII.upperA + 10)
        default: nil
        }
    }

    /// Appends the (already validated) UTF-8 bytes in `range` to `value`, within the value limit.
    private func append(_ range: Range<Int>, to value: inout String) throws(XMLParseError) {
        guard value.utf8.count + range.count <= limits.maxValueBytes else { throw error(.valueTooLong) }
        value += String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    /// Appends one referenced character to `value`, within the value limit.
    private func append(_ scalar: Unicode.Scalar, to value: inout String) throws(XMLParseError) {
        guard value.utf8.count + UTF8.width(scalar) <= limits.maxValueBytes else { throw error(.valueTooLong) }
        value.unicodeScalars.append(scalar)
    }

    // MARK: Lexical scanning

    /// Advances over character data up to (not including) `<`, `&` or `delimiter`, validating
    /// every character, and returns the range covered. In text, `]]>` is refused.
    @inline(__always)
    private mutating func scanRun(until delimiter: UInt8, inText: Bool) throws(XMLParseError) -> Range<Int> {
        let start = position
        while position < bytes.count {
            let byte = bytes[position]
            if byte >= 0x80 {
                position += try validateMultibyte()
                continue
            }
            if byte == ASCII.lessThan || byte == ASCII.ampersand || byte == delimiter { break }
            if byte < ASCII.space {
                guard ASCII.isWhitespace(byte) else { throw error(.illegalCharacter) }
            } else if inText, byte == ASCII.greaterThan, position - start >= 2,
                bytes[position - 1] == ASCII.rightBracket, bytes[position - 2] == ASCII.rightBracket
            {
                throw error(.cdataEndInText)
            }
            position += 1
        }
        return start..<position
    }

    /// Advances over validated characters up to `terminator`, then past it, and returns the range
    /// before the terminator. Used for the XML declaration, comments and CDATA sections.
    private mutating func scanCharacters(until terminator: StaticString) throws(XMLParseError) -> Range<Int> {
        let start = position
        let first = terminator.withUTF8Buffer { $0[0] }
        while position < bytes.count {
            let byte = bytes[position]
            if byte >= 0x80 {
                position += try validateMultibyte()
                continue
            }
            if byte == first, hasPrefix(terminator) {
                let content = start..<position
                position += terminator.utf8CodeUnitCount
                return content
            }
            guard byte >= ASCII.space || ASCII.isWhitespace(byte) else { throw error(.illegalCharacter) }
            position += 1
        }
        throw error(.unexpectedEnd)
    }

    /// Scans an element or attribute name (the XML `Name` production, with every non-ASCII
    /// character accepted once it is valid UTF-8) and returns its range.
    private mutating func scanName() throws(XMLParseError) -> Range<Int> {
        let start = position
        guard position < bytes.count else { throw error(.unexpectedEnd) }
        guard isNameStart(bytes[position]) else { throw error(.invalidName) }
        while position < bytes.count {
            let byte = bytes[position]
            if byte >= 0x80 {
                position += try validateMultibyte()
            } else if isNameStart(byte) || byte == ASCII.hyphen || byte == ASCII.period
                || (ASCII.zero...ASCII.nine).contains(byte)
            {
                position += 1
            } else {
                break
            }
            guard position - start <= limits.maxNameBytes else { throw XMLParseError(.nameTooLong, at: start) }
        }
        return start..<position
    }

    private func isNameStart(_ byte: UInt8) -> Bool {
        let lower = ASCII.lowercased(byte)
        return (ASCII.lowerA...ASCII.lowerZ).contains(lower) || byte == ASCII.underscore || byte == ASCII.colon
            || byte >= 0x80
    }

    /// Validates the multi-byte UTF-8 sequence at `position` (whose first byte is >= 0x80) and
    /// returns its length. Refuses overlong forms, surrogates, values past U+10FFFF, truncated
    /// sequences, and U+FFFE / U+FFFF (not XML characters).
    @inline(__always)
    private func validateMultibyte() throws(XMLParseError) -> Int {
        let lead = bytes[position]
        let length: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; secondRange = 0xA0...0xBF  // no overlong 3-byte forms
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; secondRange = 0x80...0x9F  // no surrogates
        case 0xF0: length = 4; secondRange = 0x90...0xBF  // no overlong 4-byte forms
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; secondRange = 0x80...0x8F  // nothing past U+10FFFF
        default: throw error(.invalidUTF8)  // stray continuation byte, overlong 2-byte lead, F5...FF
        }
        guard position + length <= bytes.count else { throw error(.invalidUTF8) }
        guard secondRange.contains(bytes[position + 1]) else { throw error(.invalidUTF8) }
        for offset in 2..<length where bytes[position + offset] & 0xC0 != 0x80 {
            throw error(.invalidUTF8)
        }
        if lead == 0xEF, bytes[position + 1] == 0xBF, bytes[position + 2] >= 0xBE {
            throw error(.illegalCharacter)  // U+FFFE, U+FFFF
        }
        return length
    }

    /// Skips XML white space; returns whether there was any.
    @discardableResult
    private mutating func skipWhitespace() -> Bool {
        let start = position
        while position < bytes.count, ASCII.isWhitespace(bytes[position]) {
            position += 1
        }
        return position > start
    }

    /// True if the input at `position` starts with `prefix`.
    private func hasPrefix(_ prefix: StaticString) -> Bool {
        prefix.withUTF8Buffer { bytes(at: position, equal: UnsafeRawBufferPointer($0)) }
    }

    /// Advances past `literal` if the input at `position` starts with it.
    private mutating func consume(_ literal: StaticString) -> Bool {
        guard hasPrefix(literal) else { return false }
        position += literal.utf8CodeUnitCount
        return true
    }

    /// True if the input in `lhs` and in `rhs` is the same bytes.
    private func bytesEqual(_ lhs: Range<Int>, _ rhs: Range<Int>) -> Bool {
        lhs.count == rhs.count && bytes(at: lhs.lowerBound, equal: UnsafeRawBufferPointer(rebasing: bytes[rhs]))
    }

    /// True if the input in `range` is `literal`.
    private func bytesEqual(_ range: Range<Int>, _ literal: StaticString) -> Bool {
        range.count == literal.utf8CodeUnitCount
            && literal.withUTF8Buffer { bytes(at: range.lowerBound, equal: UnsafeRawBufferPointer($0)) }
    }

    /// True if the input at `offset` starts with `expected`.
    private func bytes(at offset: Int, equal expected: UnsafeRawBufferPointer) -> Bool {
        guard offset + expected.count <= bytes.count else { return false }
        for index in 0..<expected.count where bytes[offset + index] != expected[index] {
            return false
        }
        return true
    }

    private func string(_ range: Range<Int>) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    private func error(_ reason: XMLParseError.Reason) -> XMLParseError {
        XMLParseError(reason, at: position)
    }
}
