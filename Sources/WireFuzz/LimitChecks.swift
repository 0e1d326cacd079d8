import Wire

/// The reader enforces ``XMLLimits`` exactly: under small limits chosen from the frame, a document
/// is accepted if and only if it is accepted under the default limits and its tree is within the
/// small ones, and then to the same tree. A refusal under the small limits for any other reason
/// than a limit is the very refusal the default limits give.
func checkLimits(_ frame: [UInt8], outcome: Result<XMLElement, XMLParseError>) {
    var choices = Choices(seed: frame.withUnsafeBytes { fnv1a($0) })
    let limits = XMLLimits(
        maxDepth: choices.next(below: 6),
        maxAttributes: choices.next(below: 4),
        maxNameBytes: choices.next(below: 12),
        maxValueBytes: choices.next(below: 40)
    )
    let limited = read(frame, limits: limits)
    switch (outcome, limited) {
    case (.success(let tree), .success(let limitedTree)):
        require(fits(limitedTree, limits), "\(limits) let through the tree \(show(canonicalBytes(limitedTree)))")
        require(canonicalBytes(tree) == canonicalBytes(limitedTree), "\(limits) change the tree of \(show(frame))")
    case (.success(let tree), .failure(let refusal)):
        require(isLimit(refusal.reason), "\(limits) refuse (\(refusal)) what the default limits accept: \(show(frame))")
        require(!fits(tree, limits), "\(limits) refuse (\(refusal)) a tree within them: \(show(canonicalBytes(tree)))")
    case (.failure(let refusal), .success):
        violation("\(limits) accept what the default limits refuse (\(refusal)): \(show(frame))")
    case (.failure(let refusal), .failure(let limitedRefusal)):
        require(
            isLimit(limitedRefusal.reason) || limitedRefusal == refusal,
            "\(limits) refuse \(show(frame)) with \(limitedRefusal), the default limits with \(refusal)"
        )
    }
}

/// True if `element` (at nesting `depth`) and everything in it is within `limits`.
private func fits(_ element: XMLElement, _ limits: XMLLimits, depth: Int = 1) -> Bool {
    depth <= limits.maxDepth
        && element.name.utf8.count <= limits.maxNameBytes
        && element.text.utf8.count <= limits.maxValueBytes
        && element.attributes.count <= limits.maxAttributes
        && element.attributes.allSatisfy {
            $0.name.utf8.count <= limits.maxNameBytes && $0.value.utf8.count <= limits.maxValueBytes
        }
        && element.children.allSatisfy { fits($0, limits, depth: depth + 1) }
}

private func isLimit(_ reason: XMLParseError.Reason) -> Bool {
    switch reason {
    case .tooDeep, .tooManyAttributes, .nameTooLong, .valueTooLong: true
    default: false
    }
}
