#!/usr/bin/env bash
# static.sh - the static musl build: it builds with "make static", is
# static, and serves a stream.  Its size is a figure, reported here and in
# the README, not a test: it depends on the C library's version.
set -u
cd "$(dirname "$0")/.."
. tests/stream-check.sh

if ! command -v musl-gcc >/dev/null; then
	echo "skip static: musl-gcc is not installed (Debian musl-tools)"
	exit 0
fi
rm -f sse-static
if ! out=$(make -s static 2>&1) || [ -n "$out" ]; then
	echo "FAIL static-build: make static: $out"
	exit 1
fi
size=$(stat -c %s sse-static)
if file sse-static 2>/dev/null | grep -q dynamic ||
   readelf -l sse-static 2>/dev/null | grep -q INTERP; then
	echo "FAIL static-build: sse-static is dynamically linked"
else
	echo "pass static-build: sse-static is $size bytes stripped"
fi
stream_check static-stream ./sse-static
