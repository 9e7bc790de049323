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
#   sseload-detects      sseload fails (exit 1) and says why when streams
#                        are cut short (drop=2), when an event's bytes are
#                        not what was due (-n 6 for a stream of 5: "1/5"),
#                        or when a stream ends early (the same, --no-check)
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

# row FILE LABEL: the first number on sseload's table row LABEL (which
# may be indented, as the failures by reason are).
row() {
	sed -n "s/^ *$2  *\([0-9][0-9]*\).*/\1/p" "$1" | head -1
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

# --- broken streams are seen as broken -----------------------------------------
# A load tool that passes whatever it gets proves nothing: streams reset
# after 2 events, and streams of 5 where 6 are expected, must fail.
why=
timeout 60 "$sseload" -c 20 "$base/message-stream?n=5&interval=100&drop=2" \
	>"$tmp/drop.out" 2>&1
rc=$?
got="$(row "$tmp/drop.out" 'streams completed') $(row "$tmp/drop.out" \
	'refused or reset') $(row "$tmp/drop.out" 'events received')"
[ $rc -eq 1 ] && [ "$got" = "0 20 40" ] ||
	why+="drop=2: exit $rc, completed, reset, events: $got, expected exit 1, 0 20 40; "
# Told to expect 6 events, sseload finds the text of event 1 of 5 wrong;
# with --no-check, that the body ended after 5.
timeout 60 "$sseload" -c 20 -n 6 "$base/message-stream?n=5&interval=100" \
	>"$tmp/bytes.out" 2>&1
rc=$?
got="$(row "$tmp/bytes.out" 'streams completed') $(row "$tmp/bytes.out" \
	'bad event bytes')"
[ $rc -eq 1 ] && [ "$got" = "0 20" ] ||
	why+="-n 6 for 5: exit $rc, completed, bad bytes: $got, expected exit 1, 0 20; "
timeout 60 "$sseload" -c 20 -n 6 --no-check \
	"$base/message-stream?n=5&interval=100" >"$tmp/short.out" 2>&1
rc=$?
got="$(row "$tmp/short.out" 'streams completed') $(row "$tmp/short.out" \
	'missing events')"
[ $rc -eq 1 ] && [ "$got" = "0 20" ] ||
	why+="--no-check -n 6 for 5: exit $rc, completed, missing: $got, expected exit 1, 0 20; "
if [ -n "$why" ]; then
	fail "sseload-detects: ${why%; }"
else
	pass "sseload-detects: streams reset after 2 events, events" \
		"numbered 1/5 where 1/6 was due, and streams one event short" \
		"are each counted as failed, for their reason; exit 1"
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
