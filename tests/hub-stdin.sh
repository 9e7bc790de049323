#!/usr/bin/env bash
# hub-stdin.sh - --stdin TOPIC (docs/protocol.md section 8): each line
# of standard input one event on TOPIC, from a pipe, a FIFO and a
# regular file; a line longer than --max-body skipped with one line on
# stderr; CR LF taken as a line end; at the end of input the server goes
# on serving.
#
#	tests/hub-stdin.sh PATH-TO-SSE
#
# Prints "pass NAME", "FAIL NAME: why" or "skip NAME: reason" per case and
# exits 0 if nothing failed.
set -u
. "$(dirname "$0")/lib.sh"
sse_arg hub-stdin "$@"
need curl hub-stdin

on_exit() {
	exec 3>&- 2>/dev/null
}

# began NAME: the server just started in the background, its stderr in
# $tmp/NAME.err, is ours to stop and has said its port; else NAME fails
# and the suite ends.
began() {
	pid=$!
	pids+=("$pid")
	listening "$1" && return 0
	fail "$1: sse did not start: $(head -3 "$tmp/$1.err" | tr '\n' ' ')"
	exit 1
}

# The data: lines of the kept history of topic $2 on port $1, one a line,
# read until n=$3 events came (or 3 s).
history_of() {
	local i out
	for i in $(seq 30); do
		out=$(curl -sN --max-time 0.3 "http://127.0.0.1:$1/topics/$2?history=1" |
			sed -n 's/^data: //p')
		if [ "$(printf '%s\n' "$out" | grep -c .)" -ge "$3" ]; then
			break
		fi
	done
	printf '%s\n' "$out"
}

expect='one
two
three
four'
long=$(head -c 40 /dev/zero | tr '\0' x)
input=$(printf 'one\ntwo\r\n%s\nthree\nfour' "$long")

# A pipe: the lines, then the end of input; the server keeps serving.
{ printf '%s' "$input"; } |
	"$sse" -q -b 127.0.0.1 -p 0 --max-body 20 --stdin s 2>"$tmp/pipe.err" &
began pipe
got=$(history_of "$port" s 4)
if [ "$got" != "$expect" ]; then
	fail "stdin/pipe: events $(printf '%s' "$got" | tr '\n' '|'), expected one|two|three|four"
else
	pass stdin/pipe
fi
n=$(grep -c 'line 3 is longer than --max-body (20 bytes): skipped' "$tmp/pipe.err")
if [ "$n" -ne 1 ] || grep -q xxxxxxxx "$tmp/pipe.err"; then
	fail "stdin/long-line: stderr $(tr '\n' '|' <"$tmp/pipe.err")"
else
	pass stdin/long-line
fi
if curl -sf --max-time 2 "http://127.0.0.1:$port/stats" | grep -q '"s":{"subscribers":0,"published":4,'; then
	pass stdin/serves-after-end
else
	fail "stdin/serves-after-end: /stats $(curl -s --max-time 2 "http://127.0.0.1:$port/stats")"
fi

# A regular file, which epoll refuses: read in slices all the same.
printf '%s' "$input" >"$tmp/file"
"$sse" -q -b 127.0.0.1 -p 0 --max-body 20 --stdin f <"$tmp/file" 2>"$tmp/file.err" &
began file
got=$(history_of "$port" f 4)
if [ "$got" != "$expect" ]; then
	fail "stdin/file: events $(printf '%s' "$got" | tr '\n' '|')"
else
	pass stdin/file
fi
# A large file: 5,000 lines, more than one slice, the last 100 kept.
seq 1 5000 >"$tmp/big"
"$sse" -q -b 127.0.0.1 -p 0 --stdin b <"$tmp/big" 2>"$tmp/big.err" &
began big
got=$(history_of "$port" b 100)
if [ "$got" != "$(seq 4901 5000)" ]; then
	fail "stdin/file-slices: kept $(printf '%s' "$got" | head -2 | tr '\n' '|')... expected 4901..5000"
else
	pass stdin/file-slices
fi

# A FIFO, with a subscriber following live before the lines come.
mkfifo "$tmp/fifo"
"$sse" -q -b 127.0.0.1 -p 0 --stdin live <"$tmp/fifo" 2>"$tmp/fifo.err" &
exec 3>"$tmp/fifo"
began fifo
curl -sN --max-time 3 "http://127.0.0.1:$port/topics/live" >"$tmp/live.out" &
follower=$!
sleep 0.5
printf 'alpha\nbeta\n' >&3
sleep 0.3
printf 'gamma\n' >&3
exec 3>&-
wait $follower
got=$(sed -n 's/^data: //p' "$tmp/live.out")
if [ "$got" != "$(printf 'alpha\nbeta\ngamma')" ]; then
	fail "stdin/fifo: events $(printf '%s' "$got" | tr '\n' '|')"
else
	pass stdin/fifo
fi

exit $failed
