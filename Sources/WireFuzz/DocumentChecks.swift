import NIOCore
import Wire

/// The XML limits a node applies by default (PROTOCOL.md section 1).
let defaultLimits = XMLLimits()

/// For reading back what the writer produced from something read within ``defaultLimits``:
/// structure (depth, attributes, names) is unchanged, but a value can grow (a `Message` holding
/// markup becomes its re-serialized text, and escaping lengthens it).
let writtenLimits = XMLLimits(maxValueBytes: Int.max)

/// The UTF-8 byte order mark, accepted before a document (PROTOCOL.md section 1).
let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

/// Checks one document frame:
/// - a refusal points inside the frame, and the request decoder refuses it the same way;
/// - an accepted tree, written back by ``XMLWriter``, holds no 0x00 and reads back to a tree that
///   writes the same bytes again;
/// - a byte order mark in front changes nothing (but the offsets of a refusal);
/// - smaller limits refuse exactly what exceeds them (``checkLimits(_:outcome:)``);
/// - a policy file request is the bare `<policy-file-request/>` element;
/// - a decoded request passes ``checkRequestRoundTrip(_:)`` and ``checkEchoes(_:)``.
func checkDocument(_ frame: [UInt8]) {
    let buffer = ByteBuffer(bytes: frame)
    let outcome = read(frame, limits: defaultLimits)
    checkByteOrderMark(frame, outcome: outcome)
    checkLimits(frame, outcome: outcome)

    let tree: XMLElement
    switch outcome {
    case .failure(let refusal):
        require(refusal.offset >= 0 && refusal.offset <= frame.count, "\(refusal) points outside the \(frame.count)-byte frame")
        require(!isPolicyFileRequest(buffer), "a policy file request is refused: \(refusal)")
        do {
            let request = try ClientRequest.decode(buffer, limits: defaultLimits)
            violation("the reader refuses (\(refusal)) what the request decoder accepts as \(request)")
        } catch {
            require(error.reason == .malformedXML(refusal), "the request decoder refuses with \(error), the reader with \(refusal)")
        }
        return
    case .success(let element):
        tree = element
    }

    let written = canonicalBytes(tree)
    require(!written.contains(0), "the writer put 0x00 in \(show(written))")
    switch read(written, limits: defaultLimits) {
    case .failure(let error):
        violation("the reader refuses (\(error)) what the writer made of an accepted tree: \(show(written))")
    case .success(let again):
        let rewritten = canonicalBytes(again)
        require(rewritten == written, "the tree changed when read back: wrote \(show(written)), then \(show(rewritten))")
    }

    if isPolicyFileRequest(buffer) {
        require(
            tree.name == "policy-file-request" && tree.attributes.isEmpty && tree.children.isEmpty && tree.text.isEmpty,
            "a policy file request reads as \(show(written))"
        )
    }

    if let request = try? ClientRequest.decode(buffer, limits: defaultLimits) {
        checkRequestRoundTrip(request)
        checkEchoes(request)
    }
}

/// Reads `bytes` as one document; on success, returns the tree.
func read(_ bytes: [UInt8], limits: XMLLimits) -> Result<XMLElement, XMLParseError> {
    Result { () throws(XMLParseError) in try XMLReader.parse(ByteBuffer(bytes: bytes), limits: limits) }
}

/// `element` as ``XMLWriter`` writes it.
func canonicalBytes(_ element: XMLElement) -> [UInt8] {
    var writer = XMLWriter(buffer: ByteBuffer())
    writer.element(element)
    return Array(writer.buffer.readableBytesView)
}

/// A byte order mark before `frame` is accepted and changes nothing: the same tree, or the same
/// refusal 3 bytes further on.
private func checkByteOrderMark(_ frame: [UInt8], outcome: Result<XMLElement, XMLParseError>) {
    guard !frame.starts(with: byteOrderMark) else { return }
    switch (outcome, read(byteOrderMark + frame, limits: defaultLimits)) {
    case (.success(let plain), .success(let marked)):
        require(canonicalBytes(plain) == canonicalBytes(marked), "a byte order mark changes the tree of \(show(frame))")
    case (.failure(let plain), .failure(let marked)):
        require(
            marked.reason == plain.reason && marked.offset == plain.offset + byteOrderMark.count,
            "a byte order mark changes the refusal of \(show(frame)) from \(plain) to \(marked)"
        )
    case (.success, .failure(let marked)):
        violation("a byte order mark makes \(show(frame)) refused: \(marked)")
    case (.failure(let plain), .success):
        violation("a byte order mark makes \(show(frame)) accepted (refused without it: \(plain))")
    }
}
