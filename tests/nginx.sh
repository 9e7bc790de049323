#!/usr/bin/env bash
# nginx.sh - sse behind nginx, as it would be deployed.
#
#	tests/nginx.sh PATH-TO-SSE
#
# 1. nginx as a reverse proxy in front of one sse (tests/nginx/proxy.conf):
#    through it, each event of POST /api and GET /message-stream arrives at
#    its time, not held back to the end of the stream, and the de-chunked
#    body is what sse sends directly.  The same with only sse's
#    X-Accel-Buffering header to turn nginx's buffering off, and a control
#    where nginx is told to ignore it, which must show the events held.
# 2. nginx balancing over two sse processes (tests/nginx/balance.conf):
#    both get requests; SIGTERM to the one serving a stream lets the stream
#    finish through nginx, that sse exits 0, and nginx sends what follows
#    to the other.
#
# Prints "pass NAME", "FAIL NAME: why" or "skip NAME: reason" per case and
# exits 0 if nothing failed.  nginx runs in the foreground as one process
# (master_process off) with every file it writes in a temporary directory,
# so the test needs no root and leaves /etc/nginx and /var alone.
set -u
. "$(dirname "$0")/lib.sh"

conf=$(cd "$(dirname "$0")" && pwd)/nginx
for tool in nginx curl python3; do
	need $tool nginx-proxy nginx-balance
done
sse_arg nginx "$@"

INTERVAL=300 EVENTS=5	# the streams: 5 events 300 ms apart

# A port that is free now (nginx cannot listen on port 0 and say which).
free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# start_sse NAME ARGS...: starts sse on a free loopback port; sets
# sse_pid and sse_port, or fails NAME and returns 1.
start_sse() {
	start "$1" "$sse" -b 127.0.0.1 -p 0 -q "${@:2}" || return 1
	sse_pid=$pid sse_port=$port
}

# start_nginx NAME TEMPLATE SED-ARGS...: fills in the template, starts
# nginx on a free port and waits until it answers; sets nginx_pid and
# nginx_port, or fails NAME and returns 1.  A port taken between
# free_port and nginx's bind is retried with another.
start_nginx() {
	local name=$1 template=$2 dir i code
	shift 2
	dir=$tmp/$name
	mkdir -p "$dir"
	for _ in 1 2 3 4 5; do
		nginx_port=$(free_port)
		sed -e "s#@PREFIX@#$dir#g" -e "s/@LISTEN@/$nginx_port/g" "$@" \
			"$template" >"$dir/nginx.conf"
		: >"$dir/error.log"
		nginx -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" \
			-g "daemon off; master_process off; pid $dir/nginx.pid;" \
			2>>"$dir/error.log" &
		nginx_pid=$!
		pids+=("$nginx_pid")
		for i in $(seq 100); do
			running "$nginx_pid" || break
			code=$(curl -s -o /dev/null -w '%{http_code}' \
				--max-time 2 "http://127.0.0.1:$nginx_port/stats")
			[ "$code" = 200 ] && return 0
			sleep 0.1
		done
		stop "$nginx_pid"
		grep -q 'Address already in use' "$dir/error.log" || break
	done
	fail "$name: nginx did not start: $(grep -v '^$' "$dir/error.log" |
		tail -3 | tr '\n' ' ')"
	return 1
}

# counter PORT KEY: a counter from sse's /stats, asked directly.
counter() {
	curl -s --max-time 5 "http://127.0.0.1:$1/stats" |
		sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p"
}

# The stream reader: sends one request, timestamps each event (each piece
# of the de-chunked, de-gzipped body up to a blank line) as it arrives,
# checks the events and their times, writes the body with its timestamps
# replaced by T to OUT, and prints one line: "ok SUMMARY", "held SUMMARY"
# (with --expect-held) or "bad WHY".
cat >"$tmp/reader.py" <<'EOF'
import re, socket, sys, time, zlib

SLACK_EARLY, SLACK_LATE = 10, 250	# ms around each event's due time

