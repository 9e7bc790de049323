/* faultshim.c - an LD_PRELOAD library that makes the server's system calls
 * fail as a loaded machine and a hostile network make them fail.
 *
 * The server must survive every answer the kernel may give, not only the
 * common ones: a send() that takes half the bytes, a read() that brings one
 * byte or EINTR, an accept4() that fails for want of memory, a malloc()
 * that returns NULL.  On a quiet test machine these hardly ever happen.
 * This library stands between the server and libc (each wrapper finds the
 * real function with dlsym(RTLD_NEXT)) and, for a chosen share of the
 * calls, answers as the kernel could have instead.  tests/syscall_faults.c
 * and bench/soak load it into the server only (LD_PRELOAD in the server's
 * environment, never in their own).
 *
 * It is driven by SSE_FAULTS, a comma-separated list of settings:
 *
 *	CALL=KIND:PERCENT	PERCENT of the calls to CALL get KIND
 *	seed=N			the dice's seed (default 1): one seed, one
 *				sequence of faults for the same calls
 *	for=MS			inject only during the first MS ms (0: always)
 *
 *	CALL		KIND		what the call does instead
 *	write		short		writes 1 to n-1 of the n bytes
 *			eagain, eintr	fails, writing nothing
 *	read		one		reads at most one byte
 *			eagain, eintr	fails, reading nothing
 *	accept		econnaborted, emfile, enfile, enomem, enobufs
 *					fails; the connection stays queued
 *	malloc		null		returns NULL (ENOMEM)
 *	epoll_wait	eintr		returns at once with EINTR
 *	epoll_ctl	fail		fails with ENOMEM
 *	timerfd		fail		timerfd_settime() fails with ENOMEM
 *
 * write covers send, sendto, write and writev; read covers read, recv and
 * recvfrom; accept covers accept and accept4; malloc covers malloc, calloc
 * and realloc, and the anonymous mmap() and the mremap() from which the
 * server's own allocator takes its memory.  A CALL may be named several
 * times with different kinds, whose shares add up (to 100 at most); each
 * call rolls the dice once.
 * Reads and writes are faulted on sockets only: a timerfd or signalfd
 * never returns a short read, and the server's stderr is its log.
 *
 *	SSE_FAULTS="seed=7,write=short:30,write=eagain:10,read=one:20,\
 *	accept=enomem:50,malloc=null:5" ./sse -p 0
 *
 * Nothing is injected until the process first calls epoll_wait(): start-up
 * failures end the server with a message, as they should, and are tested
 * elsewhere; faults are for a running server.  At exit the library writes
 * one line to stderr, `faultshim: injected write.short=N ...`, so that a
 * test can tell that the faults it asked for happened.  A bad SSE_FAULTS
 * is one line on stderr and exit status 2.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* ---------------------------------------------------------- the table -- */

enum call { C_WRITE, C_READ, C_ACCEPT, C_MALLOC, C_EPOLL_WAIT, C_EPOLL_CTL,
	    C_TIMERFD, C_CALLS };

/* What a faulted call does: fail with err, or (err 0) do part of the work. */
enum how { H_SHORT, H_ONE, H_FAIL };

static const struct kind {
	enum call call;
	const char *call_name, *name;
	enum how how;
	int err;
} kinds[] = {
	{ C_WRITE, "write", "short", H_SHORT, 0 },
	{ C_WRITE, "write", "eagain", H_FAIL, EAGAIN },
	{ C_WRITE, "write", "eintr", H_FAIL, EINTR },
	{ C_READ, "read", "one", H_ONE, 0 },
	{ C_READ, "read", "eagain", H_FAIL, EAGAIN },
	{ C_READ, "read", "eintr", H_FAIL, EINTR },
	{ C_ACCEPT, "accept", "econnaborted", H_FAIL, ECONNABORTED },
	{ C_ACCEPT, "accept", "emfile", H_FAIL, EMFILE },
	{ C_ACCEPT, "accept", "enfile", H_FAIL, ENFILE },
	{ C_ACCEPT, "accept", "enomem", H_FAIL, ENOMEM },
	{ C_ACCEPT, "accept", "enobufs", H_FAIL, ENOBUFS },
	{ C_MALLOC, "malloc", "null", H_FAIL, ENOMEM },
	{ C_EPOLL_WAIT, "epoll_wait", "eintr", H_FAIL, EINTR },
	{ C_EPOLL_CTL, "epoll_ctl", "fail", H_FAIL, ENOMEM },
	{ C_TIMERFD, "timerfd", "fail", H_FAIL, ENOMEM },
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static unsigned share[NKINDS];		/* percent of the call's calls */
static unsigned long injected[NKINDS];
static bool any[C_CALLS];		/* some kind of this call is on */
static uint64_t rng = 1;
static uint64_t for_ms;			/* 0: no end */
static bool armed;			/* epoll_wait() has been called */
static uint64_t armed_at_ms;		/* when it first was */

/* ------------------------------------------------------ the real calls -- */

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_send)(int, const void *, size_t, int);
static ssize_t (*real_sendto)(int, const void *, size_t, int,
			      const struct sockaddr *, socklen_t);
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_recv)(int, void *, size_t, int);
static ssize_t (*real_recvfrom)(int, void *, size_t, int, struct sockaddr *,
				socklen_t *);
