import ChorusTesting
import NIOCore
import Testing

import Wire

@Suite struct XMLReaderTests {
    // MARK: Accepted documents

    @Test func parsesElementsAttributesAndText() throws {
        let root = try parse(#"<a x="1" y='two'><b>hello</b><c/>tail</a>"#)
        #expect(root.name == "a")
        #expect(root.attributes == [XMLAttribute(name: "x", value: "1"), XMLAttribute(name: "y", value: "two")])
        #expect(root.children.map(\.name) == ["b", "c"])
        #expect(root.children[0].text == "hello")
        #expect(root.children[1] == XMLElement(name: "c"))
        #expect(root.text == "tail")
    }

    @Test func textIsAllDirectCharacterDataConcatenated() throws {
        let root = try parse("<a>x<b>inner</b>y<![CDATA[z]]></a>")
        #expect(root.text == "xyz")
        #expect(root.children.first?.text == "inner")
    }

    @Test func mixedContentKeepsWhereTheChildrenSit() throws {
        let message = try parse("<Message>Hello <b>World</b>!</Message>")
        #expect(message.text == "Hello !")
        #expect(message.children == [XMLElement(name: "b", text: "World")])
        #expect(message.childOffsets == [6])

        #expect(try parse("<a><b/>x</a>").childOffsets == [0])
        #expect(try parse("<a>x<b/></a>").childOffsets == [], "a child after all the text needs no offset")
        #expect(try parse("<a><b/><c/>x<d/>y<e/></a>").childOffsets == [0, 0, 1])
        #expect(try parse("<a>é<b/>&amp;<c></c><![CDATA[z]]></a>").childOffsets == [2, 3])
        #expect(try parse("<a><b/><![CDATA[]]><!-- x --></a>").childOffsets == [], "empty CDATA and comments are no text")
        #expect(try parse("<a><b><c/>1</b>2<d/></a>").children.first?.childOffsets == [0])
        #expect(try parse("<XmlDoc><Action>Ping</Action><Parameters/></XmlDoc>").childOffsets == [])
    }

    @Test func parsedTreesEqualTreesBuiltByHand() throws {
        let built = XMLElement(name: "a", children: [XMLElement(name: "b", text: "1"), XMLElement(name: "c")], text: "x")
        #expect(try parse("<a>x<b>1</b><c/></a>") == built)
        #expect(try parse("<a><b>1</b>x<c/></a>") != built, "the text sits elsewhere")
        var placed = built
        placed.childOffsets = [0]
        #expect(try parse("<a><b>1</b>x<c/></a>") == placed)
    }

    @Test func manyChildrenInMixedContentParseInLinearTime() throws {
        let count = 10_000
        // Linear cost is the fuzzer's business (scripts/fuzz.sh runs with -timeout); a
        // timed assertion here could fail on a busy machine.
        let root = try parse("<a>" + String(repeating: "x<b/>", count: count) + "</a>")
        #expect(root.children.count == count)
        #expect(root.childOffsets == Array(1..<count), "the last child follows all of the text: no offset")
        let interleaved = try parse("<a>" + String(repeating: "<b/>y", count: count) + "</a>")
        #expect(interleaved.childOffsets == Array(0..<count))
    }

    @Test func whitespaceInsideTagsIsAllowed() throws {
        let root = try parse("<a \n x = \"1\"\t></a >")
        #expect(root.attribute("x") == "1")
    }

    @Test func lineEndsAndAttributeWhitespaceAreKeptByteForByte() throws {
        let root = try parse("<a v=\"1\r\n2\">line\r\nnext\r</a>")
        #expect(root.text == "line\r\nnext\r")
        #expect(root.attribute("v") == "1\r\n2")
    }

    @Test func nonASCIITextAndNamesAreAccepted() throws {
        let root = try parse("<café lang='fr'>naïve 😀 日本</café>")
        #expect(root.name == "café")
        #expect(root.text == "naïve 😀 日本")
    }

    @Test func xmlDeclarationIsAcceptedAtTheStart() throws {
        #expect(try parse(#"<?xml version="1.0"?><a/>"#).name == "a")
        #expect(try parse(" \n<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a/>").name == "a")
        #expect(try parse("<?xml?><a/>").name == "a")
    }

    @Test func aByteOrderMarkIsAcceptedAtTheVeryStart() throws {
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        func parse(bytes: [UInt8]) throws -> XMLElement { try XMLReader.parse(ByteBuffer(bytes: bytes)) }
        #expect(try parse(bytes: bom + Array("<a>x</a>".utf8)).text == "x")
        #expect(try parse(bytes: bom + Array(#"<?xml version="1.0" encoding="UTF-8"?><a/>"#.utf8)).name == "a")
        #expect(try parse(bytes: bom + Array("\r\n <?xml version=\"1.0\"?>\n\t<!-- c -->\n<a/>\n".utf8)).name == "a")
        #expect(try parse(bytes: bom + Array(" \n<a/>".utf8)).name == "a")
        #expect(try parse(bytes: bom + Array("<\u{FEFF}a>\u{FEFF}</\u{FEFF}a>".utf8)).text == "\u{FEFF}", "inside the root, U+FEFF is a character")
    }

    @Test func aByteOrderMarkAnywhereElseIsRefused() {
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        #expect(refusal(bytes: Array(" ".utf8) + bom + Array("<a/>".utf8)) == .contentOutsideRootElement)
        #expect(refusal(bytes: bom + bom + Array("<a/>".utf8)) == .contentOutsideRootElement)
        #expect(refusal(bytes: Array("<?xml version='1.0'?>".utf8) + bom + Array("<a/>".utf8)) == .contentOutsideRootElement)
        #expect(refusal(bytes: bom + Array("<?xml version='1.0'?>".utf8) + bom + Array("<a/>".utf8)) == .contentOutsideRootElement)
        #expect(refusal(bytes: Array("<a/>".utf8) + bom) == .contentOutsideRootElement)
        #expect(refusal(bytes: bom) == .missingRootElement)
        #expect(refusal(bytes: bom + Array(" \n".utf8)) == .missingRootElement)
        #expect(refusal(bytes: [0xEF, 0xBB] + Array("<a/>".utf8)) == .contentOutsideRootElement, "a partial mark")
        #expect(refusal(bytes: [0xFF, 0xFE] + Array("<\0a\0/\0>\0".utf8)) == .contentOutsideRootElement, "UTF-16 is not accepted")
    }

    // Found by chorus-wire-fuzz: PROTOCOL.md section 1 accepts a byte order mark, the reader
    // refused every document that had one.
    @Test func byteOrderMarkIsAcceptedBeforeEverything() throws {
        let mark: [UInt8] = [0xEF, 0xBB, 0xBF]
        #expect(try XMLReader.parse(ByteBuffer(bytes: mark + Array("<a/>".utf8))).name == "a")
        #expect(try XMLReader.parse(ByteBuffer(bytes: mark + Array("<?xml version=\"1.0\"?>\n<a/>".utf8))).name == "a")
        #expect(refusal(bytes: mark + Array(" <!-- c --><a/>".utf8)) == nil)
        // One mark, at the very start only; offsets count it.
        #expect(refusal(bytes: mark + mark + Array("<a/>".utf8)) == .contentOutsideRootElement)
        #expect(refusal(bytes: Array(" ".utf8) + mark + Array("<a/>".utf8)) == .contentOutsideRootElement)
        #expect(refusal(bytes: Array("<a>".utf8) + mark + Array("</a>".utf8)) == nil)
        #expect(refusalError(bytes: mark + Array("<a>".utf8)) == XMLParseError(.unexpectedEnd, at: 6))
        #expect(refusal(bytes: mark) == .missingRootElement)
    }

    @Test func commentsAreSkipped() throws {
        let root = try parse("<!-- before --><a>x<!-- <b/> & -->y</a><!-- after -->\n")
        #expect(root.text == "xy")
        #expect(root.children.isEmpty)
    }

    @Test func trailingWhitespaceIsAllowed() throws {
        #expect(try parse("<a/>\r\n\t ").name == "a")
    }

    @Test func parsesOnlyTheReadableBytes() throws {
        var buffer = ByteBuffer(string: "garbage<a>x</a>")
        buffer.moveReaderIndex(forwardBy: 7)
        #expect(try XMLReader.parse(buffer).text == "x")
    }

    // MARK: Entities, references, CDATA

    @Test func predefinedEntitiesAndCharacterReferencesDecode() throws {
        let root = try parse("<a v='&#65;&#x42;&lt;&amp;'>&#65;&#x42;&lt;&amp;&gt;&quot;&apos;&#x1F600;&#233;</a>")
        #expect(root.text == "AB<&>\"'😀é")
        #expect(root.attribute("v") == "AB<&")
    }

    @Test func cdataKeepsMarkupAndBracketsLiterally() throws {
        let root = try parse("<a>1<![CDATA[<b>&amp;</b> ]] ]> ]]]]><![CDATA[>]]>2</a>")
        #expect(root.text == "1<b>&amp;</b> ]] ]> ]]>2")
    }

    @Test func undefinedOrMalformedReferencesAreRefused() {
        #expect(refusal("<a>&nbsp;</a>") == .undefinedEntity)
        #expect(refusal("<a>&lol9;</a>") == .undefinedEntity)
        #expect(refusal("<a>a & b</a>") == .undefinedEntity)
        #expect(refusal("<a>&amp</a>") == .undefinedEntity)
        #expect(refusal("<a>&#;</a>") == .malformedCharacterReference)
        #expect(refusal("<a>&#x;</a>") == .malformedCharacterReference)
        #expect(refusal("<a>&#12a;</a>") == .malformedCharacterReference)
        #expect(refusal("<a>&#X41;</a>") == .malformedCharacterReference)
    }

    @Test func characterReferencesToNonCharactersAreRefused() {
        for reference in ["&#1;", "&#x1F;", "&#0;", "&#xD800;", "&#xFFFE;", "&#x110000;", "&#99999999999999999999;"] {
            #expect(refusal("<a>\(reference)</a>") == .illegalCharacter, "\(reference)")
            #expect(refusal("<a v='\(reference)'/>") == .illegalCharacter, "\(reference) in attribute")
        }
        #expect(refusal("<a>&#9;&#10;&#13;&#x10FFFF;</a>") == nil)
    }

    @Test func characterReferencesToEveryCharacterXMLForbidsAreRefused() {
        var forbidden: [UInt32] = Array(0x00...0x1F).filter { ![0x09, 0x0A, 0x0D].contains($0) }
        forbidden += [0xD800, 0xDB7F, 0xDBFF, 0xDC00, 0xDFFF, 0xFFFE, 0xFFFF, 0x11_0000, 0xFFFF_FFFF]
        for value in forbidden {
            let decimal = "&#\(value);"
            let hexadecimal = "&#x\(String(value, radix: 16));"
            let upperHexadecimal = "&#x00\(String(value, radix: 16, uppercase: true));"
            for reference in [decimal, hexadecimal, upperHexadecimal] {
                #expect(refusal("<a>\(reference)</a>") == .illegalCharacter, "\(reference)")
                #expect(refusal("<a>ok \(reference) ok</a>") == .illegalCharacter, "\(reference) amid text")
                #expect(refusal("<a v=\"\(reference)\"/>") == .illegalCharacter, "\(reference) in attribute")
                #expect(refusal("<a><b>x</b><c>\(reference)</c></a>") == .illegalCharacter, "\(reference) nested")
            }
        }
        #expect(refusal("<a>&#31;</a>") == .illegalCharacter)
        #expect(refusal("<a>&#55296;</a>") == .illegalCharacter, "a surrogate in decimal")
        for allowed in ["&#9;", "&#10;", "&#13;", "&#32;", "&#x7F;", "&#x80;", "&#xD7FF;", "&#xE000;", "&#xFFFD;", "&#x10000;", "&#x0000041;"] {
            #expect(refusal("<a v='\(allowed)'>\(allowed)</a>") == nil, "\(allowed)")
        }
    }

    @Test func noParsedValueEverHoldsACharacterXMLForbids() {
        // Hostile input: random mixes of markup, references and raw bytes are either refused, or
        // parse into names, values and text made of XML characters only (so, for instance, never
        // U+001F, which the cluster layer uses as a separator).
        let pieces: [[UInt8]] = [
            Array("<a>".utf8), Array("</a>".utf8), Array("<b x='".utf8), Array("'>".utf8), Array("/>".utf8),
            Array("&#31;".utf8), Array("&#x1f;".utf8), Array("&#xD800;".utf8), Array("&#65;".utf8), Array("&amp;".utf8),
            Array("<![CDATA[".utf8), Array("]]>".utf8), Array("<!--".utf8), Array("-->".utf8), Array("\r\n".utf8),
            [0x1F], [0x00], [0x0B], [0xEF, 0xBF, 0xBE], [0xED, 0xA0, 0x80], [0xEF, 0xBB, 0xBF], Array("text".utf8),
        ]
        var generator = SplitMix64(seed: 0x5EED)
        var parsed = 0
        for _ in 0..<20_000 {
            var document = Array("<r>".utf8)
            for _ in 0..<Int.random(in: 1...8, using: &generator) {
                document += pieces.randomElement(using: &generator)!
            }
            document += Array("</r>".utf8)
            guard let root = try? XMLReader.parse(ByteBuffer(bytes: document)) else { continue }
            parsed += 1
            var stack = [root]
            while let element = stack.popLast() {
                let strings = [element.name, element.text] + element.attributes.flatMap { [$0.name, $0.value] }
                for string in strings {
                    #expect(string.unicodeScalars.allSatisfy { isXMLCharacter($0.value) }, "\(document)")
                }
                stack += element.children
            }
        }
        #expect(parsed > 100, "the mix also produces documents that parse")
    }

    @Test func cdataEndInTextIsRefused() {
        #expect(refusal("<a>x]]>y</a>") == .cdataEndInText)
        #expect(refusal("<a>x]]&gt;y ]>]</a>") == nil)
    }

    // MARK: Characters and UTF-8

    @Test func controlCharactersAreRefused() {
        #expect(refusal(bytes: Array("<a>x".utf8) + [0x01] + Array("</a>".utf8)) == .illegalCharacter)
        #expect(refusal(bytes: Array("<a v='".utf8) + [0x1F] + Array("'/>".utf8)) == .illegalCharacter)
        #expect(refusal(bytes: Array("<a>".utf8) + [0x00] + Array("</a>".utf8)) == .illegalCharacter)
        #expect(refusal(bytes: Array("<a><![CDATA[".utf8) + [0x08] + Array("]]></a>".utf8)) == .illegalCharacter)
        #expect(refusal("<a>\u{FFFE}</a>") == .illegalCharacter)
    }

    @Test(arguments: [
        ("bad continuation", [0xC3, 0x28]),
        ("stray continuation", [0x80]),
        ("overlong 2-byte", [0xC0, 0xAF]),
        ("overlong 3-byte", [0xE0, 0x80, 0xAF]),
        ("overlong 4-byte", [0xF0, 0x80, 0x80, 0xAF]),
        ("surrogate", [0xED, 0xA0, 0x80]),
        ("beyond U+10FFFF", [0xF4, 0x90, 0x80, 0x80]),
        ("invalid lead", [0xF8, 0x88, 0x80, 0x80, 0x80]),
        ("truncated before markup", [0xE2, 0x82]),
    ] as [(String, [UInt8])])
    func invalidUTF8IsRefused(_ name: String, _ sequence: [UInt8]) {
        #expect(refusal(bytes: Array("<a>".utf8) + sequence + Array("</a>".utf8)) == .invalidUTF8, "text")
        #expect(refusal(bytes: Array("<a v='".utf8) + sequence + Array("'/>".utf8)) == .invalidUTF8, "attribute")
        #expect(refusal(bytes: Array("<a".utf8) + sequence + Array("/>".utf8)) == .invalidUTF8, "name")
    }

    @Test func utf8TruncatedAtTheEndOfInputIsRefused() {
        #expect(refusal(bytes: Array("<a/><!--".utf8) + [0xF0, 0x9F, 0x98]) == .invalidUTF8)
    }

    // MARK: Declarations and processing instructions

    @Test func doctypeIsRefused() {
        #expect(refusal("<!DOCTYPE a><a/>") == .doctypeNotAllowed)
        #expect(refusal("<?xml version=\"1.0\"?>\n<!DOCTYPE a SYSTEM \"file:///etc/passwd\"><a/>") == .doctypeNotAllowed)
    }

    @Test func billionLaughsIsRefused() {
        let payload = """
            <?xml version="1.0"?>
            <!DOCTYPE lolz [
             <!ENTITY lol "lol">
             <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
             <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
            ]>
            <lolz>&lol3;</lolz>
            """
        #expect(refusal(payload) == .doctypeNotAllowed)
    }

    @Test func entityDeclarationsAreRefused() {
        #expect(refusal(#"<!ENTITY x "y"><a/>"#) == .declarationNotAllowed)
        #expect(refusal(#"<a><!ENTITY x "y"></a>"#) == .declarationNotAllowed)
        #expect(refusal("<a><!DOCTYPE a></a>") == .doctypeNotAllowed)
        #expect(refusal("<![CDATA[x]]><a/>") == .declarationNotAllowed)
    }

    @Test func processingInstructionsOtherThanTheDeclarationAreRefused() {
        #expect(refusal(#"<?xml-stylesheet href="a"?><a/>"#) == .processingInstructionNotAllowed)
        #expect(refusal("<?php echo 1; ?><a/>") == .processingInstructionNotAllowed)
        #expect(refusal("<a><?pi data?></a>") == .processingInstructionNotAllowed)
        #expect(refusal("<a/><?pi?>") == .processingInstructionNotAllowed)
        #expect(refusal(#"<!-- first --><?xml version="1.0"?><a/>"#) == .processingInstructionNotAllowed)
        #expect(refusal(#"<?xml version="1.0"?><?xml version="1.0"?><a/>"#) == .processingInstructionNotAllowed)
    }

    // MARK: Well-formedness

    @Test(arguments: [
        ("", XMLParseError.Reason.missingRootElement),
        (" \n ", .missingRootElement),
        ("<!-- only -->", .missingRootElement),
        ("text", .contentOutsideRootElement),
        ("x<a/>", .contentOutsideRootElement),
        ("<a/>x", .contentOutsideRootElement),
        ("<a/><b/>", .contentOutsideRootElement),
        ("<a>", .unexpectedEnd),
        ("<a><b></b>", .unexpectedEnd),
        ("<a", .unexpectedEnd),
        ("<a x='1", .unexpectedEnd),
        ("<a>x</b>", .mismatchedEndTag),
        ("<a><b></a></b>", .mismatchedEndTag),
        ("<a></A>", .mismatchedEndTag),
        ("</a>", .invalidName),
        ("<1a/>", .invalidName),
        ("<a x=1/>", .unquotedAttributeValue),
        ("<a x/>", .malformedMarkup),
        ("<a x='1\"/>", .unexpectedEnd),
        ("<a x='1'y='2'/>", .malformedMarkup),
        ("<a x='1' x='2'/>", .duplicateAttribute),
        ("<a x='a<b'/>", .lessThanInAttributeValue),
        ("<a x='a&b'/>", .undefinedEntity),
        ("<a/ >", .malformedMarkup),
        ("<a><!-- a -- b --></a>", .malformedComment),
        ("<a><!-- x ---></a>", .malformedComment),
        ("<a><![CDATA[x</a>", .unexpectedEnd),
    ])
    func malformedDocumentsAreRefused(_ document: String, _ reason: XMLParseError.Reason) {
        #expect(refusal(document) == reason)
    }

    @Test func errorsCarryTheOffsetAndDescribeThemselves() {
        do {
            _ = try parse("<a>x</b>")
            Issue.record("expected a parse error")
        } catch {
            #expect(error == XMLParseError(.mismatchedEndTag, at: 4))
            #expect(error.description.contains("mismatchedEndTag"))
            #expect(error.description.contains("4"))
        }
    }

    // MARK: Limits

    @Test func nestingUpToTheLimitIsAcceptedAndBeyondRefused() {
        func nested(_ depth: Int) -> String {
            String(repeating: "<e>", count: depth) + String(repeating: "</e>", count: depth)
        }
        #expect(refusal(nested(32)) == nil)
        #expect(refusal(nested(33)) == .tooDeep)
        #expect(refusal(String(repeating: "<e>", count: 32) + "<e/>" + String(repeating: "</e>", count: 32)) == .tooDeep)
        #expect(refusal(nested(4), limits: XMLLimits(maxDepth: 3)) == .tooDeep)
    }

    @Test func tenThousandDeepNestingFailsFast() {
        let depth = 10_000
        let document = String(repeating: "<e>", count: depth) + String(repeating: "</e>", count: depth)
        let failure = refusalError(document)
        #expect(failure?.reason == .tooDeep)
        #expect(failure?.offset == 32 * 3, "refused at the 33rd start tag, not after reading everything")
    }

    @Test func attributeCountUpToTheLimitIsAcceptedAndBeyondRefused() {
        func element(attributes count: Int) -> String {
            "<a" + (0..<count).map { " a\($0)='\($0)'" }.joined() + "/>"
        }
        #expect(refusal(element(attributes: 32)) == nil)
        #expect(refusal(element(attributes: 33)) == .tooManyAttributes)
        #expect(refusal(element(attributes: 3), limits: XMLLimits(maxAttributes: 2)) == .tooManyAttributes)
    }

    @Test func nameLengthIsLimited() {
        let limits = XMLLimits(maxNameBytes: 8)
        #expect(refusal("<abcdefgh/>", limits: limits) == nil)
        #expect(refusal("<abcdefghi/>", limits: limits) == .nameTooLong)
        #expect(refusal("<a abcdefghi='1'/>", limits: limits) == .nameTooLong)
    }

    @Test func valueLengthIsLimited() {
        let limits = XMLLimits(maxValueBytes: 8)
        #expect(refusal("<a v='12345678'>12345678</a>", limits: limits) == nil)
        #expect(refusal("<a v='123456789'/>", limits: limits) == .valueTooLong)
        #expect(refusal("<a>123456789</a>", limits: limits) == .valueTooLong)
        #expect(refusal("<a>1234<b/>5678<![CDATA[9]]></a>", limits: limits) == .valueTooLong)
        #expect(refusal("<a>12345678&amp;</a>", limits: limits) == .valueTooLong)
    }
}

/// The XML 1.0 `Char` production.
private func isXMLCharacter(_ scalar: UInt32) -> Bool {
    switch scalar {
    case 0x09, 0x0A, 0x0D, 0x20...0xD7FF, 0xE000...0xFFFD, 0x1_0000...0x10_FFFF: true
    default: false
    }
}
