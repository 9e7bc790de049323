# tests/lib.sh - what the shell suites share: the lines test.sh counts, a
# temporary directory, and the processes a suite starts and stops, each by
# its pid.  fdlimit.sh, hub-stdin.sh, hub-workers.sh, idle.sh, ipv6.sh,
# nginx.sh, valgrind.sh and workers.sh source it after `set -u`:
#
#	. "$(dirname "$0")/lib.sh"
#
# Sourcing it sets
#
#	failed	0; fail sets it to 1, and a suite ends with `exit $failed`
#	tmp	a new temporary directory, removed on exit
#	pids	the processes to stop on exit: start adds the server it
#		starts, a suite adds what else it starts in the background
#
# and traps EXIT to stop every process in pids (SIGTERM, then SIGKILL
# after 5 s) and remove tmp, and INT, TERM and HUP to exit 1.  A suite that
# must do more on exit defines on_exit(), which runs first.
#
# Every wait here is bounded, in tenths of a second.

failed=0
tmp=$(mktemp -d)
pids=()

# --- the lines test.sh counts ------------------------------------------------

# pass NAME: WHY / fail NAME: WHY / skip NAME: WHY
pass() { echo "pass $*"; }
fail() { echo "FAIL $*"; failed=1; }
skip() { echo "skip $*"; }

# need TOOL NAME...: without TOOL, skips each NAME and ends the suite.
need() {
	local tool=$1 name
	shift
	command -v "$tool" >/dev/null && return 0
	for name in "$@"; do
		skip "$name: $tool is not installed"
	done
	exit 0
}

# sse_arg SUITE "$@": the suite's one argument, the server under test; sets
# sse to its absolute path.  Any other number of arguments is a usage error
# (exit 2); a path that is no executable fails SUITE (exit 1).
sse_arg() {
	local suite=$1
	shift
	if [ $# -ne 1 ]; then
		echo "usage: tests/$suite.sh PATH-TO-SSE" >&2
		exit 2
	fi
	if [ ! -x "$1" ] || [ -d "$1" ]; then
		echo "FAIL $suite: $1 is not an executable"
		exit 1
	fi
	sse=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
}

# --- processes ---------------------------------------------------------------

# running PID: it exists and is not a zombie.  (bash reaps its children
# as they exit, so an exited child is soon gone from /proc; until then it
# is a zombie.)  The state is the first field after the command name,
# which may hold blanks and parentheses.
running() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "${st:0:1}" != Z ]
}

# forget PID: takes it off pids, once it is reaped or someone else's to
# stop.
forget() {
	local p keep=()
	for p in "${pids[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	pids=("${keep[@]}")
}

# wait_exit PID TENTHS: waits up to TENTHS tenths of a second for our
# child PID to exit, then reaps it and forgets it; status is its exit
# status.  Returns 1, with status 255, if it still runs.
wait_exit() {
	local i
	status=255
	for ((i = 0; i < $2; i++)); do
		running "$1" || break
		sleep 0.1
	done
	running "$1" && return 1
	wait "$1"
	status=$?
	forget "$1"
}

# stop PID [TENTHS]: SIGTERM, then SIGKILL if it still runs after TENTHS
# tenths of a second (default 50); status is its exit status (137 when it
# had to be killed).
stop() {
	kill -TERM "$1" 2>/dev/null
	wait_exit "$1" "${2:-50}" && return 0
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	status=$?
	forget "$1"
}

# stop_all: stops every process in pids, all signalled before any is
# waited for.
stop_all() {
	local p
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		stop "$p"
	done
}

# start NAME CMD...: runs CMD in the background, its stderr in
# $tmp/NAME.err, and waits up to 10 s for the line sse prints when it
# listens, `sse: listening on ADDR:PORT`.  CMD is sse itself, or
# something that ends up as sse in the same process (valgrind, a subshell
# that execs it).  Sets pid, line (that line) and port, and adds pid to
# pids; returns 0.  If no such line comes, fails NAME with the first lines
# of stderr, stops CMD and returns 1.
start() {
	try_start "$@" && return 0
	fail "$1: sse did not start: $(head -3 "$tmp/$1.err" | tr '\n' ' ')"
	return 1
}

# try_start NAME CMD...: start without the failure line; $tmp/NAME.err
# says why.
try_start() {
	local name=$1
	shift
	"$@" 2>"$tmp/$name.err" &
	pid=$!
	pids+=("$pid")
	listening "$name" && return 0
	stop "$pid"
	return 1
}

# listening NAME: for a server a suite started itself, in the background
# with its stderr in $tmp/NAME.err, its pid in pid and pids (as when its
# standard input is a pipe): waits up to 10 s for its listening line and
# sets line and port.  Returns 1 if it does not come, or pid exits first.
listening() {
	local i
	port='' line=''
	for ((i = 0; i < 100; i++)); do
		line=$(grep -m1 '^sse: listening on ' "$tmp/$1.err" 2>/dev/null)
		if [ -n "$line" ]; then
			port=${line##*:}
			return 0
		fi
		running "$pid" || break
		sleep 0.1
	done
	return 1
}

# children PID: its live child processes, from the parent field of
# /proc/*/stat (/proc/PID/task/*/children is not in every kernel).
children() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v parent="$1" '{
		pid = $1; sub(/.*\) /, ""); if ($2 == parent && $1 != "Z") print pid
	}'
}

# --- on exit -----------------------------------------------------------------

lib_exit() {
	if declare -F on_exit >/dev/null; then
		on_exit
	fi
	stop_all
	rm -rf "$tmp"
}
trap lib_exit EXIT
trap 'exit 1' INT TERM HUP
