#!/usr/bin/env bash
# idle.sh - an idle server makes no wakeups (docs/protocol.md section 5):
# with no connections it sleeps in epoll_wait with no timer armed, so the
# kernel never switches to it.  Checked by its context switches (voluntary
# and involuntary, from /proc/PID/task/*/status) over 3 s:
#
#   - just started;
#   - after traffic that armed and cancelled timers of every kind: a
#     stream that ran to its end, one whose client left mid-way, a stalled
#     one, a plain request, and a keep-alive connection closed by the idle
#     timeout (--idle-timeout 500);
#   - with -w 2: the parent and both workers;
#   - the hub, alone and with -w 2: subscribers open after publishes.
#
#	tests/idle.sh PATH-TO-SSE
#
# Prints "pass NAME", "FAIL NAME: why" or "skip NAME: reason" per case and
# exits 0 if nothing failed.
set -u
. "$(dirname "$0")/lib.sh"

sse_arg idle "$@"
if [ ! -r /proc/self/status ] ||
	! grep -q '^voluntary_ctxt_switches:' /proc/self/status; then
	skip "idle: no context switch counts in /proc/PID/status"
	exit 0
fi
need curl idle

WINDOW=3	# seconds measured

# A keep-alive connection the suite may hold open on exit.
on_exit() { exec 3>&-; }

# start_sse NAME ARGS...: sse with ARGS on a free loopback port; sets pid
# and port, or fails NAME.
start_sse() {
	start "$1" "$sse" -b 127.0.0.1 -p 0 -q "${@:2}"
}

