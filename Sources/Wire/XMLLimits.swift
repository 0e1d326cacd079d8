/// Bounds the XML reader enforces while it parses, so that a hostile document costs little
/// before it is refused (PROTOCOL.md section 1).
public struct XMLLimits: Sendable, Equatable {
    /// Maximum element nesting; the root element is at depth 1.
    public var maxDepth: Int = 32
    /// Maximum number of attributes on one element.
    public var maxAttributes: Int = 32
    /// Maximum length in UTF-8 bytes of an element or attribute name.
    public var maxNameBytes: Int = 128
    /// Maximum length in UTF-8 bytes of one attribute value, or of the character data of one
    /// element (after unescaping).
    public var maxValueBytes: Int = 65536

    public init(maxDepth: Int = 32, maxAttributes: Int = 32, maxNameBytes: Int = 128, maxValueBytes: Int = 65536) {
        self.maxDepth = maxDepth
        self.maxAttributes = maxAttributes
        self.maxNameBytes = maxNameBytes
        self.maxValueBytes = maxValueBytes
    }
}
