import NIOCore

/// Appends XML straight into a `ByteBuffer`.
///
/// Markup (element and attribute names, literal fragments) is given as `StaticString` and
/// written as is: it is trusted program text. Everything else (text, attribute values) is
/// escaped, so no value can change the structure of the output:
/// - `&`, `<`, `>`, `"` and `'` become the predefined entities;
/// - in attribute values, tab, line feed and carriage return become character references
///   (so that a conforming reader does not normalize them to spaces);
/// - characters XML 1.0 cannot represent at all (control characters other than tab, line feed
///   and carriage return, U+FFFE, U+FFFF), NUL included, become U+FFFD. The output is therefore
///   always well-formed and can never contain a frame terminator.
///
/// Escaping scans the UTF-8 bytes once and copies unescaped runs in bulk.
///
/// To append to an existing buffer without a copy-on-write, use ``write(into:_:)``.
public struct XMLWriter {
    public var buffer: ByteBuffer

    public init(buffer: ByteBuffer) {
        self.buffer = buffer
    }

    /// Runs `body` with a writer that appends to `buffer` in place (the storage is moved into the
    /// writer and back, never shared, so writing does not copy it).
    public static func write(into buffer: inout ByteBuffer, _ body: (inout XMLWriter) -> Void) {
        var writer = XMLWriter(buffer: ByteBuffer())
        swap(&writer.buffer, &buffer)
        body(&writer)
        swap(&writer.buffer, &buffer)
    }

    // MARK: Markup

    /// Appends a literal fragment of markup, unescaped (e.g. `"<XmlDoc><Action>"`).
    public mutating func markup(_ literal: StaticString) {
        buffer.writeStaticString(literal)
    }

    /// Appends `<name>`.
    public mutating func open(_ name: StaticString) {
        buffer.writeInteger(ASCII.lessThan)
        buffer.writeStaticString(name)
        buffer.writeInteger(ASCII.greaterThan)
    }

    /// Appends `</name>`.
    public mutating func close(_ name: StaticString) {
        buffer.writeStaticString("</")
        buffer.writeStaticString(name)
        buffer.writeInteger(ASCII.greaterThan)
    }

    /// Appends the empty element `<name/>`.
    public mutating func empty(_ name: StaticString) {
        buffer.writeInteger(ASCII.lessThan)
        buffer.writeStaticString(name)
        buffer.writeStaticString("/>")
    }

    /// Appends `<name`; follow with ``attribute(_:_:)`` calls and then
    /// ``finishStartTag()`` or ``finishEmptyTag()``.
    public mutating func startTag(_ name: StaticString) {
        buffer.writeInteger(ASCII.lessThan)
        buffer.writeStaticString(name)
    }

    /// Ends a start tag begun with ``startTag(_:)``: appends `>`.
    public mutating func finishStartTag() {
        buffer.writeInteger(ASCII.greaterThan)
    }

    /// Ends a tag begun with ``startTag(_:)`` as an empty element: appends `/>`.
    public mutating func finishEmptyTag() {
        buffer.writeStaticString("/>")
    }

    /// Appends ` name="value"` with `value` escaped.
    public mutating func attribute(_ name: StaticString, _ value: String) {
        beginAttribute(name)
        writeEscaped(value, inAttribute: true)
        buffer.writeInteger(ASCII.quote)
    }

    /// Appends ` name="value"` with `value` in decimal.
    public mutating func attribute(_ name: StaticString, _ value: Int) {
        beginAttribute(name)
        integer(Int64(value))
        buffer.writeInteger(ASCII.quote)
    }

    /// Appends ` name="true"` or ` name="false"`.
    public mutating func attribute(_ name: StaticString, _ value: Bool) {
        beginAttribute(name)
        buffer.writeStaticString(value ? "true\"" : "false\"")
    }

    private mutating func beginAttribute(_ name: StaticString) {
        buffer.writeInteger(ASCII.space)
        buffer.writeStaticString(name)
        buffer.writeStaticString("=\"")
    }

    /// Appends the 0x00 byte that ends a frame (PROTOCOL.md section 1).
    public mutating func endFrame() {
        buffer.writeInteger(UInt8(0))
    }

    // MARK: Content

    /// Appends `value` as escaped character data.
    public mutating func text(_ value: String) {
        writeEscaped(value, inAttribute: false)
    }

