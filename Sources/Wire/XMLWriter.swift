import NIOCore

/// Appends XML straight into a `ByteBuffer`.
///
/// Markup (element and attribute names, literal fragments) is given as `StaticString` and
/// written as is: it is trusted program text. Everything else (text, attribute values) is
/// escaped, so no value can change the structure of the output:
/// - `&`, `<`, `>`, `"` and `'` become the predefined entities;
/// - carriage return becomes `&#13;`, in text as in attribute values: a conforming reader
///   normalizes a raw CR, and CR LF, to a line feed (XML 1.0 section 2.11), but keeps a
///   referenced one, so this is the only way a CR arrives as a CR;
/// - in attribute values, tab and line feed also become character references (`&#9;`,
///   `&#10;`), since a conforming reader normalizes raw ones to spaces (section 3.3.3);
/// - characters XML 1.0 cannot represent at all (control characters other than tab, line feed
///   and carriage return, U+FFFE, U+FFFF), NUL included, become U+FFFD. The output is therefore
///   always well-formed and can never contain a frame terminator.
///
/// Performance: every operation is a single `ByteBuffer` write of exactly the bytes it produces
/// (escaped text is measured first, then copied in unescaped runs), because each buffer call
/// has a fixed cost that would otherwise dominate small elements. Prefer the coarse operations
/// (`element(_:_:)`, ``markup(_:)``) in hot paths.
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
        append(count: literal.utf8CodeUnitCount) { $0.copy(literal) }
    }

    /// Appends `<name>`.
    public mutating func open(_ name: StaticString) {
        append(count: name.utf8CodeUnitCount + 2) { $0.openTag(name) }
    }

    /// Appends `</name>`.
    public mutating func close(_ name: StaticString) {
        append(count: name.utf8CodeUnitCount + 3) { $0.closeTag(name) }
    }

    /// Appends the empty element `<name/>`.
    public mutating func empty(_ name: StaticString) {
        append(count: name.utf8CodeUnitCount + 3) { output in
            output.byte(ASCII.lessThan)
            output.copy(name)
            output.copy("/>")
        }
    }

    /// Appends `<name`; follow with `attribute(_:_:)` calls and then
    /// ``finishStartTag()`` or ``finishEmptyTag()``.
    public mutating func startTag(_ name: StaticString) {
        append(count: name.utf8CodeUnitCount + 1) { output in
            output.byte(ASCII.lessThan)
            output.copy(name)
        }
    }

    /// Ends a start tag begun with ``startTag(_:)``: appends `>`.
    public mutating func finishStartTag() {
        append(count: 1) { $0.byte(ASCII.greaterThan) }
    }

    /// Ends a tag begun with ``startTag(_:)`` as an empty element: appends `/>`.
    public mutating func finishEmptyTag() {
        markup("/>")
    }

    /// Appends ` name="value"` with `value` escaped.
    public mutating func attribute(_ name: StaticString, _ value: String) {
        append(count: name.utf8CodeUnitCount + 3) { $0.attributeStart(name) }
        attributeValue(value)
    }

    /// Appends ` name="value"` with `value` in decimal.
    public mutating func attribute(_ name: StaticString, _ value: Int) {
        let digits = RawOutput.decimalCount(Int64(value))
        append(count: name.utf8CodeUnitCount + 4 + digits) { output in
            output.attributeStart(name)
            output.decimal(Int64(value), count: digits)
            output.byte(ASCII.quote)
        }
    }

    /// Appends ` name="true"` or ` name="false"`.
    public mutating func attribute(_ name: StaticString, _ value: Bool) {
        let literal: StaticString = value ? "true\"" : "false\""
        append(count: name.utf8CodeUnitCount + 3 + literal.utf8CodeUnitCount) { output in
            output.attributeStart(name)
            output.copy(literal)
        }
    }

    /// Appends the 0x00 byte that ends a frame (PROTOCOL.md section 1).
    public mutating func endFrame() {
        append(count: 1) { $0.byte(0) }
    }

    // MARK: Content

    /// Appends `value` as escaped character data.
    public mutating func text(_ value: String) {
        withUTF8(value) { utf8 in
            let count = RawOutput.escapedCount(utf8, inAttribute: false)
            guard count > 0 else { return }
            append(count: count) { $0.escaped(utf8, inAttribute: false) }
        }
    }

    /// Appends `value` in decimal.
    public mutating func integer(_ value: Int64) {
        let digits = RawOutput.decimalCount(value)
        append(count: digits) { $0.decimal(value, count: digits) }
    }

    /// Appends `<name>text</name>`, with `text` escaped (also when empty: `<name></name>`).
    public mutating func element(_ name: StaticString, _ text: String) {
        withUTF8(text) { utf8 in
            let textCount = RawOutput.escapedCount(utf8, inAttribute: false)
            append(count: 2 * name.utf8CodeUnitCount + 5 + textCount) { output in
                output.openTag(name)
                output.escaped(utf8, inAttribute: false)
                output.closeTag(name)
            }
        }
    }

    /// Appends `<name>value</name>` with `value` in decimal.
    public mutating func element(_ name: StaticString, _ value: Int64) {
        let digits = RawOutput.decimalCount(value)
        append(count: 2 * name.utf8CodeUnitCount + 5 + digits) { output in
            output.openTag(name)
            output.decimal(value, count: digits)
            output.closeTag(name)
        }
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

    /// Appends `element` in canonical form: attributes in order, double-quoted and escaped; its
    /// character data and child elements in document order (see ``XMLElement/childOffsets``),
    /// except that character data that is only white space between child elements (indentation)
    /// is left out. An element without text or children is written `<name/>`.
    ///
    /// Nesting is tracked on an explicit stack, so arbitrarily deep trees cannot overflow the call stack.
    public mutating func element(_ element: XMLElement) {
        writeTree(element, ownTags: true, keepingAllText: false)
    }

    /// Appends the content of `element` (its "inner XML"), without the element's own tags, as
    /// ``element(_:)`` would, except that no character data is left out, white space included:
    /// this is how the content of an element that a client filled with markup is passed on
    /// (`Hello <b>World</b>!` is written `Hello <b>World</b>!`).
    public mutating func content(of element: XMLElement) {
        writeTree(element, ownTags: false, keepingAllText: true)
    }

    /// An element being written by ``writeTree(_:ownTags:keepingAllText:)``.
    private struct OpenTree {
        var element: XMLElement
        /// Whether its character data is written (it may be left out as indentation).
        var writesText: Bool
        /// The index of the next child to write.
        var nextChild = 0
        /// How many UTF-8 bytes of its text are written.
        var textWritten = 0
    }

    /// Writes `root` (with its start and end tags if `ownTags`) and everything inside it, in
    /// document order, with an explicit stack. Unless `keepingAllText`, the character data of an
    /// element that has children and only white space as text is left out.
    private mutating func writeTree(_ root: XMLElement, ownTags: Bool, keepingAllText: Bool) {
        func writesText(_ element: XMLElement) -> Bool {
            keepingAllText || element.children.isEmpty || !element.text.isXMLWhitespace
        }
        if ownTags {
            guard writeStartTag(of: root) else { return }
        }
        var stack = [OpenTree(element: root, writesText: writesText(root))]
        while !stack.isEmpty {
            let top = stack.count - 1
            let index = stack[top].nextChild
            guard index < stack[top].element.children.count else {
                let open = stack.removeLast()
                if open.writesText {
                    _ = text(of: open.element, from: open.textWritten, upTo: open.element.text.utf8.count)
                }
                if ownTags || !stack.isEmpty {
                    buffer.writeStaticString("</")
                    buffer.writeString(open.element.name)
                    buffer.writeInteger(ASCII.greaterThan)
                }
                continue
            }
            stack[top].nextChild += 1
            if stack[top].writesText {
                // A child without an offset follows all of the text.
                let offsets = stack[top].element.childOffsets
                let offset = index < offsets.count ? offsets[index] : Int.max
                stack[top].textWritten = text(of: stack[top].element, from: stack[top].textWritten, upTo: offset)
            }
            let child = stack[top].element.children[index]
            if writeStartTag(of: child) {
                stack.append(OpenTree(element: child, writesText: writesText(child)))
            }
        }
    }

    /// Writes the start tag of `element`, or the whole element as `<name .../>` if it has neither
    /// text nor children. Returns true if the element was left open (its content and end tag are
    /// still to come).
    private mutating func writeStartTag(of element: XMLElement) -> Bool {
        buffer.writeInteger(ASCII.lessThan)
        buffer.writeString(element.name)
        for attribute in element.attributes {
            buffer.writeInteger(ASCII.space)
            buffer.writeString(attribute.name)
            buffer.writeStaticString("=\"")
            attributeValue(attribute.value)
        }
        guard !element.text.isEmpty || !element.children.isEmpty else {
            buffer.writeStaticString("/>")
            return false
        }
        buffer.writeInteger(ASCII.greaterThan)
        return true
    }

    /// Writes the UTF-8 bytes `start..<end` of the text of `element`, escaped, and returns where
    /// the written part ends. `end` is clamped into `start...text.utf8.count` and moved forward to
    /// a character boundary, so that offsets set by hand cannot split a character or go back.
    private mutating func text(of element: XMLElement, from start: Int, upTo end: Int) -> Int {
        var written = start
        withUTF8(element.text) { utf8 in
            var stop = min(max(end, start), utf8.count)
            while stop < utf8.count, utf8[stop] & 0xC0 == 0x80 {
                stop += 1
            }
            written = stop
            guard stop > start else { return }
            let run = UnsafeBufferPointer(rebasing: utf8[start..<stop])
            let count = RawOutput.escapedCount(run, inAttribute: false)
            append(count: count) { $0.escaped(run, inAttribute: false) }
        }
        return written
    }

    /// Appends `value` escaped for an attribute, and the closing quote.
    private mutating func attributeValue(_ value: String) {
        withUTF8(value) { utf8 in
            let count = RawOutput.escapedCount(utf8, inAttribute: true)
            append(count: count + 1) { output in
                output.escaped(utf8, inAttribute: true)
                output.byte(ASCII.quote)
            }
        }
    }

    // MARK: Raw output

    /// Appends exactly `count` bytes, produced by `body`, with a single buffer operation.
    @inline(__always)
    private mutating func append(count: Int, _ body: (inout RawOutput) -> Void) {
        _ = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { writable in
            var output = RawOutput(start: writable.baseAddress!)
            body(&output)
            assert(output.next == writable.baseAddress! + count, "RawOutput wrote a different count than measured")
            return count
        }
    }

    /// Calls `body` with the contiguous UTF-8 of `string`.
    @inline(__always)
    private func withUTF8(_ string: String, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        var string = string
        string.withUTF8(body)
    }
}

