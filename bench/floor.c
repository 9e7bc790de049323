/* floor.c - what sending sse's events costs with no server around them.
 *
 *	usage: bench/floor [-c CONNS] [-i MS] [-d SECONDS] [-s BYTES]
 *	                   [-r READERS] [-b]
 *
 * The floor beside which bench/run's "events" scenario sets sse's CPU time
 * per event.  It does only what the kernel must do for each event: a
 * send() of an event chunk, the same bytes as an event of sse's /api
 * stream (by default 67: "3d\r\ndata: {...}\n\n\r\n"), on a real TCP
 * connection over loopback with TCP_NODELAY, as sse sends them.  There is
 * no HTTP, no timer wheel and no formatting: the difference between sse's
 * CPU time per event and this one is what the server itself adds.
 *
 * It listens on 127.0.0.1 (any port) and forks READERS processes (default
 * 2, as bench/run gives sseload), which open CONNS connections between
 * them (default 10,000) and drain them on an epoll loop each, counting
 * bytes.  The parent accepts them, then sends one event a connection
 * every MS milliseconds (default 20) for SECONDS (default 5).  With -b
 * (burst) every connection's event is due at the same moment, as one
 * publish reaches every subscriber of a hub: the floor beside which
 * bench/run's "fanout" scenario sets sse's CPU time per delivery.
 *
 * The schedule is sse's: the connections are spread over the interval in
 * 1 ms slots, as streams opened over a ramp are in sse's 1 ms timer wheel,
 * and event k of a connection is due at start + its slot + k intervals,
 * absolute.  At each wake-up the parent sends every connection all its
 * events that are due, in one send(): on time that is one event, and when
 * the sender has fallen behind, the events it missed go out together, as
 * sse's stream_events() sends them.  So both do the same work for the
 * same byte stream, and each event's lateness (sent minus due) is counted
 * in the buckets of sse's sse_event_lateness_seconds.
 *
 * At the end it prints its own CPU time (getrusage RUSAGE_SELF, user plus
 * system) per event and per send, the event rate achieved, the lateness,
 * and whether the readers got every byte.  The kernel's receive path for
 * loopback runs inside the sender's send(), so the figure includes it, as
 * sse's does.  Exit status 0 if every byte arrived, 1 if not.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define READERS_MAX 16

static unsigned conns = 10000, interval_ms = 20, seconds = 5, readers = 2;
static int burst;	/* -b: every connection in the first slot */
static size_t chunk_len = 67;

/* sse's lateness buckets (sse.c lateness_le_us), and one for the rest. */
static const uint64_t le_us[] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000,
	100000, 250000, 500000, 1000000,
};
#define BUCKETS (sizeof(le_us) / sizeof(le_us[0]))

