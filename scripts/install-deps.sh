#!/usr/bin/env bash
# Installs the Debian packages Chorus needs that are missing on this machine:
#   libhiredis-dev and libicu-dev (to build; libicu-dev brings libicu72, which chorus-node
#   loads for its name checks), redis-server (cluster and tests), haproxy (local
#   cluster), docker-compose (validates deploy/docker-compose.yml in the tests), chromium and
#   chromium-driver (the browser test of the web chat page, Tests/WebTests).
# Usage: scripts/install-deps.sh [package...]   (default: all of the above)
set -euo pipefail

wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(libhiredis-dev libicu-dev redis-server haproxy docker-compose chromium chromium-driver)

missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v swift >/dev/null 2>&1; then
  echo "install-deps: the Swift toolchain is not on PATH; install Swift 6 from https://swift.org/install first" >&2
  exit 1
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts a system redis-server on 6379 when it installs one; Chorus's scripts and
# tests start their own on free ports and never rely on it.
