/// Why ``XMLReader`` refused a document, and where.
public struct XMLParseError: Error, Equatable, CustomStringConvertible {
    /// The rule the document broke.
    public enum Reason: Sendable, Equatable {
        /// The document ended inside markup, or before its root element was closed.
        case unexpectedEnd
        /// The document holds no root element.
        case missingRootElement
        /// Something other than white space or a comment follows the root element, or
        /// character data precedes it.
        case contentOutsideRootElement
        /// A byte sequence that is not valid UTF-8 (bad continuation, overlong form, surrogate,
        /// value beyond U+10FFFF, or a truncated sequence).
        case invalidUTF8
        /// A character outside the XML 1.0 `Char` production, literal or as a character reference.
        case illegalCharacter
        /// Markup that does not follow the XML grammar at this point.
        case malformedMarkup
        /// An element or attribute name that is empty or starts with a character names cannot start with.
        case invalidName
        /// An end tag whose name differs from the open element's name.
        case mismatchedEndTag
        /// An attribute value not enclosed in matching quotes.
        case unquotedAttributeValue
        /// The same attribute name twice on one element.
        case duplicateAttribute
        /// A raw `<` inside an attribute value.
        case lessThanInAttributeValue
        /// `]]>` in character data outside a CDATA section.
        case cdataEndInText
        /// `--` inside a comment, or a comment ending in `--->`.
        case malformedComment
        /// An entity reference other than the five predefined entities.
        case undefinedEntity
        /// A character reference that is not a well-formed decimal or hexadecimal number.
        case malformedCharacterReference
        /// A `<!DOCTYPE` declaration.
        case doctypeNotAllowed
        /// Any other markup declaration (`<!ENTITY`, `<!ELEMENT`, ...), or a CDATA section outside the root.
        case declarationNotAllowed
        /// A processing instruction other than the XML declaration at the very start.
        case processingInstructionNotAllowed
        /// Elements nested deeper than ``XMLLimits/maxDepth``.
        case tooDeep
        /// More attributes on one element than ``XMLLimits/maxAttributes``.
        case tooManyAttributes
        /// A name longer than ``XMLLimits/maxNameBytes``.
        case nameTooLong
        /// An attribute value or element text longer than ``XMLLimits/maxValueBytes``.
        case valueTooLong
    }

    public var reason: Reason
    /// Offset in bytes from the start of the document at which the problem was detected.
    public var offset: Int

    public init(_ reason: Reason, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String {
        "XML parse error: \(reason) at byte \(offset)"
    }
}