def read(host, port, kind, path, gz, limit):
	if kind == 'api':
		body = b'{"stream":true}'
		head = ('POST %s HTTP/1.1\r\nContent-Type: application/json\r\n'
			'Content-Length: %d\r\n' % (path, len(body)))
	else:
		body = b''
		head = 'GET %s HTTP/1.1\r\nAccept: text/event-stream\r\n' % path
	head += 'Host: %s:%d\r\n' % ('[%s]' % host if ':' in host else host, port)
	if gz:
		head += 'Accept-Encoding: gzip\r\n'
	head += 'Connection: close\r\n\r\n'
	s = socket.create_connection((host, port), timeout=5)
	s.sendall(head.encode() + body)
	t0 = time.monotonic()
	deadline = t0 + limit
	raw = b''			# received, not yet decoded
	text = b''			# decoded body
	pieces = []			# (text, ms after the request, epoch ms)
	taken = 0			# text up to here is in pieces
	status, headers, mode, left, done = None, {}, None, 0, False
	unzip = None
	while not done:
		wait = deadline - time.monotonic()
		if wait <= 0:
			raise Exception('no end of the response within %.1f s' % limit)
		s.settimeout(wait)
		try:
			data = s.recv(65536)
		except socket.timeout:
			continue
		now = time.monotonic()
		ms, epoch = (now - t0) * 1000, time.time() * 1000
		if not data:
			if mode == 'eof':
				break
			raise Exception('connection closed before the end of the '
				'response (%d body bytes)' % len(text))
		raw += data
		out = b''
		if status is None:
			end = raw.find(b'\r\n\r\n')
			if end < 0:
				continue
			lines = raw[:end].decode('latin-1').split('\r\n')
			raw = raw[end + 4:]
			status = int(lines[0].split()[1])
			for line in lines[1:]:
				k, _, v = line.partition(':')
				headers[k.strip().lower()] = v.strip()
			if 'chunked' in headers.get('transfer-encoding', ''):
				mode = 'chunked'
			elif 'content-length' in headers:
				mode, left = 'length', int(headers['content-length'])
				done = left == 0
			else:
				mode = 'eof'
			if headers.get('content-encoding') == 'gzip':
				unzip = zlib.decompressobj(16 + zlib.MAX_WBITS)
		if mode == 'chunked':
			while True:
				if left == 0:
					eol = raw.find(b'\r\n')
					if eol < 0:
						break
					size = int(raw[:eol].split(b';')[0], 16)
					if size == 0:
						done = True
						break
					raw, left = raw[eol + 2:], size + 2
				if len(raw) < left:
					if left > 2:
						take = min(len(raw), left - 2)
						out, raw, left = out + raw[:take], raw[take:], left - take
					break
				out, raw, left = out + raw[:left - 2], raw[left:], 0
		elif mode == 'length':
			out, raw = raw[:left], raw[left:]
			left -= len(out)
			done = left == 0
		else:
			out, raw = raw, b''
		if unzip:
			out = unzip.decompress(out)
		text += out
		while True:
			end = text.find(b'\n\n', taken)
			if end < 0:
				break
			pieces.append((text[taken:end], ms, epoch))
			taken = end + 2
	s.close()
	return status, headers, text, pieces

def expected(kind, n, iv):
	"""The pieces a stream must have, as (regex, due ms) pairs."""
	if kind == 'api':
		want = [(re.escape(':ok'), 0)]
		for k in range(1, n + 1):
			want.append((r'data: \{"message":"Hello, world!",'
				r'"timestamp":(\d+)\}', k * iv))
		want.append((re.escape(':done'), n * iv))
	else:
		want = [(re.escape('retry: %d\n:ok' % iv), 0)]
		for k in range(1, n + 1):
			want.append((r'id: %d\ndata: \{"user":"sse","text":'
				r'"Hello, world! \(%d/%d\)","timestamp":(\d+)\}'
				% (k, k, n), k * iv))
	return want

