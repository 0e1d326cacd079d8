import NIOCore
import Testing
import Wire

@Suite struct XMLWriterTests {
    /// What `body` writes into a fresh buffer, as a string.
    private func written(_ body: (inout XMLWriter) -> Void) -> String {
        var writer = XMLWriter(buffer: ByteBuffer())
        body(&writer)
        return String(buffer: writer.buffer)
    }

    /// `text` written as the text of `<t>` and parsed back.
    private func roundTrip(_ text: String) throws -> String {
        let document = written { $0.element("t", text) }
        return try parse(document).text
    }

    @Test func escapesTheFiveSpecialCharactersInText() {
        #expect(written { $0.text(#"a&b<c>d"e'f"#) } == "a&amp;b&lt;c&gt;d&quot;e&apos;f")
        #expect(written { $0.text("plain é 😀\t\r\n") } == "plain é 😀\t&#13;\n")
    }

    @Test func writesCarriageReturnsAsCharacterReferencesSoReadersKeepThem() throws {
        // A raw CR would reach a conforming reader as a line feed (XML 1.0 section 2.11).
        #expect(written { $0.text("Hello\r\nWorld") } == "Hello&#13;\nWorld")
        #expect(written { $0.text("\r") } == "&#13;")
        #expect(written { $0.text("a\r\rb\n\r") } == "a&#13;&#13;b\n&#13;")
        #expect(written { $0.element("t", "x\ry") } == "<t>x&#13;y</t>")
        #expect(try roundTrip("Hello\r\nWorld") == "Hello\r\nWorld")
        #expect(try roundTrip("\r\r\n\n\r") == "\r\r\n\n\r")
    }

    @Test func plainTextIsCopiedUnchanged() {
        let plain = "Hello, world! 0123456789 ABC xyz é 😀 \t\n ~`@#$%^*()-_=+[]{}|\\;:,./?"
        #expect(written { $0.text(plain) } == plain)
        #expect(written { $0.element("m", plain) } == "<m>\(plain)</m>")
    }

    @Test func escapesAttributeValuesIncludingWhitespaceThatReadersWouldNormalize() {
        let output = written { writer in
            writer.startTag("a")
            writer.attribute("s", "<&>\"'\t\n\r")
            writer.attribute("n", -12)
            writer.attribute("b", true)
            writer.attribute("c", false)
            writer.finishEmptyTag()
        }
        #expect(output == #"<a s="&lt;&amp;&gt;&quot;&apos;&#9;&#10;&#13;" n="-12" b="true" c="false"/>"#)
    }

    @Test func replacesCharactersXMLCannotCarry() {
        #expect(written { $0.text("a\u{0}b\u{1}c\u{1F}d\u{FFFE}e\u{FFFF}f\u{FFFD}") } == "a\u{FFFD}b\u{FFFD}c\u{FFFD}d\u{FFFD}e\u{FFFD}f\u{FFFD}")
        #expect(written { $0.text("\u{EF00}\u{F000}\u{FFEE}") } == "\u{EF00}\u{F000}\u{FFEE}")
    }

    @Test func writesMarkupHelpers() {
        let output = written { writer in
            writer.open("A")
            writer.element("B", "")
            writer.element("C", 42)
            writer.element("D", Int64.min)
            writer.empty("E")
            writer.list("F", [Int]()) { $0.element("G", $1) }
            writer.list("H", [1, 2]) { $0.element("I", $1) }
            writer.markup("<J/>")
            writer.close("A")
            writer.endFrame()
        }
        #expect(output == "<A><B></B><C>42</C><D>-9223372036854775808</D><E/><F/><H><I>1</I><I>2</I></H><J/></A>\0")
    }

    @Test func writesIntegersInDecimal() {
        #expect(written { $0.integer(0) } == "0")
        #expect(written { $0.integer(-1) } == "-1")
        #expect(written { $0.integer(1_700_000_000_123) } == "1700000000123")
        #expect(written { $0.integer(.max) } == "9223372036854775807")
    }

    @Test func writeIntoAppendsToTheGivenBuffer() {
        var buffer = ByteBuffer(string: "head:")
        XMLWriter.write(into: &buffer) { $0.element("a", "x") }
        XMLWriter.write(into: &buffer) { $0.element("b", "y") }
        #expect(String(buffer: buffer) == "head:<a>x</a><b>y</b>")
    }

    @Test(arguments: [
        "]]>", "]]", "]>", "x]]>y]]]>", "<![CDATA[ not cdata ]]>", "<b>bold</b> &amp; &lt;", "&#1; &nbsp;",
        "</t></XmlDoc>\\0<XmlDoc>", "quotes \" and '", "line\r\nbreak\ttab", "é 😀 日本", "",
    ])
    func textRoundTripsThroughTheReader(_ text: String) throws {
        #expect(try roundTrip(text) == text)
    }

    @Test func attributeValuesRoundTripThroughTheReader() throws {
        let value = "a<b>&c\"d'e]]>\tf\r\ng"
        let document = written { writer in
            writer.startTag("a")
            writer.attribute("v", value)
            writer.finishEmptyTag()
        }
        #expect(try parse(document).attribute("v") == value)
    }

    @Test func textWithAZeroByteCannotEndTheFrame() throws {
        let document = written { $0.element("t", "a</t>\0<x>") }
        #expect(!document.utf8.contains(0))
        #expect(try parse(document).text == "a</t>\u{FFFD}<x>")
    }

