#!/usr/bin/env bash
# valgrind.sh - a short scenario under valgrind's memcheck: plain answers,
# a stream, an error, a malformed request, a client that leaves mid-stream
# and a graceful stop.  Any memcheck error or leaked block fails it.
set -u
cd "$(dirname "$0")/.."
. tests/lib.sh

need valgrind valgrind
need curl valgrind
start valgrind valgrind --quiet --leak-check=full \
	--show-leak-kinds=definite,indirect \
	--errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
	--log-file="$tmp/vg" ./sse -b 127.0.0.1 -p 0 -q -n 3 -i 100 \
	--publish-open || exit 1
url=http://127.0.0.1:$port
curl -s "$url/api" -d '{"stream":false}' >/dev/null
curl -s -N "$url/api" -d '{"stream":true}' >"$tmp/stream"
curl -s -N "$url/message-stream?size=300" >/dev/null
curl -s "$url/api" -d '{"stream":tru' >/dev/null
curl -s "$url/nowhere" "$url/stats" "$url/metrics" "$url/" >/dev/null
printf 'GET / HTTP/1.1\r\nHost: a\r\n Folded: x\r\n\r\n' |
	curl -s --max-time 5 telnet://127.0.0.1:$port >/dev/null
# Leaves in the middle of a stream.
curl -s -N --max-time 0.15 "$url/api" -d '{"stream":true}' >/dev/null
# The hub: a subscriber of two topics, publishes, a resume with a gap.
curl -s "$url/topics/v" -d 'before' >/dev/null
curl -s -N --max-time 3 "$url/topics/v,w?history=1" >"$tmp/hub" &
follower=$!
sleep 1
curl -s "$url/topics/v" -d 'a' >/dev/null
curl -s "$url/topics/w?event=x" --data-binary $'b\r\nc' >/dev/null
curl -s -N --max-time 0.5 -H 'Last-Event-ID: junk' "$url/topics/v" >/dev/null
wait $follower
# memcheck's leak check runs after the server's own exit.
stop $pid 300
if [ "$(grep -c '^data: ' "$tmp/stream")" != 3 ]; then
	fail "valgrind: the stream under valgrind was not whole"
elif [ "$(grep -c '^id: ' "$tmp/hub")" != 3 ]; then
	fail "valgrind: the hub's stream under valgrind was not whole"
elif [ $status -ne 0 ] || [ -s "$tmp/vg" ]; then
	fail "valgrind: exit status $status; memcheck said:"
	sed 's/^/    /' "$tmp/vg" | head -40
else
	pass "valgrind: no memcheck errors, no leaks"
fi
exit $failed
