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
/// The tree keeps what the protocol needs and no more: the order of attributes and of child
/// elements is kept, but the position of character data relative to child elements is not
/// (``text`` is the concatenation of all of it). Comments are dropped.
public struct XMLElement: Sendable, Equatable {
    public var name: String
    public var attributes: [XMLAttribute]
    public var children: [XMLElement]
    /// All direct character data and CDATA of this element, concatenated and unescaped.
    public var text: String

    public init(name: String, attributes: [XMLAttribute] = [], children: [XMLElement] = [], text: String = "") {
        self.name = name
        self.attributes = attributes
        self.children = children
        self.text = text
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
