# sse - build the server, its tests and its tools.
#
#   make            the server, ./sse
#   make check      the unit tests and wire tests (./test.sh runs more)
#   make clean

CC      ?= cc
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra
LDFLAGS ?=

SRCS  = sse.c http.c timerwheel.c
HDRS  = http.h timerwheel.h
TESTS = tests/test_timerwheel tests/test_http tests/wire tests/swarm

all: sse

sse: $(SRCS) $(HDRS) web/page.h
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(SRCS)

# The demo page, as a C array: web/index.html stays the file to edit.
web/page.h: web/index.html
	{ echo '/* Made from web/index.html by make: edit that instead. */'; \
	  echo 'static const unsigned char page_html[] = {'; \
	  od -An -v -tx1 web/index.html | sed 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	  echo '};'; } > $@

tests/test_timerwheel: tests/test_timerwheel.c timerwheel.c timerwheel.h
	$(CC) $(CFLAGS) $(LDFLAGS) -I. -o $@ tests/test_timerwheel.c timerwheel.c

tests/test_http: tests/test_http.c http.c http.h
	$(CC) $(CFLAGS) $(LDFLAGS) -I. -o $@ tests/test_http.c http.c

tests/wire: tests/wire.c tests/testlib.h
	$(CC) $(CFLAGS) $(LDFLAGS) -I. -o $@ tests/wire.c

tests/swarm: tests/swarm.c tests/testlib.h
	$(CC) $(CFLAGS) $(LDFLAGS) -I. -o $@ tests/swarm.c

tests: $(TESTS)

check: sse tests
	./test.sh

clean:
	rm -f sse $(TESTS) bench/hold web/page.h

.PHONY: all tests check clean

bench/hold: bench/hold.c
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ bench/hold.c
