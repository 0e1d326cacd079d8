#!/usr/bin/env bash
# Is a chorus-node serving? Connects, reads the unprompted ConnectionResponse (up to the
# first zero byte) and succeeds only if it says <Result>Accepted</Result>.
#
# Usage: healthcheck.sh [HOST] [PORT]
#   HOST default: CHORUS_HOST if it names one address, else 127.0.0.1
#   PORT default: CHORUS_PORT, else 9875
#   CHORUS_HEALTHCHECK_TIMEOUT  seconds to wait for the answer (default 3)
#
# It works whether or not the node runs with --proxy-protocol: it always sends
# "PROXY UNKNOWN\r\n" first. A node expecting PROXY takes it as the header (UNKNOWN: the
# connection's own address applies) and then greets; a node that does not expect it has
# already greeted, and keeps those bytes as the start of an unfinished frame (no zero
# byte), which is dropped when this check disconnects.
#
# Pure bash (/dev/tcp, read -d ''), so the runtime image needs no netcat.
# Exit status: 0 healthy; 1 refused, closed, timed out, or Denied (e.g. Server is full).
set -u

host=${1:-}
if [ -z "$host" ]; then
  case "${CHORUS_HOST:-}" in
    "" | 0.0.0.0 | "::" | "[::]") host=127.0.0.1 ;;
    *) host=$CHORUS_HOST ;;
  esac
fi
port=${2:-${CHORUS_PORT:-9875}}
timeout=${CHORUS_HEALTHCHECK_TIMEOUT:-3}

if ! exec 3<>"/dev/tcp/$host/$port"; then
  echo "unhealthy: cannot connect to $host:$port" >&2
  exit 1
fi
printf 'PROXY UNKNOWN\r\n' >&3 2>/dev/null
response=""
if ! IFS= read -r -d '' -t "$timeout" response <&3; then
  echo "unhealthy: no complete ConnectionResponse from $host:$port within ${timeout}s (got: ${response:0:200})" >&2
  exec 3>&-
  exit 1
fi
exec 3>&-
case "$response" in
  *"<Result>Accepted</Result>"*) exit 0 ;;
  *) echo "unhealthy: $host:$port answered: ${response:0:200}" >&2; exit 1 ;;
esac