def main():
	args, gz, held = sys.argv[1:], False, False
	while args[0].startswith('--'):
		opt = args.pop(0)
		gz |= opt == '--gzip'
		held |= opt == '--expect-held'
	host, port, kind, path, n, iv, out = args
	port, n, iv = int(port), int(n), int(iv)
	try:
		status, headers, text, pieces = read(host, port, kind, path, gz,
			n * iv / 1000 + 5)
	except Exception as e:
		print('bad %s' % e)
		return
	with open(out, 'wb') as f:
		f.write(re.sub(rb'"timestamp":\d+', b'"timestamp":T', text))
	ctype = headers.get('content-type', '')
	if status != 200 or not ctype.startswith('text/event-stream'):
		print('bad status %s, Content-Type %r' % (status, ctype))
		return
	if gz and headers.get('content-encoding') != 'gzip':
		print('bad asked for gzip, got Content-Encoding %r'
			% headers.get('content-encoding'))
		return
	want = expected(kind, n, iv)
	if not text.endswith(b'\n\n') or len(pieces) != len(want):
		print('bad %d pieces, expected %d: %r' % (len(pieces), len(want),
			text[:300]))
		return
	late = []
	for i, ((got, ms, epoch), (pattern, due)) in enumerate(zip(pieces, want)):
		m = re.fullmatch(pattern, got.decode('latin-1'))
		if not m:
			print('bad piece %d is %r, expected /%s/' % (i, got, pattern))
			return
		late.append(ms - due)
		if held:
			continue
		if not -SLACK_EARLY <= ms - due <= SLACK_LATE:
			print('bad piece %d (%r) arrived at %.0f ms, due at %d ms '
				'(allowed %+d..%+d ms); arrivals: %s' % (i, got[:20], ms,
				due, -SLACK_EARLY, SLACK_LATE,
				' '.join('%.0f' % p[1] for p in pieces)))
			return
		if m.groups():
			ts = int(m.group(1))
			if not epoch - SLACK_LATE <= ts <= epoch + SLACK_EARLY:
				print('bad piece %d: timestamp %d, arrived at %.0f'
					% (i, ts, epoch))
				return
	first, last = pieces[1][1], pieces[n][1]
	arrivals = ' '.join('%.0f' % p[1] for p in pieces)
	if held:
		if first >= n * iv - SLACK_EARLY:
			print('held event 1 arrived at %.0f ms, with the last '
				'(arrivals in ms: %s)' % (first, arrivals))
		else:
			print('bad not held: event 1 arrived at %.0f ms, event %d at '
				'%.0f ms (arrivals in ms: %s)' % (first, n, last, arrivals))
		return
	# Every event on time already implies this; said outright, it is what
	# a buffering proxy gets wrong.
	if first >= (n - 1) * iv:
		print('bad event 1 arrived at %.0f ms, not before event %d was '
			'due' % (first, n))
		return
	print('ok events at %s ms (due every %d ms; latest %+.0f ms)'
		% (arrivals, iv, max(late)))

main()
EOF

# read_stream NAME [--gzip] [--expect-held] PORT KIND PATH OUT: runs the
# reader; prints its line.
read_stream() {
	timeout 30 python3 "$tmp/reader.py" "$@" 2>&1 | tail -1
}

# check NAME LINE: pass or fail a case by the reader's line.
check() {
	case $2 in
	ok\ *)	pass "$1: ${2#ok }" ;;
	*)	fail "$1: ${2#bad }" ;;
	esac
}

# --- 1. one sse behind nginx ----------------------------------------------

