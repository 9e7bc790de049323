#!/usr/bin/env bash
# static.sh - the static musl build: it builds with "make static", is
# static, fits in 64 KiB, and serves a stream.  The size depends on the C
# library's version as well as on ours: with Debian 12's musl 1.2.3 and
# gcc 12 it is 65,432 bytes (README), so a hundred bytes more code
# fail static-size.
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
if [ "$size" -ge 65536 ]; then
	echo "FAIL static-size: sse-static is $size bytes, not under 64 KiB" \
		"($(musl-gcc --version 2>/dev/null | head -1))"
else
	echo "pass static-size: $size bytes, $((65536 - size)) under 64 KiB"
fi
stream_check static-stream ./sse-static
