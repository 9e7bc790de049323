/* faults.c - the server under the faults of docs/protocol.md section 5:
 * clients that reset, stop reading, flood past -c, trickle their headers
 * or vanish in the middle of a request, and the shutdown signals.
 *
 * Usage: tests/faults PATH-TO-SSE [CASE]	(CASE: run only that one, e.g. resets)
 *
 * Each case starts its own server on a free port (testlib.h), does its
 * harm from the outside, as clients do, and then checks what a client and
 * the kernel can see: the bytes on the wire, the server's /stats, its
 * descriptors (the entries of /proc/PID/fd), its CPU time (/proc/PID/stat)
 * and its exit status.  The server is our child, so /proc shows it.
 *
 *	resets			200 streams reset: descriptors come back
 *	never-reading		a client that never reads is dropped; twenty
 *				others keep their schedule
 *	flood-past-c		2,000 connects past -c: 503 or a close, no
 *				spinning, streams keep their schedule
 *	slow-headers		408 from the first byte, not the last
 *	sigterm			stop listening, close idle, finish streams
 *	second-signal		exit 1 at once
 *	drain-timeout		streams cut at --drain-timeout, exit 0
 *	vanished-mid-request	half heads reset, half bodies closed:
 *				descriptors come back before any timeout
 *	outcomes		each stream of a mixed run counted once:
 *				the outcomes add up to the streams started
 *	shed-no-reset		a 503 past -c is followed by a FIN, not a
 *				reset, when the request came first
 *	pipeline-flood		a client that keeps its pipeline full for
 *				3 s: five streams beside it keep their
 *				schedule
 *	pipelined-behind-streams  300 streams with 1 KB to 40 KB pipelined
 *				behind each: under 8 KiB of memory a stream
 *
 * Every wait is a poll() with a deadline on the thing expected.  Where the
 * thing cannot be polled for (a descriptor count, a counter in /stats) it
 * is looked at every 10 ms until its deadline.  Timing is judged with wide
 * margins: the machine may be small and busy.  An event's arrival is the
 * moment the kernel received it (a software receive timestamp), so that
 * this program being scheduled late does not count against the server;
 * and the flood comes from a child process, so that making it does not
 * delay the reading here either.
 *
 * One line per case on stdout: `pass NAME`, `FAIL NAME: WHY` or
 * `skip NAME: WHY`; on stderr, a few measurements.  Exit 0 iff no FAIL.
 */
#include "testlib.h"

#include <linux/errqueue.h>
#include <linux/net_tstamp.h>

static const char *sse;

/* Event k of a stream must arrive between k intervals minus EARLY_MS and
 * k intervals plus LATE_MS after its request went out. */
#define EARLY_MS 5
#define LATE_MS 250

#define STREAM_BODY "{\"stream\":true}"
#define STREAM_REQ_TO(target)                                              \
	"POST " target " HTTP/1.1\r\nHost: t\r\n"                          \
	"Content-Type: application/json\r\nContent-Length: 15\r\n\r\n"     \
	STREAM_BODY
#define STREAM_REQ STREAM_REQ_TO("/api")
#define PLAIN_REQ "POST /api HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"

#define SERVER_ARGS(...) \
	((const char *const[]){ "-b", "127.0.0.1", "-p", "0", "-q", \
				__VA_ARGS__ })

/* ---------------------------------------------------- the server's side -- */

/* Lets a little time pass between two looks at something that cannot be
 * waited on (a count in /proc or in /stats). */
static void between_looks(void)
{
	poll(NULL, 0, 10);
}

/* Waits until the server holds exactly want descriptors.  Notes the
 * count it last saw if that does not happen by the deadline. */
static bool fds_become(pid_t pid, int want, int64_t deadline,
		       const char *what)
{
	int n;

	while ((n = fd_count(pid)) != want) {
		if (mono_ms() >= deadline)
			return t_note("%s: the server holds %d descriptors, "
				      "expected %d", what, n, want);
		between_looks();
	}
	return true;
}

/* The counters of GET /stats this file looks at. */
struct stats {
	long long connections, streams, streams_completed, streams_aborted,
		streams_dropped, streams_stalled, shed, accepted;
};

static long long json_int(const char *body, const char *key)
{
	char pat[64];

	snprintf(pat, sizeof pat, "\"%s\":", key);
	const char *p = strstr(body, pat);
	return p == NULL ? -1 : strtoll(p + strlen(pat), NULL, 10);
}

/* Asks GET /stats on a connection of its own.  With keep the connection
 * stays open in *keep (then counted in connections), else it asks the
 * server to close and closes it too.  Returns false with a note. */
static bool stats_get(int port, struct stats *st, struct client *keep)
{
	static const char keep_req[] = "GET /stats HTTP/1.1\r\nHost: t\r\n\r\n";
	static const char close_req[] =
		"GET /stats HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
	const char *req = keep != NULL ? keep_req : close_req;
	struct client c;
	struct response r = { 0 };
	int64_t deadline = mono_ms() + 3000;
	bool ok = false;

	if (client_open(&c, port) != 0)
		return t_prefix("GET /stats: "), false;
	if (client_send(&c, req, strlen(req), 0, deadline) == 0 &&
	    client_read(&c, &r, deadline) == 0) {
		if (r.status != 200 || r.body == NULL) {
			t_note("GET /stats: %s", escs(r.status_line));
		} else {
			st->connections = json_int(r.body, "connections");
			st->streams = json_int(r.body, "streams");
			st->streams_completed =
				json_int(r.body, "streams_completed");
			st->streams_aborted =
				json_int(r.body, "streams_aborted");
			st->streams_dropped =
				json_int(r.body, "streams_dropped");
			st->streams_stalled =
				json_int(r.body, "streams_stalled");
			st->shed = json_int(r.body, "shed");
			st->accepted = json_int(r.body, "accepted");
			ok = st->connections >= 0 && st->streams_aborted >= 0
			     && st->shed >= 0;
			if (!ok)
				t_note("GET /stats: counters missing: %s",
				       esc(r.body, r.body_len));
		}
	} else {
		t_prefix("GET /stats: ");
	}
	resp_free(&r);
	if (ok && keep != NULL)
		*keep = c;
	else
		client_close(&c);
	return ok;
}

/* The server's descriptors with no client connected: one GET /stats on a
 * keep-alive connection proves the server is up (its descriptors all
 * made), the count then less that connection is the idle value, and it
 * must come back once the connection is closed.  Also returns the
 * counters then.  -1 with a note on failure. */
static int idle_fds(struct server *s, struct stats *st)
{
	struct client c;

	if (fd_count(s->pid) < 0)
		return t_note("cannot read /proc/%d/fd: %s", (int)s->pid,
			      strerror(errno)), -1;
	if (!stats_get(s->port, st, &c))
		return -1;
	int idle = fd_count(s->pid) - 1;
	client_close(&c);
	if (idle < 3 || !fds_become(s->pid, idle, mono_ms() + 3000,
				    "after the first GET /stats was closed"))
		return t_note("no idle descriptor count (%d)", idle), -1;
	return idle;
}

/* Starts a server, or notes why not. */
static bool start(struct server *s, const char *const args[])
{
	return server_start(s, sse, args) == 0;
}

/* Ends a server that is no longer of interest. */
static void kill_server(struct server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		server_wait(s, 5000);
	}
}

/* ---------------------------------------------------- many streams -- */

/* When did the kernel take in what we read?  A stream's timing is judged
 * by the moment its bytes reached the client's socket (SO_TIMESTAMPING,
 * software receive stamps), not the moment this program got round to
 * reading them: a test process that the scheduler leaves waiting for a
 * while (the machine is small and shared) must not make the server look
 * late.  Where the kernel gives no stamp, the read's own time counts. */
static void rx_stamps_on(int fd)
{
	int flags = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;

	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof flags);
}

/* client_fill() with the receive stamp of the bytes read: *mono and *wall
 * become the moment the newest of them arrived. */
