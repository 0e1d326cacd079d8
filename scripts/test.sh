#!/usr/bin/env bash
# Runs every test: installs what the tests need (hiredis, redis-server, haproxy,
# docker-compose), builds, and runs the whole suite. Exit status is swift test's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/install-deps.sh
swift build --build-tests
swift test --skip-build "$@"
