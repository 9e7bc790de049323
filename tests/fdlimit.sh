#!/usr/bin/env bash
# fdlimit.sh - the server at its descriptor limit: started with a soft and
# hard limit of 40 descriptors, 20 of them already taken, it keeps serving
# the stream it has, turns newcomers away (503 or a close) without
# spinning, and serves again once connections end.
set -u
cd "$(dirname "$0")/.."
if ! command -v curl >/dev/null; then
	echo "skip fdlimit: curl is not installed"
	exit 0
fi
dir=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$dir"' EXIT

# The limit applies to the server alone: a subshell lowers it, opens 20
# descriptors the server inherits (and knows nothing of), then execs.  So
# the server runs out of descriptors (accept() fails with EMFILE) with a
# dozen connections, long before -c, whose default is the limit minus 16:
# this is the path of a box whose descriptors are short, not of -c, which
# tests/faults.c floods.
limit=40
(
	ulimit -n $limit || exit 1
	for _ in $(seq 20); do exec {fd}</dev/null; done
	exec ./sse -b 127.0.0.1 -p 0 -q -n 4 -i 1000
) 2>"$dir/err" &
server=$!
pids+=($server)
for _ in $(seq 100); do
	port=$(sed -n 's/^sse: listening on .*:\([0-9]*\)$/\1/p' "$dir/err")
	[ -n "$port" ] && break
	sleep 0.1
done
[ -n "$port" ] || { echo "FAIL fdlimit: the server did not start"; exit 1; }

cpu() { awk '{ print $14 + $15 }' "/proc/$server/stat"; }

# A stream that must run to its end through all of this.
curl -s -N --max-time 20 -d '{"stream":true}' "http://127.0.0.1:$port/api" \
	>"$dir/stream" &
pids+=($!)
stream=$!
for _ in $(seq 100); do
	grep -q '^:ok' "$dir/stream" 2>/dev/null && break
	sleep 0.05
done

# 60 idle connections: far past what 40 descriptors hold.
held=0
for _ in $(seq 60); do
	exec {fd}<>"/dev/tcp/127.0.0.1/$port" 2>/dev/null || continue
	eval "fd_$held=$fd"
	held=$((held + 1))
done
# The newcomers past the limit are answered 503 and closed: each read
# waits for that, a moment at most.
turned=0
for i in $(seq 0 $((held - 1))); do
	eval "fd=\$fd_$i"
	if timeout 0.2 head -c 12 <&"$fd" 2>/dev/null | grep -q '503\|^$'; then
		turned=$((turned + 1))
	fi
done
# Every descriptor the server may have is open: it is at the limit.  (A
# descriptor the shell had above the limit before lowering it, inherited
# like the 20, is not counted.)
open=$(ls "/proc/$server/fd" | awk -v l=$limit '$1 < l' | wc -l)
# A window to measure: the server, at its limit, must be asleep.
before=$(cpu)
sleep 2
spent=$(( $(cpu) - before ))
# Let the held connections go; the server must serve again.
for i in $(seq 0 $((held - 1))); do
	eval "fd=\$fd_$i"
	exec {fd}>&-
done
wait $stream
events=$(grep -c '^data: ' "$dir/stream")
after=$(curl -s --max-time 5 -d '{"stream":false}' "http://127.0.0.1:$port/api")

if [ "$events" != 4 ] || ! grep -q '^:done' "$dir/stream"; then
	echo "FAIL fdlimit-stream: the running stream got $events of 4 events"
else
	echo "pass fdlimit-stream: the running stream got all 4 events"
fi
if [ "$open" -ne $limit ]; then
	echo "FAIL fdlimit-emfile: $open descriptors open, not all $limit: the limit was not reached"
else
	echo "pass fdlimit-emfile: all $limit descriptors open; newcomers met EMFILE, not -c"
fi
if [ "$turned" -lt 1 ]; then
	echo "FAIL fdlimit-shed: none of $held connections was turned away"
else
	echo "pass fdlimit-shed: $turned of $held connections were turned away"
fi
# 2 s of a spinning loop would be 200 ticks; an idle wait is 0 or 1.
if [ "$spent" -gt 20 ]; then
	echo "FAIL fdlimit-spin: $spent CPU ticks in 2 s at the limit"
else
	echo "pass fdlimit-spin: $spent CPU ticks in 2 s at the limit"
fi
if [ "$after" != '{"message":"Hello, world!"}' ]; then
	echo "FAIL fdlimit-recover: after the limit: '$after'"
else
	echo "pass fdlimit-recover: served again once connections ended"
fi
kill -TERM $server
wait $server
