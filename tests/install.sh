#!/usr/bin/env bash
# install.sh - the builds keep out of each other's way, and make install
# puts what the README says where it says, manual pages included, in a
# copy of the tree (so that the tree's own binaries stay as they are):
#
#   outputs       a build for another machine never leaves ./sse stale:
#                 `make CC=aarch64-linux-gnu-gcc` then `make` gives a
#                 native ./sse again, and the static builds keep their
#                 own names through it all
#   static-redis  `make static STATIC_REDIS=1` then `make static` gives
#                 the build without the Redis client again
#   install       sse, sseload and both pages under DESTDIR; BIN= puts
#                 another build in as sse (and no x86-64 sseload)
#   man-*         each page renders without a warning, and names every
#                 option its program's --help lists
#   uninstall     leaves nothing behind
set -u
cd "$(dirname "$0")/.."

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
tar -cf - Makefile *.c *.h web man bench/*.c | tar -xf - -C "$dir"
build() { make -s -C "$dir" "$@" 2>&1; }

# outputs: the deployment block's builds, in the README's order.
native=$(uname -m | sed 's/_/-/')
if ! command -v file >/dev/null; then
	echo "skip outputs: file is not installed (Debian file)"
elif ! command -v aarch64-linux-gnu-gcc >/dev/null; then
	echo "skip outputs: aarch64-linux-gnu-gcc is not installed" \
		"(Debian gcc-aarch64-linux-gnu)"
elif ! command -v musl-gcc >/dev/null; then
	echo "skip outputs: musl-gcc is not installed (Debian musl-tools)"
elif out=$(build static && build CC=aarch64-linux-gnu-gcc &&
	   build sse-arm64) && [ -z "$out" ]; then
	arm=$(file -b "$dir/sse")
	out=$(build)
	now=$(file -b "$dir/sse")
	if ! printf '%s' "$arm" | grep -q aarch64; then
		echo "FAIL outputs: make CC=aarch64-linux-gnu-gcc built $arm"
	elif ! printf '%s' "$now" | grep -qi "$native"; then
		echo "FAIL outputs: make after the ARM build left ./sse as: $now"
	elif [ ! -e "$dir/sse-static" ] || [ ! -e "$dir/sse-arm64" ]; then
		echo "FAIL outputs: sse-static or sse-arm64 is gone:" \
			"$(cd "$dir" && ls sse*)"
	else
		echo "pass outputs: ./sse native again, sse-static and sse-arm64 kept"
	fi
else
	echo "FAIL outputs: $out"
fi

# static-redis: the static build remembers its flags (static.cmd).
if ! command -v musl-gcc >/dev/null; then
	echo "skip static-redis: musl-gcc is not installed (Debian musl-tools)"
elif out=$(rm -f "$dir/sse-static" && build static STATIC_REDIS=1 &&
	   build static) && [ -z "$out" ]; then
	said=$(timeout 5 "$dir/sse-static" --redis 127.0.0.1:1 -b 127.0.0.1 \
		-p 0 2>&1)
	if printf '%s' "$said" | grep -q 'no Redis client'; then
		echo "pass static-redis"
	else
		echo "FAIL static-redis: make static after STATIC_REDIS=1 left" \
			"the Redis build: --redis said: $said"
	fi
else
	echo "FAIL static-redis: $out"
fi

# install and uninstall.
root=$dir/root
if ! out=$(build install DESTDIR="$root"); then
	echo "FAIL install: make install: $out"
else
	want="bin/sse bin/sseload share/man/man1/sse.1 share/man/man1/sseload.1"
	got=$(cd "$root/usr/local" && find . -type f | sed 's|^\./||' | sort |
		tr '\n' ' ')
	if [ "$got" != "$(echo $want | tr ' ' '\n' | sort | tr '\n' ' ')" ]; then
		echo "FAIL install: installed $got, expected $want"
	else
		echo "pass install: $want"
	fi
	out=$(build uninstall DESTDIR="$root")
	left=$(find "$root" -type f)
	if [ -n "$left" ]; then
		echo "FAIL uninstall: left $left"
	else
		echo "pass uninstall"
	fi
fi
if command -v musl-gcc >/dev/null; then
	root=$dir/root-static
	if ! out=$(build install BIN=sse-static DESTDIR="$root"); then
		echo "FAIL install-bin: make install BIN=sse-static: $out"
	elif ! cmp -s "$dir/sse-static" "$root/usr/local/bin/sse"; then
		echo "FAIL install-bin: bin/sse is not sse-static"
	elif [ -e "$root/usr/local/bin/sseload" ]; then
		echo "FAIL install-bin: the native sseload went in with BIN=sse-static"
	else
		echo "pass install-bin: sse-static as bin/sse, its page, no sseload"
	fi
fi

# man-*: each page renders cleanly and lists every option of --help.
build sse bench/sseload >/dev/null
for page in sse sseload; do
	prog=$dir/sse
	[ $page = sseload ] && prog=$dir/bench/sseload
	if ! command -v man >/dev/null; then
		echo "skip man-$page: man is not installed (Debian man-db)"
		continue
	fi
	warn=$(MANWIDTH=80 man --warnings=w -l "$dir/man/$page.1" 2>&1 >/dev/null)
	text=$(MANWIDTH=200 man -l "$dir/man/$page.1" 2>/dev/null)
	missing=
	for opt in $("$prog" -h 2>&1 | grep -oE '(^|[ ,])--?[a-zA-Z][a-z-]*' |
		     tr -d ' ,' | sort -u); do
		printf '%s\n' "$text" | grep -qE -- "(^|[^a-z-])$opt([^a-z-]|$)" ||
			missing="$missing $opt"
	done
	if [ -n "$warn" ]; then
		echo "FAIL man-$page: man warns: $(printf '%s' "$warn" | head -3)"
	elif [ -z "$text" ]; then
		echo "FAIL man-$page: man renders nothing"
	elif [ -n "$missing" ]; then
		echo "FAIL man-$page: $page -h lists options the page lacks:$missing"
	else
		echo "pass man-$page"
	fi
done
