#!/usr/bin/env bash
# cross.sh - the server for 32-bit and 64-bit ARM, run under qemu-user:
# nothing in the code may assume x86 (alignment, the size of long, 64-bit
# time).  For each machine, two builds, each in a copy of the tree so that
# the tree's own binaries stay as they are:
#
#   glibc    make CC=<cross gcc>: the server and its unit tests, which
#            run under qemu with Debian's ARM glibc, and one live stream
#   static   make static-<arch>: musl, static, stripped; it must fit its
#            size (armhf 64 KiB like x86-64; arm64 72 KiB, since its
#            fixed-width instructions take about 6% more) and serve one
#            live stream under qemu with no libraries at all
set -u
cd "$(dirname "$0")/.."
. tests/stream-check.sh

if ! command -v file >/dev/null; then
	echo "skip cross: file is not installed (Debian file)"
	exit 0
fi

#	arch   cross gcc prefix      qemu     musl gcc                 size limit
targets=(
	"armhf arm-linux-gnueabihf  arm      arm-linux-musleabihf-gcc 65536"
	"arm64 aarch64-linux-gnu    aarch64  aarch64-linux-musl-gcc   73728"
)

for target in "${targets[@]}"; do
	read -r arch triple qarch musl limit <<<"$target"
	cc=$triple-gcc qemu=qemu-$qarch-static
	if ! command -v "$cc" >/dev/null; then
		echo "skip cross-$arch: $cc is not installed (Debian gcc-$triple)"
		continue
	fi
	if ! command -v "$qemu" >/dev/null; then
		echo "skip cross-$arch: $qemu is not installed (qemu-user-static)"
		continue
	fi
	dir=$(mktemp -d)
	tar -cf - Makefile *.c *.h web tests/*.c tests/*.h | tar -xf - -C "$dir"

	# glibc, dynamic: the unit tests and a stream.
	out=$(make -s -C "$dir" CC="$cc" sse tests/test_timerwheel \
		tests/test_http 2>&1)
	if [ $? -ne 0 ] || [ -n "$out" ]; then
		echo "FAIL cross-$arch-build: make CC=$cc: $out"
	else
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
	fi

	# musl, static.
	bin=sse-static-$arch
	if ! command -v "$musl" >/dev/null; then
		echo "skip cross-$arch-static: $musl is not installed (Debian" \
			"musl-dev:$arch, after dpkg --add-architecture $arch)"
		rm -rf "$dir"
		continue
	fi
	out=$(make -s -C "$dir" "static-$arch" 2>&1)
	if [ $? -ne 0 ] || [ -n "$out" ]; then
		echo "FAIL cross-$arch-static-build: make static-$arch: $out"
		rm -rf "$dir"
		continue
	fi
	kind=$(file -b "$dir/$bin")
	size=$(stat -c %s "$dir/$bin")
	if readelf -l "$dir/$bin" 2>/dev/null | grep -q INTERP ||
	   ! printf '%s' "$kind" | grep -q 'statically linked'; then
		echo "FAIL cross-$arch-static-build: $bin is not static: $kind"
	elif ! printf '%s' "$kind" | grep -q "$([ $arch = arm64 ] && echo aarch64 || echo 'ELF 32-bit.*ARM')"; then
		echo "FAIL cross-$arch-static-build: $bin is not for $arch: $kind"
	else
		echo "pass cross-$arch-static-build: $(printf '%s' "$kind" | cut -d, -f1-2), static"
	fi
	if [ "$size" -ge "$limit" ]; then
		echo "FAIL cross-$arch-static-size: $bin is $size bytes, not" \
			"under $((limit / 1024)) KiB ($("$musl" --version | head -1))"
	else
		echo "pass cross-$arch-static-size: $size bytes, $((limit - size))" \
			"under $((limit / 1024)) KiB"
	fi
	stream_check "cross-$arch-static-stream" "$qemu" "$dir/$bin"
	rm -rf "$dir"
done