/// A cursor over writable memory that ``XMLWriter`` has reserved and measured; it never checks
/// bounds, so every use is preceded by an exact count.
private struct RawOutput {
    private(set) var next: UnsafeMutableRawPointer

    init(start: UnsafeMutableRawPointer) {
        next = start
    }

    @inline(__always)
    mutating func byte(_ value: UInt8) {
        next.storeBytes(of: value, as: UInt8.self)
        next += 1
    }

    @inline(__always)
    mutating func copy(_ literal: StaticString) {
        literal.withUTF8Buffer { copy(UnsafeRawBufferPointer($0)) }
    }

    @inline(__always)
    mutating func copy(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        next.copyMemory(from: base, byteCount: bytes.count)
        next += bytes.count
    }

    /// `<name>`
    @inline(__always)
    mutating func openTag(_ name: StaticString) {
        byte(ASCII.lessThan)
        copy(name)
        byte(ASCII.greaterThan)
    }

    /// `</name>`
    @inline(__always)
    mutating func closeTag(_ name: StaticString) {
        copy("</")
        copy(name)
        byte(ASCII.greaterThan)
    }

    /// ` name="`
    @inline(__always)
    mutating func attributeStart(_ name: StaticString) {
        byte(ASCII.space)
        copy(name)
        copy("=\"")
    }

