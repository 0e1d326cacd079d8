#!/usr/bin/env bash
# Fuzzes the wire code (framing, XML reader, request decoder, event encoding) with libFuzzer:
# builds chorus-wire-fuzz with libFuzzer and AddressSanitizer, replays the checked-in corpus
# (Tests/Fuzz/corpus), then fuzzes for a bounded time. Exits non-zero, naming the reproducer,
# if any input crashes or breaks a property.
#
# Environment:
#   FUZZ_SECONDS  seconds of fuzzing after the replay (default 60; 0: replay the corpus only).
#                 A slow machine runs fewer inputs in that time; it never fails for being slow.
#   FUZZ_MERGE=1  afterwards, copy into Tests/Fuzz/corpus the fewest new inputs that reach
#                 code the corpus does not (edges, not hit counts), to review and commit by hand.
# Arguments are passed on to libFuzzer (e.g. -only_ascii=1, -seed=42).
#
# New inputs go to .build-fuzz/corpus (never committed), reproducers to .build-fuzz/artifacts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${FUZZ_SECONDS:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]]; then
  echo "fuzz: FUZZ_SECONDS must be a whole number of seconds, not '$seconds'" >&2
  exit 2
fi

scratch=.build-fuzz
corpus=Tests/Fuzz/corpus
dictionary=Tests/Fuzz/wire.dict
found="$scratch/corpus"
artifacts="$scratch/artifacts"
log="$scratch/fuzz.log"
mkdir -p "$found" "$artifacts"

# Optimized, with libFuzzer's coverage and AddressSanitizer, with assert() kept (the writer
# asserts that it wrote exactly what it measured); -DFUZZING makes its main run libFuzzer.
echo "fuzz: building chorus-wire-fuzz with libFuzzer and AddressSanitizer (release, in $scratch)" >&2
if ! swift build -c release --product chorus-wire-fuzz --scratch-path "$scratch" \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -assert-config -Xswiftc Debug -Xswiftc -DFUZZING; then
  echo "fuzz: building the fuzzer failed (see above). It needs the swift.org toolchain for Linux," >&2
  echo "fuzz: whose usr/lib/swift/clang/lib/linux holds libclang_rt.fuzzer-*.a and libclang_rt.asan-*.a." >&2
  exit 1
fi
fuzzer="$scratch/release/chorus-wire-fuzz"

# Per input: up to 70000 bytes (past the 64 KiB frame limit), and a time-out far above what
# any input takes (milliseconds), so that only a hang fails.
options=(-dict="$dictionary" -max_len=70000 -timeout=120 -rss_limit_mb=4096
  -artifact_prefix="$artifacts/" -print_final_stats=1)
if [ "$seconds" -eq 0 ]; then
  options+=(-runs=0)
  echo "fuzz: replaying $corpus and $found" >&2
else
  options+=(-max_total_time="$seconds")
  echo "fuzz: replaying $corpus and $found, then fuzzing for $seconds s (log: $log)" >&2
fi

# On a crash, libFuzzer prints the stack; Swift's own backtracer would only trip AddressSanitizer.
export SWIFT_BACKTRACE=enable=no
started="$scratch/.run-started"
touch "$started"
status=0
"$fuzzer" "${options[@]}" "$@" "$found" "$corpus" >"$log" 2>&1 || status=$?

if [ "$status" -ne 0 ]; then
  # From the first report of what broke (the property, a sanitizer, libFuzzer) to the end.
  report=$(awk '/Fatal error|==ERROR|ERROR: libFuzzer/ { found = 1 } found' "$log" | head -n 100)
  if [ -n "$report" ]; then echo "$report" >&2; else tail -n 40 "$log" >&2; fi
  echo >&2
  echo "fuzz: FAILED: chorus-wire-fuzz exited with status $status (full log: $log)." >&2
  reproducers=$(find "$artifacts" -type f -newer "$started" ! -name 'slow-unit-*' 2>/dev/null || true)
  if [ -n "$reproducers" ]; then
    for reproducer in $reproducers; do
      echo "fuzz: reproducer: $reproducer" >&2
    done
    echo "fuzz: replay it with: $fuzzer REPRODUCER   (or, without sanitizers: swift run chorus-wire-fuzz REPRODUCER)" >&2
    echo "fuzz: fix the bug, add a test to Tests/WireTests, and copy the reproducer into $corpus." >&2
  fi
  exit 1
fi

# What the run did: coverage after the replay and at the end, inputs run, speed.
grep -aE '^#[0-9]+[[:space:]]+(INITED|DONE)' "$log" >&2 || true
grep -aE '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log" >&2 || true
echo "fuzz: passed: no input broke a property (new inputs kept in $found)" >&2

if [ "${FUZZ_MERGE:-0}" = 1 ]; then
  before=$(find "$corpus" -type f | wc -l)
  "$fuzzer" -set_cover_merge=1 -use_counters=0 -max_len=70000 -timeout=120 -rss_limit_mb=4096 \
    "$corpus" "$found" >>"$log" 2>&1 || {
    tail -n 30 "$log" >&2
    echo "fuzz: merging into $corpus failed (full log: $log)" >&2
    exit 1
  }
  after=$(find "$corpus" -type f | wc -l)
  echo "fuzz: merged $((after - before)) new inputs into $corpus; review them (git status) and commit" >&2
fi
