#!/usr/bin/env bash
# hub-workers.sh - the hub with -w 2 (docs/protocol.md section 8): a
# publish on either worker reaches the subscribers of both, with the same
# ids in the same order, and a resume is served the same on either.
#
# Sixteen subscribers connect; the kernel spreads them over the workers
# (SO_REUSEPORT), and the case checks, from /proc, that both hold some.
# Ten publishes, each on a connection of its own, land on either worker.
# Last, a worker is killed while it has subscribers: once they are gone
# the topic counts none (its replacement does not inherit them).
#
#	tests/hub-workers.sh PATH-TO-SSE
#
# Prints "pass NAME", "FAIL NAME: why" or "skip NAME: reason" per case and
# exits 0 if nothing failed.
set -u

if [ $# -ne 1 ]; then
	echo "usage: tests/hub-workers.sh PATH-TO-SSE" >&2
	exit 2
fi
sse=$1
if ! command -v curl >/dev/null; then
	echo "skip hub-workers: curl is not installed"
	exit 0
fi

SUBS=16
failed=0
tmp=$(mktemp -d)
server=
cleanup() {
	if [ -n "$server" ]; then
		kill -TERM "$server" 2>/dev/null
		wait "$server" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

pass() { echo "pass $*"; }
fail() { echo "FAIL $*"; failed=1; }

"$sse" -q -b 127.0.0.1 -p 0 -w 2 --publish-open 2>"$tmp/err" &
server=$!
for _ in $(seq 100); do
	grep -q 'listening on' "$tmp/err" && break
	sleep 0.1
done
port=$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$tmp/err")
if [ -z "$port" ]; then
	fail "hub-workers: the server did not start: $(cat "$tmp/err")"
	exit 1
fi

followers=()
for i in $(seq $SUBS); do
	curl -sN --max-time 20 "http://127.0.0.1:$port/topics/w" >"$tmp/sub.$i" &
	followers+=($!)
done
# Each worker holds some of the streams (its sockets, beside its own
# listener, eventfds and so on: more than the idle worker's count).
sleep 1
counts=
for w in $(pgrep -P "$server"); do
	counts="$counts $(find /proc/"$w"/fd -lname 'socket:*' 2>/dev/null | wc -l)"
done
min=$(printf '%s\n' $counts | sort -n | head -1)
for i in $(seq 10); do
	curl -s -d "event $i" "http://127.0.0.1:$port/topics/w" >>"$tmp/ids"
	echo >>"$tmp/ids"
done
# Until each has the ten (10 s at most), then the followers go.
for _ in $(seq 100); do
	short=0
	for i in $(seq $SUBS); do
		[ "$(grep -c '^id: ' "$tmp/sub.$i")" -ge 10 ] || short=1
	done
	[ $short -eq 0 ] && break
	sleep 0.1
done
kill "${followers[@]}" 2>/dev/null
wait "${followers[@]}" 2>/dev/null

want=$(sed -n 's/.*"id":"\([0-9-]*\)".*/\1/p' "$tmp/ids")
bad=0
for i in $(seq $SUBS); do
	got=$(sed -n 's/^id: //p' "$tmp/sub.$i")
	[ "$got" = "$want" ] || bad=$((bad + 1))
done
if [ "$(printf '%s\n' "$want" | grep -c .)" -ne 10 ]; then
	fail "hub-workers/every-worker: the publishes answered $(tr '\n' ' ' <"$tmp/ids")"
elif [ "$bad" -ne 0 ]; then
	fail "hub-workers/every-worker: $bad of $SUBS subscribers did not get the 10 ids in publishing order, e.g. $(sed -n 's/^id: //p' "$tmp/sub.1" | tr '\n' ' ')"
elif [ "${min:-0}" -le 3 ]; then
	echo "skip hub-workers/every-worker: the kernel gave every stream to one worker (sockets per worker:$counts)"
else
	pass hub-workers/every-worker
fi

# Resume after the fourth id, 16 times: either worker serves 5..10.
after=$(printf '%s\n' "$want" | sed -n 4p)
rest=$(printf '%s\n' "$want" | sed -n '5,$p')
followers=()
for i in $(seq $SUBS); do
	curl -sN --max-time 2 -H "Last-Event-ID: $after" \
		"http://127.0.0.1:$port/topics/w" >"$tmp/resume.$i" &
	followers+=($!)
done
wait "${followers[@]}"
bad=0
for i in $(seq $SUBS); do
	got=$(sed -n 's/^id: //p' "$tmp/resume.$i")
	[ "$got" = "$rest" ] || bad=$((bad + 1))
done
if [ "$bad" -ne 0 ]; then
	fail "hub-workers/resume: $bad of $SUBS resumes did not get ids 5 to 10 exactly"
else
	pass hub-workers/resume
fi

# /stats adds up both workers' topic counters.
if curl -s --max-time 2 "http://127.0.0.1:$port/stats" |
	grep -q "\"w\":{\"subscribers\":0,\"published\":10,\"deliveries\":$((SUBS * 10 + SUBS * 6)),"; then
	pass hub-workers/stats
else
	fail "hub-workers/stats: $(curl -s --max-time 2 "http://127.0.0.1:$port/stats")"
fi

# A worker killed with subscribers: its replacement does not count them.
followers=()
for i in $(seq 8); do
	curl -sN --max-time 20 "http://127.0.0.1:$port/topics/k" >/dev/null &
	followers+=($!)
done
sleep 1
victim=$(pgrep -P "$server" | head -1)
kill -KILL "$victim"
for _ in $(seq 50); do
	[ "$(pgrep -P "$server" | wc -l)" -eq 2 ] &&
		! pgrep -P "$server" | grep -qx "$victim" && break
	sleep 0.1
done
sleep 0.5
kill "${followers[@]}" 2>/dev/null
wait "${followers[@]}" 2>/dev/null
for _ in $(seq 30); do
	stats=$(curl -s --max-time 2 "http://127.0.0.1:$port/stats")
	printf '%s' "$stats" | grep -q '"k":{"subscribers":[1-9]' || break
	sleep 0.1
done
# (A topic with no subscriber and no event is not listed.)
if printf '%s' "$stats" | grep -q '"topics":{' &&
	! printf '%s' "$stats" | grep -q '"k":{"subscribers":[1-9]'; then
	pass hub-workers/killed-worker
else
	fail "hub-workers/killed-worker: after the 8 subscribers left, /stats said $stats"
fi

kill -TERM "$server"
wait "$server"
status=$?
server=
if [ "$status" -ne 0 ]; then
	fail "hub-workers/drain: exit status $status"
else
	pass hub-workers/drain
fi
exit $failed
