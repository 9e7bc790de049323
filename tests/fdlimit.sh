#!/usr/bin/env bash
# fdlimit.sh - the server at its descriptor limit: started with a soft and
# hard limit of 40 descriptors, 20 of them already taken, it keeps serving
# the stream it has, turns newcomers away (503 or a close) without
# spinning, and serves again once connections end.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh
need curl fdlimit

# The limit applies to the server alone: limited_sse, which start runs in a
# subshell, lowers it, opens 20 descriptors the server inherits (and knows
# nothing of), then execs the server.  So the server runs out of
# descriptors (accept() fails with EMFILE) with a dozen connections, long
# before -c, whose default is the limit minus 16: this is the path of a box
# whose descriptors are short, not of -c, which tests/faults.c floods.  The
# idle timeout is long, so that the connections held stay open however
# slowly this script runs on a busy machine; the stream, for the same
# reason, does not end by itself: one that ended before the descriptors
# were counted would leave its descriptor free, rightly (a stream of 4
# events at 1 s ended there on a loaded machine, and the count was 39).
# It is closed here once the limit is over.
limit=40
limited_sse() {
	ulimit -n $limit || exit 1
	for _ in $(seq 20); do exec {fd}</dev/null; done
	exec ./sse -b 127.0.0.1 -p 0 -q -n 1000000 -i 100 \
		--idle-timeout 60000
}
start fdlimit limited_sse || exit 1
server=$pid

cpu() { awk '{ print $14 + $15 }' "/proc/$server/stat"; }

# A stream that must keep running through all of this.
curl -s -N --max-time 120 -d '{"stream":true}' "http://127.0.0.1:$port/api" \
	>"$tmp/stream" &
pids+=($!)
stream=$!
for _ in $(seq 100); do
	grep -q '^:ok' "$tmp/stream" 2>/dev/null && break
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
open_fds() { ls "/proc/$server/fd" | awk -v l=$limit '$1 < l' | wc -l; }
for _ in $(seq 50); do
	open=$(open_fds)
	[ "$open" -eq $limit ] && break
	sleep 0.1
done
# A window to measure: the server, at its limit, must be asleep.
before=$(cpu)
sleep 2
spent=$(( $(cpu) - before ))
# Let the held connections go; the server must serve again.
for i in $(seq 0 $((held - 1))); do
	eval "fd=\$fd_$i"
	exec {fd}>&-
done
at_limit=$(grep -c '^data: ' "$tmp/stream")
# The stream goes on: more events come, however slowly (10 s at most).
for _ in $(seq 100); do
	events=$(grep -c '^data: ' "$tmp/stream")
	[ "$events" -gt "$at_limit" ] && break
	sleep 0.1
done
running $stream && alive=yes || alive=no
stop $stream
after=$(curl -s --max-time 5 -d '{"stream":false}' "http://127.0.0.1:$port/api")

if [ $alive != yes ] || [ "$events" -le "$at_limit" ]; then
	fail "fdlimit-stream: the running stream ended or stopped: $at_limit events at the limit, $events after, still running: $alive"
else
	pass "fdlimit-stream: the running stream kept going through the limit ($events events)"
fi
if [ "$open" -ne $limit ]; then
	fail "fdlimit-emfile: $open descriptors open, not all $limit: the limit was not reached"
else
	pass "fdlimit-emfile: all $limit descriptors open; newcomers met EMFILE, not -c"
fi
if [ "$turned" -lt 1 ]; then
	fail "fdlimit-shed: none of $held connections was turned away"
else
	pass "fdlimit-shed: $turned of $held connections were turned away"
fi
# 2 s of a spinning loop would be 200 ticks; an idle wait is 0 or 1.
if [ "$spent" -gt 20 ]; then
	fail "fdlimit-spin: $spent CPU ticks in 2 s at the limit"
else
	pass "fdlimit-spin: $spent CPU ticks in 2 s at the limit"
fi
if [ "$after" != '{"message":"Hello, world!"}' ]; then
	fail "fdlimit-recover: after the limit: '$after'"
else
	pass "fdlimit-recover: served again once connections ended"
fi
stop $server
exit $failed