proxy() {
	local line p i a1 a2 r1 r2 n=10 codes
	start_sse proxy-sse -n $EVENTS -i $INTERVAL || return
	local sport=$sse_port spid=$sse_pid
	start_nginx nginx-proxy "$conf/proxy.conf" -e "s/@BACKEND@/$sport/g" ||
		return

	for route in api:/api ms:/message-stream; do
		local kind=${route%%:*} path=${route#*:}
		local name=nginx-proxy-${path#/}
		line=$(read_stream 127.0.0.1 "$nginx_port" "$kind" "$path" \
			$EVENTS $INTERVAL "$tmp/$kind.nginx")
		check "$name" "$line"
		line=$(read_stream 127.0.0.1 "$sport" "$kind" "$path" \
			$EVENTS $INTERVAL "$tmp/$kind.direct")
		if [ "${line%% *}" != ok ]; then
			fail "$name-body: the stream straight from sse: ${line#bad }"
		elif ! cmp -s "$tmp/$kind.nginx" "$tmp/$kind.direct"; then
			fail "$name-body: differs from sse's own: through nginx" \
				"$(od -c "$tmp/$kind.nginx" | head -4 | tr -s ' \n' ' ')" \
				"directly $(od -c "$tmp/$kind.direct" | head -4 |
				tr -s ' \n' ' ')"
		else
			pass "$name-body: $(wc -c <"$tmp/$kind.nginx") bytes de-chunked," \
				"the same as straight from sse (timestamps aside)"
		fi
	done

	# Buffering on in nginx, gzip on: sse's X-Accel-Buffering alone keeps
	# the events flowing.
	line=$(read_stream --gzip 127.0.0.1 "$nginx_port" api /header-only/api \
		$EVENTS $INTERVAL "$tmp/header.nginx")
	check nginx-proxy-x-accel-buffering "$line"

	# The control: the header ignored, the events held to the end.  If
	# they were not, the checks above could not tell buffering apart.
	line=$(read_stream --gzip --expect-held 127.0.0.1 "$nginx_port" api \
		/buffered/api $EVENTS $INTERVAL "$tmp/buffered.nginx")
	case $line in
	held\ *) pass "nginx-buffering-control: with X-Accel-Buffering" \
		"ignored and gzip on, ${line#held }" ;;
	*) fail "nginx-buffering-control: ${line#bad }" ;;
	esac

	# Upstream keepalive: plain requests through nginx reuse its
	# connections to sse instead of opening one each.
	a1=$(counter "$sport" accepted) r1=$(counter "$sport" requests)
	codes=
	for ((i = 0; i < n; i++)); do
		codes+=$(curl -s -o /dev/null -w '%{http_code} ' --max-time 5 \
			-d '{"stream":false}' "http://127.0.0.1:$nginx_port/api")
	done
	a2=$(counter "$sport" accepted) r2=$(counter "$sport" requests)
	# Each /stats asked directly is a connection and a request of its own.
	local conns=$((a2 - a1 - 2)) reqs=$((r2 - r1 - 2))
	if [ "$codes" != "$(printf '200 %.0s' $(seq $n))" ]; then
		fail "nginx-proxy-keepalive: statuses $codes"
	elif [ "$reqs" -ne $n ] || [ "$conns" -gt 1 ]; then
		fail "nginx-proxy-keepalive: $n requests through nginx made" \
			"$reqs requests over $conns new connections to sse"
	else
		pass "nginx-proxy-keepalive: $n requests through nginx over" \
			"$conns new upstream connection(s)"
	fi

	stop "$nginx_pid"
	stop "$spid"
}

# --- 2. nginx balancing over two sse --------------------------------------

