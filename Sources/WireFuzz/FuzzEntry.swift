/// libFuzzer's entry point. Built with `-sanitize=fuzzer` (scripts/fuzz.sh), libFuzzer supplies
/// `main` and calls this for every input; a property violation traps, and libFuzzer saves the input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    checkWireInput(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
