#!/usr/bin/env bash
# Runs every test: installs what the tests need (hiredis, redis-server, haproxy,
# docker-compose), builds, and runs the whole suite. Exit status is swift test's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/install-deps.sh
swift build --build-tests
# Suites start real redis-server and chorus-node processes; run one test at a time so a
# small CI machine does not starve them (timing-dependent checks stay honest).
swift test --skip-build --no-parallel "$@"