    @Test func writesParsedTreesCanonically() throws {
        let source = """
            <wddxPacket version='1.0'>
              <header/>
              <data><struct><var name="a&amp;b"><string>x &lt; y</string></var></struct></data>
            </wddxPacket>
            """
        let tree = try parse(source)
        let output = written { $0.element(tree) }
        #expect(output == #"<wddxPacket version="1.0"><header/><data><struct><var name="a&amp;b"><string>x &lt; y</string></var></struct></data></wddxPacket>"#)
        let reparsed = try parse(output)
        #expect(written { $0.element(reparsed) } == output, "canonical form is stable")
    }

    @Test func writesContentWithoutTheElementsOwnTags() throws {
        let tree = try parse("<Data><a x='1'/>text<b>&amp;</b></Data>")
        #expect(written { $0.content(of: tree) } == #"<a x="1"/>text<b>&amp;</b>"#)
        #expect(written { $0.content(of: XMLElement(name: "Data", text: "only <text>")) } == "only &lt;text&gt;")
    }

    @Test(arguments: [
        "<Message>Hello <b>World</b>!</Message>",
        "<m><b/>x</m>",
        "<m>x<b/></m>",
        "<m><b/><c/>x<d/>y<e/></m>",
        ##"<m><font color="#FF0000">red <b>bold</b> text</font>!</m>"##,
        "<m>a &amp; <b>b&lt;</b> c<i>&#13;</i>&#13;é<u>😀</u>日本</m>",
        "<m><a><b>1<c>2</c>3</b>4</a>5</m>",
    ])
    func writesMixedContentInDocumentOrder(_ document: String) throws {
        let tree = try parse(document)
        #expect(written { $0.element(tree) } == document)
    }

    @Test func mixedContentWithCDATAIsWrittenAsEscapedText() throws {
        let tree = try parse("<m>1<![CDATA[<x>]]><b/><![CDATA[]]><!-- c -->2<c/></m>")
        #expect(written { $0.element(tree) } == "<m>1&lt;x&gt;<b/>2<c/></m>")
    }

    @Test func contentKeepsAllWhiteSpaceAndElementLeavesOutIndentation() throws {
        let tree = try parse("<m> <b>bold</b> <i>it</i>\n</m>")
        #expect(written { $0.content(of: tree) } == " <b>bold</b> <i>it</i>\n")
        #expect(written { $0.element(tree) } == "<m><b>bold</b><i>it</i></m>")
        let nested = try parse("<m><p> <b>a</b> <i>b</i> </p></m>")
        #expect(written { $0.content(of: nested) } == "<p> <b>a</b> <i>b</i> </p>")
        let spaced = try parse("<m> x <b/></m>")
        #expect(written { $0.content(of: spaced) } == " x <b/>")
        #expect(written { $0.element(spaced) } == "<m> x <b/></m>", "not only white space: kept")
    }

    @Test func childrenWithoutOffsetsFollowTheText() {
        let bold = XMLElement(name: "b", text: "World")
        #expect(written { $0.element(XMLElement(name: "m", children: [bold], text: "Hello !")) } == "<m>Hello !<b>World</b></m>")
        let placed = XMLElement(name: "m", children: [bold, XMLElement(name: "c")], text: "Hello !", childOffsets: [6])
        #expect(written { $0.element(placed) } == "<m>Hello <b>World</b>!<c/></m>")
    }

    @Test func offsetsSetByHandAreClamped() {
        let b = XMLElement(name: "b")
        let c = XMLElement(name: "c")
        // Past the end, going back, negative: each child lands at the nearest valid place.
        #expect(written { $0.element(XMLElement(name: "m", children: [b, c], text: "xy", childOffsets: [99, 0])) } == "<m>xy<b/><c/></m>")
        #expect(written { $0.element(XMLElement(name: "m", children: [b, c], text: "xy", childOffsets: [1, 0])) } == "<m>x<b/><c/>y</m>")
        #expect(written { $0.element(XMLElement(name: "m", children: [b], text: "xy", childOffsets: [-5])) } == "<m><b/>xy</m>")
        // Inside a character: moved to its end, never splitting it.
        #expect(written { $0.element(XMLElement(name: "m", children: [b], text: "é😀", childOffsets: [1])) } == "<m>é<b/>😀</m>")
        #expect(written { $0.element(XMLElement(name: "m", children: [b], text: "é😀", childOffsets: [3])) } == "<m>é😀<b/></m>")
        // More offsets than children: the rest is ignored.
        #expect(written { $0.element(XMLElement(name: "m", children: [b], text: "xy", childOffsets: [1, 1, 1])) } == "<m>x<b/>y</m>")
    }

    @Test func writesDeepTreesWithoutRecursion() throws {
        var tree = XMLElement(name: "leaf", text: "x")
        for _ in 0..<2000 {
            tree = XMLElement(name: "n", children: [tree])
        }
        let output = written { $0.element(tree) }
        #expect(output.hasPrefix("<n><n>"))
        #expect(output.hasSuffix("<leaf>x</leaf>" + String(repeating: "</n>", count: 2000)))
        #expect(try parse(output, limits: XMLLimits(maxDepth: 2001)) == tree)
    }
}