static int (*real_accept)(int, struct sockaddr *, socklen_t *);
static int (*real_accept4)(int, struct sockaddr *, socklen_t *, int);
static int (*real_epoll_wait)(int, struct epoll_event *, int, int);
static int (*real_epoll_ctl)(int, int, int, struct epoll_event *);
static int (*real_timerfd_settime)(int, int, const struct itimerspec *,
				   struct itimerspec *);
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static void *(*real_mmap)(void *, size_t, int, int, int, off_t);
static void *(*real_mremap)(void *, size_t, size_t, int, ...);

/* dlsym() may itself allocate before malloc is found: those few bytes come
 * from here and are never given back. */
static char boot[8192] __attribute__((aligned(16)));
static size_t boot_used;
static bool resolving;

static bool in_boot(const void *p)
{
	return (const char *)p >= boot && (const char *)p < boot + sizeof(boot);
}

static void *boot_alloc(size_t n)
{
	size_t at = (boot_used + 15) & ~(size_t)15;

	if (n > sizeof(boot) - at)
		return NULL;
	boot_used = at + n;
	return boot + at;
}

static void *next(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

static void resolve(void)
{
	if (real_free != NULL || resolving)
		return;
	resolving = true;
	real_malloc = next("malloc");
	real_calloc = next("calloc");
	real_realloc = next("realloc");
	real_free = next("free");
	real_mmap = next("mmap");
	real_mremap = next("mremap");
	real_write = next("write");
	real_writev = next("writev");
	real_send = next("send");
	real_sendto = next("sendto");
	real_read = next("read");
	real_recv = next("recv");
	real_recvfrom = next("recvfrom");
	real_accept = next("accept");
	real_accept4 = next("accept4");
	real_epoll_wait = next("epoll_wait");
	real_epoll_ctl = next("epoll_ctl");
	real_timerfd_settime = next("timerfd_settime");
	resolving = false;
}

/* ----------------------------------------------------------- the dice -- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* xorshift64*: small, fast and the same on every machine. */
static uint64_t dice(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ull;
}

/* Does this call of `call` get a fault?  Returns the kind's index, or -1. */
static int roll(enum call call)
{
	if (!any[call] || !armed)
		return -1;
	if (for_ms != 0 && now_ms() >= armed_at_ms + for_ms)
		return -1;
	unsigned r = (unsigned)(dice() >> 33) % 100, sum = 0;
	for (size_t i = 0; i < NKINDS; i++) {
		if (kinds[i].call != call)
			continue;
		sum += share[i];
		if (r < sum) {
			injected[i]++;
			return (int)i;
		}
	}
	return -1;
}

static bool is_socket(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* A fault on a read or write: the kind, if the dice say so and fd is a
 * socket; -1 for the real call. */
static int roll_io(enum call call, int fd)
{
	int k = roll(call);

	if (k >= 0 && !is_socket(fd)) {
		injected[k]--;
		return -1;
	}
	return k;
}

/* n bytes to write: a short write takes 1 .. n-1 of them. */
static size_t short_len(size_t n)
{
	return n < 2 ? n : 1 + (size_t)(dice() % (n - 1));
}

static ssize_t fail(int k)
{
	errno = kinds[k].err;
	return -1;
}

/* ------------------------------------------------------------ writes -- */

ssize_t write(int fd, const void *p, size_t n)
{
	int k = roll_io(C_WRITE, fd);

	resolve();
	if (k >= 0 && kinds[k].how == H_FAIL)
		return fail(k);
	return real_write(fd, p, k >= 0 ? short_len(n) : n);
}

ssize_t send(int fd, const void *p, size_t n, int flags)
{
	int k = roll_io(C_WRITE, fd);

	resolve();
	if (k >= 0 && kinds[k].how == H_FAIL)
		return fail(k);
	return real_send(fd, p, k >= 0 ? short_len(n) : n, flags);
}

ssize_t sendto(int fd, const void *p, size_t n, int flags,
	       const struct sockaddr *to, socklen_t to_len)
{
	int k = roll_io(C_WRITE, fd);

	resolve();
	if (k >= 0 && kinds[k].how == H_FAIL)
		return fail(k);
	return real_sendto(fd, p, k >= 0 ? short_len(n) : n, flags, to,
			   to_len);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	int k = roll_io(C_WRITE, fd);
	struct iovec cut[64];
	size_t total = 0, want;
	int n = 0;

	resolve();
	if (k < 0 || iovcnt > 64)
		return real_writev(fd, iov, iovcnt);
	if (kinds[k].how == H_FAIL)
		return fail(k);
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	want = short_len(total);
	for (; n < iovcnt && want > 0; n++) {
		cut[n] = iov[n];
		if (cut[n].iov_len > want)
			cut[n].iov_len = want;
		want -= cut[n].iov_len;
	}
	return real_writev(fd, cut, n);
}

/* ------------------------------------------------------------- reads -- */

ssize_t read(int fd, void *p, size_t n)
{
	int k = roll_io(C_READ, fd);

	resolve();
	if (k >= 0 && kinds[k].how == H_FAIL)
		return fail(k);
	return real_read(fd, p, k >= 0 && n > 1 ? 1 : n);
}

ssize_t recv(int fd, void *p, size_t n, int flags)
{
	int k = roll_io(C_READ, fd);

	resolve();
	if (k >= 0 && kinds[k].how == H_FAIL)
		return fail(k);
	return real_recv(fd, p, k >= 0 && n > 1 ? 1 : n, flags);
}

ssize_t recvfrom(int fd, void *p, size_t n, int flags, struct sockaddr *from,
		 socklen_t *from_len)
{
	int k = roll_io(C_READ, fd);

	resolve();
	if (k >= 0 && kinds[k].how == H_FAIL)
		return fail(k);
	return real_recvfrom(fd, p, k >= 0 && n > 1 ? 1 : n, flags, from,
			     from_len);
}

/* ----------------------------------------------------------- accepts -- */

int accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	int k = roll(C_ACCEPT);

	resolve();
	if (k >= 0)
		return (int)fail(k);
	return real_accept4(fd, sa, len, flags);
}

int accept(int fd, struct sockaddr *sa, socklen_t *len)
{
	int k = roll(C_ACCEPT);

	resolve();
	if (k >= 0)
		return (int)fail(k);
	return real_accept(fd, sa, len);
}

/* -------------------------------------------------------- the loop's -- */

int epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
	int k;

	resolve();
	if (!armed) {
		armed = true;
		armed_at_ms = now_ms();
	}
	k = roll(C_EPOLL_WAIT);
	if (k >= 0)
		return (int)fail(k);
	return real_epoll_wait(epfd, ev, max, timeout);
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	int k = roll(C_EPOLL_CTL);

	resolve();
	if (k >= 0)
		return (int)fail(k);
	return real_epoll_ctl(epfd, op, fd, ev);
}

