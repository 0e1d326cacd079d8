import Testing

/// A test failure raised by the support code (a timeout, an unexpected frame, a closed
/// connection, a process that did not start). Thrown errors end the test and are reported
/// with this description.
public struct TestFailure: Error, CustomStringConvertible {
    public let description: String

    public init(_ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
        description = "\(message) [at \(sourceLocation.fileName):\(sourceLocation.line)]"
    }
}
