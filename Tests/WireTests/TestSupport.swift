import NIOCore

import Wire

/// Parses `document` (a string or raw bytes) with the default or given limits.
func parse(_ document: String, limits: XMLLimits = XMLLimits()) throws(XMLParseError) -> XMLElement {
    try XMLReader.parse(ByteBuffer(string: document), limits: limits)
}

/// The reason `document` is refused, or nil if it parses.
func refusal(_ document: String, limits: XMLLimits = XMLLimits()) -> XMLParseError.Reason? {
    refusal(bytes: Array(document.utf8), limits: limits)
}

/// The reason the raw `bytes` are refused, or nil if they parse.
func refusal(bytes: [UInt8], limits: XMLLimits = XMLLimits()) -> XMLParseError.Reason? {
    refusalError(bytes: bytes, limits: limits)?.reason
}

/// The error refusing `document`, or nil if it parses.
func refusalError(_ document: String, limits: XMLLimits = XMLLimits()) -> XMLParseError? {
    refusalError(bytes: Array(document.utf8), limits: limits)
}

/// The error refusing the raw `bytes`, or nil if they parse.
func refusalError(bytes: [UInt8], limits: XMLLimits = XMLLimits()) -> XMLParseError? {
    do {
        _ = try XMLReader.parse(ByteBuffer(bytes: bytes), limits: limits)
        return nil
    } catch {
        return error
    }
}

/// The encoded frame of `event`, as a string (terminator included).
func encodedString(_ event: ServerEvent) -> String {
    String(buffer: event.encoded())
}

/// The document of an encoded frame, without its 0x00 terminator.
func document(of frame: ByteBuffer) -> ByteBuffer {
    var document = frame
    precondition(document.readableBytesView.last == 0, "frame must end with 0x00")
    document.moveWriterIndex(to: document.writerIndex - 1)
    return document
}
