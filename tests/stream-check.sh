# stream-check.sh - sourced by the shell tests: start a server, check one
# stream end to end with curl, stop the server.
#
#	stream_check NAME COMMAND...   (COMMAND runs the server; it is given
#	                                -b 127.0.0.1 -p 0 -q -n 3 -i 100)
# Prints "pass NAME", "FAIL NAME: why", or "skip NAME: curl is not
# installed".

stream_check() {
	local name=$1 dir pid port body status i
	shift
	if ! command -v curl >/dev/null; then
		echo "skip $name: curl is not installed"
		return
	fi
	dir=$(mktemp -d)
	"$@" -b 127.0.0.1 -p 0 -q -n 3 -i 100 2>"$dir/err" &
	pid=$!
	for i in $(seq 100); do
		port=$(sed -n 's/^sse: listening on .*:\([0-9]*\)$/\1/p' "$dir/err")
		[ -n "$port" ] && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$port" ]; then
		echo "FAIL $name: the server did not start: $(head -3 "$dir/err")"
		kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"
		return
	fi
	local t0 t1 ts
	t0=$(date +%s%3N)
	body=$(curl -sS -N --max-time 20 -d '{"stream":true}' \
		"http://127.0.0.1:$port/api" 2>&1)
	t1=$(date +%s%3N)
	kill -TERM $pid
	wait $pid
	status=$?
	rm -rf "$dir"
	local shape
	# The stream's shape: each event's line, blank lines dropped.
	shape=$(printf '%s\n' "$body" | grep -v '^$' |
		sed 's/^data: {"message":"Hello, world!","timestamp":[0-9]*}$/data/' |
		tr '\n' ' ')
	# Each timestamp is the wall clock in milliseconds, read during the
	# stream: a clock kept in 32 bits (or in seconds) would be far off.
	ts=$(printf '%s\n' "$body" |
		sed -n 's/^data: .*"timestamp":\([0-9]*\)}$/\1/p' |
		awk -v lo="$t0" -v hi="$t1" '$1 < lo - 1000 || $1 > hi + 1000')
	if [ "$shape" != ":ok data data data :done " ]; then
		echo "FAIL $name: unexpected stream: $(printf '%q' "$body")"
	elif [ -n "$ts" ]; then
		echo "FAIL $name: timestamps outside the stream's time" \
			"($t0 to $t1 ms): $(echo $ts)"
	elif [ $status -ne 0 ]; then
		echo "FAIL $name: exit status $status after SIGTERM, expected 0"
	else
		echo "pass $name"
	fi
}
