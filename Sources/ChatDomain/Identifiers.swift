/// The identity of one running node process. A node started again gets a fresh identity
/// (its configured name plus a random incarnation suffix), so that state left behind by an
/// earlier incarnation can never be mistaken for its own.
public struct NodeID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// `name` plus a random 8-hex-digit incarnation: `n1.3fa9c2d1`.
    public static func fresh(name: String?) -> NodeID {
        let suffix = String(UInt32.random(in: .min ... .max), radix: 16)
        let base = (name?.isEmpty == false) ? name! : "node"
        return NodeID("\(base).\(String(repeating: "0", count: 8 - suffix.count))\(suffix)")
    }
}

/// One connection's session, unique across the cluster: the node's identity and a
/// per-node counter. Its text form `node/number` is what Redis stores.
public struct SessionID: Hashable, Sendable, CustomStringConvertible {
    public let node: NodeID
    public let number: UInt64
    public init(node: NodeID, number: UInt64) {
        self.node = node
        self.number = number
    }
    public var description: String { "\(node.rawValue)/\(number)" }

    /// Parses the `node/number` form; nil for anything else.
    public init?(parsing text: Substring) {
        guard let slash = text.lastIndex(of: "/"), slash != text.startIndex,
              let number = UInt64(text[text.index(after: slash)...]) else { return nil }
        self.init(node: NodeID(String(text[..<slash])), number: number)
    }
}
