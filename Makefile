# sse - build the server, its tests and its tools.
#
#   make            the server, ./sse (gcc or clang: make CC=clang,
#                   make CC=aarch64-linux-gnu-gcc, ...)
#   make static     a static, stripped ./sse-static with musl; and
#                   static-arm64, static-armhf: ./sse-static-arm64, ...
#   make sse-arm64 sse-armhf  glibc builds for ARM, under those names
#   make install    ./sse (or BIN=...) into $(DESTDIR)$(PREFIX)/bin
#                   (PREFIX=/usr/local), its manual page, and sseload
#   make install-strip  the same, stripped (a cross build: STRIP=its strip)
#   make tests      the test programs; ./test.sh builds and runs them all
#   make fuzz       the libFuzzer harnesses, FUZZ_SECONDS each
#   make sanitize   the tests under AddressSanitizer and UBSan
#   make lint       gcc -fanalyzer, cppcheck and clang-tidy
#   make clean

CC      ?= cc
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra
# 64-bit file offsets and time on 32-bit targets too (glibc; musl always).
CPPFLAGS += -D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64
LDFLAGS ?=
PREFIX  ?= /usr/local
STRIP   ?= strip

SRCS  = sse.c http.c timerwheel.c
HDRS  = http.h timerwheel.h
TESTS = tests/test_timerwheel tests/test_http tests/test_smuggling tests/wire \
	tests/routes tests/shapes tests/swarm tests/faults tests/hub \
	tests/syscall_faults tests/redis

all: sse

sse: $(SRCS) $(HDRS) web/page.h sse.cmd
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(SRCS)

# ./sse remembers the command that built it (sse.cmd): another CC or
# CFLAGS builds it again, so that `make` after `make CC=aarch64-linux-gnu-gcc`
# gives a native ./sse, not the ARM one.
SSE_CMD = $(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS)
sse.cmd: FORCE
	@echo '$(SSE_CMD)' | cmp -s - $@ || echo '$(SSE_CMD)' > $@
FORCE:

# The glibc builds for ARM boxes that run Debian, dynamic, under their own
# names: make sse-arm64 sse-armhf (Debian gcc-aarch64-linux-gnu and
# gcc-arm-linux-gnueabihf).
CC_ARM64 ?= aarch64-linux-gnu-gcc
CC_ARMHF ?= arm-linux-gnueabihf-gcc
sse-arm64: $(SRCS) $(HDRS) web/page.h
	$(CC_ARM64) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(SRCS)
sse-armhf: $(SRCS) $(HDRS) web/page.h
	$(CC_ARMHF) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(SRCS)

# Fully static binaries for small boxes, one per machine under its own
# name, so that no build replaces another:
#
#   make static        ./sse-static        x86-64         (Debian musl-tools)
#   make static-arm64  ./sse-static-arm64  64-bit ARM     (gcc-aarch64-linux-gnu,
#                                                          musl-dev:arm64)
#   make static-armhf  ./sse-static-armhf  32-bit ARMv7,  (gcc-arm-linux-gnueabihf,
#                                          hard float      musl-dev:armhf)
#
# Each is gcc with musl's headers and libc.a instead of glibc's, through
# the wrapper that Debian's musl-dev installs for its architecture (after
# dpkg --add-architecture for ARM): the cross gcc and musl's specs file.
MUSL_CC       ?= musl-gcc
MUSL_CC_ARM64 ?= aarch64-linux-musl-gcc
MUSL_CC_ARMHF ?= arm-linux-musleabihf-gcc