    // MARK: Numbers

    /// The number of bytes `value` takes in decimal.
    static func decimalCount(_ value: Int64) -> Int {
        var magnitude = value.magnitude
        var count = value < 0 ? 2 : 1
        while magnitude >= 10 {
            magnitude /= 10
            count += 1
        }
        return count
    }

    /// Writes `value` in decimal; `count` is ``decimalCount(_:)`` of `value`.
    mutating func decimal(_ value: Int64, count: Int) {
        var magnitude = value.magnitude
        var digit = next + count
        repeat {
            digit -= 1
            digit.storeBytes(of: ASCII.zero + UInt8(truncatingIfNeeded: magnitude % 10), as: UInt8.self)
            magnitude /= 10
        } while magnitude > 0
        if value < 0 { next.storeBytes(of: ASCII.hyphen, as: UInt8.self) }
        next += count
    }

    // MARK: Escaping

    /// Bit n set: byte n (< 0x40) is replaced in text. That is 0x00–0x1F except tab (0x09) and
    /// line feed (0x0A), plus `"` (0x22), `&` (0x26), `'` (0x27), `<` (0x3C) and `>` (0x3E).
    private static let textSpecials: UInt64 = 0x5000_00C4_FFFF_F9FF
    /// As ``textSpecials``, plus tab and line feed.
    private static let attributeSpecials: UInt64 = 0x5000_00C4_FFFF_FFFF

