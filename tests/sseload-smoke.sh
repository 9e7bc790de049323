#!/usr/bin/env bash
# sseload-smoke.sh - bench/sseload against a local sse: every stream
# completes with every event's bytes checked.  Completeness only, never
# speed: nothing here looks at the latencies.
#
#   sseload-api          300 streams, POST /api with {"stream":true}
#   sseload-eventsource  300 streams, GET /message-stream
#   sseload-shape        200 streams of 10 events of 512 bytes, via --shape
#   sseload-server-stats the server's /stats agrees: 800 streams completed,
#                        none cut short
#   sseload-refuses      a non-loopback target is a usage error (exit 2)
#   sseload-smoke-stop   the server then exits 0 on SIGTERM
#
#	tests/sseload-smoke.sh PATH-TO-SSE
#
# Uses bench/sseload next to this directory as built (it is not built
# here); skips if it is missing.  Prints "pass NAME", "FAIL NAME: why" or
# "skip NAME: reason" per case and exits 0 if nothing failed.
set -u
export LC_ALL=C

if [ $# -ne 1 ]; then
	echo "usage: tests/sseload-smoke.sh PATH-TO-SSE" >&2
	exit 2
fi
sse=$1
sseload=$(cd "$(dirname "$0")/.." && pwd)/bench/sseload
if [ ! -x "$sse" ]; then
	echo "FAIL sseload-smoke: $sse is not an executable"
	exit 1
fi
if [ ! -x "$sseload" ]; then
	echo "skip sseload-smoke: $sseload is not built (make bench/sseload)"
	exit 0
fi

failed=0
tmp=$(mktemp -d)
pid=

cleanup() {
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null
		for _ in $(seq 50); do
			running "$pid" || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

pass() { echo "pass $*"; }
fail() { echo "FAIL $*"; failed=1; }

running() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "${st:0:1}" != Z ]
}

# row FILE LABEL: the first number on sseload's table row LABEL.
row() {
	sed -n "s/^$2  *\([0-9][0-9]*\).*/\1/p" "$1" | head -1
}

# load NAME COUNT EVENTS ARGS...: runs sseload -c COUNT ARGS... (bounded
# by timeout) and checks its exit status and table: COUNT connected and
# completed, no failure, COUNT * EVENTS events.
completed=0
load() {
	local name=$1 count=$2 events=$3 rc got want
	shift 3
	timeout 120 "$sseload" -c "$count" "$@" >"$tmp/$name.out" 2>&1
	rc=$?
	got="$(row "$tmp/$name.out" connections)"
	got+=" $(row "$tmp/$name.out" 'streams completed')"
	got+=" $(row "$tmp/$name.out" 'streams failed')"
	got+=" $(row "$tmp/$name.out" 'events received')"
	want="$count $count 0 $((count * events))"
	if [ $rc -ne 0 ]; then
		fail "$name: sseload exited $rc: $(grep -v '^ *$' "$tmp/$name.out" |
			head -20 | tr '\n' '|')"
	elif [ "$got" != "$want" ]; then
		fail "$name: connections, completed, failed, events: $got," \
			"expected $want: $(tr '\n' '|' <"$tmp/$name.out")"
	else
		completed=$((completed + count))
		pass "$name: $count streams, $((count * events)) events, all" \
			"completed and checked"
	fi
}

# --- the server ----------------------------------------------------------------
"$sse" -b 127.0.0.1 -p 0 -q 2>"$tmp/sse.err" &
pid=$!
port=
for _ in $(seq 100); do
	port=$(sed -n 's/^sse: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' \
		"$tmp/sse.err")
	[ -n "$port" ] && break
	running "$pid" || break
	sleep 0.1
done
if [ -z "$port" ]; then
	fail "sseload-smoke: sse did not start: $(head -3 "$tmp/sse.err")"
	exit 1
fi
base=http://127.0.0.1:$port

load sseload-api 300 5 -d '{"stream":true}' "$base/api?n=5&interval=100"
load sseload-eventsource 300 5 "$base/message-stream?n=5&interval=100"
load sseload-shape 200 10 --shape 'n=10&interval=50&size=512' \
	"$base/message-stream"

# --- the server saw the same ---------------------------------------------------
stats=
if { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; then
	printf 'GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
	stats=$(timeout 5 cat <&3)
	exec 3>&-
fi
n() { printf '%s' "$stats" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
got="$(n streams_completed) $(n streams_aborted) $(n streams) $(n shed)"
if [ -z "$stats" ]; then
	fail "sseload-server-stats: no answer from /stats"
elif [ "$got" = "$completed 0 0 0" ]; then
	pass "sseload-server-stats: the server counts $completed streams" \
		"completed, none aborted or shed"
else
	fail "sseload-server-stats: streams_completed streams_aborted streams" \
		"shed: $got, expected $completed 0 0 0: $stats"
fi

# --- a target elsewhere is refused ---------------------------------------------
timeout 10 "$sseload" -c 1 http://10.0.0.1:80/ >"$tmp/refuse.out" 2>&1
rc=$?
if [ $rc -eq 2 ]; then
	pass "sseload-refuses: http://10.0.0.1:80/ is refused with exit 2" \
		"($(head -1 "$tmp/refuse.out"))"
else
	fail "sseload-refuses: http://10.0.0.1:80/: exit $rc, expected 2:" \
		"$(head -3 "$tmp/refuse.out" | tr '\n' '|')"
fi

# --- the server stops cleanly --------------------------------------------------
kill -TERM "$pid"
for _ in $(seq 100); do
	running "$pid" || break
	sleep 0.1
done
kill -KILL "$pid" 2>/dev/null
wait "$pid"
rc=$?
pid=
if [ $rc -eq 0 ]; then
	pass "sseload-smoke-stop: sse exited 0 after SIGTERM"
else
	fail "sseload-smoke-stop: sse exited $rc after SIGTERM"
fi

exit $failed
