#!/usr/bin/env bash
# Installs the Debian packages Chorus needs that are missing on this machine:
#   libhiredis-dev and libicu-dev (to build; libicu-dev brings libicu72, which chorus-node
#   loads for its name checks), redis-server (cluster and tests), haproxy (local
#   cluster), chromium and chromium-driver (the browser test of the web chat page,
#   Tests/WebTests), docker.io, docker-compose and debootstrap (the compose test runs
#   deploy/docker-compose.yml in a Docker engine; debootstrap makes the Debian base image
#   where none can be pulled, scripts/base-image.sh).
# docker.io is skipped where a dockerd is already installed (Docker's own docker-ce packages
# conflict with it).
# Usage: scripts/install-deps.sh [package...]   (default: all of the above)
set -euo pipefail

wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(libhiredis-dev libicu-dev redis-server haproxy chromium chromium-driver
                                   docker.io docker-compose debootstrap)

missing=()
for pkg in "${wanted[@]}"; do
  [ "$pkg" = docker.io ] && command -v dockerd >/dev/null 2>&1 && continue
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
# Another apt run (unattended upgrades, a parallel install) holds the lock for a while: wait
# for it rather than fail.
lock=(-o DPkg::Lock::Timeout=300)
$sudo apt-get "${lock[@]}" update -qq >/dev/null
$sudo apt-get "${lock[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# docker.io does not start its daemon here (no init system in a container, or policy-rc.d);
# the compose test starts dockerd itself when no engine answers, and stops it afterwards.
# Debian starts a system redis-server on 6379 when it installs one; Chorus's scripts and
# tests start their own on free ports and never rely on it.
