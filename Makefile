# sse - build the server, its tests and its tools.
#
#   make            the server, ./sse (gcc or clang: make CC=clang,
#                   make CC=aarch64-linux-gnu-gcc, ...)
#   make static     a static, stripped ./sse-static with musl
#   make install    into $(DESTDIR)$(PREFIX)/bin (PREFIX=/usr/local)
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

sse: $(SRCS) $(HDRS) web/page.h
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $(SRCS)

# A fully static binary for small boxes: musl (Debian's musl-tools),
# optimised for size, unused code dropped, stripped.  No RELRO segment:
# musl write-protects one only in its dynamic linker, never when a static
# binary starts, so here it would be padding to a page boundary (up to
# 4 KB) that protects nothing.
MUSL_CC ?= musl-gcc
static: sse-static

sse-static: $(SRCS) $(HDRS) web/page.h
	$(MUSL_CC) -std=gnu11 -Wall -Wextra -Os -static -s \
		-ffunction-sections -fdata-sections -Wl,--gc-sections \
		-fno-asynchronous-unwind-tables -fno-unwind-tables \
		-Wl,-z,noseparate-code -Wl,-z,norelro -Wl,--build-id=none \
		-o $@ $(SRCS)

install: sse
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 sse $(DESTDIR)$(PREFIX)/bin/sse

install-strip: sse
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 -s --strip-program=$(STRIP) sse $(DESTDIR)$(PREFIX)/bin/sse

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/sse

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

tests: $(TESTS) tests/faultshim.so

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
		./tests/shapes $(SAN)/sse && ./tests/swarm $(SAN)/sse'
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
	rm -f sse sse-static $(TESTS) tests/faultshim.so bench/soak bench/hold bench/sseload bench/floor web/page.h web/index.min.html tests/fuzz_http tests/fuzz_json
	rm -rf tests/out/san

.PHONY: all tests check clean lint fuzz sanitize sanitize-build static install \
	install-strip uninstall bench

bench/hold: bench/hold.c
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ bench/hold.c

bench/sseload: bench/sseload.c
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ bench/sseload.c

bench/floor: bench/floor.c
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ bench/floor.c

# The standard benchmarks, a few minutes: bench/run [SCENARIO...] runs some.
bench: sse bench/sseload bench/floor
	bench/run