# Optimised for size, unused code dropped, stripped.  What each choice
# saves, in bytes, measured by leaving it out of the set (x86-64, armhf,
# arm64; gcc 12, musl 1.2.3, the server with its hub):
#
#   -ffunction-sections -fdata-sections -Wl,--gc-sections
#                unused functions and data dropped    1,416  2,172  1,488
#   -fno-asynchronous-unwind-tables -fno-unwind-tables
#                nothing in a C server unwinds        5,600      0  5,336
#   -fno-pie     Debian's gcc makes position-independent code by default,
#                for PIE; a static executable is not one and pays for it
#                in addressing                          608  2,652    600
#   -flto        the three files optimised as one        32    124    336
#   -Wl,-z,norelro  musl write-protects RELRO only in its dynamic linker,
#                never when a static binary starts, so here it would be
#                padding to a page boundary (64 KiB
#                on arm64) that protects nothing      1,480    704 50,224
#   -Wl,-z,noseparate-code  no padding between the
#                headers and the code                 4,320      0      0
#   -Wl,-z,common-page-size=64  ld may start the data segment on a page
#                of its own, to save a page of memory at run time, and
#                pad the file up to it: up to 4 KB that comes and goes
#                as the code grows                    1,664    760  1,344
#                Packed, the data costs at most one page of memory more
#                and the size follows the code; segments still start on
#                page boundaries in memory (64 KiB ones on arm64).
#   $(sstrip)    after linking                        1,148    892  1,140
#
# Not here: -fno-stack-protector changes nothing with Debian's gcc, which
# does not turn the protector on (where a gcc does, keep it);
# -fomit-frame-pointer is already -Os's default; -Oz (gcc 12) saves 608
# bytes on x86-64 only, with slower code; -fno-jump-tables saved 128
# bytes on x86-64 and cost bytes on ARM and time in every switch; the
# others tried (-fipa-pta, -fno-caller-saves, -fconserve-stack, sorted
# sections, clang -Oz) save under 150 bytes or add some.
#
# And without the Redis client (SSE_REDIS=0, see sse.c): a small box is
# one box and needs no broker, and the client is about 13.3 KB on x86-64
# (77,444 bytes with it, by make static STATIC_REDIS=1, over the 64 KiB
# that tests/static.sh holds the build to).  --redis then exits 2,
# saying so.
STATIC_REDIS ?= 0
STATIC_FLAGS = -DSSE_REDIS=$(STATIC_REDIS) \
	-std=gnu11 -Wall -Wextra -Os -static -s -fno-pie -flto=auto \
	-ffunction-sections -fdata-sections -Wl,--gc-sections \
	-fno-asynchronous-unwind-tables -fno-unwind-tables \
	-Wl,-z,noseparate-code -Wl,-z,norelro -Wl,--build-id=none \
	-Wl,-z,common-page-size=64

# What no loader reads goes (ELFkickers' sstrip does the same): a linked
# file keeps, after its segments, .comment, the section names and the
# section header table, for objdump and gdb; a stripped static binary
# needs none of them, so the ELF header stops pointing at them and the
# file is cut where its last segment ends.  About 1.1 KB; file(1) then
# says "no section header", and strip refuses the file (it has nothing
# left to strip).  ELF64 keeps the table's offset at byte 40 and its
# count and names' index at 60, ELF32 at 32 and 48.
define sstrip
	@f=$@ end=0; \
	for e in $$(readelf -lW $$f | awk '$$2 ~ /^0x/ { print $$2 "+" $$5 }'); do \
		[ $$(($$e)) -gt $$end ] && end=$$(($$e)); \
	done; \
	[ $$end -gt 0 ] || { echo "sstrip: no program headers in $$f" >&2; \
		rm -f $$f; exit 1; }; \
	if [ $$(od -An -tu1 -j4 -N1 $$f) -eq 2 ]; then at=40 n=8 count=60; \
	else at=32 n=4 count=48; fi; \
	dd if=/dev/zero of=$$f bs=1 seek=$$at count=$$n conv=notrunc 2>/dev/null && \
	dd if=/dev/zero of=$$f bs=1 seek=$$count count=4 conv=notrunc 2>/dev/null && \
	truncate -s $$end $$f
endef

static: sse-static
static-arm64: sse-static-arm64
static-armhf: sse-static-armhf

# static.cmd remembers the flags the static builds were made with, as
# sse.cmd does for ./sse: make static after make static STATIC_REDIS=1
# builds again, without the Redis client.
static.cmd: FORCE
	@echo '$(STATIC_FLAGS)' | cmp -s - $@ || echo '$(STATIC_FLAGS)' > $@

sse-static: $(SRCS) $(HDRS) web/page.h static.cmd
	$(MUSL_CC) $(STATIC_FLAGS) -o $@ $(SRCS)
	$(sstrip)

