#!/usr/bin/env bash
# Runs every test: installs what the tests need (hiredis, redis-server, haproxy, chromium and
# chromium-driver, docker.io, docker-compose, debootstrap), builds, runs the whole suite, then
# fuzzes the wire code for a bounded time (scripts/fuzz.sh; FUZZ_SECONDS, default 60). Exit
# status: non-zero if the suite or the fuzzer failed. Arguments go to swift test (e.g.
# --filter WireTests); such a partial run skips the fuzzer.
#
# The compose test (Tests/DeployTests/ComposeTests.swift) needs a Docker engine (it starts
# dockerd as root when none answers); CHORUS_SKIP_COMPOSE=1 skips it where none can run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/install-deps.sh
swift build --build-tests
# The compose test's node image takes a chorus-node with a static Swift runtime
# (deploy/prebuilt/chorus-node): the debug build above, linked again (seconds).
scripts/build-node-static.sh --debug
# Suites start real redis-server and chorus-node processes; run one test at a time so a
# small CI machine does not starve them (timing-dependent checks stay honest).
tests=0
swift test --skip-build --no-parallel "$@" || tests=$?

fuzz=0
if [ $# -eq 0 ]; then
  scripts/fuzz.sh || fuzz=$?
else
  echo "test: partial run (arguments given): the wire fuzzer is skipped; run scripts/fuzz.sh for it" >&2
fi

if [ "$tests" -ne 0 ] || [ "$fuzz" -ne 0 ]; then
  [ "$tests" -eq 0 ] || echo "test: FAILED: swift test exited with status $tests (see above)" >&2
  [ "$fuzz" -eq 0 ] || echo "test: FAILED: the wire fuzzer (scripts/fuzz.sh) found a problem or could not run (see above)" >&2
  exit 1
fi
