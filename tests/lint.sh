#!/usr/bin/env bash
# tests/lint.sh - static analysis of the server's C: gcc's -fanalyzer,
# cppcheck, and clang-tidy with the checks in .clang-tidy.
#
# For each tool it prints the findings, indented, then one line:
# "pass lint-TOOL", "FAIL lint-TOOL: N findings" or "skip lint-TOOL: not
# installed" (test.sh counts those lines).  It exits 1 if any tool reported
# a finding, 0 otherwise; a missing tool is skipped, not failed.
#
# A finding that is judged harmless is silenced where it is, with its why,
# so that this script stays quiet until a new one appears:
#   clang-tidy   // NOLINT(check-name): why     (or NOLINTNEXTLINE)
#   cppcheck     // cppcheck-suppress id        on the line above
#   gcc          #pragma GCC diagnostic push / ignored "-Wanalyzer-..." /
#                pop around the function (GCC 12 honours it for -fanalyzer)
# Each tool's whole output (gcc's event paths, clang-tidy's notes) is kept
# in tests/out/lint/TOOL.txt.
set -u
cd "$(dirname "$0")/.." || exit 2
root=$PWD
out=tests/out/lint
mkdir -p "$out"
failed=0

# The first line of each diagnostic in file, whose lines look like
# "sse.c:12:3: warning: ...": those are the findings.
findings() {
	grep -E "^[^ :]+:[0-9]+:[0-9]+: ($2): " "$1" | sed "s|^$root/||"
}

# Prints tool's findings from file and its verdict; status is the tool's
# exit status, which counts as a finding when the tool failed silently.
verdict() {
	local tool=$1 file=$2 pattern=$3 status=$4 n
	n=$(findings "$file" "$pattern" | wc -l)
	findings "$file" "$pattern" | sed 's/^/    /'
	if [ "$n" -eq 0 ] && [ "$status" -ne 0 ]; then
		sed 's/^/    /' "$file" | tail -20
		echo "FAIL lint-$tool: exited with status $status"
		failed=1
	elif [ "$n" -ne 0 ]; then
		echo "FAIL lint-$tool: $n findings"
		failed=1
	else
		echo "pass lint-$tool"
	fi
}

# sse.c includes the demo page, which make builds from web/index.html.
if ! make -s web/page.h; then
	echo "FAIL lint-build: make web/page.h failed"
	exit 1
fi

# gcc -fanalyzer (GCC 10 and later): leaks, double frees, NULL and
# uninitialised uses, along every path.  The command is the one below, run
# in a scratch directory so that its .o files do not land in the tree.
if ! command -v gcc >/dev/null; then
	echo "skip lint-gcc: not installed"
elif ! gcc -fanalyzer -x c -c /dev/null -o /dev/null 2>/dev/null; then
	echo "skip lint-gcc: no -fanalyzer (GCC 10 or later)"
else
	scratch=$(mktemp -d)
	# -Wno-analyzer-malloc-leak: a connection is reached through epoll's
	# data.ptr, and the analyzer cannot follow that pointer back into
	# srv.conns[], so it takes every buffer a connection owns (its log
	# line, its unsent output) for leaked; conn_close() frees them, and
	# tests/valgrind.sh checks for real leaks.
	(cd "$scratch" &&
	 gcc -std=gnu11 -fanalyzer -Wno-analyzer-malloc-leak -O2 \
		-c "$root/sse.c" "$root/http.c" \
		"$root/timerwheel.c") >"$out/gcc.txt" 2>&1
	status=$?
	rm -rf "$scratch"
	verdict gcc "$out/gcc.txt" "warning|error|fatal error" "$status"
fi

# cppcheck: undefined behaviour, misuse of the C library, and style.
if ! command -v cppcheck >/dev/null; then
	echo "skip lint-cppcheck: not installed"
else
	cppcheck --enable=warning,performance,portability,style --std=c11 \
		--inline-suppr -q sse.c http.c timerwheel.c \
		>"$out/cppcheck.txt" 2>&1
	status=$?
	verdict cppcheck "$out/cppcheck.txt" \
		"error|warning|style|performance|portability|information" \
		"$status"
fi

# clang-tidy: the checks .clang-tidy names, with the reason for each one
# it leaves out.
if ! command -v clang-tidy >/dev/null; then
	echo "skip lint-clang-tidy: not installed"
else
	clang-tidy sse.c http.c timerwheel.c -- -std=gnu11 -I. \
		>"$out/clang-tidy.txt" 2>&1
	status=$?
	verdict clang-tidy "$out/clang-tidy.txt" "warning|error" "$status"
fi

exit "$failed"
