#!/usr/bin/env bash
# hub-workers.sh - the hub with -w 2 (docs/protocol.md section 8): a
# publish on either worker reaches the subscribers of both, with the same
# ids in the same order, and a resume is served the same on either.
#
# Sixteen subscribers connect, and more (64 at most) until each worker
# holds some, as /proc shows: the kernel spreads them (SO_REUSEPORT).
# Ten publishes, each on a connection of its own, land on either worker.
# Last, a worker is killed while it has subscribers: once they are gone
# the topic counts none (its replacement does not inherit them).
#
#	tests/hub-workers.sh PATH-TO-SSE
#
# Prints "pass NAME", "FAIL NAME: why" or "skip NAME: reason" per case and
# exits 0 if nothing failed.
set -u
. "$(dirname "$0")/lib.sh"
sse_arg hub-workers "$@"
need curl hub-workers

start hub-workers "$sse" -q -b 127.0.0.1 -p 0 -w 2 --publish-open || exit 1
server=$pid

# sockets PID: how many sockets the process holds.
sockets() {
	find /proc/"$1"/fd -lname 'socket:*' 2>/dev/null | wc -l
}

# Subscribers connect until each worker holds some of their streams (its
# sockets, beside its listener, more than when idle), 16 at least and 64
# at most: where the kernel puts a connection is its choice.
workers=$(children "$server")
idle=0
for w in $workers; do
	idle=$(( $(sockets "$w") > idle ? $(sockets "$w") : idle ))
done
followers=()
SUBS=0
while [ $SUBS -lt 64 ]; do
	SUBS=$((SUBS + 1))
	curl -sN --max-time 20 "http://127.0.0.1:$port/topics/w" \
		>"$tmp/sub.$SUBS" &
	followers+=($!)
	[ $SUBS -lt 16 ] && continue
	for _ in $(seq 20); do	# until this one is in, 2 s at most
		grep -q '^:ok' "$tmp/sub.$SUBS" 2>/dev/null && break
		sleep 0.1
	done
	counts=
	for w in $workers; do
		counts="$counts $(sockets "$w")"
	done
	min=$(printf '%s\n' $counts | sort -n | head -1)
	[ "$min" -gt "$idle" ] && break
done
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
elif [ "$min" -le "$idle" ]; then
	fail "hub-workers/every-worker: after $SUBS subscribers one worker still held none (sockets per worker:$counts, $idle when idle)"
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
victim=$(children "$server" | head -1)
kill -KILL "$victim"
for _ in $(seq 50); do
	[ "$(children "$server" | wc -l)" -eq 2 ] &&
		! children "$server" | grep -qx "$victim" && break
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

stop "$server"
if [ "$status" -ne 0 ]; then
	fail "hub-workers/drain: exit status $status"
else
	pass hub-workers/drain
fi
exit $failed
