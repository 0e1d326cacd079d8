// libFuzzer's driver, as compiled into libclang_rt.fuzzer (linked by -sanitize=fuzzer).
// Declared here so that chorus-wire-fuzz can keep its own main (SwiftPM links executables with
// main as an alias of <module>_main) and hand over to libFuzzer from it.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
