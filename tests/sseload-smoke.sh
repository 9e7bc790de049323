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
#   sseload-learns       against a server started with -n 4 -i 150,
#                        sseload without -n or -i learns both from the
#                        stream (retry: and "(k/4)") and checks them
#   sseload-says-why     told -n 6 or -i 200 for that stream, it fails
#                        saying what it expected and which flag said so
#   sseload-names        a host name (localhost) is resolved once and
#                        loaded; an unknown name is a usage error (exit 2)
#   sseload-publish-clean  --publish against tests/badhub.py's honest hub:
#                        300 subscribers each get all 10 events once
#   sseload-publish-faults against it when it drops, repeats or reorders
#                        a topic's third event: exit 1, with the losses,
#                        duplicates or events out of order counted and
#                        the first one described
#   sseload-publish-hub  sse's own hub (--publish-open): 300 subscribers,
#                        every event once, in order, ids increasing
#   sseload-publish-churn  200 subscribers dropped at random and resumed
#                        with Last-Event-ID: nothing lost or repeated
#   sseload-publish-token  with --publish-token-file, the token goes in
#                        --publish-header; without it, the 401 is reported
#                        (the hub cases skip, saying so, on a server
#                        without the hub)
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
pid2=
pid3=

cleanup() {
	[ -n "$pid2" ] && kill -TERM "$pid2" 2>/dev/null
	[ -n "$pid3" ] && kill -TERM "$pid3" 2>/dev/null
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

# --- the stream's shape is learned, and a wrong one said ---------------------
"$sse" -b 127.0.0.1 -p 0 -q -n 4 -i 150 2>"$tmp/sse2.err" &
pid2=$!
port2=
for _ in $(seq 100); do
	port2=$(sed -n 's/^sse: listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' \
		"$tmp/sse2.err")
	[ -n "$port2" ] && break
	sleep 0.1
done
if [ -z "$port2" ]; then
	fail "sseload-learns: a second sse did not start: $(head -3 "$tmp/sse2.err")"
else
	load sseload-learns 50 4 "http://127.0.0.1:$port2/message-stream"
	head -2 "$tmp/sseload-learns.out" | grep -q '4 events 150 ms apart' ||
		fail "sseload-learns: the report does not say 4 events 150 ms" \
			"apart: $(head -2 "$tmp/sseload-learns.out" | tr '\n' '|')"
	why=
	timeout 60 "$sseload" -c 5 -n 6 "http://127.0.0.1:$port2/message-stream" \
		>"$tmp/n6.out" 2>&1
	rc=$?
	grep -q 'first bad event bytes: .*(1/4).*expected "id: 1" and "(1/6)" (N: -n 6)' \
		"$tmp/n6.out" && [ $rc -eq 1 ] ||
		why+="-n 6: exit $rc, $(grep first "$tmp/n6.out"); "
	timeout 60 "$sseload" -c 5 -i 200 "http://127.0.0.1:$port2/message-stream" \
		>"$tmp/i200.out" 2>&1
	rc=$?
	grep -q 'first bad event bytes: .*retry: 150.*expected "retry: 200" (the interval in ms, -i 200)' \
		"$tmp/i200.out" && [ $rc -eq 1 ] ||
		why+="-i 200: exit $rc, $(grep first "$tmp/i200.out"); "
	if [ -n "$why" ]; then
		fail "sseload-says-why: ${why%; }"
	else
		pass "sseload-says-why: -n 6 and -i 200 against a stream of 4" \
			"150 ms apart fail, saying what was expected and from" \
			"which flag"
	fi
	kill -TERM "$pid2"
	wait "$pid2" 2>/dev/null
	pid2=
fi

# --- a host name is resolved; an unknown one is refused ------------------------
load sseload-names 20 3 "http://localhost:$port/message-stream?n=3&interval=50"
timeout 10 "$sseload" -c 1 http://no-such-host.invalid:80/ >"$tmp/name.out" 2>&1
rc=$?
if [ $rc -eq 2 ] && grep -q 'no-such-host.invalid: no address' "$tmp/name.out"; then
	pass "sseload-names: an unknown name is looked up, and refused with exit 2" \
		"($(head -1 "$tmp/name.out"))"
else
	fail "sseload-names: http://no-such-host.invalid:80/: exit $rc," \
		"expected 2 and a failed look-up (no address):" \
		"$(head -3 "$tmp/name.out" | tr '\n' '|')"
fi

# --- publishing: sseload's checks against a hub that misbehaves ---------------
# listen_port FILE PID: the port on FILE's "listening on 127.0.0.1:PORT"
# line, once the process PID has written it (empty if it never does).
listen_port() {
	local p
	for _ in $(seq 100); do
		p=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$1" 2>/dev/null)
		[ -n "$p" ] && { echo "$p"; return; }
		running "$2" || return
		sleep 0.1
	done
}

# publish NAME PORT ARGS...: sseload --publish to topic "smoke" on PORT,
# subscribers on the same; its output in $tmp/NAME.out, its status in rc.
publish() {
	local name=$1 p=$2
	shift 2
	timeout 60 "$sseload" --publish "http://127.0.0.1:$p/topics/smoke" \
		--linger 2 "$@" "http://127.0.0.1:$p/topics/smoke" \
		>"$tmp/$name.out" 2>&1
	rc=$?
}

# The figures of a --publish report: completed, lost, duplicates, out of
# order (events, from the deliveries' rows, which come after the failures
# by reason), deliveries.
hub_rows() {
	local dup order
	dup=$(sed -n 's/^  duplicates  *\([0-9][0-9]*\).*/\1/p' "$1")
	order=$(sed -n 's/^  out of order  *\([0-9][0-9]*\).*/\1/p' "$1")
	echo "$(row "$1" 'got every event') $(row "$1" lost) $dup $order $(row "$1" deliveries)"
}

if ! command -v python3 >/dev/null; then
	echo "skip sseload-publish-clean: python3 missing (tests/badhub.py)"
	echo "skip sseload-publish-faults: python3 missing (tests/badhub.py)"
else
	why=
	for fault in none drop repeat reorder; do
		# A file of its own: the last one's port must not be read
		# before this one's shell has truncated it.
		python3 "$(dirname "$0")/badhub.py" $fault 2>"$tmp/badhub-$fault.err" &
		pid3=$!
		bport=$(listen_port "$tmp/badhub-$fault.err" "$pid3")
		if [ -z "$bport" ]; then
			why+="badhub $fault did not start: $(head -3 "$tmp/badhub-$fault.err"); "
			continue
		fi
		n=300
		[ $fault = none ] || n=50
		publish "badhub-$fault" "$bport" -c $n --rate 50 --count 10
		got="$rc $(hub_rows "$tmp/badhub-$fault.out")"
		note=$(grep '^first' "$tmp/badhub-$fault.out" | head -1)
		case $fault in
		none)	want="0 300 0 0 0 3000"; pat= ;;
		drop)	want="1 0 50 0 0 450"
			pat="first lost events: .*lost 1 of topic 0's 10 events; the first: 3" ;;
		repeat)	want="1 0 0 50 0 550"
			pat="first duplicates: .*event 3 of topic 0 came again" ;;
		reorder) want="1 0 0 0 50 500"
			pat="first out of order: .*event 3 of topic 0 came after event 4" ;;
		esac
		if [ "$got" != "$want" ]; then
			why+="$fault: exit, completed, lost, duplicates, out of order, deliveries: $got, expected $want ($note); "
		elif [ -n "$pat" ] && ! grep -q "$pat" "$tmp/badhub-$fault.out"; then
			why+="$fault: the first failure is not described as expected: $note; "
		fi
		if [ $fault = none ]; then
			if [ -n "$why" ]; then
				fail "sseload-publish-clean: $why"
			else
				pass "sseload-publish-clean: 300 subscribers got all 10" \
					"published events once, in order"
			fi
			why=
		fi
		kill -TERM "$pid3"
		wait "$pid3" 2>/dev/null
		pid3=
	done
	if [ -n "$why" ]; then
		fail "sseload-publish-faults: ${why%; }"
	else
		pass "sseload-publish-faults: a hub that drops, repeats or" \
			"reorders an event fails sseload (exit 1), each for its" \
			"reason, with the count and the first one described"
	fi