int timerfd_settime(int fd, int flags, const struct itimerspec *new,
		    struct itimerspec *old)
{
	int k = roll(C_TIMERFD);

	resolve();
	if (k >= 0)
		return (int)fail(k);
	return real_timerfd_settime(fd, flags, new, old);
}

/* ------------------------------------------------------------ memory -- */

void *malloc(size_t n)
{
	if (real_malloc == NULL) {
		if (resolving)
			return boot_alloc(n);
		resolve();
	}
	if (roll(C_MALLOC) >= 0) {
		errno = ENOMEM;
		return NULL;
	}
	return real_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	if (real_calloc == NULL) {
		if (resolving) {
			void *p = size && n > SIZE_MAX / size
				  ? NULL : boot_alloc(n * size);
			return p;	/* boot is zeroed, never reused */
		}
		resolve();
	}
	if (roll(C_MALLOC) >= 0) {
		errno = ENOMEM;
		return NULL;
	}
	return real_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	if (in_boot(p)) {
		void *q = malloc(n);
		size_t room = (size_t)(boot + sizeof(boot) - (char *)p);

		if (q != NULL)
			memcpy(q, p, n < room ? n : room);
		return q;
	}
	if (real_realloc == NULL)
		resolve();
	if (roll(C_MALLOC) >= 0) {
		errno = ENOMEM;
		return NULL;
	}
	return real_realloc(p, n);
}

