#!/usr/bin/env bash
# ipv6.sh - the server on IPv6: -b ::1 listens on [::1] and streams over
# it; -b :: answers on ::1 and, where the kernel maps IPv4 onto IPv6
# sockets (net.ipv6.bindv6only=0, Linux's default), on 127.0.0.1 too.
#
#	tests/ipv6.sh PATH-TO-SSE
#
# Prints "pass NAME", "FAIL NAME: why" or "skip NAME: reason" per case and
# exits 0 if nothing failed.  Skips everything where ::1 cannot be used.
set -u
. "$(dirname "$0")/lib.sh"

sse_arg ipv6 "$@"
need curl ipv6

# start_on NAME ADDR: sse on ADDR, port 0; sets pid, port and line (the
# start-up line), or returns 1 with the server's stderr in $tmp/NAME.err.
start_on() {
	try_start "$1" "$sse" -b "$2" -p 0 -n 3 -i 100
}

# stream URL: one POST /api stream; prints its shape (each non-blank line,
# data lines as "data"), e.g. ":ok data data data :done ".
stream() {
	curl -sS -g -N --max-time 10 -d '{"stream":true}' "$1" 2>&1 |
		grep -v '^$' |
		sed 's/^data: {"message":"Hello, world!","timestamp":[0-9]*}$/data/' |
		tr '\n' ' '
}
want=":ok data data data :done "

# Is ::1 there at all?  /proc/net/if_inet6 lists the addresses; lo's ::1
# is all zeros and a one.
if ! grep -qs '^00000000000000000000000000000001 ' /proc/net/if_inet6; then
	echo "skip ipv6: no ::1 on this machine"
	exit 0
fi

# --- -b ::1 ----------------------------------------------------------------
if ! start_on v6 ::1; then
	if grep -q 'cannot listen' "$tmp/v6.err"; then
		echo "skip ipv6: no ::1 on this machine ($(head -1 "$tmp/v6.err"))"
		exit 0
	fi
	fail "ipv6-listen: sse -b ::1 did not start: $(head -3 "$tmp/v6.err")"
	exit 1
fi
if [[ $line =~ ^sse:\ listening\ on\ \[::1\]:[0-9]+$ ]] && [ "$port" -gt 0 ]; then
	pass "ipv6-listen: $line"
else
	fail "ipv6-listen: start-up line '$line', expected [::1]:PORT"
fi
shape=$(stream "http://[::1]:$port/api")
if [ "$shape" = "$want" ]; then
	pass "ipv6-stream: POST /api over [::1]:$port: $shape"
else
	fail "ipv6-stream: $(printf '%q' "$shape")"
fi
# The access log names the client by its IPv6 address.
logline=$(grep -m1 '"POST /api ' "$tmp/v6.err")
if [[ $logline == '::1 - - ['* ]]; then
	pass "ipv6-log: $logline"
else
	fail "ipv6-log: access log line '$logline', expected it to begin '::1 - -'"
fi
# Nothing on 127.0.0.1 at that port: -b ::1 is ::1 only.
curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/stats"
code=$?
if [ $code -eq 7 ]; then
	pass "ipv6-only-v6: 127.0.0.1:$port refuses (the socket is ::1 only)"
else
	fail "ipv6-only-v6: curl to 127.0.0.1:$port exited $code, expected 7" \
		"(connection refused)"
fi
stop "$pid"
if [ "$status" -eq 0 ]; then
	pass "ipv6-stop: exit 0 after SIGTERM"
else
	fail "ipv6-stop: exit status $status after SIGTERM"
fi

# --- -b :: -------------------------------------------------------------------
if ! start_on any ::; then
	fail "ipv6-any: sse -b :: did not start: $(head -3 "$tmp/any.err")"
	exit 1
fi
if [[ $line =~ ^sse:\ listening\ on\ \[::\]:[0-9]+$ ]]; then
	pass "ipv6-any-listen: $line"
else
	fail "ipv6-any-listen: start-up line '$line', expected [::]:PORT"
fi
shape=$(stream "http://[::1]:$port/api")
if [ "$shape" = "$want" ]; then
	pass "ipv6-any-v6: -b :: streams to [::1]:$port"
else
	fail "ipv6-any-v6: over [::1]:$port: $(printf '%q' "$shape")"
fi
v6only=$(cat /proc/sys/net/ipv6/bindv6only 2>/dev/null)
if [ "$v6only" = 1 ]; then
	echo "skip ipv6-any-v4: net.ipv6.bindv6only is 1 here, so a socket" \
		"bound to :: takes no IPv4"
else
	shape=$(stream "http://127.0.0.1:$port/api")
	if [ "$shape" = "$want" ]; then
		logline=$(grep '"POST /api ' "$tmp/any.err" | tail -1)
		pass "ipv6-any-v4: -b :: streams to 127.0.0.1:$port too" \
			"(logged as '${logline%% *}')"
	else
		fail "ipv6-any-v4: over 127.0.0.1:$port: $(printf '%q' "$shape")"
	fi
fi
stop "$pid"
if [ "$status" -eq 0 ]; then
	pass "ipv6-any-stop: exit 0 after SIGTERM"
else
	fail "ipv6-any-stop: exit status $status after SIGTERM"
fi

exit $failed
