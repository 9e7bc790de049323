#!/usr/bin/env bash
# tests/browser/run.sh - the browser test, as test.sh runs it: skips when
# Chromium or Node.js is missing, installs playwright-core from the lock
# file on first use (a skip too when npm cannot reach its registry), then
# runs e2e.mjs against the sse built at the top of the repository.  Case
# lines on stdout; npm's chatter on stderr.
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
if [ ! -d "$here/node_modules/playwright-core" ]; then
	if ! command -v npm >/dev/null; then
		echo "skip browser: npm is not installed"
		exit 0
	fi
	# A registry out of reach (no network, a proxy, a firewall) is a
	# missing tool, not a fault of ours; any other failure of npm ci is.
	if ! npm_out=$(cd "$here" && npm ci --no-audit --no-fund 2>&1); then
		printf '%s\n' "$npm_out" >&2
		code=$(printf '%s\n' "$npm_out" | grep -oE 'E(NOTFOUND|AI_AGAIN|CONNREFUSED|CONNRESET|TIMEDOUT|NETUNREACH|HOSTUNREACH|PROXY)|ERR_SOCKET_TIMEOUT|network' | head -1)
		if [ -n "$code" ]; then
			echo "skip browser: npm ci cannot reach its registry" \
				"($(cd "$here" && npm config get registry)): $code"
			exit 0
		fi
		echo "FAIL browser: npm ci failed:" \
			"$(printf '%s\n' "$npm_out" | grep -m1 'npm error')"
		exit 1
	fi
	printf '%s\n' "$npm_out" >&2
fi
exec node "$here/e2e.mjs" "$root/sse"
