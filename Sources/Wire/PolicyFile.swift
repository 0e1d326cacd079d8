import NIOCore

/// True if `frame` is exactly the Flash socket policy request `<policy-file-request/>`,
/// optionally surrounded by XML white space.
public func isPolicyFileRequest(_ frame: ByteBuffer) -> Bool {
    frame.withUnsafeReadableBytes { bytes in
        guard let first = bytes.firstIndex(where: { !ASCII.isWhitespace($0) }),
            let last = bytes.lastIndex(where: { !ASCII.isWhitespace($0) })
        else { return false }
        return bytes[first...last].elementsEqual("<policy-file-request/>".utf8)
    }
}

/// The Flash cross-domain policy document allowing `domain` to connect to `port`, followed by the
/// 0x00 terminator:
/// `<cross-domain-policy><allow-access-from domain="D" to-ports="P"/></cross-domain-policy>`.
public func policyFileResponse(domain: String, port: Int, allocator: ByteBufferAllocator = ByteBufferAllocator())
    -> ByteBuffer
{
    var writer = XMLWriter(buffer: allocator.buffer(capacity: 96 + domain.utf8.count))
    writer.open("cross-domain-policy")
    writer.startTag("allow-access-from")
    writer.attribute("domain", domain)
    writer.attribute("to-ports", port)
    writer.finishEmptyTag()
    writer.close("cross-domain-policy")
    writer.endFrame()
    return writer.buffer
}
