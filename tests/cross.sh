#!/usr/bin/env bash
# cross.sh - the server cross-built for 32-bit and 64-bit ARM with Debian's
# cross compilers, its unit tests and one live stream run under
# qemu-user: nothing in the code may assume x86 (alignment, the size of
# long, 64-bit time).
set -u
cd "$(dirname "$0")/.."
. tests/stream-check.sh

failed=0
for target in arm:arm-linux-gnueabihf aarch64:aarch64-linux-gnu; do
	arch=${target%%:*} triple=${target#*:}
	cc=$triple-gcc qemu=qemu-$arch-static
	if ! command -v "$cc" >/dev/null; then
		echo "skip cross-$arch: $cc is not installed (Debian gcc-$triple)"
		continue
	fi
	if ! command -v "$qemu" >/dev/null; then
		echo "skip cross-$arch: $qemu is not installed (qemu-user-static)"
		continue
	fi
	# Build in a copy, so that the tree's own ./sse stays native.
	dir=$(mktemp -d)
	tar -cf - Makefile *.c *.h web tests/*.c tests/*.h | tar -xf - -C "$dir"
	out=$(make -s -C "$dir" CC="$cc" sse tests/test_timerwheel \
		tests/test_http 2>&1)
	if [ $? -ne 0 ] || [ -n "$out" ]; then
		echo "FAIL cross-$arch-build: make CC=$cc: $out"
		failed=1
		rm -rf "$dir"
		continue
	fi
	echo "pass cross-$arch-build: $(file -b "$dir/sse" | cut -d, -f1-2)"
	run="$qemu -L /usr/$triple"
	for t in test_timerwheel test_http; do
		if res=$($run "$dir/tests/$t" 2>&1); then
			echo "pass cross-$arch-$t: $(printf '%s\n' "$res" | grep -c '^pass ') cases"
		else
			echo "FAIL cross-$arch-$t: $(printf '%s\n' "$res" | grep -v '^pass ' | head -5)"
		fi
	done
	stream_check "cross-$arch-stream" $run "$dir/sse"
	rm -rf "$dir"
done
