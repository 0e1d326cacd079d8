import NIOCore
import Wire

/// The frame limit a node applies by default (PROTOCOL.md section 1).
let defaultMaxFrameBytes = 65536

/// Runs one input, a raw client byte stream, through everything a node does with client bytes,
/// and traps if any property breaks:
/// 1. Framing: the stream, cut into two reads at an offset chosen from the input, goes through a
///    channel pipeline with ``FrameDecoder`` at the default limit; and again with a small limit
///    and several cuts (so partial and oversized frames are common). Both must match the plain
///    reading of PROTOCOL.md section 1 (``expectedFrames(_:maxFrameBytes:)``).
/// 2. Each document frame goes through the XML reader and the request decoder
///    (``checkDocument(_:)``): what they accept must re-encode into XML they accept again, to
///    the same thing, and what the server echoes of it must read back to the same text.
/// 3. The whole input as a string, whatever it holds, written by the server in text and in an
///    attribute, reads back as that text (``checkArbitraryText(_:)``).
func checkWireInput(_ stream: UnsafeRawBufferPointer) {
    var choices = Choices(seed: fnv1a(stream))
    let split = choices.next(below: stream.count + 1)
    let frames = checkFraming(stream, maxFrameBytes: defaultMaxFrameBytes, cuts: [split])

    let smallLimit = 1 + choices.next(below: 64)
    let cuts = (0..<choices.next(below: 8)).map { _ in choices.next(below: stream.count + 1) }.sorted()
    _ = checkFraming(stream, maxFrameBytes: smallLimit, cuts: cuts)

    for case .document(let bytes) in frames {
        checkDocument(bytes)
    }

    checkArbitraryText(String(decoding: stream, as: UTF8.self))
}

/// A deterministic stream of choices derived from the input (SplitMix64), so a saved input
/// replays exactly.
struct Choices {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    /// A number in `0..<bound`; `bound` must be positive.
    mutating func next(below bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        mixed ^= mixed >> 31
        return Int(mixed % UInt64(bound))
    }
}

/// FNV-1a over `bytes`.
func fnv1a(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in bytes {
        hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
    }
    return hash
}