static ssize_t client_fill_stamped(struct client *c, int64_t *mono,
				   int64_t *wall)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct scm_timestamping)) + 64];
		struct cmsghdr align;
	} ctl;

	*mono = mono_ms();
	*wall = wall_ms();
	if (c->eof)
		return 0;
	if (client_room(c) < 0)
		return -1;
	for (;;) {
		struct iovec iov = { c->in + c->len, c->cap - c->len - 1 };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
				    .msg_control = ctl.buf,
				    .msg_controllen = sizeof ctl.buf };
		ssize_t got = recvmsg(c->fd, &m, 0);

		if (got > 0) {
			c->len += (size_t)got;
			c->in[c->len] = '\0';
			for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h != NULL;
			     h = CMSG_NXTHDR(&m, h)) {
				struct scm_timestamping ts;

				if (h->cmsg_level != SOL_SOCKET ||
				    h->cmsg_type != SCM_TIMESTAMPING)
					continue;
				memcpy(&ts, CMSG_DATA(h), sizeof ts);
				if (ts.ts[0].tv_sec == 0)
					continue;
				int64_t at = (int64_t)ts.ts[0].tv_sec * 1000 +
					     ts.ts[0].tv_nsec / 1000000;
				if (at <= *wall) {
					*mono -= *wall - at;
					*wall = at;
				}
			}
			return got;
		}
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && errno == EAGAIN)
			return -1;
		c->eof = true;
		c->err = got < 0 ? errno : 0;
		return 0;
	}
}

/* xfer_recv() of testlib.c, with the chunks stamped by their arrival. */
static void xfer_recv_stamped(struct xfer *x)
{
	int64_t mono, wall;

	if (client_fill_stamped(&x->c, &mono, &wall) >= 0)
		xfer_feed(x, mono, wall);
}

/* xfer_step() of testlib.h, reading with xfer_recv_stamped(). */
static void xfer_step_stamped(struct xfer *x, short revents)
{
	if (x->state == X_CONNECT) {
		xfer_step(x, revents);
		return;
	}
	if ((revents & POLLOUT) && x->sent < x->out_len)
		xfer_step(x, POLLOUT);
	if (revents & (POLLIN | POLLHUP | POLLERR))
		xfer_recv_stamped(x);
}

/* Prepares and starts n exchanges of req: each connects without waiting;
 * xfers_pump() runs them.  (xfer_run() of testlib.h runs them to their end
 * in one call; these cases need to act in between.) */
static void xfers_start(struct xfer *x, int n, int port, const char *req,
			bool want_close)
{
	for (int i = 0; i < n; i++) {
		memset(&x[i], 0, sizeof x[i]);
		x[i].c.fd = -1;
		x[i].out = req;
		x[i].out_len = strlen(req);
		x[i].want_close = want_close;
		x[i].state = X_CONNECT;
		if (client_open_nb(&x[i].c, port) != 0)
			xfer_fail(&x[i], "connect: %s", strerror(errno));
		else
			rx_stamps_on(x[i].c.fd);
	}
}

/* Fills p with the exchanges still running; returns how many. */
static nfds_t xfers_pollset(struct xfer *x, int n, struct pollfd *p, int *idx)
{
	nfds_t np = 0;

	for (int i = 0; i < n; i++) {
		short ev = POLLIN;

		if (x[i].state == X_DONE)
			continue;
		if (x[i].state == X_CONNECT)
			ev = POLLOUT;
		else if (x[i].state == X_RUN && x[i].sent < x[i].out_len)
			ev = POLLIN | POLLOUT;
		p[np] = (struct pollfd){ .fd = x[i].c.fd, .events = ev };
		idx[np++] = i;
	}
	return np;
}

/* Has every exchange that has not failed seen its stream's first chunk
 * (`:ok`)? */
static bool xfers_all_open(const struct xfer *x, int n)
{
	for (int i = 0; i < n; i++)
		if (x[i].err[0] == '\0' && x[i].state != X_DONE &&
		    x[i].r.nch < 1)
			return false;
	return true;
}

/* Runs the exchanges until all are done, or with until_open until each
 * has its `:ok`, or until the deadline.  Returns whether that came. */
static bool xfers_pump(struct xfer *x, int n, int64_t deadline,
		       bool until_open)
{
	struct pollfd *p = calloc((size_t)n, sizeof *p);
	int *idx = calloc((size_t)n, sizeof *idx);
	bool reached = false;

	for (;;) {
		nfds_t np = xfers_pollset(x, n, p, idx);

		if (np == 0 || (until_open && xfers_all_open(x, n))) {
			reached = true;
			break;
		}
		if (mono_ms() >= deadline)
			break;
		if (poll(p, np, ms_until(deadline)) < 0 && errno != EINTR)
			break;
		for (nfds_t k = 0; k < np; k++)
			if (p[k].revents != 0)
				xfer_step_stamped(&x[idx[k]], p[k].revents);
	}
	free(p);
	free(idx);
	return reached;
}

/* Marks the exchanges still running as failed, as xfer_run() does. */
static void xfers_expire(struct xfer *x, int n)
{
	for (int i = 0; i < n; i++)
		if (x[i].state != X_DONE)
			xfer_fail(&x[i], "deadline passed (state %d, %zu of "
				  "%zu bytes sent); bytes read: %s",
				  (int)x[i].state, x[i].sent, x[i].out_len,
				  esc(x[i].c.in, x[i].c.len));
}

/* n exchanges, none started: freeing them closes nothing. */
static struct xfer *xfers_new(int n)
{
	struct xfer *x = calloc((size_t)n, sizeof *x);

	for (int i = 0; x != NULL && i < n; i++)
		x[i].c.fd = -1;
	return x;
}

static void xfers_free(struct xfer *x, int n)
{
	for (int i = 0; i < n; i++)
		xfer_free(&x[i]);
	free(x);
}

/* The timestamp in chunk k of r (an event): when the server sent it,
 * by its wall clock. */
static int64_t stamp_ms(const struct response *r, int k)
{
	char buf[256];
	size_t n = r->ch[k].len < sizeof buf - 1 ? r->ch[k].len
						 : sizeof buf - 1;

	memcpy(buf, r->body + r->ch[k].off, n);
	buf[n] = '\0';
	const char *p = strstr(buf, "\"timestamp\":");
	return p == NULL ? 0 : strtoll(p + 12, NULL, 10);
}

/* Is x a whole stream of n events, event k arriving k intervals after
 * the request went out, within -EARLY_MS and +LATE_MS?  With interval 0
 * the timing is not judged.  Notes the first fault. */
static bool stream_good(const struct xfer *x, int n, int interval)
{
	const struct response *r = &x->r;

	if (x->err[0] != '\0')
		return t_note("%s", x->err);
	if (r->status != 200)
		return t_note("status line %s", escs(r->status_line));
	if (!stream_chunks_ok(r, n))
		return false;
	for (int k = 1; interval > 0 && k <= n; k++) {
		int64_t at = r->ch[k].mono_ms - x->sent_ms;
		int64_t due = (int64_t)k * interval;

		if (at < due - EARLY_MS || at > due + LATE_MS)
			return t_note("event %d came %lld ms after the "
				      "request, due at %lld ms (its timestamp "
				      "says the server sent it at %lld ms)", k,
				      (long long)at, (long long)due,
				      (long long)(stamp_ms(r, k) - x->wall0));
	}
	return true;
}

/* Checks every stream; notes how many are broken and the first one's
 * fault.  Prints the worst lateness on stderr under the case's name. */
static int streams_check(const char *name, const struct xfer *x, int count,
			 int n, int interval)
{
	char first[sizeof t_why] = "";
	int broken = 0, first_i = -1;
	int64_t worst = INT64_MIN;

	for (int i = 0; i < count; i++) {
		if (!stream_good(&x[i], n, interval)) {
			if (broken++ == 0) {
				first_i = i;
				memcpy(first, t_why, sizeof first);
			}
			t_clear();
			continue;
		}
		for (int k = 1; interval > 0 && k <= n; k++) {
			int64_t late = x[i].r.ch[k].mono_ms - x[i].sent_ms -
				       (int64_t)k * interval;
			worst = late > worst ? late : worst;
		}
	}
	if (interval > 0 && broken < count)
		fprintf(stderr, "%s: worst event lateness %lld ms over %d "
			"streams\n", name, (long long)worst, count - broken);
	if (broken > 0)
		t_note("%d of %d streams broken; the first, #%d: %s", broken,
		       count, first_i, first);
	return broken;
}

/* One stream on a connection of its own, read whole and checked. */
static bool one_stream(int port, const char *req, int n, int interval)
{
	struct xfer *x = xfers_new(1);

	xfers_start(x, 1, port, req, false);
	xfers_pump(x, 1, mono_ms() + (int64_t)n * interval + 5000, false);
	xfers_expire(x, 1);
	bool ok = stream_good(x, n, interval);
	xfers_free(x, 1);
	return ok;
}

/* Closes fd with a reset rather than a FIN. */
static void close_rst(int fd)
{
	struct linger hard = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
	close(fd);
}

/* --------------------------------------------------------- 1. resets -- */

#define RESETS 200

/* 200 streams, each reset by its client once it has its `:ok`: every
 * descriptor comes back, each counts as aborted, and the server streams
 * on. */