void free(void *p)
{
	if (p == NULL || in_boot(p))
		return;
	if (real_free == NULL)
		resolve();
	real_free(p);
}

/* The server's allocator: new blocks are anonymous mappings, grown with
 * mremap() (MREMAP_MAYMOVE only, so no fifth argument). */
void *mmap(void *addr, size_t n, int prot, int flags, int fd, off_t off)
{
	resolve();
	if ((flags & MAP_ANONYMOUS) && roll(C_MALLOC) >= 0) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return real_mmap(addr, n, prot, flags, fd, off);
}

void *mremap(void *p, size_t old, size_t n, int flags, ...)
{
	resolve();
	if (roll(C_MALLOC) >= 0) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return real_mremap(p, old, n, flags);
}

/* ------------------------------------------------- settings and report -- */

static void say(const char *text)
{
	/* Straight to the kernel: the wrappers above are not for this. */
	if (syscall(SYS_write, 2, text, strlen(text)) < 0)
		errno = 0;
}

static _Noreturn void bad(const char *item)
{
	char line[300];

	snprintf(line, sizeof(line), "faultshim: SSE_FAULTS: cannot read "
		 "\"%.200s\" (CALL=KIND:PERCENT, seed=N or for=MS)\n", item);
	say(line);
	_exit(2);
}

/* One setting, item[0..n). */
static void setting(const char *item, size_t n)
{
	char buf[128], *eq, *colon, *end;
	unsigned long v;

	if (n == 0)
		return;
	if (n >= sizeof(buf))
		bad(item);
	memcpy(buf, item, n);
	buf[n] = '\0';
	if ((eq = strchr(buf, '=')) == NULL)
		bad(buf);
	*eq++ = '\0';
	if (strcmp(buf, "seed") == 0 || strcmp(buf, "for") == 0) {
		v = strtoul(eq, &end, 10);
		if (*eq == '\0' || *end != '\0')
			bad(item);
		if (buf[0] == 's')
			rng = v ? v : 1;
		else
			for_ms = v;
		return;
	}
	if ((colon = strchr(eq, ':')) == NULL)
		bad(item);
	*colon++ = '\0';
	v = strtoul(colon, &end, 10);
	if (*colon == '\0' || *end != '\0' || v > 100)
		bad(item);
	for (size_t i = 0; i < NKINDS; i++) {
		if (strcmp(kinds[i].call_name, buf) != 0 ||
		    strcmp(kinds[i].name, eq) != 0)
			continue;
		share[i] = (unsigned)v;
		unsigned sum = 0;
		for (size_t j = 0; j < NKINDS; j++)
			sum += kinds[j].call == kinds[i].call ? share[j] : 0;
		if (sum > 100)
			bad(item);
		any[kinds[i].call] = any[kinds[i].call] || v > 0;
		return;
	}
	bad(item);
}

__attribute__((constructor)) static void faultshim_init(void)
{
	const char *s = getenv("SSE_FAULTS");

	resolve();
	while (s != NULL && *s != '\0') {
		size_t n = strcspn(s, ",");

		setting(s, n);
		s += n + (s[n] == ',');
	}
}

__attribute__((destructor)) static void faultshim_report(void)
{
	char line[2048];
	size_t len = 0;

	len += (size_t)snprintf(line, sizeof(line), "faultshim: injected");
	for (size_t i = 0; i < NKINDS && len < sizeof(line) - 64; i++)
		if (share[i] != 0)
			len += (size_t)snprintf(line + len, sizeof(line) - len,
						" %s.%s=%lu", kinds[i].call_name,
						kinds[i].name, injected[i]);
	snprintf(line + len, sizeof(line) - len, "\n");
	say(line);
}