sse-static-arm64: $(SRCS) $(HDRS) web/page.h static.cmd
	$(MUSL_CC_ARM64) $(STATIC_FLAGS) -o $@ $(SRCS)
	$(sstrip)

sse-static-armhf: $(SRCS) $(HDRS) web/page.h static.cmd
	$(MUSL_CC_ARMHF) $(STATIC_FLAGS) -o $@ $(SRCS)
	$(sstrip)

# make install [BIN=sse-static-armhf]: the server ($(BIN), ./sse unless
# told) as $(PREFIX)/bin/sse with its manual page, and with the native
# ./sse the load generator too (bench/sseload as sseload, and its page).
# The static builds are stripped already; install-strip strips the others
# on the way, with STRIP (a cross build: its toolchain's strip).
BIN    ?= sse
MANDIR ?= $(PREFIX)/share/man
INSTALL_SSELOAD = $(if $(filter sse ./sse,$(BIN)),install-sseload)

install: $(BIN) $(INSTALL_SSELOAD)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MANDIR)/man1
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/sse
	install -m 644 man/sse.1 $(DESTDIR)$(MANDIR)/man1/sse.1

install-strip: $(BIN) $(INSTALL_SSELOAD)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MANDIR)/man1
	install -m 755 -s --strip-program=$(STRIP) $(BIN) $(DESTDIR)$(PREFIX)/bin/sse
	install -m 644 man/sse.1 $(DESTDIR)$(MANDIR)/man1/sse.1

install-sseload: bench/sseload
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MANDIR)/man1
	install -m 755 bench/sseload $(DESTDIR)$(PREFIX)/bin/sseload
	install -m 644 man/sseload.1 $(DESTDIR)$(MANDIR)/man1/sseload.1

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/sse $(DESTDIR)$(PREFIX)/bin/sseload \
		$(DESTDIR)$(MANDIR)/man1/sse.1 $(DESTDIR)$(MANDIR)/man1/sseload.1

# The demo page, as a C array: web/index.html stays the file to edit.  The
# server sends it minified (web/minify.awk: comments and the blanks that
# nothing needs go, about a quarter of it), web/index.min.html, and
# gzipped: gzip -n leaves out the file's name and time, so that the same
# page always makes the same bytes.
web/index.min.html: web/index.html web/minify.awk
	awk -f web/minify.awk web/index.html > $@.tmp && mv $@.tmp $@

web/page.h: web/index.min.html Makefile
	{ echo '/* Made from web/index.html by make: edit that instead. */'; \
	  echo 'static const unsigned char page_html[] = {'; \
	  gzip -9n < web/index.min.html | od -An -v -tx1 | \
	  sed 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '};'; } > $@

tests/test_timerwheel: tests/test_timerwheel.c timerwheel.c timerwheel.h
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -I. -o $@ tests/test_timerwheel.c timerwheel.c

tests/test_http: tests/test_http.c tests/rows.c tests/rows.h http.c http.h
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -I. -o $@ tests/test_http.c tests/rows.c http.c

tests/test_smuggling: tests/test_smuggling.c tests/rows.c tests/rows.h http.c http.h
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -I. -o $@ tests/test_smuggling.c tests/rows.c http.c

# The tests that run the server: each is one file and the shared parts.
LIVE_TESTS = tests/wire tests/routes tests/shapes tests/swarm tests/faults \
	tests/hub tests/syscall_faults tests/redis

$(LIVE_TESTS): tests/%: tests/%.c tests/testlib.c tests/testlib.h
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -I. -o $@ $< tests/testlib.c

tests/syscall_faults: tests/churn.h

# The fault-injection library, preloaded into the server by
# tests/syscall_faults and bench/soak (see its head comment).
tests/faultshim.so: tests/faultshim.c
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -fPIC -shared -o $@ tests/faultshim.c -ldl

tests: $(TESTS) tests/faultshim.so bench/soak

# The server and the unit tests again, under AddressSanitizer and UBSan,
# in tests/out/san/.  Any finding aborts the program and leaves a report
# in tests/out/san/report.*; test.sh runs the tests against these builds.
SAN = tests/out/san
SAN_CC ?= $(shell command -v clang >/dev/null && echo clang || echo $(CC))
SAN_CFLAGS = -std=gnu11 -g -O1 -fno-omit-frame-pointer -I. \
	-fsanitize=address,undefined -fno-sanitize-recover=all