    /// What replaces the UTF-8 sequence at `index` of `utf8`, and how many bytes it replaces;
    /// nil if the byte is copied as is.
    @inline(__always)
    private static func replacement(
        in utf8: UnsafeBufferPointer<UInt8>,
        at index: Int,
        inAttribute: Bool
    ) -> (text: StaticString, width: Int)? {
        let byte = utf8[index]
        // Fast path: one bit test for ASCII, one comparison for the rest.
        if byte < 0x40 {
            if (inAttribute ? attributeSpecials : textSpecials) &>> UInt64(byte) & 1 == 0 { return nil }
        } else if byte != 0xEF {
            return nil
        }
        switch byte {
        case ASCII.ampersand: return ("&amp;", 1)
        case ASCII.lessThan: return ("&lt;", 1)
        case ASCII.greaterThan: return ("&gt;", 1)
        case ASCII.quote: return ("&quot;", 1)
        case ASCII.apostrophe: return ("&apos;", 1)
        case ASCII.tab: return inAttribute ? ("&#9;", 1) : nil
        case ASCII.lineFeed: return inAttribute ? ("&#10;", 1) : nil
        case ASCII.carriageReturn: return ("&#13;", 1)
        case ..<ASCII.space: return ("\u{FFFD}", 1)
        case 0xEF where index + 2 < utf8.count && utf8[index + 1] == 0xBF && utf8[index + 2] >= 0xBE:
            return ("\u{FFFD}", 3)  // U+FFFE, U+FFFF
        default: return nil
        }
    }

    /// The number of bytes `utf8` takes once escaped.
    static func escapedCount(_ utf8: UnsafeBufferPointer<UInt8>, inAttribute: Bool) -> Int {
        var count = utf8.count
        var index = 0
        while index < utf8.count {
            if let replacement = replacement(in: utf8, at: index, inAttribute: inAttribute) {
                count += replacement.text.utf8CodeUnitCount - replacement.width
                index += replacement.width
            } else {
                index += 1
            }
        }
        return count
    }

    /// Writes `utf8` escaped, copying unescaped runs in bulk; takes ``escapedCount(_:inAttribute:)`` bytes.
    mutating func escaped(_ utf8: UnsafeBufferPointer<UInt8>, inAttribute: Bool) {
        var runStart = 0
        var index = 0
        while index < utf8.count {
            guard let replacement = Self.replacement(in: utf8, at: index, inAttribute: inAttribute) else {
                index += 1
                continue
            }
            copy(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(utf8)[runStart..<index]))
            copy(replacement.text)
            index += replacement.width
            runStart = index
        }
        copy(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(utf8)[runStart..<index]))
    }
}