static uint64_t late[BUCKETS + 1];

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_until_us(int64_t t_us)
{
	struct timespec ts = { .tv_sec = t_us / 1000000,
			       .tv_nsec = (t_us % 1000000) * 1000 };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

static void late_add(int64_t us)
{
	size_t b = 0;

	while (b < BUCKETS && (uint64_t)(us < 0 ? 0 : us) > le_us[b])
		b++;
	late[b]++;
}

/* The upper bound in ms of the bucket holding the q-quantile, as one reads
 * it from sse's /metrics; -1 past the last bound. */
static double late_quantile_ms(uint64_t total, double q)
{
	uint64_t seen = 0;

	for (size_t b = 0; b < BUCKETS; b++)
		if ((seen += late[b]) >= q * (double)total)
			return (double)le_us[b] / 1000;
	return -1;
}

/* `copies` event chunks of chunk_len bytes back to back, each shaped like
 * sse's: the hex size line, "data: {...}" padded inside the JSON, a blank
 * line, the chunk's CRLF. */
static char *make_chunks(unsigned copies)
{
	static const char head[] = "data: {\"message\":\"Hello, world!\","
				   "\"pad\":\"";
	size_t data = chunk_len - 6;	/* "3d\r\n" and the trailing "\r\n" */
	char *p = malloc(chunk_len * copies);

	if (p == NULL)
		die("malloc");
	if (chunk_len < sizeof(head) + 9 || data > 0xff) {
		fprintf(stderr, "floor: -s: %zu to 261 bytes\n",
			sizeof(head) + 9);
		exit(2);
	}
	for (unsigned i = 0; i < copies; i++) {
		char *c = p + i * chunk_len, *body = c + 4;

		memcpy(c, "00\r\n", 4);
		c[0] = "0123456789abcdef"[data >> 4];
		c[1] = "0123456789abcdef"[data & 15];
		memset(body, 'x', data);
		memcpy(body, head, sizeof(head) - 1);
		memcpy(body + data - 4, "\"}\n\n", 4);
		memcpy(c + chunk_len - 2, "\r\n", 2);
	}
	return p;
}

/* ==== the readers: the other ends, drained ============================= */

/* Connects count sockets to port, then reads every one until the parent
 * closes it; writes the byte count down out and exits. */
static void reader(uint16_t port, unsigned count, int out)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = port };
	struct epoll_event ev[256];
	static char buf[65536];
	unsigned open = 0;
	uint64_t got = 0;
	int ep = epoll_create1(0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (ep < 0)
		die("reader: epoll_create1");
	for (unsigned i = 0; i < count; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct epoll_event e = { .events = EPOLLIN, .data.fd = fd };

		/* A blocking connect: the parent accepts as they come. */
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa,
				      sizeof(sa)) < 0)
			die("reader: connect");
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0)
			die("reader: epoll_ctl");
		open++;
	}
	while (open > 0) {
		int n = epoll_wait(ep, ev, 256, -1);

		for (int i = 0; i < n; i++) {
			ssize_t r = recv(ev[i].data.fd, buf, sizeof(buf),
					 MSG_DONTWAIT);

			if (r > 0) {
				got += (uint64_t)r;
			} else if (r == 0 || (errno != EAGAIN &&
					      errno != EINTR)) {
				close(ev[i].data.fd);
				open--;
			}
		}
	}
	if (write(out, &got, sizeof(got)) != sizeof(got))
		die("reader: write");
	_exit(0);
}

/* ==== the sender ======================================================= */

static void usage(void)
{
	fputs("usage: bench/floor [-c CONNS] [-i MS] [-d SECONDS] "
	      "[-s BYTES] [-r READERS] [-b]\n", stderr);
	exit(2);
}

static void options(int argc, char **argv)
{
	int ch;

	while ((ch = getopt(argc, argv, "c:i:d:s:r:bh")) != -1) {
		long v = optarg ? strtol(optarg, NULL, 10) : 1;

		switch (ch) {
		case 'b': burst = 1; break;
		case 'c': conns = (unsigned)v; break;
		case 'i': interval_ms = (unsigned)v; break;
		case 'd': seconds = (unsigned)v; break;
		case 's': chunk_len = (size_t)v; break;
		case 'r': readers = (unsigned)v; break;
		default: usage();
		}
		if (v <= 0)
			usage();
	}
	if (optind != argc || conns > 19000 || readers > READERS_MAX ||
	    seconds * 1000 < interval_ms)
		usage();
}

/* Listens on 127.0.0.1, any port; returns the socket, its port in *port. */
static int listen_any(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 4096) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		die("listen");
	*port = sa.sin_port;
	return fd;
}

static double cpu_s(const struct rusage *a, const struct rusage *b, int sys)
{
	const struct timeval *x = sys ? &a->ru_stime : &a->ru_utime;
	const struct timeval *y = sys ? &b->ru_stime : &b->ru_utime;

	return (double)(y->tv_sec - x->tv_sec) +
	       (double)(y->tv_usec - x->tv_usec) / 1e6;
}

