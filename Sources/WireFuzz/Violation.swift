/// Stops the process on a broken property: libFuzzer reports the trap as a crash and saves the input.
func violation(_ message: String) -> Never {
    fatalError("wire property violated: \(message)")
}

/// Calls ``violation(_:)`` unless `condition` holds.
@inline(__always)
func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { violation(message()) }
}

/// `bytes` as a short printable string for violation messages: ASCII as is, the rest as `\xNN`.
func show<Bytes: Collection<UInt8>>(_ bytes: Bytes, limit: Int = 300) -> String {
    var shown = ""
    for byte in bytes.prefix(limit) {
        if byte >= 0x20, byte < 0x7F, byte != UInt8(ascii: "\\") {
            shown.unicodeScalars.append(Unicode.Scalar(byte))
        } else {
            let hex = String(byte, radix: 16)
            shown += "\\x" + (hex.count == 1 ? "0" + hex : hex)
        }
    }
    return bytes.count > limit ? shown + "...(\(bytes.count) bytes)" : shown
}

/// `string` for violation messages.
func show(_ string: String) -> String {
    show(Array(string.utf8))
}