static void test_resets(void)
{
	static const char name[] = "faults/resets";
	struct server s;
	struct stats st0, st1;
	struct xfer *x = xfers_new(RESETS);

	if (!start(&s, SERVER_ARGS("-n", "5", "-i", "200", NULL)))
		goto out;
	int idle = idle_fds(&s, &st0);
	if (idle < 0)
		goto out;
	xfers_start(x, RESETS, s.port, STREAM_REQ, false);
	if (!xfers_pump(x, RESETS, mono_ms() + 5000, true)) {
		xfers_expire(x, RESETS);
		t_note("not every stream had its :ok within 5 s");
	}
	for (int i = 0; i < RESETS && !t_noted(); i++)
		if (x[i].err[0] != '\0' || x[i].r.nch < 1)
			t_note("stream #%d: %s", i, x[i].err[0] ? x[i].err
							: "no :ok");
		else if (x[i].state == X_DONE)
			t_note("stream #%d ended before its reset: the "
			       "streams took over 1 s to open", i);
	if (t_noted())
		goto out;
	int held = fd_count(s.pid);
	for (int i = 0; i < RESETS; i++) {
		close_rst(x[i].c.fd);
		x[i].c.fd = -1;
	}
	int64_t t = mono_ms();
	if (!fds_become(s.pid, idle, t + 3000, "3 s after the resets"))
		goto out;
	fprintf(stderr, "%s: %d descriptors with the streams, %d idle; back "
		"%lld ms after the resets\n", name, held, idle,
		(long long)(mono_ms() - t));
	if (!stats_get(s.port, &st1, NULL))
		goto out;
	if (st1.streams_aborted - st0.streams_aborted != RESETS)
		t_note("streams_aborted went from %lld to %lld, expected +%d",
		       st0.streams_aborted, st1.streams_aborted, RESETS);
	else if (st1.streams != 0)
		t_note("/stats says %lld streams still run", st1.streams);
	else if (!one_stream(s.port, STREAM_REQ, 5, 200))
		t_prefix("a stream after the resets: ");
out:
	t_result(name, true);
	kill_server(&s);
	xfers_free(x, RESETS);
}

/* -------------------------------------------------- 2. never-reading -- */

#define NORMAL 20

/* Connects a client whose receive buffer is small (set before connect,
 * so the window is small from the start) and which never reads. */
