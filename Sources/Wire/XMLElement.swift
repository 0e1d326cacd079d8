/// One attribute of an ``XMLElement``, with its value unescaped.
public struct XMLAttribute: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// An element of a parsed document: a small immutable-by-convention tree.
///
/// The tree keeps what the protocol needs and no more: the order of attributes, of child
/// elements and of character data relative to them (mixed content such as
/// `Hello <b>World</b>!`) is kept. ``text`` is all the character data, concatenated, which is
/// what an element without children holds; ``childOffsets`` says where the children sit in it.
/// Comments are dropped.
public struct XMLElement: Sendable, Equatable {
    public var name: String
    public var attributes: [XMLAttribute]
    public var children: [XMLElement]
    /// All direct character data and CDATA of this element, concatenated and unescaped.
    public var text: String
    /// Where the children sit in ``text``: `children[i]` follows the first `childOffsets[i]`
    /// UTF-8 bytes of it. A child without an entry follows all of the text, so this is empty
    /// unless some text follows a child (for `Hello <b>World</b>!`, `text` is `Hello !` and
    /// `childOffsets` is `[6]`). The reader keeps the entries non-decreasing, within `text` and on
    /// character boundaries, and never writes an entry equal to the text's full length;
    /// ``XMLWriter`` clamps what it is given to those rules.
    public var childOffsets: [Int]

    public init(
        name: String,
        attributes: [XMLAttribute] = [],
        children: [XMLElement] = [],
        text: String = "",
        childOffsets: [Int] = []
    ) {
        self.name = name
        self.attributes = attributes
        self.children = children
        self.text = text
        self.childOffsets = childOffsets
    }

    /// The first child element whose name matches `name`, ignoring ASCII letter case.
    public func child(_ name: String) -> XMLElement? {
        children.first { $0.name.equalsIgnoringASCIICase(name) }
    }

    /// Every child element whose name matches `name`, ignoring ASCII letter case, in document order.
    public func children(named name: String) -> [XMLElement] {
        children.filter { $0.name.equalsIgnoringASCIICase(name) }
    }

    /// The value of the first attribute whose name matches `name`, ignoring ASCII letter case.
    public func attribute(_ name: String) -> String? {
        attributes.first { $0.name.equalsIgnoringASCIICase(name) }?.value
    }
}
