#!/usr/bin/env bash
# workers.sh - -w 2: a parent and two worker processes sharing the port
# (README, "Several processes: -w" and "/stats and /metrics").
#
#   workers-start       the parent has exactly 2 children; each holds its
#                       own listening socket on the port, the parent none
#   workers-both-serve  40 concurrent streams land on both workers
#   workers-stats-sum   /stats, asked of each worker in turn, shows the
#                       whole server: requests, streams, connections and
#                       streams_completed summed over both workers
#   workers-replace     a worker killed with SIGKILL (holding a stream) is
#                       replaced within a few seconds, the new worker
#                       serves a full stream, the counters are kept and the
#                       dead worker's gauges are not
#   workers-drain       10 streams in progress, SIGTERM to the parent: the
#                       port refuses connections at once, one line from the
#                       parent says how long the drain may take, every
#                       stream ends with all its events and the last chunk,
#                       the parent exits 0 and no worker is left
#   workers-orphan      10 streams in progress, SIGKILL to the parent: the
#                       workers drain as if it had been SIGTERM (they ask
#                       the kernel for a SIGTERM when their parent dies),
#                       every stream ends whole and no worker is left
#
#	tests/workers.sh PATH-TO-SSE
#
# The clients are bash's /dev/tcp connections held by this shell, so that
# which worker holds the other end of each one can be read from the socket
# table (ss, else /proc/net/tcp) and /proc/WORKER/fd: the test asks each
# worker on purpose instead of relying on how SO_REUSEPORT spreads
# connections.
#
# Prints "pass NAME", "FAIL NAME: why" or "skip NAME: reason" per case and
# exits 0 if nothing failed.
set -u
export LC_ALL=C
. "$(dirname "$0")/lib.sh"

sse_arg workers "$@"
sse_exe=$(readlink -f "$sse")
if [ ! -r /proc/net/tcp ] || [ ! -r /proc/self/stat ]; then
	skip "workers: no /proc/net/tcp or /proc/PID/stat"
	exit 0
fi
if (exec 3<>/dev/tcp/127.0.0.1/1) 2>&1 | grep -q 'No such file'; then
	skip "workers: this bash has no /dev/tcp"
	exit 0
fi

NSTREAMS=40	# concurrent streams in workers-both-serve
workers=()	# every worker pid seen, to make sure none is left
fds=()		# client connections held by this shell

# On exit: the connections first, then the parents (pids), then any worker
# left behind.
on_exit() {
	local p fd
	for fd in "${fds[@]}"; do
		exec {fd}>&- 2>/dev/null
	done
	stop_all
	for p in "${workers[@]}"; do
		ours "$p" && kill -KILL "$p" 2>/dev/null
	done
}
# A write to a connection the server closed fails instead of killing us.
trap '' PIPE

# ours PID: it is running and is this sse (not a reused pid).
ours() {
	running "$1" && [ "$(readlink -f "/proc/$1/exe" 2>/dev/null)" = "$sse_exe" ]
}

now_ms() { date +%s%3N; }

