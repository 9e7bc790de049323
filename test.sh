#!/usr/bin/env bash
# test.sh - builds the server and its tests, runs them all, and ends with
# the line "N passed, N failed, N skipped".  Exits non-zero on any failure.
#
# Each test program prints one line per case: "pass NAME", "FAIL NAME: why"
# or "skip NAME: reason"; this script counts those lines.  A program that
# dies without saying so counts as a failure too.
set -u
cd "$(dirname "$0")"

passed=0 failed=0 skipped=0
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

# Runs one test program and counts its case lines.
run() {
	local name=$1 out=$log/$1.out status
	shift
	echo "== $name"
	timeout 300 "$@" >"$out" 2>"$log/$name.err"
	status=$?
	cat "$out"
	local p f s
	p=$(grep -c '^pass ' "$out")
	f=$(grep -c '^FAIL ' "$out")
	s=$(grep -c '^skip ' "$out")
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $name: exited with status $status and no failed case"
		sed 's/^/    /' "$log/$name.err" | tail -20
		failed=$((failed + 1))
	elif [ "$f" -ne 0 ]; then
		sed 's/^/    /' "$log/$name.err" | tail -20
	fi
}

echo "== build"
if ! make -s all tests; then
	echo "FAIL build: make failed"
	echo "0 passed, 1 failed"
	exit 1
fi

run timerwheel ./tests/test_timerwheel
run http ./tests/test_http
run wire ./tests/wire ./sse
run swarm ./tests/swarm ./sse

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
