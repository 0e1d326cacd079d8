#!/usr/bin/env bash
# Quick start: installs what is missing, builds chorus-node in release mode and starts one
# node on port 9875 (no Redis: the in-process bus). Extra arguments go to chorus-node,
# e.g. scripts/start.sh --rooms "Lobby,Help" or scripts/start.sh --redis redis://127.0.0.1:6379
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/install-deps.sh libhiredis-dev libicu-dev
swift build -c release --product chorus-node
exec .build/release/chorus-node "$@"
