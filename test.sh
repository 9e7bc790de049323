#!/usr/bin/env bash
# test.sh - builds the server and its tests, runs them, and ends with the
# line "N passed, N failed, N skipped".  Exits non-zero on any failure.
#
#	./test.sh [-v] [SUITE...]
#
# Each suite below is a test program that prints one line per case:
# "pass NAME", "FAIL NAME: why" or "skip NAME: reason"; this script counts
# those lines.  It prints one line per suite, with its counts and time,
# and under it every FAIL and skip line in full (for a failed suite, the
# end of its stderr too); -v prints every case.  A suite whose tool is
# missing says so with a skip, never a failure.  A program that dies
# without saying why, or runs past 300 s, counts as a failure.  SUITE
# names run only those suites (./test.sh routes shapes; "sanitizers" runs
# every san-* suite).
set -u
cd "$(dirname "$0")"

verbose=0 only=" "
for arg; do
	case $arg in
	-v) verbose=1 ;;
	-h | --help) sed -n '2,/^set/{/^set/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	-*) echo "test.sh: unknown option $arg (-v, -h)" >&2; exit 2 ;;
	*) only="$only$arg " ;;
	esac
done

passed=0 failed=0 skipped=0 ran=" "
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

# Whether the suite NAME is to run: all are, unless names were given;
# "sanitizers" stands for every san-* suite and runs with any of them.
wanted() {
	[ "$only" = " " ] && return 0
	case $only in *" $1 "*) return 0 ;; esac
	case $1 in
	san-*) case $only in *" sanitizers "*) return 0 ;; esac ;;
	sanitizers) case $only in *" san-"*) return 0 ;; esac ;;
	esac
	return 1
}

# "17 passed, 1 failed, 2 skipped", leaving out the zeros.
counts() {
	local text=
	[ "$1" -ne 0 ] && text="$1 passed"
	[ "$2" -ne 0 ] && text="${text:+$text, }$2 failed"
	[ "$3" -ne 0 ] && text="${text:+$text, }$3 skipped"
	echo "${text:-no cases}"
}

# run NAME CMD...: runs one suite, counts its case lines and reports it.
run() {
	local name=$1 out=$log/$1.out err=$log/$1.err status p f s t0
	shift
	wanted "$name" || return 0
	ran="$ran$name "
	[ $verbose = 1 ] && echo "== $name"
	t0=$SECONDS
	if declare -F "$1" >/dev/null; then
		"$@" >"$out" 2>"$err"
	else
		timeout 300 "$@" >"$out" 2>"$err"
	fi
	status=$?
	p=$(grep -c '^pass ' "$out")
	f=$(grep -c '^FAIL ' "$out")
	s=$(grep -c '^skip ' "$out")
	if [ "$status" -eq 124 ]; then
		echo "FAIL $name: still running after 300 s, stopped" >>"$out"
		f=$((f + 1))
	elif [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $name: exited with status $status and no failed case" >>"$out"
		f=1
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	if [ $verbose = 1 ]; then
		cat "$out"
	elif [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ "$s" -eq 1 ]; then
		# The whole suite skipped: its reason is the line.
		printf '%-14s skipped: %s\n' "$name" \
			"$(sed -n 's/^skip [^:]*: //p' "$out")"
	else
		printf '%-14s %s (%d s)\n' "$name" "$(counts $p $f $s)" \
			$((SECONDS - t0))
		grep -E '^(FAIL|skip) ' "$out" | sed 's/^/  /'
	fi
	if [ "$f" -ne 0 ]; then
		echo "  $name's stderr, the end:"
		tail -20 "$err" | sed 's/^/    /'
	fi
}

# The report of the sanitized runs: any finding fails.
san_reports() {
	if ls $san/report.* >/dev/null 2>&1; then
		echo "FAIL sanitizers: findings"
		cat $san/report.* | head -60
	else
		echo "pass sanitizers: no findings"
	fi
}

[ $verbose = 1 ] && echo "== build"
t0=$SECONDS
if ! make -s all tests bench/sseload >"$log/build" 2>&1; then
	cat "$log/build"
	echo "FAIL build: make failed"
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
fi
cat "$log/build"
[ $verbose = 1 ] || printf '%-14s done (%d s)\n' build $((SECONDS - t0))

run timerwheel ./tests/test_timerwheel
run http ./tests/test_http
run smuggling ./tests/test_smuggling
run wire ./tests/wire ./sse
run routes ./tests/routes ./sse
run minify ./tests/minify.sh
run runner ./tests/runner.sh
run shapes ./tests/shapes ./sse
run hub ./tests/hub ./sse
run redis ./tests/redis ./sse
run swarm ./tests/swarm ./sse
run faults ./tests/faults ./sse
run syscall-faults ./tests/syscall_faults ./sse
run soak ./bench/soak -d 30 -c 16 --check ./sse
run fdlimit ./tests/fdlimit.sh
run browser ./tests/browser/run.sh
run workers ./tests/workers.sh ./sse
run hub-stdin ./tests/hub-stdin.sh ./sse
run hub-workers ./tests/hub-workers.sh ./sse
run sseload ./tests/sseload-smoke.sh ./sse
run nginx ./tests/nginx.sh ./sse
run ipv6 ./tests/ipv6.sh ./sse
run idle ./tests/idle.sh ./sse
run valgrind ./tests/valgrind.sh
run static ./tests/static.sh
run cross ./tests/cross.sh
run install ./tests/install.sh
run lint ./tests/lint.sh

# The same tests again with the server and the unit tests built under
# AddressSanitizer and UBSan: a finding aborts the program and leaves a
# report, and any report fails the run.
san=tests/out/san
if wanted sanitizers; then
	[ $verbose = 1 ] && echo "== sanitizers"
	if make -s sanitize-build >"$log/san-build" 2>&1; then
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
		run san-hub-workers ./tests/hub-workers.sh ./$san/sse
		unset ASAN_OPTIONS UBSAN_OPTIONS
		run sanitizers san_reports
	else
		cat "$log/san-build"
		echo "FAIL sanitizers: the sanitized build failed"
		failed=$((failed + 1))
	fi
fi

# A suite asked for by name that does not exist is a mistake, not a pass.
for name in $only; do
	case $ran in
	*" $name "*) ;;
	*) echo "FAIL $name: no suite of that name"
	   failed=$((failed + 1)) ;;
	esac
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
