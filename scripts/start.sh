#!/usr/bin/env bash
# Quick start: installs what is missing, builds chorus-node in release mode and starts one
# node (no Redis: the in-process bus) with its TCP client port (9875) and its web port
# (8080: the chat page at http://localhost:8080/, WebSocket at /ws and /xmlsocket).
# Extra arguments go to chorus-node and win over these defaults, e.g.
#   scripts/start.sh --rooms "Lobby,Help"
#   scripts/start.sh --http-port 8000 --redis redis://127.0.0.1:6379
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

port=${CHORUS_PORT:-9875}
web_port=${CHORUS_HTTP_PORT:-8080}
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    --port) port=${args[$((i + 1))]:-$port} ;;
    --port=*) port=${args[$i]#--port=} ;;
    --http-port) web_port=${args[$((i + 1))]:-$web_port} ;;
    --http-port=*) web_port=${args[$i]#--http-port=} ;;
  esac
done
echo "start: Chorus will chat in your browser at http://localhost:$web_port/ and take XMLSocket clients on port $port (building first if needed)"

scripts/install-deps.sh libhiredis-dev libicu-dev
swift build -c release --product chorus-node
exec .build/release/chorus-node --port "$port" --http-port "$web_port" "$@"