static int connect_small_rcvbuf(int port, int rcvbuf)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port) };
	struct timeval tv = { .tv_sec = 2 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* Counts non-overlapping occurrences of pat in p[0..n). */
static int count_of(const char *p, size_t n, const char *pat)
{
	size_t m = strlen(pat);
	int k = 0;

	for (const char *q = p; q != NULL && (size_t)(q - p) + m <= n;) {
		q = memmem(q, n - (size_t)(q - p), pat, m);
		if (q != NULL) {
			k++;
			q += m;
		}
	}
	return k;
}

/* A client asks for 50 events of 4 KiB, 20 ms apart, and never reads;
 * twenty ordinary streams start beside it.  They keep their schedule and
 * end whole; the server drops the silent one (it is past --max-output, or
 * its output stays put for --send-timeout): when it finally reads, it
 * finds its stream cut short, and /stats counts one stream aborted. */
static void test_never_reading(void)
{
	static const char name[] = "faults/never-reading";
	static const char big[] =
		STREAM_REQ_TO("/api?size=4096&n=50&interval=20");
	struct server s;
	struct stats st0, st1 = { 0 };
	struct xfer *x = xfers_new(NORMAL);
	struct client c = { .fd = -1 };

	if (!start(&s, SERVER_ARGS("-n", "5", "-i", "100",
				   "--max-event-size", "4096",
				   "--max-output", "8192",
				   "--send-timeout", "2000", NULL)))
		goto out;
	if (!stats_get(s.port, &st0, NULL))
		goto out;
	c.fd = connect_small_rcvbuf(s.port, 4096);
	if (c.fd < 0) {
		t_note("connect: %s", strerror(errno));
		goto out;
	}
	int64_t t0 = mono_ms();
	if (client_send(&c, big, strlen(big), 0, t0 + 2000) != 0)
		goto out;
	xfers_start(x, NORMAL, s.port, STREAM_REQ, false);
	xfers_pump(x, NORMAL, mono_ms() + 5 * 100 + 5000, false);
	xfers_expire(x, NORMAL);
	if (streams_check(name, x, NORMAL, 5, 100) > 0) {
		t_prefix("beside a client that does not read: ");
		goto out;
	}
	/* The drop: --send-timeout after the output stopped moving, at the
	 * latest, or as soon as it passes --max-output.  The stream alone
	 * would last 1 s. */
	int64_t deadline = t0 + 2000 + 3000;
	do {
		if (!stats_get(s.port, &st1, NULL))
			goto out;
		if (st1.streams_aborted > st0.streams_aborted)
			break;
		between_looks();
	} while (mono_ms() < deadline);
	int64_t dropped_ms = mono_ms() - t0;

	/* Now read everything the kernel still holds for it. */
	int64_t read_by = mono_ms() + 5000;
	while (!c.eof && mono_ms() < read_by)
		if (client_fill(&c) < 0)
			wait_fd(c.fd, POLLIN, read_by);
	int events = count_of(c.in, c.len, "data: {");
	bool whole = c.len >= 5 && memcmp(c.in + c.len - 5, "0\r\n\r\n", 5)
				   == 0;
	fprintf(stderr, "%s: streams_aborted +%lld after %lld ms; the silent "
		"client then read %zu bytes, %d events, %s\n", name,
		st1.streams_aborted - st0.streams_aborted,
		(long long)dropped_ms, c.len, events,
		c.eof ? (c.err ? strerror(c.err) : "then EOF")
		      : "and the connection stayed open");
	if (!c.eof || whole || events >= 50)
		t_note("the client that does not read was not dropped: "
		       "streams_aborted +%lld %lld ms after its request, "
		       "streams_completed %lld; reading at last it got %d of "
		       "50 events%s, the connection %s", st1.streams_aborted -
		       st0.streams_aborted, (long long)dropped_ms,
		       st1.streams_completed, events, whole ? " and the end of "
		       "the stream" : "", c.eof ? "closed" : "still open 5 s "
		       "later");
	else if (st1.streams_aborted - st0.streams_aborted != 1)
		t_note("it was cut after %d events, but streams_aborted went "
		       "from %lld to %lld, expected +1", events,
		       st0.streams_aborted, st1.streams_aborted);
out:
	t_result(name, true);
	client_close(&c);
	kill_server(&s);
	xfers_free(x, NORMAL);
}

/* --------------------------------------------------- 3. flood past -c -- */

#define FLOOD_STREAMS 40
#define FLOOD_TOTAL 2000
#define FLOOD_INFLIGHT 500
#define FLOOD_WAIT_MS 5000	/* each attempt's answer, at most */
#define FLOOD_CPU_MS 2000

/* One connection attempt of the flood. */
struct attempt {
	int fd;
	bool connected, sent;
	int64_t start;
	char head[16];		/* the first bytes of the answer */
	size_t len;
};

/* How the flood's attempts ended. */
struct flood_tally {
	int launched, ended;
	int got503, got200, closed, refused, other, hung;
	int64_t ms;		/* how long the flood took */
	char first_other[256];
};

static void attempt_end(struct attempt *a, struct flood_tally *ft,
			int *outcome)
{
	(*outcome)++;
	ft->ended++;
	close(a->fd);
	a->fd = -1;
}

/* Moves one attempt on by what poll() said. */
static void attempt_step(struct attempt *a, short revents,
			 struct flood_tally *ft)
{
	static const char req[] = "POST /api HTTP/1.1\r\nHost: t\r\n"
				  "Connection: close\r\nContent-Length: 0\r\n"
				  "\r\n";
	char buf[4096];

	if (!a->connected) {
		int e = 0;
		socklen_t len = sizeof e;

		getsockopt(a->fd, SOL_SOCKET, SO_ERROR, &e, &len);
		if (e == ECONNREFUSED) {
			attempt_end(a, ft, &ft->refused);
			return;
		}
		if (e != 0) {	/* reset before we could say a word */
			attempt_end(a, ft, &ft->closed);
			return;
		}
		a->connected = true;
	}
	if (!a->sent && (revents & POLLOUT)) {
		if (send(a->fd, req, sizeof req - 1, MSG_NOSIGNAL) < 0 &&
		    errno != EAGAIN) {
			/* Closed already; an answer may still be there. */
		}
		a->sent = true;
	}
	if (!(revents & (POLLIN | POLLHUP | POLLERR)))
		return;
	for (;;) {
		ssize_t n = read(a->fd, buf, sizeof buf);

		if (n > 0) {
			size_t room = sizeof a->head - a->len;
			size_t k = (size_t)n < room ? (size_t)n : room;

			memcpy(a->head + a->len, buf, k);
			a->len += k;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		break;	/* EOF or reset: the answer is all there is */
	}
	if (a->len == 0)
		attempt_end(a, ft, &ft->closed);
	else if (glob("HTTP/1.1 503 *", a->head, a->len))
		attempt_end(a, ft, &ft->got503);
	else if (glob("HTTP/1.1 200 *", a->head, a->len))
		attempt_end(a, ft, &ft->got200);
	else {
		if (ft->first_other[0] == '\0')
			snprintf(ft->first_other, sizeof ft->first_other,
				 "%s", esc(a->head, a->len));
		attempt_end(a, ft, &ft->other);
	}
}

/* Starts one attempt: a non-blocking connect. */
static void attempt_start(struct attempt *a, int port, struct flood_tally *ft)
{
	struct client c;

	memset(a, 0, sizeof *a);
	a->start = mono_ms();
	ft->launched++;
	if (client_open_nb(&c, port) != 0) {
		a->fd = -1;
		ft->ended++;
		if (errno == ECONNREFUSED)
			ft->refused++;
		else
			ft->other++;
		if (errno != ECONNREFUSED && ft->first_other[0] == '\0')
			snprintf(ft->first_other, sizeof ft->first_other,
				 "connect: %s", strerror(errno));
		return;
	}
	free(c.in);
	a->fd = c.fd;
}

/* The flood itself: FLOOD_TOTAL attempts, FLOOD_INFLIGHT at a time, each
 * given FLOOD_WAIT_MS for its answer; returns how they ended. */
static void flood(int port, struct flood_tally *ft)
{
	struct attempt *a = calloc(FLOOD_INFLIGHT, sizeof *a);
	struct pollfd *p = calloc(FLOOD_INFLIGHT, sizeof *p);
	int *idx = calloc(FLOOD_INFLIGHT, sizeof *idx);

	for (int i = 0; i < FLOOD_INFLIGHT; i++)
		a[i].fd = -1;
	while (ft->ended < FLOOD_TOTAL) {
		int64_t now = mono_ms();
		nfds_t np = 0;

		for (int i = 0; i < FLOOD_INFLIGHT; i++) {
			if (a[i].fd >= 0 && now - a[i].start > FLOOD_WAIT_MS)
				attempt_end(&a[i], ft, &ft->hung);
			if (a[i].fd < 0 && ft->launched < FLOOD_TOTAL)
				attempt_start(&a[i], port, ft);
			if (a[i].fd < 0)
				continue;
			p[np] = (struct pollfd){
				.fd = a[i].fd,
				.events = a[i].connected && a[i].sent
					  ? POLLIN : POLLIN | POLLOUT };
			idx[np++] = i;
		}
		if (np == 0)
			continue;
		if (poll(p, np, 50) < 0 && errno != EINTR)
			break;
		for (nfds_t k = 0; k < np; k++)
			if (p[k].revents != 0)
				attempt_step(&a[idx[k]], p[k].revents, ft);
	}
	for (int i = 0; i < FLOOD_INFLIGHT; i++)
		if (a[i].fd >= 0)
			attempt_end(&a[i], ft, &ft->hung);
	free(a);
	free(p);
	free(idx);
}

/* Runs flood() in a child process, so that its work does not delay the
 * reading of the streams here: returns the child's pid and the read end
 * of the pipe its tally comes back on, or -1. */
static pid_t flood_spawn(int port, int *result_fd)
{
	int pp[2];

	if (pipe2(pp, O_CLOEXEC) != 0)
		return -1;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(pp[0]);
		close(pp[1]);
		return -1;
	}
	if (pid == 0) {
		struct flood_tally ft = { 0 };
		int64_t t = mono_ms();

		/* Only the pipe: the streams' sockets stay the parent's. */
		close(pp[0]);
		if (pp[1] > 3)
			close_range(3, (unsigned)pp[1] - 1, 0);
		close_range((unsigned)pp[1] + 1, ~0u, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		flood(port, &ft);
		ft.ms = mono_ms() - t;
		if (write(pp[1], &ft, sizeof ft) != (ssize_t)sizeof ft)
			_exit(1);
		_exit(0);
	}
	close(pp[1]);
	*result_fd = pp[0];
	return pid;
}

/* 40 streams run; then 2,000 connects come as fast as they can, up to
 * 500 at once, each sending a request, past -c 50.  Each gets a 503 (or a
 * 200 if it found a free place, or a close) in bounded time; the streams
 * keep their schedule; the server's CPU time stays low (it does not
 * spin); afterwards a new stream works, and /stats counts the shed.  The
 * flood comes from a child process; this one reads the streams. */
static void test_flood(void)
{
	static const char name[] = "faults/flood-past-c";
	struct server s;
	struct stats st0, st1;
	struct xfer *x = xfers_new(FLOOD_STREAMS);
	struct flood_tally ft = { 0 };
	long limit = raise_nofile();
	pid_t child = -1;
	int result_fd = -1;

	if (limit < FLOOD_STREAMS + FLOOD_INFLIGHT + 64) {
		t_skip(name, "the descriptor limit is too low");
		goto done;
	}
	if (!start(&s, SERVER_ARGS("-c", "50", "-n", "10", "-i", "200",
				   NULL)))
		goto out;
	if (!stats_get(s.port, &st0, NULL))
		goto out;
	int64_t cpu0 = proc_cpu_ms(s.pid);
	xfers_start(x, FLOOD_STREAMS, s.port, STREAM_REQ, false);
	if (!xfers_pump(x, FLOOD_STREAMS, mono_ms() + 5000, true)) {
		xfers_expire(x, FLOOD_STREAMS);
		t_note("not every stream had its :ok within 5 s");
	}
	for (int i = 0; i < FLOOD_STREAMS && !t_noted(); i++)
		if (x[i].err[0] != '\0')
			t_note("stream #%d before the flood: %s", i, x[i].err);
	if (t_noted())
		goto out;
	child = flood_spawn(s.port, &result_fd);
	if (child < 0) {
		t_note("fork: %s", strerror(errno));
		goto out;
	}
	xfers_pump(x, FLOOD_STREAMS, mono_ms() + 10 * 200 + 5000, false);
	xfers_expire(x, FLOOD_STREAMS);
	/* Each attempt is bounded, so the flood is too: 2,000 attempts of
	 * at most FLOOD_WAIT_MS, FLOOD_INFLIGHT at a time. */
	int64_t flood_by = mono_ms() + FLOOD_TOTAL / FLOOD_INFLIGHT *
					  FLOOD_WAIT_MS + 5000;
	if (wait_fd(result_fd, POLLIN, flood_by) <= 0 ||
	    read(result_fd, &ft, sizeof ft) != (ssize_t)sizeof ft) {
		t_note("the flood did not end in time");
		goto out;
	}
	fprintf(stderr, "%s: %d attempts in %lld ms: %d 503, %d 200, %d "
		"closed, %d refused, %d other, %d without an answer in %d "
		"ms\n", name, ft.launched, (long long)ft.ms, ft.got503,
		ft.got200, ft.closed, ft.refused, ft.other, ft.hung,
		FLOOD_WAIT_MS);
	if (streams_check(name, x, FLOOD_STREAMS, 10, 200) > 0)
		t_prefix("during the flood (%d attempts in %lld ms): ",
			 ft.launched, (long long)ft.ms);
	else if (ft.hung > 0)
		t_note("%d of %d attempts had no answer and no close within "
		       "%d ms", ft.hung, FLOOD_TOTAL, FLOOD_WAIT_MS);
	else if (ft.other > 0)
		t_note("%d of %d attempts got neither 503, 200 nor a close; "
		       "the first: %s", ft.other, FLOOD_TOTAL, ft.first_other);
	else if (ft.refused > 0)
		t_note("%d of %d connects were refused: the listener was "
		       "gone or its backlog overflowed", ft.refused,
		       FLOOD_TOTAL);
	else if (ft.got503 == 0)
		t_note("no attempt got a 503 (%d 200, %d closed)", ft.got200,
		       ft.closed);
	if (t_noted())
		goto out;
	if (!one_stream(s.port, STREAM_REQ_TO("/api?n=3&interval=50"), 3,
			50)) {
		t_prefix("a new stream after the flood: ");
		goto out;
	}
	int64_t cpu = proc_cpu_ms(s.pid) - cpu0;
	fprintf(stderr, "%s: the server used %lld ms of CPU\n", name,
		(long long)cpu);
	if (cpu0 < 0 || cpu > FLOOD_CPU_MS)
		t_note("the server used %lld ms of CPU in the case, more than "
		       "%d", (long long)cpu, FLOOD_CPU_MS);
	else if (stats_get(s.port, &st1, NULL) &&
		 (st1.shed - st0.shed <= 0 ||
		  st1.shed - st0.shed < ft.got503))
		t_note("/stats shed went from %lld to %lld, but %d attempts "
		       "got a 503", st0.shed, st1.shed, ft.got503);
out:
	t_result(name, true);
	kill_server(&s);
done:
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	if (result_fd >= 0)
		close(result_fd);
	xfers_free(x, FLOOD_STREAMS);
}

/* --------------------------------------------------- 4. slow headers -- */

/* A client of the slow-headers case: what it sent, when, and what came. */
struct slow {
	const char *what;
	struct client c;
	struct response r;
	int64_t first_ms;	/* its first byte went out */
	int64_t answer_ms;	/* the 408 was complete */
	int64_t eof_ms;		/* then the server closed */
	bool trickle;		/* a byte every 100 ms, until the answer */
	int64_t next_ms;	/* its next byte */
	size_t sent;
};

static bool slow_read(struct slow *w)
{
	if (client_fill(&w->c) < 0)
		return true;
	if (w->answer_ms == 0) {
		enum resp_state st = resp_feed(&w->r, w->c.in, w->c.len,
					       w->c.eof, mono_ms(), wall_ms());

		if (st == RS_BAD)
			return t_note("%s: bad response: %s; bytes: %s",
				      w->what, w->r.bad,
				      esc(w->c.in, w->c.len));
		if (st != RS_DONE)
			return true;
		w->answer_ms = mono_ms();
		client_take(&w->c, w->r.pos);
	}
	if (w->c.len > 0)
		return t_note("%s: bytes after the 408: %s", w->what,
			      esc(w->c.in, w->c.len));
	if (w->c.eof)
		w->eof_ms = mono_ms();
	return true;
}

/* Is w's answer a 408 with Connection: close that came between lo and hi
 * ms after its first byte, then the close? */
static bool slow_ok(const struct slow *w, int lo, int hi)
{
	const char *conn = resp_header(&w->r, "Connection");

	if (w->answer_ms == 0)
		return t_note("%s: no answer within 3 s; bytes: %s", w->what,
			      esc(w->c.in, w->c.len));
	if (w->r.status != 408)
		return t_note("%s: %s, expected 408", w->what,
			      escs(w->r.status_line));
	if (conn == NULL || strcasecmp(conn, "close") != 0)
		return t_note("%s: the 408 has Connection: %s, expected close",
			      w->what, escs(conn));
	long long at = (long long)(w->answer_ms - w->first_ms);
	if (at < lo || at > hi)
		return t_note("%s: the 408 came %lld ms after the first byte,"
			      " expected %d to %d", w->what, at, lo, hi);
	if (w->eof_ms == 0)
		return t_note("%s: the connection stayed open after the 408",
			      w->what);
	return true;
}

/* With --request-timeout 300, a client that sends half a head and stops
 * gets 408, Connection: close and EOF; so does one that sends a byte
 * every 100 ms and would never finish: the timeout runs from the first
 * byte, not the last. */
static void test_slow_headers(void)
{
	static const char name[] = "faults/slow-headers";
	static const char half[] = "POST /api HTTP/1.1\r\nHost: t\r\nContent-";
	static const char trickle[] = "POST /api HTTP/1.1\r\nHost: t\r\n"
				      "X-Slow: ";
	struct server s;
	struct slow w[2] = {
		{ .what = "half a head" },
		{ .what = "a byte every 100 ms", .trickle = true },
	};

	if (!start(&s, SERVER_ARGS("--request-timeout", "300", NULL)))
		goto out;
	if (client_open(&w[0].c, s.port) != 0 ||
	    client_open(&w[1].c, s.port) != 0)
		goto out;
	w[0].first_ms = mono_ms();
	if (client_send(&w[0].c, half, sizeof half - 1, 0,
			w[0].first_ms + 1000) != 0)
		goto out;
	int64_t deadline = mono_ms() + 3000;
	w[1].first_ms = w[1].next_ms = mono_ms();
	while (!t_noted() && (w[0].eof_ms == 0 || w[1].eof_ms == 0)) {
		struct slow *b = &w[1];
		int64_t now = mono_ms();

		if (now >= deadline)
			break;
		if (b->answer_ms == 0 && now >= b->next_ms) {
			char ch = b->sent < sizeof trickle - 1
				  ? trickle[b->sent] : 'a';

			/* The server may close between bytes: not a
			 * fault, the answer is read below. */
			if (send(b->c.fd, &ch, 1, MSG_NOSIGNAL) == 1)
				b->sent++;
			b->next_ms += 100;
		}
		struct pollfd p[2] = {
			{ .fd = w[0].eof_ms ? -1 : w[0].c.fd, .events = POLLIN },
			{ .fd = w[1].eof_ms ? -1 : w[1].c.fd, .events = POLLIN },
		};
		int64_t until = deadline;
		if (b->answer_ms == 0 && b->next_ms < until)
			until = b->next_ms;
		if (poll(p, 2, ms_until(until)) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++)
			if (p[i].revents != 0)
				slow_read(&w[i]);
	}
	if (!t_noted() && slow_ok(&w[0], 250, 2000))
		slow_ok(&w[1], 250, 1000);
	for (int i = 0; i < 2; i++)
		if (w[i].answer_ms != 0)
			fprintf(stderr, "%s: %s: the answer %lld ms after the "
				"first byte (%zu bytes sent)\n", name, w[i].what,
				(long long)(w[i].answer_ms - w[i].first_ms),
				i == 0 ? sizeof half - 1 : w[i].sent);
out:
	t_result(name, true);
	for (int i = 0; i < 2; i++) {
		client_close(&w[i].c);
		resp_free(&w[i].r);
	}
	kill_server(&s);
}

/* --------------------------------------------------------- 5. sigterm -- */

#define TERM_STREAMS 10
#define TERM_IDLE 3

/* Tries to connect until a connect is refused, by the deadline.  A
 * connect that succeeds (the signal not yet handled) is closed at once.
 * Returns the ms from `from` to the refusal, or -1 with a note. */
static int64_t refused_by(int port, int64_t from, int64_t deadline)
{
	for (;;) {
		struct client c;

		if (client_open_addr(&c, "127.0.0.1", port) != 0) {
			if (errno == ECONNREFUSED)
				return mono_ms() - from;
			/* A connect racing the listener's close may be
			 * reset instead: the next one tells. */
			if (errno != ECONNRESET)
				return t_note("connect: %s", strerror(errno)),
				       -1;
		} else {
			client_close(&c);
		}
		if (mono_ms() >= deadline)
			return t_note("connections were still accepted %lld "
				      "ms after the signal",
				      (long long)(mono_ms() - from)), -1;
		between_looks();
	}
}

/* SIGTERM with 10 streams running and 3 idle keep-alive connections: at
 * once connects are refused and the idle connections closed; every
 * stream still gets all its events, `:done` and the last chunk; then the
 * server exits 0. */
static void test_sigterm(void)
{
	static const char name[] = "faults/sigterm";
	struct server s;
	struct xfer *x = xfers_new(TERM_STREAMS);
	struct client idle[TERM_IDLE];
	struct response r = { 0 };

	for (int i = 0; i < TERM_IDLE; i++)
		idle[i].fd = -1, idle[i].in = NULL;
	if (!start(&s, SERVER_ARGS("-n", "5", "-i", "200", NULL)))
		goto out;
	xfers_start(x, TERM_STREAMS, s.port, STREAM_REQ, true);
	if (!xfers_pump(x, TERM_STREAMS, mono_ms() + 5000, true)) {
		xfers_expire(x, TERM_STREAMS);
		t_note("not every stream had its :ok within 5 s");
	}
	for (int i = 0; i < TERM_STREAMS && !t_noted(); i++)
		if (x[i].err[0] != '\0')
			t_note("stream #%d: %s", i, x[i].err);
	for (int i = 0; i < TERM_IDLE && !t_noted(); i++) {
		int64_t by = mono_ms() + 3000;

		if (client_open(&idle[i], s.port) == 0 &&
		    client_send(&idle[i], PLAIN_REQ, sizeof PLAIN_REQ - 1, 0,
				by) == 0 &&
		    client_read(&idle[i], &r, by) == 0 && r.status != 200)
			t_note("idle connection #%d: %s", i,
			       escs(r.status_line));
	}
	if (t_noted())
		goto out;

	int64_t sig = mono_ms();
	kill(s.pid, SIGTERM);
	int64_t refused = refused_by(s.port, sig, sig + 500);
	if (refused < 0)
		goto out;
	for (int i = 0; i < TERM_IDLE; i++)
		if (!client_closed(&idle[i], sig + 1500)) {
			t_prefix("idle connection #%d after SIGTERM: ", i);
			goto out;
		}
	int64_t closed = mono_ms() - sig;
	xfers_pump(x, TERM_STREAMS, mono_ms() + 5 * 200 + 5000, false);
	xfers_expire(x, TERM_STREAMS);
	if (streams_check(name, x, TERM_STREAMS, 5, 0) > 0) {
		t_prefix("streams after SIGTERM: ");
		goto out;
	}
	for (int i = 0; i < TERM_STREAMS && !t_noted(); i++)
		if (!x[i].closed)
			t_note("stream #%d: the server did not close the "
			       "connection after the stream", i);
	if (t_noted())
		goto out;
	int64_t last = 0;
	for (int i = 0; i < TERM_STREAMS; i++)
		last = x[i].r.end_ms > last ? x[i].r.end_ms : last;
	int code = server_wait(&s, 3000);
	int64_t exited = mono_ms() - last;
	fprintf(stderr, "%s: refused %lld ms after the signal, idle closed "
		"by %lld ms; exit %d %lld ms after the last stream\n", name,
		(long long)refused, (long long)closed, code,
		(long long)exited);
	if (code != 0)
		t_note("exit status %d after the streams, expected 0 within "
		       "3 s", code);
	else if (exited > 1000)
		t_note("the server exited %lld ms after the last stream "
		       "ended", (long long)exited);
out:
	t_result(name, true);
	for (int i = 0; i < TERM_IDLE; i++)
		client_close(&idle[i]);
	resp_free(&r);
	kill_server(&s);
	xfers_free(x, TERM_STREAMS);
}

/* --------------------------------------------------- 6. second signal -- */

/* Opens a stream and reads its head and `:ok`. */
static bool open_stream(struct client *c, struct response *r, int port)
{
	int64_t by = mono_ms() + 3000;

	resp_init(r);
	if (client_open(c, port) != 0 ||
	    client_send(c, STREAM_REQ, sizeof STREAM_REQ - 1, 0, by) != 0 ||
	    client_more(c, r, by, 1) != 0)
		return false;
	if (r->status != 200)
		return t_note("stream: %s", escs(r->status_line));
	return true;
}

/* A second SIGTERM while a long stream drains: exit status 1 at once. */
static void test_second_signal(void)
{
	static const char name[] = "faults/second-signal";
	struct server s;
	struct client c = { .fd = -1 };
	struct response r = { 0 };

	if (!start(&s, SERVER_ARGS("-n", "5", "-i", "1000", NULL)))
		goto out;
	if (!open_stream(&c, &r, s.port))
		goto out;
	int64_t sig = mono_ms();
	kill(s.pid, SIGTERM);
	/* The first signal has been handled once the port refuses. */
	if (refused_by(s.port, sig, sig + 500) < 0)
		goto out;
	int64_t sig2 = mono_ms();
	kill(s.pid, SIGTERM);
	int code = server_wait(&s, 3000);
	int64_t took = mono_ms() - sig2;
	fprintf(stderr, "%s: exit %d %lld ms after the second signal\n", name,
		code, (long long)took);
	if (code != 1)
		t_note("exit status %d, expected 1", code);
	else if (took >= 1000)
		t_note("the server exited %lld ms after the second signal",
		       (long long)took);
out:
	t_result(name, true);
	client_close(&c);
	resp_free(&r);
	kill_server(&s);
}

/* --------------------------------------------------- 7. drain timeout -- */

/* --drain-timeout 300 with two streams an event a second: the server
 * exits 0 about 300 ms after SIGTERM, and both streams are cut. */
static void test_drain_timeout(void)
{
	static const char name[] = "faults/drain-timeout";
	struct server s;
	struct client c[2] = { { .fd = -1 }, { .fd = -1 } };
	struct response r[2] = { { 0 }, { 0 } };

	if (!start(&s, SERVER_ARGS("--drain-timeout", "300", "-n", "5", "-i",
				   "1000", NULL)))
		goto out;
	if (!open_stream(&c[0], &r[0], s.port) ||
	    !open_stream(&c[1], &r[1], s.port))
		goto out;
	int64_t sig = mono_ms();
	kill(s.pid, SIGTERM);
	int code = server_wait(&s, 3000);
	int64_t took = mono_ms() - sig;
	fprintf(stderr, "%s: exit %d %lld ms after SIGTERM\n", name, code,
		(long long)took);
	if (code != 0) {
		t_note("exit status %d, expected 0 (within 3 s)", code);
		goto out;
	}
	if (took < 250 || took > 300 + 700) {
		t_note("exited %lld ms after SIGTERM, expected 300",
		       (long long)took);
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		/* The rest of the response: it must end in a close. */
		if (client_more(&c[i], &r[i], mono_ms() + 2000, 0) == 0) {
			t_note("stream #%d was not cut: it ended whole with "
			       "%d chunks", i, r[i].nch);
			goto out;
		}
		if (!c[i].eof) {
			t_prefix("stream #%d: ", i);
			goto out;
		}
		t_clear();	/* closed in the middle: what is wanted */
		if (r[i].nch != 1 || r[i].zero_chunk)
			t_note("stream #%d: %d chunks before the cut, expected"
			       " only :ok", i, r[i].nch);
	}
out:
	t_result(name, true);
	for (int i = 0; i < 2; i++) {
		client_close(&c[i]);
		resp_free(&r[i]);
	}
	kill_server(&s);
}

/* -------------------------------------------- 8. vanished mid-request -- */

#define VANISH 50

/* 50 clients send half a head and reset; 50 send a head promising 100
 * bytes of body and 10 of them, then FIN.  With --request-timeout 10000,
 * only noticing the close can give the descriptors back, and it must,
 * within 2 s. */
static void test_vanished(void)
{
	static const char name[] = "faults/vanished-mid-request";
	static const char half_head[] = "POST /api HTTP/1.1\r\nHost: t\r\n"
					"Content-Le";
	static const char half_body[] = "POST /api HTTP/1.1\r\nHost: t\r\n"
					"Content-Type: application/json\r\n"
					"Content-Length: 100\r\n\r\n"
					"{\"stream\":";
	struct server s;
	struct stats st;
	struct client c[2 * VANISH];

	for (int i = 0; i < 2 * VANISH; i++)
		c[i].fd = -1, c[i].in = NULL;
	if (!start(&s, SERVER_ARGS("--request-timeout", "10000", NULL)))
		goto out;
	int idle = idle_fds(&s, &st);
	if (idle < 0)
		goto out;
	for (int i = 0; i < 2 * VANISH; i++) {
		const char *part = i < VANISH ? half_head : half_body;

		if (client_open(&c[i], s.port) != 0 ||
		    client_send(&c[i], part, strlen(part), 0,
				mono_ms() + 2000) != 0)
			goto out;
	}
	if (!fds_become(s.pid, idle + 2 * VANISH, mono_ms() + 3000,
			"with the 100 clients connected"))
		goto out;
	int64_t t = mono_ms();
	for (int i = 0; i < 2 * VANISH; i++) {
		if (i < VANISH) {
			close_rst(c[i].fd);
		} else {
			shutdown(c[i].fd, SHUT_WR);
			close(c[i].fd);
		}
		c[i].fd = -1;
	}
	if (fds_become(s.pid, idle, t + 2000, "2 s after the clients left"))
		fprintf(stderr, "%s: descriptors back %lld ms after the "
			"clients left\n", name, (long long)(mono_ms() - t));
out:
	t_result(name, true);
	for (int i = 0; i < 2 * VANISH; i++)
		client_close(&c[i]);
	kill_server(&s);
}

/* ------------------------------------------------------- 9. outcomes -- */

/* One kind of stream in the outcomes case: its request, how many, how its
 * client ends it, and the one counter of /stats it must end in. */
static const struct outcome_kind {
	const char *what, *req;
	int count;
	int leave_after;	/* chunks read, then the client closes; 0: none */
	bool reset;		/* the client closes with a reset */
	int counter;		/* the index in struct stats' outcome fields */
} outcome_kinds[] = {
	{ "the client resets after :ok",
	  STREAM_REQ_TO("/api?n=5&interval=300"), 4, 1, true, 1 },
	{ "drop=1, the client leaves before the reset",
	  STREAM_REQ_TO("/api?n=3&interval=400&drop=1"), 4, 2, false, 2 },
	{ "stall=1, the client leaves before the reset",
	  STREAM_REQ_TO("/api?n=3&interval=400&stall=1"), 4, 2, false, 3 },
	{ "completes", STREAM_REQ_TO("/api?n=2&interval=50"), 4, 0, false, 0 },
	{ "drop=1, reset by the server",
	  STREAM_REQ_TO("/api?n=3&interval=50&drop=1"), 4, 0, false, 2 },
	{ "stall=1, reset by the server",
	  STREAM_REQ_TO("/api?n=2&interval=50&stall=1"), 4, 0, false, 3 },
};
#define OUTCOME_CLIENTS 24	/* the counts above, added up */

/* The four outcomes a stream can have, in /stats. */
static void outcome_counts(const struct stats *st, long long out[4])
{
	out[0] = st->streams_completed;
	out[1] = st->streams_aborted;
	out[2] = st->streams_dropped;
	out[3] = st->streams_stalled;
}

/* A mixed run: streams that complete, that their clients reset, that are
 * dropped or stalled on purpose, and dropped or stalled streams whose
 * clients leave before the server's reset.  Each stream ends in exactly
 * one outcome: completed, aborted, dropped or stalled, and these add up
 * to the streams started.  A stream told to fail has failed on purpose,
 * whoever closes first. */
static void test_outcomes(void)
{
	static const char name[] = "faults/outcomes";
	static const char *const counter[4] = {
		"streams_completed", "streams_aborted", "streams_dropped",
		"streams_stalled"
	};
	struct server s;
	struct stats st0, st1 = { 0 };
	struct client c[OUTCOME_CLIENTS];
	struct response r = { 0 };
	long long before[4], after[4], want[4] = { 0 };
	int n = 0;

	for (int i = 0; i < OUTCOME_CLIENTS; i++)
		c[i].fd = -1, c[i].in = NULL;
	if (!start(&s, SERVER_ARGS(NULL)) || !stats_get(s.port, &st0, NULL))
		goto out;
	int64_t by = mono_ms() + 3000;
	for (size_t k = 0; k < sizeof outcome_kinds / sizeof outcome_kinds[0];
	     k++) {
		const struct outcome_kind *o = &outcome_kinds[k];

		want[o->counter] += o->count;
		for (int i = 0; i < o->count; i++, n++)
			if (client_open(&c[n], s.port) != 0 ||
			    client_send(&c[n], o->req, strlen(o->req), 0, by)
			    != 0) {
				t_prefix("%s, #%d: ", o->what, i);
				goto out;
			}
	}
	/* The clients that leave, in time: the first reset is 800 ms away. */
	n = 0;
	for (size_t k = 0; k < sizeof outcome_kinds / sizeof outcome_kinds[0];
	     k++) {
		const struct outcome_kind *o = &outcome_kinds[k];

		for (int i = 0; i < o->count; i++, n++) {
			if (o->leave_after == 0)
				continue;
			resp_init(&r);
			if (client_more(&c[n], &r, mono_ms() + 3000,
					o->leave_after) != 0) {
				t_prefix("%s, #%d: ", o->what, i);
				goto out;
			}
			resp_free(&r);
			if (o->reset)
				close_rst(c[n].fd);
			else
				close(c[n].fd);
			c[n].fd = -1;
		}
	}
	/* Every stream ends by itself within a second or two. */
	int64_t deadline = mono_ms() + 5000;
	do {
		between_looks();
		if (!stats_get(s.port, &st1, NULL))
			goto out;
	} while (st1.streams != 0 && mono_ms() < deadline);
	if (st1.streams != 0) {
		t_note("%lld streams still run 5 s later", st1.streams);
		goto out;
	}
	outcome_counts(&st0, before);
	outcome_counts(&st1, after);
	long long sum = 0;
	for (int i = 0; i < 4; i++)
		sum += after[i] - before[i];
	fprintf(stderr, "%s: %d streams: completed +%lld, aborted +%lld, "
		"dropped +%lld, stalled +%lld\n", name, OUTCOME_CLIENTS,
		after[0] - before[0], after[1] - before[1],
		after[2] - before[2], after[3] - before[3]);
	if (sum != OUTCOME_CLIENTS)
		t_note("the outcomes add up to %lld, but %d streams started",
		       sum, OUTCOME_CLIENTS);
	for (int i = 0; i < 4 && !t_noted(); i++)
		if (after[i] - before[i] != want[i])
			t_note("%s +%lld, expected +%lld", counter[i],
			       after[i] - before[i], want[i]);
out:
	t_result(name, true);
	resp_free(&r);
	for (int i = 0; i < OUTCOME_CLIENTS; i++)
		client_close(&c[i]);
	kill_server(&s);
}

/* ------------------------------------------------ 10. shed, no reset -- */

#define SHED_CLIENTS 5

/* Past -c 1, five clients whose requests are already in the server's
 * sockets when it accepts them (it is stopped while they connect and
 * send): each reads the whole 503 and then the server's FIN, not a reset.
 * Closing a socket with unread bytes makes the kernel send a reset, which
 * on a real network may reach the client before the 503 and destroy it;
 * so the server reads what has come before it closes. */
static void test_shed_no_reset(void)
{
	static const char name[] = "faults/shed-no-reset";
	struct server s;
	struct client hold = { .fd = -1 }, c[SHED_CLIENTS];
	struct response r = { 0 };
	bool stopped = false;

	for (int i = 0; i < SHED_CLIENTS; i++)
		c[i].fd = -1, c[i].in = NULL;
	if (!start(&s, SERVER_ARGS("-c", "1", NULL)))
		goto out;
	/* The one place, taken: a keep-alive connection after an answer. */
	int64_t by = mono_ms() + 3000;
	if (client_open(&hold, s.port) != 0 ||
	    client_send(&hold, PLAIN_REQ, sizeof PLAIN_REQ - 1, 0, by) != 0 ||
	    client_read(&hold, &r, by) != 0)
		goto out;
	kill(s.pid, SIGSTOP);
	stopped = true;
	for (int i = 0; i < SHED_CLIENTS; i++)
		if (client_open(&c[i], s.port) != 0 ||
		    client_send(&c[i], PLAIN_REQ, sizeof PLAIN_REQ - 1, 0, by)
		    != 0) {
			t_prefix("client #%d: ", i);
			goto out;
		}
	kill(s.pid, SIGCONT);
	stopped = false;
	for (int i = 0; i < SHED_CLIENTS && !t_noted(); i++) {
		int64_t deadline = mono_ms() + 3000;

		while (!c[i].eof && mono_ms() < deadline)
			if (client_fill(&c[i]) < 0)
				wait_fd(c[i].fd, POLLIN, deadline);
		if (!c[i].eof)
			t_note("client #%d: no close within 3 s; bytes: %s", i,
			       esc(c[i].in, c[i].len));
		else if (!glob("HTTP/1.1 503 *\r\n\r\n{\"error\":\"*\"}",
			       c[i].in, c[i].len))
			t_note("client #%d: expected the whole 503, got %s%s%s",
			       i, esc(c[i].in, c[i].len), c[i].err ? "; then "
			       : "", c[i].err ? strerror(c[i].err) : "");
		else if (c[i].err != 0)
			t_note("client #%d: the 503 came, then %s instead of "
			       "the server's FIN", i, strerror(c[i].err));
	}
out:
	t_result(name, true);
	if (stopped)
		kill(s.pid, SIGCONT);
	resp_free(&r);
	client_close(&hold);
	for (int i = 0; i < SHED_CLIENTS; i++)
		client_close(&c[i]);
	kill_server(&s);
}

/* ----------------------------------------------- 11. pipeline flood -- */

#define PIPE_FLOOD_MS 3000	/* how long the client keeps its pipeline full */
#define PIPE_STREAMS 5		/* the bystanders */

/* Sends pipelined requests on one connection as fast as the server takes
 * them, reading the answers as they come, for ms; returns the answers
 * read (counted by their status lines), or -1. */
static long pipeline_flood(int port, int ms)
{
	static char req[65536], buf[262144];
	size_t one = sizeof PLAIN_REQ - 1, len = 0, off = 0;
	long answers = 0;
	struct client c;

	while (len + one <= sizeof req) {
		memcpy(req + len, PLAIN_REQ, one);
		len += one;
	}
	if (client_open(&c, port) != 0)
		return -1;
	fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK);
	int64_t end = mono_ms() + ms;
	while (mono_ms() < end) {
		struct pollfd p = { .fd = c.fd, .events = POLLIN | POLLOUT };

		if (poll(&p, 1, ms_until(end)) <= 0)
			continue;
		if (p.revents & POLLOUT) {
			ssize_t w = send(c.fd, req + off, len - off,
					 MSG_NOSIGNAL);

			if (w > 0)
				off = (off + (size_t)w) % one;
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = read(c.fd, buf, sizeof buf);

			if (r == 0 || (r < 0 && errno != EAGAIN))
				break;
			for (ssize_t i = 0; i + 6 <= r; i++)
				answers += memcmp(buf + i, "200 OK", 6) == 0;
		}
	}
	client_close(&c);
	return answers;
}

/* One client keeps a pipeline of plain requests full for 3 s, reading
 * the answers; five streams that start beside it keep their schedule.
 * Each connection has a share of the loop's turn; one that keeps sending
 * must not hold the loop for as long as it does. */
static void test_pipeline_flood(void)
{
	static const char name[] = "faults/pipeline-flood";
	struct server s;
	struct xfer *x = xfers_new(PIPE_STREAMS);
	pid_t child = -1;
	int pp[2] = { -1, -1 };
	long answers = -1;

	if (!start(&s, SERVER_ARGS(NULL)))
		goto out;
	if (pipe2(pp, O_CLOEXEC) != 0) {
		t_note("pipe: %s", strerror(errno));
		goto out;
	}
	fflush(NULL);
	child = fork();
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(pp[0]);
		answers = pipeline_flood(s.port, PIPE_FLOOD_MS);
		_exit(write(pp[1], &answers, sizeof answers) ==
		      (ssize_t)sizeof answers ? 0 : 1);
	}
	close(pp[1]);
	pp[1] = -1;
	if (child < 0) {
		t_note("fork: %s", strerror(errno));
		goto out;
	}
	poll(NULL, 0, 200);	/* the flood is under way */
	xfers_start(x, PIPE_STREAMS, s.port, STREAM_REQ_TO("/api?n=10&"
		    "interval=200"), false);
	xfers_pump(x, PIPE_STREAMS, mono_ms() + PIPE_FLOOD_MS + 10 * 200 +
		   5000, false);
	xfers_expire(x, PIPE_STREAMS);
	if (wait_fd(pp[0], POLLIN, mono_ms() + PIPE_FLOOD_MS + 5000) <= 0 ||
	    read(pp[0], &answers, sizeof answers) != (ssize_t)sizeof answers
	    || answers < 0) {
		t_note("the flooding client did not report");
		goto out;
	}
	fprintf(stderr, "%s: the flooding client read %ld answers in %d ms\n",
		name, answers, PIPE_FLOOD_MS);
	if (streams_check(name, x, PIPE_STREAMS, 10, 200) > 0)
		t_prefix("beside a client that floods a pipeline: ");
	else if (answers < 1000)
		t_note("the flooding client had only %ld answers: no flood",
		       answers);
out:
	t_result(name, true);
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	if (pp[0] >= 0)
		close(pp[0]);
	if (pp[1] >= 0)
		close(pp[1]);
	kill_server(&s);
	xfers_free(x, PIPE_STREAMS);
}