fi

# --- publishing: sse's own hub -------------------------------------------------
hub_skip() {
	local c
	for c in sseload-publish-hub sseload-publish-churn sseload-publish-token; do
		echo "skip $c: $1"
	done
}
printf 'smoke-token\n' >"$tmp/token"
chmod 600 "$tmp/token"
"$sse" -b 127.0.0.1 -p 0 -q --publish-token-file "$tmp/token" \
	2>"$tmp/hub.err" &
pid3=$!
hport=$(listen_port "$tmp/hub.err" "$pid3")
status=
[ -n "$hport" ] && status=$(curl -s -o /dev/null -w '%{http_code}' \
	-H 'Authorization: Bearer smoke-token' -d probe \
	"http://127.0.0.1:$hport/topics/probe" 2>/dev/null)
if ! command -v curl >/dev/null; then
	hub_skip "curl missing (the probe for the hub)"
elif [ -z "$hport" ]; then
	hub_skip "this sse has no hub: $(head -1 "$tmp/hub.err")"
elif [ "$status" != 200 ]; then
	hub_skip "this sse has no hub: POST /topics/probe answered $status"
else
	auth='Authorization: Bearer smoke-token'
	publish hub "$hport" -c 300 --rate 20 --count 20 --publish-header "$auth"
	got="$rc $(hub_rows "$tmp/hub.out")"
	if [ "$got" = "0 300 0 0 0 6000" ]; then
		pass "sseload-publish-hub: 300 subscribers got all 20 events" \
			"once, in order, ids increasing"
	else
		fail "sseload-publish-hub: exit, completed, lost, duplicates," \
			"out of order, deliveries: $got, expected 0 300 0 0 0" \
			"6000: $(grep '^first' "$tmp/hub.out" | tr '\n' '|')"
	fi
	publish churn "$hport" -c 200 --rate 20 --count 40 --churn 300 \
		--publish-header "$auth"
	got="$rc $(hub_rows "$tmp/churn.out") $(row "$tmp/churn.out" reconnects)"
	if [ "${got% *}" = "0 200 0 0 0 8000" ] && [ "${got##* }" -gt 0 ]; then
		pass "sseload-publish-churn: 200 subscribers reconnected" \
			"${got##* } times with Last-Event-ID and got all 40 events" \
			"once, in order"
	else
		fail "sseload-publish-churn: exit, completed, lost, duplicates," \
			"out of order, deliveries, reconnects: $got, expected 0" \
			"200 0 0 0 8000 and some: $(grep '^first' "$tmp/churn.out" |
			tr '\n' '|')"
	fi
	publish notoken "$hport" -c 5 --rate 20 --count 3
	if [ $rc -eq 1 ] && [ "$(row "$tmp/notoken.out" 'answered 2xx')" = 0 ] &&
		grep -q '^first failed publish: publish 0: HTTP/1.1 401' "$tmp/notoken.out"; then
		pass "sseload-publish-token: the token goes in --publish-header;" \
			"without it every publish is a 401, reported, exit 1"
	else
		fail "sseload-publish-token: without the token: exit $rc," \
			"$(grep -A2 '^publishes sent' "$tmp/notoken.out" | tr '\n' '|')" \
			"$(grep '^first failed' "$tmp/notoken.out")"
	fi
fi
if [ -n "$pid3" ]; then
	kill -TERM "$pid3" 2>/dev/null
	wait "$pid3" 2>/dev/null
	pid3=
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
