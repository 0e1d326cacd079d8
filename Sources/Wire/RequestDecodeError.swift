/// Why a frame is not a client request. Every case is a `Malformed message` on the wire.
public struct RequestDecodeError: Error, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        /// The frame is not a well-formed document within the limits.
        case malformedXML(XMLParseError)
        /// The root element is not `XmlDoc`.
        case notAnEnvelope(rootName: String)
        /// `XmlDoc` has no `Action` child, or its text is empty.
        case missingAction
    }

    public var reason: Reason

    public init(_ reason: Reason) {
        self.reason = reason
    }

    public var description: String {
        switch reason {
        case .malformedXML(let error): "Malformed request: \(error)"
        case .notAnEnvelope(let rootName): "Malformed request: root element is <\(rootName)>, not <XmlDoc>"
        case .missingAction: "Malformed request: no Action"
        }
    }
}