/* ------------------------------------------ 12. pipelined behind streams -- */

#define BEHIND_STREAMS 100	/* streams of each size */
#define BEHIND_MAX_PER_STREAM 8192

/* Opens count streams, each request followed by `behind` bytes of
 * pipelined requests, all sent while the server is stopped so that each
 * stream's first read finds them all; then reads every stream's head and
 * `:ok`.  With a stream's Connection header in *close_seen (the count
 * that say close).  Returns false with a note. */
static bool streams_with_behind(struct server *s, struct client *c, int count,
				size_t behind, int *close_seen)
{
	static const char stream[] = STREAM_REQ_TO("/api?n=1&interval=600000");
	size_t one = sizeof PLAIN_REQ - 1, len = sizeof stream - 1;
	char *req = malloc(len + behind + one);
	bool ok = false;

	if (req == NULL)
		return t_note("out of memory");
	memcpy(req, stream, len);
	while (len < sizeof stream - 1 + behind) {
		memcpy(req + len, PLAIN_REQ, one);
		len += one;
	}
	kill(s->pid, SIGSTOP);
	int64_t by = mono_ms() + 5000;
	for (int i = 0; i < count; i++)
		if (client_open(&c[i], s->port) != 0 ||
		    client_send(&c[i], req, len, 0, by) != 0) {
			t_prefix("%zu bytes behind, client #%d: ", behind, i);
			goto out;
		}
	kill(s->pid, SIGCONT);
	*close_seen = 0;
	for (int i = 0; i < count; i++) {
		struct response r = { 0 };

		if (client_more(&c[i], &r, by, 1) != 0) {
			resp_free(&r);
			t_prefix("%zu bytes behind, stream #%d: ", behind, i);
			goto out;
		}
		const char *conn = resp_header(&r, "Connection");
		*close_seen += conn != NULL && strcasecmp(conn, "close") == 0;
		resp_free(&r);
	}
	ok = true;
out:
	kill(s->pid, SIGCONT);
	free(req);
	return ok;
}