# switches PID: the context switches of all its threads so far.
switches() {
	cat /proc/"$1"/task/*/status 2>/dev/null |
		awk '/^(non)?voluntary_ctxt_switches:/ { n += $2 } END { print n + 0 }'
}

# rss PID: its resident memory in KiB.
rss() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# settle PIDS...: waits (up to 5 s) until none of PIDS has switched for
# 0.5 s: the moment it goes to sleep after start-up or traffic is not
# counted.
settle() {
	local prev='' now p
	for _ in $(seq 10); do
		now=
		for p in "$@"; do now+="$(switches "$p") "; done
		[ "$now" = "$prev" ] && return
		prev=$now
		sleep 0.5
	done
}

# idle_check NAME PIDS...: counts each PID's context switches over WINDOW
# seconds; sets $counts ("PID:N ...") and $total.
idle_check() {
	local name=$1 p
	shift
	local -A before
	settle "$@"
	for p in "$@"; do before[$p]=$(switches "$p"); done
	sleep $WINDOW
	counts='' total=0
	for p in "$@"; do
		local d=$(($(switches "$p") - ${before[$p]}))
		counts+="$p:$d " total=$((total + d))
	done
	counts=${counts% }
}

# --- a server just started ---------------------------------------------------
if start_sse idle; then
	idle_check idle-wakeups "$pid"
	if [ "$total" -eq 0 ]; then
		pass "idle-wakeups: $total context switches in $WINDOW s" \
			"(RSS $(rss "$pid") KiB)"
	else
		fail "idle-wakeups: $total context switches in $WINDOW s with" \
			"no connection"
	fi
	stop "$pid"
fi

# --- the same server after traffic -------------------------------------------
if start_sse after -n 2 -i 100 --idle-timeout 500; then
	base=http://127.0.0.1:$port
	problems=
	# A stream to its end, then the connection closed by the client.
	out=$(curl -sS -N --max-time 5 -d '{"stream":true}' "$base/api" 2>&1)
	[ "$(printf '%s\n' "$out" | grep -c '^data: ')" = 2 ] ||
		problems+="stream: $(printf '%q' "$out"); "
	# A client that leaves mid-stream: its timer must go with it.
	curl -s -N --max-time 0.25 -o /dev/null \
		-X POST "$base/api?stream=1&n=5&interval=100"
	# A stalled stream: quiet for the rest of its time, then reset.
	curl -s -N --max-time 5 -o /dev/null \
		-X POST "$base/api?stream=1&n=3&interval=100&stall=1"
	# A plain request.
	out=$(curl -sS --max-time 5 -d '{"stream":false}' "$base/api" 2>&1)
	[ "$out" = '{"message":"Hello, world!"}' ] ||
		problems+="plain: $(printf '%q' "$out"); "
	# A keep-alive connection: a stream, then nothing, until the server
	# closes it after --idle-timeout.
	if { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
		printf 'POST /api?stream=1 HTTP/1.1\r\nHost: x\r\n\r\n' >&3
		t0=$(date +%s%3N)
		timeout 5 cat <&3 >"$tmp/keepalive"
		rc=$? ms=$(($(date +%s%3N) - t0))
		exec 3>&-
		# The stream takes 200 ms, then 500 ms idle.
		if [ $rc -ne 0 ] || ! grep -q '^:done' "$tmp/keepalive"; then
			problems+="keep-alive: cat exited $rc after $ms ms; "
		elif [ $ms -lt 650 ] || [ $ms -gt 1500 ]; then
			problems+="keep-alive: closed $ms ms after the request, "
			problems+="expected ~700 (200 streaming, 500 idle); "
		fi
	else
		problems+="keep-alive: cannot connect; "
	fi
	sleep 1
	if [ -n "$problems" ]; then
		fail "idle-after-traffic: ${problems%; }"
	else
		idle_check idle-after-traffic "$pid"
		conns=$(curl -s --max-time 5 "$base/stats" |
			sed -n 's/.*"connections":\([0-9]*\).*/\1/p')
		if [ "$conns" != 1 ]; then
			fail "idle-after-traffic: /stats counts $conns connections," \
				"expected 1 (the one asking)"
		elif [ "$total" -eq 0 ]; then
			pass "idle-after-traffic: $total context switches in" \
				"$WINDOW s after streams ended, one left, one stalled" \
				"and a keep-alive connection timed out (RSS" \
				"$(rss "$pid") KiB; connections then: $conns, this one)"
		else
			fail "idle-after-traffic: $total context switches in" \
				"$WINDOW s with no connection"
		fi
	fi
	stop "$pid"
fi

# --- the hub: subscribers open, after publishes -------------------------------
# Each waits on its socket, no timer: a quiet topic costs no wakeup, in
# one process or with -w 2 (the workers' wake-ups are eventfds).
for w in 1 2; do
	name=idle-hub-w$w
	start "$name" -w $w --publish-open || continue
	base=http://127.0.0.1:$port
	followers=()
	for i in 1 2 3 4; do
		curl -s -N --max-time 30 -o "$tmp/$name.$i" "$base/topics/q" &
		followers+=($!)
	done
	sleep 0.5
	for i in 1 2 3; do
		curl -s --max-time 5 -o /dev/null -d "event $i" "$base/topics/q"
	done
	# With -w 2 the parent and both workers, else the one process.
	procs=$pid
	if [ $w -eq 2 ]; then
		procs="$pid $(children "$pid" | tr '\n' ' ')"
	fi
	idle_check "$name" $procs
	got=$(cat "$tmp/$name".* | grep -c '^data: event')
	if [ "$got" -ne 12 ]; then
		fail "$name: the 4 subscribers got $got events, expected 12"
	elif [ "$total" -eq 0 ]; then
		pass "$name: 0 context switches in $WINDOW s with 4 subscribers" \
			"open after 3 publishes"
	else
		fail "$name: context switches in $WINDOW s with 4 idle" \
			"subscribers (pid:count): $counts"
	fi
	kill "${followers[@]}" 2>/dev/null
	wait "${followers[@]}" 2>/dev/null
	stop "$pid"
done

# --- -w 2: the parent and its workers ----------------------------------------
if start_sse workers -w 2; then
	kids=
	for _ in $(seq 50); do
		kids=$(children "$pid" | tr '\n' ' ')
		set -- $kids
		[ $# -eq 2 ] && break
		sleep 0.1
	done
	set -- $kids
	if [ $# -ne 2 ]; then
		fail "idle-workers: expected 2 workers, found '$kids'"
	else
		idle_check idle-workers "$pid" "$@"
		if [ "$total" -eq 0 ]; then
			pass "idle-workers: 0 context switches in $WINDOW s in the" \
				"parent and both workers (RSS $(rss "$pid")," \
				"$(rss "$1") and $(rss "$2") KiB)"
		else
			fail "idle-workers: context switches in $WINDOW s" \
				"(pid:count, the parent first): $counts"
		fi
	fi
	stop "$pid"
	[ "$status" -eq 0 ] || fail "idle-workers-stop: exit status $status"
fi

exit $failed
