#!/usr/bin/env bash
# runner.sh - test.sh itself, run in a made-up tree whose "suites" are
# small scripts with known output (and the real tests/browser/run.sh):
#
#   one-line     a suite is one line by default, every case with -v
#   failure      a failed case is printed in full, with the suite's stderr
#   silent-death a suite that exits non-zero without a FAIL line fails
#   missing-tool the browser suite without node is a skip with its reason,
#                and test.sh still passes
#   no-registry  npm ci that cannot reach its registry is a skip too
#   unknown      a suite asked for by a name that does not exist fails
set -u
cd "$(dirname "$0")/.."

tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/tests/browser"
cp test.sh "$tree/"
cp tests/browser/run.sh tests/browser/package.json \
	tests/browser/package-lock.json "$tree/tests/browser/"
printf 'all tests bench/sseload sanitize-build:\n\t@:\n' >"$tree/Makefile"
suite() {
	printf '#!/bin/sh\n%s\n' "$2" >"$tree/tests/$1"
	chmod +x "$tree/tests/$1"
}
suite test_timerwheel 'echo "pass a"; echo "pass b"'
suite test_http 'echo "pass x"
echo "FAIL y: a reason long enough to be cut if anything cut it: 0123456789 0123456789 0123456789 0123456789 0123456789"
echo "the suite says why on stderr" >&2; exit 1'
suite test_smuggling 'echo "the suite crashed" >&2; exit 3'

# check NAME OUTPUT-FILE STATUS EXPECTED-STATUS PATTERN...: each extended
# regular expression must match a line of the output.
check() {
	local name=$1 out=$2 status=$3 want=$4 re
	shift 4
	if [ "$status" -ne "$want" ]; then
		echo "FAIL $name: exit status $status, expected $want:" \
			"$(tr '\n' '|' <"$out")"
		return
	fi
	for re; do
		if ! grep -qE -- "$re" "$out"; then
			echo "FAIL $name: no line matches /$re/ in:" \
				"$(tr '\n' '|' <"$out")"
			return
		fi
	done
	echo "pass $name"
}

out=$tree/out
"$tree/test.sh" timerwheel >"$out" 2>&1
check one-line "$out" $? 0 '^timerwheel +2 passed \([0-9]+ s\)$' \
	'^2 passed, 0 failed, 0 skipped$'
if [ "$(wc -l <"$out")" -ne 3 ]; then
	echo "FAIL one-line-count: $(wc -l <"$out") lines, expected 3" \
		"(build, the suite, the total): $(tr '\n' '|' <"$out")"
else
	echo "pass one-line-count"
fi
"$tree/test.sh" -v timerwheel >"$out" 2>&1
check one-line-verbose "$out" $? 0 '^pass a$' '^pass b$' \
	'^2 passed, 0 failed, 0 skipped$'

"$tree/test.sh" http >"$out" 2>&1
check failure "$out" $? 1 '^http +1 passed, 1 failed' \
	'^  FAIL y: a reason long enough .* 0123456789 0123456789$' \
	'^    the suite says why on stderr$' '^1 passed, 1 failed, 0 skipped$'

"$tree/test.sh" smuggling >"$out" 2>&1
check silent-death "$out" $? 1 \
	'^  FAIL smuggling: exited with status 3 and no failed case$' \
	'^    the suite crashed$' '^0 passed, 1 failed, 0 skipped$'

"$tree/test.sh" nosuch >"$out" 2>&1
check unknown "$out" $? 1 '^FAIL nosuch: no suite of that name$'

# The browser suite on a PATH without node: each directory that has one
# is replaced by a copy made of links to all its other commands.
path= i=0
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
	if [ -e "$d/node" ]; then
		i=$((i + 1))
		mkdir "$tree/bin$i"
		cp -s "$d"/* "$tree/bin$i/" 2>/dev/null
		rm -f "$tree/bin$i/node"
		d=$tree/bin$i
	fi
	path=${path:+$path:}$d
done
PATH=$path "$tree/test.sh" browser >"$out" 2>&1
check missing-tool "$out" $? 0 '^browser +skipped: .* is not installed$' \
	'^0 passed, 0 failed, 1 skipped$'

# npm ci against a registry nothing listens on, with an empty cache.
if [ ! -x /usr/bin/chromium ] || ! command -v node >/dev/null ||
   ! command -v npm >/dev/null; then
	echo "skip no-registry: needs chromium, node and npm to get as far as npm ci"
else
	npm_config_registry=http://127.0.0.1:9/ npm_config_cache=$tree/npm \
	npm_config_fetch_retries=0 "$tree/test.sh" browser >"$out" 2>&1
	check no-registry "$out" $? 0 \
		'^browser +skipped: npm ci cannot reach its registry \(http://127.0.0.1:9/\): ECONNREFUSED$' \
		'^0 passed, 0 failed, 1 skipped$'
fi
