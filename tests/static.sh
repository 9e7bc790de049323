#!/usr/bin/env bash
# static.sh - the static musl build: it builds with "make static", is
# static, fits in 64 KiB, serves a stream, and says that it has no Redis
# client.  The size depends on the C library's version as well as on ours:
# with Debian 12's musl 1.2.3 and gcc 12 it is 64,132 bytes (README).
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

# The Redis client is left out of this build (SSE_REDIS=0): --redis is a
# mistake it names, exit 2, not a server that runs without its broker.
want="sse: --redis: this build has no Redis client (SSE_REDIS=0, as in"
want="$want make static)"
err=$(timeout 5 ./sse-static -p 0 --redis 127.0.0.1:6379 2>&1 </dev/null)
rc=$?
if [ $rc -eq 2 ] && [ "$err" = "$want" ]; then
	echo "pass static-no-redis"
else
	echo "FAIL static-no-redis: exit $rc, said: $err"
fi
