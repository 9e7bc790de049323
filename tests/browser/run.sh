#!/usr/bin/env bash
# tests/browser/run.sh - the browser test, as test.sh runs it: skips when
# Chromium or Node.js is missing, installs playwright-core from the lock
# file on first use, then runs e2e.mjs against the sse built at the top of
# the repository.  Case lines on stdout; npm's chatter on stderr.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

if [ ! -x /usr/bin/chromium ]; then
	echo "skip browser: /usr/bin/chromium is not installed"
	exit 0
fi
if ! command -v node >/dev/null; then
	echo "skip browser: node is not installed"
	exit 0
fi
if [ ! -d "$here/node_modules" ]; then
	if ! command -v npm >/dev/null; then
		echo "skip browser: npm is not installed"
		exit 0
	fi
	if ! (cd "$here" && npm ci --no-audit --no-fund) >&2; then
		echo "FAIL browser: npm ci failed"
		exit 1
	fi
fi
exec node "$here/e2e.mjs" "$root/sse"
