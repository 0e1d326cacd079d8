#!/usr/bin/env bash
# Prints the name of a Debian bookworm image the local Docker engine can build Chorus's
# images on (deploy/*Dockerfile take it as BASE_IMAGE; docker-compose.yml as
# CHORUS_BASE_IMAGE), making one when none can be had:
#
#   1. debian:bookworm-slim, when the engine has it;
#   2. chorus-debian:bookworm, when an earlier run made it;
#   3. debian:bookworm-slim, when it can be pulled from a registry;
#   4. otherwise chorus-debian:bookworm is made: `debootstrap --variant=minbase bookworm`
#      from a Debian mirror, then `docker import` (about a minute, once: the image stays in
#      the engine).
#
# Usage: scripts/base-image.sh [--no-pull]
#   --no-pull             skip step 3 (never ask a registry)
#   CHORUS_DEBIAN_MIRROR  mirror for debootstrap, default http://deb.debian.org/debian
#
# Messages go to standard error, the image name alone to standard output:
#   CHORUS_BASE_IMAGE=$(scripts/base-image.sh) docker-compose -f deploy/docker-compose.yml build
# Needs a running Docker engine; installs debootstrap (scripts/install-deps.sh) when step 4
# needs it. Exit status 1, with a line saying why, when no image could be had.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

slim=debian:bookworm-slim
local_base=chorus-debian:bookworm
mirror=${CHORUS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
pull=1
for argument in "$@"; do
  case "$argument" in
    --no-pull) pull=0 ;;
    -h | --help) sed -n '2,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "base-image: unknown argument '$argument' (see --help)" >&2; exit 2 ;;
  esac
done

say() { echo "base-image: $*" >&2; }
die() { say "$*"; exit 1; }
has_image() { docker image inspect "$1" >/dev/null 2>&1; }

docker info >/dev/null 2>&1 || die "no Docker engine answers (docker info failed): start dockerd first"

if has_image "$slim"; then echo "$slim"; exit 0; fi
if has_image "$local_base"; then echo "$local_base"; exit 0; fi
if [ "$pull" -eq 1 ]; then
  # Without a registry this fails within a second or two (no name resolution); a network
  # that drops packets instead is cut short.
  if timeout 120 docker pull -q "$slim" >/dev/null 2>&1; then echo "$slim"; exit 0; fi
  say "cannot pull $slim; making $local_base with debootstrap instead"
fi

command -v debootstrap >/dev/null 2>&1 || scripts/install-deps.sh debootstrap >&2 \
  || die "debootstrap is missing and could not be installed (scripts/install-deps.sh debootstrap)"
[ "$(id -u)" -eq 0 ] || die "debootstrap needs root to make $local_base: run this script as root (or with sudo)"

root=$(mktemp -d "${TMPDIR:-/tmp}/chorus-debootstrap.XXXXXX")
cleanup() { rm -rf "$root"; }
trap cleanup EXIT
started=$SECONDS
say "debootstrap --variant=minbase bookworm from $mirror (about a minute)"
if ! debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1; then
  tail -5 "$root.log" >&2
  rm -f "$root.log"
  die "debootstrap failed (see above): is $mirror reachable? CHORUS_DEBIAN_MIRROR picks another mirror"
fi
rm -f "$root.log"
# Like the official images: updates and security updates too, and no package caches.
cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/tmp/*
tar --numeric-owner -C "$root" -c . \
  | docker import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["bash"]' \
      --message "debootstrap --variant=minbase bookworm ($mirror), by Chorus's scripts/base-image.sh" \
      - "$local_base" >/dev/null \
  || die "docker import of the debootstrapped tree failed"
say "made $local_base in $((SECONDS - started)) s"
echo "$local_base"