/* What a stream costs the server when its client sends more requests
 * behind it: 100 streams with 1,000 bytes of pipelined requests behind
 * each, 100 with 4,000, 100 with 40,000.  The growth of the server's
 * resident memory, per stream, must stay under 8 KiB for each size
 * (a stream alone costs about 220 bytes): whatever a client sends, the
 * server holds little of it while the stream runs. */
static void test_pipelined_behind(void)
{
	static const char name[] = "faults/pipelined-behind-streams";
	static const size_t sizes[] = { 1000, 4000, 40000 };
	struct server s;
	struct client *c = calloc(3 * BEHIND_STREAMS + 1, sizeof *c);
	int closes[3] = { 0 };
	long grew[3] = { 0 };

	for (int i = 0; i < 3 * BEHIND_STREAMS + 1; i++)
		c[i].fd = -1;
	if (!start(&s, SERVER_ARGS(NULL)))
		goto out;
	/* One of the largest first: the buffers the server keeps for
	 * reuse, and its scratch, are then in the baseline. */
	int warm;
	if (!streams_with_behind(&s, c + 3 * BEHIND_STREAMS, 1, 40000, &warm))
		goto out;
	for (int k = 0; k < 3; k++) {
		long before = proc_rss_kib(s.pid);

		if (!streams_with_behind(&s, c + k * BEHIND_STREAMS,
					 BEHIND_STREAMS, sizes[k], &closes[k]))
			goto out;
		grew[k] = proc_rss_kib(s.pid) - before;
		fprintf(stderr, "%s: %d streams with %zu bytes behind each: "
			"RSS +%ld KiB, %ld bytes a stream; %d said "
			"Connection: close\n", name, BEHIND_STREAMS, sizes[k],
			grew[k], grew[k] * 1024 / BEHIND_STREAMS, closes[k]);
		if (before < 0)
			t_note("cannot read /proc/%d/status", (int)s.pid);
	}
	for (int k = 0; k < 3 && !t_noted(); k++)
		if (grew[k] * 1024 / BEHIND_STREAMS > BEHIND_MAX_PER_STREAM)
			t_note("with %zu bytes pipelined behind each stream, "
			       "the server grew by %ld bytes a stream, more "
			       "than %d", sizes[k],
			       grew[k] * 1024 / BEHIND_STREAMS,
			       BEHIND_MAX_PER_STREAM);
out:
	t_result(name, true);
	for (int i = 0; i < 3 * BEHIND_STREAMS + 1; i++)
		client_close(&c[i]);
	free(c);
	kill_server(&s);
}

/* --------------------------------------------------------------- main -- */

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} cases[] = {
		{ "resets", test_resets },
		{ "never-reading", test_never_reading },
		{ "flood-past-c", test_flood },
		{ "slow-headers", test_slow_headers },
		{ "sigterm", test_sigterm },
		{ "second-signal", test_second_signal },
		{ "drain-timeout", test_drain_timeout },
		{ "vanished-mid-request", test_vanished },
		{ "outcomes", test_outcomes },
		{ "shed-no-reset", test_shed_no_reset },
		{ "pipeline-flood", test_pipeline_flood },
		{ "pipelined-behind-streams", test_pipelined_behind },
	};

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s PATH-TO-SSE [CASE]\n", argv[0]);
		return 2;
	}
	sse = argv[1];
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (argc < 3 || strcmp(argv[2], cases[i].name) == 0)
			cases[i].fn();
	return t_failed > 0 ? 1 : 0;
}