balance() {
	local b1 b2 p1 p2 i n=10 codes before1 before2 d1 d2 line
	start_sse balance-sse1 -n $EVENTS -i $INTERVAL || return
	b1=$sse_port p1=$sse_pid
	start_sse balance-sse2 -n $EVENTS -i $INTERVAL || return
	b2=$sse_port p2=$sse_pid
	start_nginx nginx-balance "$conf/balance.conf" \
		-e "s/@BACKEND1@/$b1/g" -e "s/@BACKEND2@/$b2/g" || return
	# start_nginx's own probe went through nginx to one of them.

	before1=$(counter "$b1" requests) before2=$(counter "$b2" requests)
	codes=
	for ((i = 0; i < n; i++)); do
		codes+=$(curl -s -o /dev/null -w '%{http_code} ' --max-time 5 \
			-d '{"stream":false}' "http://127.0.0.1:$nginx_port/api")
	done
	d1=$(($(counter "$b1" requests) - before1 - 1))
	d2=$(($(counter "$b2" requests) - before2 - 1))
	if [ "$codes" != "$(printf '200 %.0s' $(seq $n))" ]; then
		fail "nginx-balance: statuses $codes"
	elif [ $((d1 + d2)) -ne $n ] || [ $d1 -eq 0 ] || [ $d2 -eq 0 ]; then
		fail "nginx-balance: $n requests through nginx, the backends" \
			"counted $d1 and $d2"
	else
		pass "nginx-balance: $n requests through nginx, $d1 and $d2 on" \
			"the two backends"
	fi

	# A stream through nginx; SIGTERM to the backend serving it.
	local t_start t_kill
	t_start=$(date +%s%3N)
	python3 "$tmp/reader.py" 127.0.0.1 "$nginx_port" api /api $EVENTS \
		$INTERVAL "$tmp/failover.body" >"$tmp/failover.out" 2>&1 &
	local reader=$!
	pids+=("$reader")
	local victim='' vport='' other='' oport='' s1 s2
	for i in $(seq 50); do
		s1=$(counter "$b1" streams) s2=$(counter "$b2" streams)
		if [ "$s1" = 1 ] && [ "$s2" = 0 ]; then
			victim=$p1 vport=$b1 other=$p2 oport=$b2
		elif [ "$s1" = 0 ] && [ "$s2" = 1 ]; then
			victim=$p2 vport=$b2 other=$p1 oport=$b1
		fi
		[ -n "$victim" ] && break
		sleep 0.05
	done
	if [ -z "$victim" ]; then
		fail "nginx-balance-drain: no backend shows the stream" \
			"(streams: $s1 and $s2)"
		return
	fi
	kill -TERM "$victim"
	t_kill=$(date +%s%3N)

	# Draining, it no longer listens: that is what sends nginx elsewhere.
	local refused=
	for i in $(seq 20); do
		curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$vport/stats"
		[ $? -eq 7 ] && { refused=$(($(date +%s%3N) - t_kill)); break; }
		sleep 0.05
	done
	if [ -z "$refused" ]; then
		fail "nginx-balance-drain-refuses: the draining backend still" \
			"accepts connections 1 s after SIGTERM"
	elif ! running "$reader"; then
		fail "nginx-balance-drain-refuses: the stream was over before" \
			"the check"
	else
		pass "nginx-balance-drain-refuses: the draining backend refused" \
			"connections $refused ms after SIGTERM, its stream still running"
	fi

	if ! wait_exit "$reader" 100; then
		fail "nginx-balance-drain: the reader did not end"
	else
		line=$(tail -1 "$tmp/failover.out")
		case $line in
		ok\ *) pass "nginx-balance-drain: the stream finished through" \
			"nginx after SIGTERM to its backend at" \
			"$((t_kill - t_start)) ms: ${line#ok }" ;;
		*) fail "nginx-balance-drain: ${line#bad }" ;;
		esac
	fi
	if wait_exit "$victim" 50; then
		if [ "$status" -eq 0 ]; then
			pass "nginx-balance-drain-exit: the backend exited 0," \
				"$(($(date +%s%3N) - t_start)) ms after the stream began"
		else
			fail "nginx-balance-drain-exit: exit status $status"
		fi
	else
		fail "nginx-balance-drain-exit: still running 5 s after the" \
			"stream ended"
	fi

	# What follows goes to the other backend.
	local m=4 before
	before=$(counter "$oport" requests)
	codes=
	for ((i = 0; i < m; i++)); do
		codes+=$(curl -s -o /dev/null -w '%{http_code} ' --max-time 5 \
			-d '{"stream":false}' "http://127.0.0.1:$nginx_port/api")
	done
	d1=$(($(counter "$oport" requests) - before - 1))
	line=$(read_stream 127.0.0.1 "$nginx_port" ms /message-stream \
		$EVENTS $INTERVAL "$tmp/after.body")
	if [ "$codes" != "$(printf '200 %.0s' $(seq $m))" ]; then
		fail "nginx-balance-after: statuses $codes"
	elif [ "$d1" -ne $m ]; then
		fail "nginx-balance-after: the remaining backend counted $d1 of" \
			"$m requests"
	elif [ "${line%% *}" != ok ]; then
		fail "nginx-balance-after: a stream: ${line#bad }"
	else
		pass "nginx-balance-after: $m requests and a stream through nginx," \
			"all on the remaining backend"
	fi
	stop "$nginx_pid"
	stop "$other"
}

proxy
balance
exit $failed
