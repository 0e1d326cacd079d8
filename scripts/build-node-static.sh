#!/usr/bin/env bash
# Builds chorus-node with the Swift runtime and Foundation linked in statically, so that it
# runs on a plain Debian bookworm with only libhiredis0.14 and libicu72 added (the node
# image's runtime stage), and copies it, stripped, to deploy/prebuilt/chorus-node (where
# deploy/Dockerfile's `prebuilt` target takes it from) or to --output.
#
# Usage: scripts/build-node-static.sh [--debug] [--output PATH]
#   default   release build (what a deployment should run; several minutes from scratch)
#   --debug   debug build: after `swift build --build-tests` this only links again (seconds);
#             what the test suite puts in the image it tests (scripts/test.sh)
#
# deploy/Dockerfile's builder stage (the Swift image) runs this script too, so both ways to
# make the node image build the same way.
#
# How: compile as usual (`swift build --product chorus-node`), then link again with
# --static-swift-stdlib, adding Foundation's static libraries (_FoundationICU,
# _FoundationCShims, _FoundationCollections, CoreFoundation) as one linker group, then link
# the plain binary back. Why not just `swift build --static-swift-stdlib`: SwiftPM (6.3)
# does not recompile when that flag changes, and objects compiled with it name
# static-only libraries that make the next plain link of the same build directory fail
# ("cannot find -lCoreFoundation"), while objects compiled without it leave Foundation's
# static libraries off a static link ("undefined reference to swift_uenum_close"; see also
# https://github.com/swiftlang/swift-package-manager/issues/10564). Compiling only ever
# without the flag keeps the build directory good for both.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

configuration=release
output=deploy/prebuilt/chorus-node
while [ $# -gt 0 ]; do
  case "$1" in
    --debug) configuration=debug ;;
    --output) output=${2:?--output needs a path}; shift ;;
    -h | --help) sed -n '2,26p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-node-static: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

link=(-Xlinker --start-group)
for library in Foundation FoundationEssentials FoundationInternationalization _FoundationICU \
               _FoundationCShims _FoundationCollections CoreFoundation; do
  link+=(-Xlinker "-l$library")
done
link+=(-Xlinker --end-group)

swift build -c "$configuration" --product chorus-node
swift build -c "$configuration" --product chorus-node --static-swift-stdlib "${link[@]}"
binary="$(swift build -c "$configuration" --show-bin-path)/chorus-node"
if ldd "$binary" | grep -q 'libswift\|libFoundation'; then
  echo "build-node-static: $binary still needs the Swift runtime's shared libraries:" >&2
  ldd "$binary" >&2
  exit 1
fi
mkdir -p "$(dirname "$output")"
# Through a temporary name: a build reading the old file never sees half a binary.
install -m 0755 "$binary" "$output.tmp"
strip "$output.tmp"
mv -f "$output.tmp" "$output"
# The build directory's chorus-node as `swift build` makes it again (only a link).
swift build -c "$configuration" --product chorus-node
echo "build-node-static: $output ($configuration, $(du -h "$output" | cut -f1), static Swift runtime)" >&2