    /// Appends `value` in decimal.
    public mutating func integer(_ value: Int64) {
        var magnitude = value.magnitude
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var start = digits.count
            repeat {
                start -= 1
                digits[start] = ASCII.zero + UInt8(truncatingIfNeeded: magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if value < 0 { buffer.writeInteger(ASCII.hyphen) }
            buffer.writeBytes(UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: digits[start...])))
        }
    }

    /// Appends `<name>text</name>`, with `text` escaped (also when empty: `<name></name>`).
    public mutating func element(_ name: StaticString, _ text: String) {
        open(name)
        self.text(text)
        close(name)
    }

    /// Appends `<name>value</name>` with `value` in decimal.
    public mutating func element(_ name: StaticString, _ value: Int64) {
        open(name)
        integer(value)
        close(name)
    }

    /// Appends `<name>value</name>` with `value` in decimal.
    public mutating func element(_ name: StaticString, _ value: Int) {
        element(name, Int64(value))
    }

    /// Appends a container element holding one item per element of `items`: `<name/>` when
    /// `items` is empty, otherwise `<name>`, each item as written by `writeItem`, `</name>`.
    public mutating func list<Items: Collection>(
        _ name: StaticString,
        _ items: Items,
        _ writeItem: (inout XMLWriter, Items.Element) -> Void
    ) {
        guard !items.isEmpty else { return empty(name) }
        open(name)
        for item in items {
            writeItem(&self, item)
        }
        close(name)
    }

    // MARK: Parsed trees

    /// Appends `element` in canonical form: attributes in order, double-quoted and escaped; then
    /// its text (omitted when it is only white space between child elements); then its children.
    /// An element without text or children is written `<name/>`. Character data interleaved with
    /// children is written before them, since ``XMLElement`` does not keep its position.
    ///
    /// Nesting is tracked on an explicit stack, so arbitrarily deep trees cannot overflow the call stack.
    public mutating func element(_ element: XMLElement) {
        guard writeOpening(of: element) else { return }
        var stack: [(element: XMLElement, nextChild: Int)] = [(element, 0)]
        while let (open, nextChild) = stack.last {
            if nextChild < open.children.count {
                stack[stack.count - 1].nextChild += 1
                let child = open.children[nextChild]
                if writeOpening(of: child) { stack.append((child, 0)) }
            } else {
                buffer.writeStaticString("</")
                buffer.writeString(open.name)
                buffer.writeInteger(ASCII.greaterThan)
                stack.removeLast()
            }
        }
    }

    /// Appends the content of `element` (its "inner XML") in the canonical form of ``element(_:)``,
    /// without the element's own tags.
    public mutating func content(of element: XMLElement) {
        if hasSignificantText(element) { text(element.text) }
        for child in element.children {
            self.element(child)
        }
    }

    /// Writes the start tag of `element` and its text, or the whole element if it is empty.
    /// Returns true if the element was left open (its children and end tag are still to come).
    private mutating func writeOpening(of element: XMLElement) -> Bool {
        buffer.writeInteger(ASCII.lessThan)
        buffer.writeString(element.name)
        for attribute in element.attributes {
            buffer.writeInteger(ASCII.space)
            buffer.writeString(attribute.name)
            buffer.writeStaticString("=\"")
            writeEscaped(attribute.value, inAttribute: true)
            buffer.writeInteger(ASCII.quote)
        }
        let writesText = hasSignificantText(element)
        guard writesText || !element.children.isEmpty else {
            buffer.writeStaticString("/>")
            return false
        }
        buffer.writeInteger(ASCII.greaterThan)
        if writesText { text(element.text) }
        return true
    }

    /// Text is significant unless it is only the white space between child elements.
    private func hasSignificantText(_ element: XMLElement) -> Bool {
        !element.text.isEmpty && (element.children.isEmpty || !element.text.isXMLWhitespace)
    }

    // MARK: Escaping

    private mutating func writeEscaped(_ value: String, inAttribute: Bool) {
        var value = value
        value.withUTF8 { utf8 in
            buffer.reserveCapacity(minimumWritableBytes: utf8.count)
            var runStart = 0
            var index = 0
            while index < utf8.count {
                let byte = utf8[index]
                // Fast path: letters and most multi-byte UTF-8 need nothing.
                if byte > ASCII.greaterThan && byte != 0xEF {
                    index += 1
                    continue
                }
                let replacement: StaticString
                var width = 1
                switch byte {
                case ASCII.ampersand: replacement = "&amp;"
                case ASCII.lessThan: replacement = "&lt;"
                case ASCII.greaterThan: replacement = "&gt;"
                case ASCII.quote: replacement = "&quot;"
                case ASCII.apostrophe: replacement = "&apos;"
                case ASCII.tab where inAttribute: replacement = "&#9;"
                case ASCII.lineFeed where inAttribute: replacement = "&#10;"
                case ASCII.carriageReturn where inAttribute: replacement = "&#13;"
                case ASCII.tab, ASCII.lineFeed, ASCII.carriageReturn:
                    index += 1
                    continue
                case ..<ASCII.space:
                    replacement = "\u{FFFD}"
                case 0xEF where index + 2 < utf8.count && utf8[index + 1] == 0xBF && utf8[index + 2] >= 0xBE:
                    replacement = "\u{FFFD}"  // U+FFFE, U+FFFF
                    width = 3
                default:
                    index += 1
                    continue
                }
                buffer.writeBytes(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: utf8[runStart..<index])))
                buffer.writeStaticString(replacement)
                index += width
                runStart = index
            }
            buffer.writeBytes(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: utf8[runStart..<index])))
        }
    }
}
