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
if ! make -s all tests bench/sseload; then
	echo "FAIL build: make failed"
	echo "0 passed, 1 failed"
	exit 1
fi

run timerwheel ./tests/test_timerwheel
run http ./tests/test_http
run smuggling ./tests/test_smuggling
run wire ./tests/wire ./sse
run routes ./tests/routes ./sse
run minify ./tests/minify.sh
run shapes ./tests/shapes ./sse
run hub ./tests/hub ./sse
run redis ./tests/redis ./sse
run swarm ./tests/swarm ./sse
run faults ./tests/faults ./sse
run syscall-faults ./tests/syscall_faults ./sse
run fdlimit ./tests/fdlimit.sh
run browser ./tests/browser/run.sh
run workers ./tests/workers.sh ./sse
run sseload ./tests/sseload-smoke.sh ./sse
run nginx ./tests/nginx.sh ./sse
run ipv6 ./tests/ipv6.sh ./sse
run idle ./tests/idle.sh ./sse
run valgrind ./tests/valgrind.sh
run static ./tests/static.sh
run cross ./tests/cross.sh
run lint ./tests/lint.sh

# The same tests again with the server and the unit tests built under
# AddressSanitizer and UBSan: a finding aborts the program and leaves a
# report, and any report fails the run.
echo "== sanitizers"
san=tests/out/san
if make -s sanitize-build; then
	rm -f $san/report.*
	export ASAN_OPTIONS=log_path=$PWD/$san/report
	export UBSAN_OPTIONS=log_path=$PWD/$san/report
	run san-timerwheel ./$san/test_timerwheel
	run san-http ./$san/test_http
	run san-smuggling ./$san/test_smuggling
	run san-wire ./tests/wire ./$san/sse
	run san-routes ./tests/routes ./$san/sse
	run san-shapes ./tests/shapes ./$san/sse
	run san-hub ./tests/hub ./$san/sse
	run san-redis ./tests/redis ./$san/sse
	run san-swarm ./tests/swarm ./$san/sse
	run san-faults ./tests/faults ./$san/sse
	run san-syscall-faults ./tests/syscall_faults ./$san/sse
	run san-workers ./tests/workers.sh ./$san/sse
	unset ASAN_OPTIONS UBSAN_OPTIONS
	if ls $san/report.* >/dev/null 2>&1; then
		echo "FAIL sanitizers: findings"
		cat $san/report.* | head -60
		failed=$((failed + 1))
	else
		echo "pass sanitizers: no findings"
		passed=$((passed + 1))
	fi
else
	echo "FAIL sanitizers: the sanitized build failed"
	failed=$((failed + 1))
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