int main(int argc, char **argv)
{
	const int one = 1;
	struct rlimit rl;
	struct rusage r0, r1;
	uint16_t port;
	uint64_t events = 0, sends = 0, refused = 0, got = 0;
	unsigned per_conn, ticks, done = 0, wakeups = 0;
	int pipes[READERS_MAX], lfd, *fds;
	pid_t kids[READERS_MAX];
	int64_t t0, t1;
	char *chunks;

	options(argc, argv);
	per_conn = seconds * 1000 / interval_ms;
	ticks = per_conn * interval_ms;	/* the last event's tick */
	chunks = make_chunks(per_conn);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((fds = calloc(conns, sizeof(*fds))) == NULL)
		die("calloc");
	lfd = listen_any(&port);
	for (unsigned r = 0; r < readers; r++) {
		int p[2];

		if (pipe(p) < 0 || (kids[r] = fork()) < 0)
			die("fork");
		if (kids[r] == 0) {
			close(lfd);
			reader(port, conns / readers +
			       (r < conns % readers), p[1]);
		}
		close(p[1]);
		pipes[r] = p[0];
	}
	for (unsigned i = 0; i < conns; i++) {
		if ((fds[i] = accept(lfd, NULL, NULL)) < 0)
			die("accept");
		setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	close(lfd);

	/* Connection i's events are due at ticks slot, slot + interval, ...
	 * with slot = 1 + i % interval (ms after t0).  Each wake-up sends
	 * what ticks done + 1 .. now brought due. */
	getrusage(RUSAGE_SELF, &r0);
	t0 = now_us();
	while (done < ticks) {
		unsigned now;
		int64_t now_t;

		sleep_until_us(t0 + (int64_t)(done + 1) * 1000);
		now_t = now_us();
		now = (unsigned)((now_t - t0) / 1000);
		if (now > ticks)
			now = ticks;
		wakeups++;
		for (unsigned slot = 1; slot <= (burst ? 1 : interval_ms);
		     slot++) {
			/* Events due by tick t: (t - slot) / interval + 1. */
			unsigned before = done < slot ? 0 :
					  (done - slot) / interval_ms + 1;
			unsigned by_now = now < slot ? 0 :
					  (now - slot) / interval_ms + 1;
			unsigned k = by_now - before;

			for (unsigned i = burst ? 0 : slot - 1; k > 0 &&
			     i < conns; i += burst ? 1 : interval_ms) {
				int64_t sent_us = now_us() - t0;
				ssize_t w = send(fds[i], chunks, k * chunk_len,
						 MSG_NOSIGNAL | MSG_DONTWAIT);

				if (w != (ssize_t)(k * chunk_len)) {
					refused++;
					continue;
				}
				sends++;
				events += k;
				for (unsigned e = before; e < by_now; e++)
					late_add(sent_us - (int64_t)(slot +
						 e * interval_ms) * 1000);
			}
		}
		done = now;
	}
	t1 = now_us();
	getrusage(RUSAGE_SELF, &r1);
	for (unsigned i = 0; i < conns; i++)
		close(fds[i]);
	for (unsigned r = 0; r < readers; r++) {
		uint64_t n = 0;

		if (read(pipes[r], &n, sizeof(n)) == sizeof(n))
			got += n;
		waitpid(kids[r], NULL, 0);
	}

	double user = cpu_s(&r0, &r1, 0), sys = cpu_s(&r0, &r1, 1);
	double wall = (double)(t1 - t0) / 1e6;

	printf("floor: %u connections, a %zu-byte event each every %u ms "
	       "for %u s; %u readers\n", conns, chunk_len, interval_ms,
	       seconds, readers);
	printf("events sent        %10llu  in %llu sends (%.2f events a "
	       "send), %llu refused\n", (unsigned long long)events,
	       (unsigned long long)sends,
	       sends ? (double)events / (double)sends : 0,
	       (unsigned long long)refused);
	printf("wall time          %10.2f s  (%u wake-ups)\n", wall, wakeups);
	printf("event rate         %10.0f /s  (schedule: %.0f /s)\n",
	       (double)events / wall, (double)conns * 1000 / interval_ms);
	printf("CPU time           %10.3f s  (user %.3f, system %.3f)\n",
	       user + sys, user, sys);
	printf("CPU per event      %10.2f us\n",
	       events ? (user + sys) * 1e6 / (double)events : 0);
	printf("CPU per send       %10.2f us\n",
	       sends ? (user + sys) * 1e6 / (double)sends : 0);
	printf("lateness (sent - due), upper bound of the bucket: p50 %g ms, "
	       "p99 %g ms\n", late_quantile_ms(events, 0.5),
	       late_quantile_ms(events, 0.99));
	printf("readers got        %10llu bytes of %llu\n",
	       (unsigned long long)got,
	       (unsigned long long)(events * chunk_len));
	return got == events * chunk_len && refused == 0 ? 0 : 1;
}