# wait_kids PARENT N MS [NOT]: waits (up to MS ms) until PARENT has N
# children, none of them NOT; sets the array kids.
wait_kids() {
	local k ok end=$(($(now_ms) + $3))
	while :; do
		kids=($(children "$1"))
		ok=1
		[ ${#kids[@]} -eq "$2" ] || ok=0
		for k in "${kids[@]}"; do
			[ "$k" = "${4:-}" ] && ok=0
		done
		[ $ok = 1 ] || [ "$(now_ms)" -ge $end ] && break
		sleep 0.1
	done
	for k in "${kids[@]}"; do
		workers+=("$k")
	done
	[ $ok = 1 ]
}

# start_workers NAME: starts sse -w 2 on a free loopback port; sets pid,
# port, porthex and kids, or fails NAME and returns 1.  The idle timeout
# is long: the connections control() opens and holds without a request
# (all but one per worker) are counted in /stats, and the default 5 s
# closed some of them while a loaded machine ran the script.
start_workers() {
	local name=$1
	start "$name" "$sse" -w 2 -b 127.0.0.1 -p 0 -q -n 5 -i 200 \
		--idle-timeout 60000 || return 1
	porthex=$(printf '%04X' "$port")
	if ! wait_kids "$pid" 2 5000; then
		fail "$name: expected 2 worker processes, found ${#kids[@]}:" \
			"${kids[*]}"
		return 1
	fi
}

# left PIDS...: the ones still running as sse.
left() {
	local p out=
	for p in "$@"; do
		ours "$p" && out+="$p "
	done
	echo "${out% }"
}

# --- client connections -------------------------------------------------------

# connect: a new connection to the server; sets fd.
connect() {
	fd=
	{ exec {fd}<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
	fds+=("$fd")
}

# disconnect FD
disconnect() {
	local f=$1 keep=()
	exec {f}>&- 2>/dev/null
	for f in "${fds[@]}"; do
		[ "$f" = "$1" ] || keep+=("$f")
	done
	fds=("${keep[@]}")
}

# sock_inodes PID: the inodes of the sockets it holds.
sock_inodes() {
	ls -l "/proc/$1/fd" 2>/dev/null |
		sed -n 's/.*socket:\[\([0-9]*\)\]$/\1/p'
}

# tcp_table: the TCP sockets from or to the server's port, a line each:
# "LOCALPORT REMOTEPORT STATE INODE", the ports in 4 hex digits, the state
# as /proc/net/tcp has it (01 established, 0A listening), inode 0 for a
# connection not yet accepted.  From ss, which has the kernel filter by
# port (/proc/net/tcp may list tens of thousands of sockets of other
# programs on a busy machine), else from /proc/net/tcp.
tcp_table() {
	if [ -n "$have_ss" ]; then
		ss -tanHe "( sport = :$port or dport = :$port )" 2>/dev/null |
			awk '{
				l = $4; r = $5; sub(/.*:/, "", l); sub(/.*:/, "", r)
				st = $1 == "ESTAB" ? "01" : $1 == "LISTEN" ? "0A" : $1
				ino = 0
				if (match($0, /ino:[0-9]+/))
					ino = substr($0, RSTART + 4, RLENGTH - 4)
				if (r == "*") r = 0
				printf "%04X %04X %s %s\n", l, r, st, ino
			}'
	else
		awk -v ph="$porthex" 'NR > 1 && ($2 ~ ":" ph "$" || $3 ~ ":" ph "$") {
			l = $2; r = $3; sub(/.*:/, "", l); sub(/.*:/, "", r)
			print l, r, $4, $10
		}' /proc/net/tcp
	fi
}
have_ss=
ss -tanH '( sport = :1 )' >/dev/null 2>&1 && have_ss=1

# owner FD: the worker holding the server side of this shell's connection
# FD (waits up to 2 s for it to be accepted).
owner() {
	local ino sino k
	ino=$(readlink "/proc/$$/fd/$1" 2>/dev/null) || return 1
	ino=${ino#socket:[}
	ino=${ino%]}
	for _ in $(seq 40); do
		# Our end's local port, then the server end: local port the
		# server's, remote port ours, established.
		sino=$(tcp_table | awk -v ino="$ino" -v ph="$porthex" '
			{ loc[NR] = $1; rem[NR] = $2; st[NR] = $3; node[NR] = $4
			  if ($4 == ino) me = $1 }
			END {
				if (me == "") exit
				for (i in loc)
					if (st[i] == "01" && loc[i] == ph &&
					    rem[i] == me && node[i] != 0)
						print node[i]
			}')
		if [ -n "$sino" ]; then
			for k in "${kids[@]}"; do
				if sock_inodes "$k" | grep -x "$sino" >/dev/null; then
					echo "$k"
					return 0
				fi
			done
		fi
		sleep 0.05
	done
	return 1
}

# established WORKER: how many established connections on the port it
# holds.
established() {
	local est
	est=$(tcp_table | awk -v ph="$porthex" '
		$3 == "01" && $1 == ph && $4 != 0 { print $4 }')
	[ -n "$est" ] || { echo 0; return; }
	sock_inodes "$1" | grep -cxF "$est"
}

# request FD TARGET [HEADER]: sends a GET; counts it in nreq.
nreq=0
request() {
	printf 'GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n' "$2" "${3:+$3$'\r\n'}" \
		>&"$1" 2>/dev/null || return 1
	nreq=$((nreq + 1))
}

# ask FD: GET /stats on the keep-alive connection FD; sets body.
ask() {
	local line len=
	body=
	request "$1" /stats || return 1
	IFS= read -r -t 5 -u "$1" line || return 1
	case $line in "HTTP/1.1 200 "*) ;; *) return 1 ;; esac
	while IFS= read -r -t 5 -u "$1" line; do
		line=${line%$'\r'}
		[ -z "$line" ] && break
		case ${line,,} in
		content-length:*) len=${line#*:} len=${len// /} ;;
		esac
	done
	[ -n "$len" ] || return 1
	IFS= read -r -t 5 -N "$len" -u "$1" body
}

field() {
	printf '%s' "$body" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
}

# check_stats FD CONNECTIONS STREAMS COMPLETED: asks /stats on FD and
# compares it with what this script did (requests: nreq, this one
# included); sets why.
check_stats() {
	local got want
	why=
	if ! ask "$1"; then
		why="no /stats answer on fd $1"
		return 1
	fi
	got="$(field connections) $(field streams) $(field requests)"
	got+=" $(field streams_completed)"
	want="$2 $3 $nreq $4"
	[ "$got" = "$want" ] && return 0
	why="connections streams requests streams_completed: got $got,"
	why+=" expected $want; /stats: $body"
	return 1
}

# control: opens connections until one is held by each worker (all kept
# open: ncontrol of them); sets ctl (worker pid -> fd).
declare -A ctl
control() {
	local k w
	ctl=()
	ncontrol=0
	for _ in $(seq 64); do
		connect || return 1
		ncontrol=$((ncontrol + 1))
		w=$(owner "$fd") || return 1
		[ -n "${ctl[$w]:-}" ] || ctl[$w]=$fd
		[ ${#ctl[@]} -eq ${#kids[@]} ] && return 0
	done
	return 1
}

# settle_stats CONNECTIONS STREAMS COMPLETED: asks /stats (up to 3 s)
# until it shows the expected values (a connection closed a moment ago
# may still be counted), then twice more of each worker, which must all
# be exact.
settle_stats() {
	local w any=${ctl[${kids[0]}]}
	for _ in $(seq 30); do
		check_stats "$any" "$@" && break
		sleep 0.1
	done
	for _ in 1 2; do
		for w in "${kids[@]}"; do
			check_stats "${ctl[$w]}" "$@" ||
				{ why="worker $w: $why"; return 1; }
		done
	done
}

# stream_ok FILE N: FILE holds an /message-stream answer (from its status
# line or after it) with events 1..N and the last chunk; sets bad.
stream_ok() {
	local ids want end
	ids=$(tr -d '\r' <"$1" | sed -n 's/^id: \([0-9]*\)$/\1/p' | tr '\n' ' ')
	want=$(seq -s ' ' "$2")' '
	end=$(tail -c 5 "$1" | od -An -tx1 | tr -d ' \n')
	bad=
	if [ "$ids" != "$want" ]; then
		bad="event ids '$ids', expected '$want'"
	elif [ "$(grep -ac '^data: {"user":"sse"' "$1")" != "$2" ]; then
		bad="$(grep -ac '^data: ' "$1") data lines, expected $2"
	elif [ "$end" != 300d0a0d0a ]; then
		bad="no last chunk: ends in bytes $end"
	fi
	[ -z "$bad" ]
}

# read_to_end FD FILE: the rest of what comes on FD until the server
# closes it (up to 15 s), then closes FD.
read_to_end() {
	timeout 15 cat <&"$1" >"$2"
	local rc=$?
	disconnect "$1"
	return $rc
}

close_all() {
	local f
	for f in "${fds[@]}"; do
		exec {f}>&- 2>/dev/null
	done
	fds=()
	ctl=()
}

# ==== one server: start, both serve, /stats, replace =========================

if start_workers workers; then
	# --- workers-start --------------------------------------------------
	listen=$(tcp_table | awk -v ph="$porthex" '
		$3 == "0A" && $1 == ph { print $4 }')
	why=
	declare -A held=()
	for k in "${kids[@]}"; do
		h=$(sock_inodes "$k" | grep -xF "$listen" | tr '\n' ' ')
		[ -n "$h" ] || why+="worker $k holds no listening socket on $port; "
		held[$k]=$h
	done
	p=$(sock_inodes "$pid" | grep -xF "$listen" | tr '\n' ' ')
	[ -z "$listen" ] && why="no listening socket on port $port; "
	[ -n "$p" ] && why+="the parent holds listening socket $p; "
	[ -z "$why" ] && [ "${held[${kids[0]}]}" = "${held[${kids[1]}]}" ] &&
		why="both workers hold the same listening socket ${held[${kids[0]}]}"
	if [ -n "$why" ]; then
		fail "workers-start: ${why%; }"
	else
		pass "workers-start: workers ${kids[*]} each listen on" \
			"127.0.0.1:$port (sockets ${held[${kids[0]}]% } and" \
			"${held[${kids[1]}]% }), the parent $pid does not"
	fi

	# --- workers-both-serve ---------------------------------------------
	# Long enough streams (5 events 2 s apart) that the /stats checks
	# below run while all of them are open, even on a busy machine.
	target='/message-stream?n=5&interval=2000'
	streams=()
	opened=0
	why=
	for i in $(seq $NSTREAMS); do
		if ! connect || ! request "$fd" "$target" 'Connection: close'; then
			why="cannot open stream $i"
			break
		fi
		streams+=("$fd")
	done
	# All accepted; then, should the kernel have put every one on the
	# same worker, more (up to as many again) until both have some.
	counts=
	for extra in $(seq 0 $NSTREAMS); do
		[ -n "$why" ] && break
		for _ in $(seq 50); do
			a=$(established "${kids[0]}") b=$(established "${kids[1]}")
			[ $((a + b)) -eq ${#streams[@]} ] && break
			sleep 0.1
		done
		counts="${kids[0]}:$a ${kids[1]}:$b"
		if [ $((a + b)) -ne ${#streams[@]} ]; then
			why="${#streams[@]} streams open, the workers hold $a and $b"
		elif [ "$a" -gt 0 ] && [ "$b" -gt 0 ]; then
			break
		elif [ "$extra" -eq $NSTREAMS ]; then
			why="all ${#streams[@]} streams on one worker ($counts)"
		elif ! connect || ! request "$fd" "$target" 'Connection: close'; then
			why="cannot open another stream"
		else
			streams+=("$fd")
		fi
	done
	nstreams=${#streams[@]}
	if [ -n "$why" ]; then
		fail "workers-both-serve: $why"
	else
		pass "workers-both-serve: $nstreams streams, connections per" \
			"worker (pid:count) $counts"
	fi

	# --- workers-stats-sum ----------------------------------------------
	why=
	if ! control; then
		why="cannot reach both workers with a control connection"
	elif ! settle_stats $((nstreams + ncontrol)) "$nstreams" 0; then
		why="with $nstreams streams and $ncontrol other connections open: $why"
	fi
	during=$body
	# The streams end: each must have all its events.
	if [ -z "$why" ]; then
		for i in "${!streams[@]}"; do
			bad="not closed by the server after its end"
			if ! read_to_end "${streams[$i]}" "$tmp/stream$i" ||
				! stream_ok "$tmp/stream$i" 5; then
				why="stream $i: $bad"
				break
			fi
		done
	fi
	streams=()
	close_all
	if [ -z "$why" ]; then
		if ! control; then
			why="cannot reach both workers after the streams"
		elif ! settle_stats "$ncontrol" 0 "$nstreams"; then
			why="after the streams ended: $why"
		fi
	fi
	if [ -n "$why" ]; then
		fail "workers-stats-sum: $why"
	else
		pass "workers-stats-sum: each worker's /stats shows both:" \
			"during: $(printf '%s' "$during" | cut -c1-80)...;" \
			"after: $(printf '%s' "$body" | cut -c1-100)..."
	fi
	close_all

	# --- workers-replace ------------------------------------------------
	why=
	victim=${kids[0]}
	old=("${kids[@]}")
	completed=$nstreams
	# The victim holds a stream when it dies: its gauges must not stay.
	vfd=
	for _ in $(seq 64); do
		connect || break
		if [ "$(owner "$fd")" = "$victim" ]; then
			vfd=$fd
			break
		fi
		disconnect "$fd"
	done
	if [ -z "$vfd" ]; then
		why="cannot reach worker $victim"
	elif ! request "$vfd" '/message-stream?n=5&interval=1000' ||
		! IFS= read -r -t 5 -u "$vfd" line ||
		[ "${line%$'\r'}" != "HTTP/1.1 200 OK" ]; then
		why="no stream from worker $victim: '${line:-}'"
	fi
	if [ -z "$why" ]; then
		# The victim has run for seconds: it is replaced at once
		# (README: a second later only if it died within a second).
		t0=$(now_ms)
		kill -KILL "$victim"
		if ! wait_kids "$pid" 2 2500 "$victim"; then
			why="2.5 s after worker $victim was killed, the workers"
			why+=" are: ${kids[*]:-none}"
		fi
		ms=$(($(now_ms) - t0))
		new=
		for k in "${kids[@]}"; do
			[ "$k" = "${old[1]}" ] || new=$k
		done
	fi
	close_all
	# The new worker serves a full stream.
	if [ -z "$why" ]; then
		nfd=
		for _ in $(seq 64); do
			connect || break
			if [ "$(owner "$fd")" = "$new" ]; then
				nfd=$fd
				break
			fi
			disconnect "$fd"
		done
		if [ -z "$nfd" ]; then
			why="cannot reach the new worker $new"
		elif bad="not closed by the server" &&
			! request "$nfd" /message-stream 'Connection: close' ||
			! read_to_end "$nfd" "$tmp/replaced" ||
			! stream_ok "$tmp/replaced" 5; then
			why="the new worker $new: stream: $bad:"
			why+=" $(head -c 300 "$tmp/replaced" | od -An -c | tr -s ' \n' ' ')"
		else
			completed=$((completed + 1))
		fi
	fi
	close_all
	# The counters are kept: every request and completed stream so
	# far, the killed worker's too; its connection and stream are gone.
	if [ -z "$why" ]; then
		if ! control; then
			why="cannot reach both workers after the replacement"
		elif ! settle_stats "$ncontrol" 0 "$completed"; then
			why="after the replacement: $why"
		fi
	fi
	close_all
	if [ -n "$why" ]; then
		fail "workers-replace: $why"
	else
		stop "$pid" 100
		rest=$(left "${workers[@]}")
		if [ -n "$rest" ]; then
			fail "workers-replace: after SIGTERM the parent exited" \
				"($status) but workers $rest remain"
		elif [ "$status" != 0 ]; then
			# A worker replaced long ago is no failure of the drain.
			fail "workers-replace: the parent exited $status after" \
				"a clean drain, expected 0"
		else
			pass "workers-replace: worker $victim killed, $new" \
				"running ${ms} ms later and serving; /stats kept" \
				"$(field requests) requests and $completed streams" \
				"(the parent's exit status after SIGTERM then:" \
				"$status)"
		fi
	fi
	[ ${#pids[@]} -gt 0 ] && stop "$pid" 100
fi

# open_streams: 10 streams of 5 events 600 ms apart, each on a keep-alive
# connection (a drain must end them after the stream), their heads read;
# sets streams (their fds), or why.
open_streams() {
	local i line
	streams=()
	for i in $(seq 10); do
		if ! connect ||
			! request "$fd" '/message-stream?n=5&interval=600' ||
			! IFS= read -r -t 5 -u "$fd" line ||
			[ "${line%$'\r'}" != "HTTP/1.1 200 OK" ]; then
			why="stream $i did not start: '${line:-}'"
			return 1
		fi
		streams+=("$fd")
	done
}

# end_streams NAME: reads each of the streams to its end and adds to why
# each that was not closed or not whole; empties streams.
end_streams() {
	local i
	for i in "${!streams[@]}"; do
		if ! read_to_end "${streams[$i]}" "$tmp/$1$i"; then
			why+="stream $i not closed after it ended; "
		elif ! stream_ok "$tmp/$1$i" 5; then
			why+="stream $i: $bad; "
		fi
	done
	streams=()
}

# ==== workers-drain: a fresh server ===========================================
# A fresh one, since the parent exits 1 after a drain if one of its workers
# was ever killed (see the status in workers-replace).

if start_workers drain; then
	why=
	open_streams
	if [ -z "$why" ]; then
		# The streams last 3 s more; the port must refuse within 1 s.
		t0=$(now_ms)
		kill -TERM "$pid"
		refused=
		while [ $(($(now_ms) - t0)) -lt 1000 ]; do
			if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
				refused=$(($(now_ms) - t0))
				break
			fi
			sleep 0.02
		done
		[ -n "$refused" ] ||
			why="the port still took connections 1 s after SIGTERM; "
		end_streams drain
		ended=$(($(now_ms) - t0))
		for _ in $(seq 100); do
			running "$pid" || break
			sleep 0.1
		done
		if running "$pid"; then
			why+="the parent still runs 10 s after SIGTERM; "
		else
			wait "$pid"
			status=$?
			forget "$pid"
			[ $status -eq 0 ] ||
				why+="the parent exited $status, expected 0; "
		fi
		rest=$(left "${workers[@]}")
		[ -z "$rest" ] || why+="workers $rest remain; "
		# One line from the parent for the whole server, not one a
		# worker; the streams have less than their 3 s to go.
		lines=$(grep -c '^sse: draining' "$tmp/drain.err")
		[ "$lines" = 1 ] ||
			why+="$lines lines say 'sse: draining', expected 1; "
		grep -qx 'sse: draining 10 connections in 2 workers for up to [0-3]\.[0-9] s; a second signal exits at once' "$tmp/drain.err" ||
			why+="no line 'sse: draining 10 connections in 2 workers for up to N.N s; a second signal exits at once': $(grep draining "$tmp/drain.err"); "
	fi
	close_all
	if [ -n "$why" ]; then
		fail "workers-drain: ${why%; }"
	else
		pass "workers-drain: connections refused $refused ms after" \
			"SIGTERM; 10 streams ended with 5 events and the last chunk" \
			"$ended ms after it; the parent exited 0, no worker left"
	fi
fi

# ==== workers-orphan: a fresh server ==========================================
# A parent killed outright (SIGKILL, the OOM killer) forwards nothing: each
# worker's PR_SET_PDEATHSIG turns its parent's death into its own SIGTERM.

if start_workers orphan; then
	why=
	orphans=("${kids[@]}")
	open_streams
	if [ -z "$why" ]; then
		t0=$(now_ms)
		kill -KILL "$pid"
		wait "$pid" 2>/dev/null
		forget "$pid"
		end_streams orphan
		ended=$(($(now_ms) - t0))
		for _ in $(seq 100); do
			[ -z "$(left "${orphans[@]}")" ] && break
			sleep 0.1
		done
		rest=$(left "${orphans[@]}")
		[ -z "$rest" ] ||
			why+="workers $rest still run 10 s after their parent died; "
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			why+="the port still takes connections; "
		fi
	fi
	close_all
	if [ -n "$why" ]; then
		fail "workers-orphan: ${why%; }"
	else
		pass "workers-orphan: parent killed; the workers ${orphans[*]}" \
			"ended 10 streams with 5 events and the last chunk" \
			"$ended ms later, then exited; the port is closed"
	fi
fi

exit $failed