$(SAN)/sse: $(SRCS) $(HDRS) web/page.h
	@mkdir -p $(SAN)
	$(SAN_CC) $(SAN_CFLAGS) -o $@ $(SRCS)

$(SAN)/test_timerwheel: tests/test_timerwheel.c timerwheel.c timerwheel.h
	@mkdir -p $(SAN)
	$(SAN_CC) $(SAN_CFLAGS) -o $@ tests/test_timerwheel.c timerwheel.c

$(SAN)/test_http: tests/test_http.c tests/rows.c tests/rows.h http.c http.h
	@mkdir -p $(SAN)
	$(SAN_CC) $(SAN_CFLAGS) -o $@ tests/test_http.c tests/rows.c http.c

$(SAN)/test_smuggling: tests/test_smuggling.c tests/rows.c tests/rows.h http.c http.h
	@mkdir -p $(SAN)
	$(SAN_CC) $(SAN_CFLAGS) -o $@ tests/test_smuggling.c tests/rows.c http.c

sanitize-build: $(SAN)/sse $(SAN)/test_timerwheel $(SAN)/test_http \
	$(SAN)/test_smuggling tests

sanitize: sanitize-build
	rm -f $(SAN)/report.*
	ASAN_OPTIONS=log_path=$(SAN)/report UBSAN_OPTIONS=log_path=$(SAN)/report \
		sh -c './$(SAN)/test_timerwheel && ./$(SAN)/test_http && \
		./$(SAN)/test_smuggling && ./tests/faults $(SAN)/sse && \
		./tests/syscall_faults $(SAN)/sse && \
		./tests/wire $(SAN)/sse && ./tests/routes $(SAN)/sse && \
		./tests/shapes $(SAN)/sse && ./tests/hub $(SAN)/sse && \
		./tests/swarm $(SAN)/sse'
	@! ls $(SAN)/report.* 2>/dev/null

# Fuzzing: libFuzzer with AddressSanitizer and UBSan (clang only).  Each
# harness runs for FUZZ_SECONDS from the seeds in tests/corpus/; what it
# learns stays in tests/out/, and a crash leaves its input there too.
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS = -std=gnu11 -g -O1 -I. -Wno-unused-function \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined

tests/fuzz_http: tests/fuzz_http.c http.c http.h
	clang $(FUZZ_CFLAGS) -o $@ tests/fuzz_http.c http.c

tests/fuzz_json: tests/fuzz_json.c $(SRCS) $(HDRS) web/page.h
	clang $(FUZZ_CFLAGS) -o $@ tests/fuzz_json.c http.c timerwheel.c

lint: web/page.h
	./tests/lint.sh

fuzz: tests/fuzz_http tests/fuzz_json
	for h in http json; do \
		mkdir -p tests/out/fuzz-$$h && \
		./tests/fuzz_$$h -max_total_time=$(FUZZ_SECONDS) \
			-artifact_prefix=tests/out/ \
			tests/out/fuzz-$$h tests/corpus/$$h || exit 1; \
	done

check: sse tests
	./test.sh

clean:
	rm -f sse sse.cmd static.cmd sse-static sse-static-arm64 \
		sse-static-armhf sse-arm64 sse-armhf $(TESTS) tests/faultshim.so bench/soak \
		bench/hold bench/sseload bench/floor web/page.h web/index.min.html \
		tests/fuzz_http tests/fuzz_json
	rm -rf tests/out/san

.PHONY: all tests check clean lint fuzz sanitize sanitize-build static \
	static-arm64 static-armhf install install-strip install-sseload uninstall \
	bench FORCE

bench/hold: bench/hold.c
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ bench/hold.c

bench/sseload: bench/sseload.c
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ bench/sseload.c

# The long churn (not in test.sh, which runs it for 30 s): bench/soak -h.
bench/soak: bench/soak.c tests/churn.h tests/testlib.c tests/testlib.h
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -Itests -o $@ bench/soak.c tests/testlib.c

bench/floor: bench/floor.c
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ bench/floor.c

# The standard benchmarks, a few minutes: bench/run [SCENARIO...] runs some.
bench: sse bench/sseload bench/floor
	bench/run
