/* sse.c - a single-threaded HTTP/1.1 server that streams Server-Sent Events.
 *
 * One thread runs one epoll loop over four kinds of thing: the listening
 * socket, the connections, one timerfd and one signalfd.  Every connection
 * is a small state machine (see enum conn_state) that runs until it must
 * wait for the socket or the clock, and says which.  Every deadline, from a
 * stream's next event to a slow client's timeout, is a timer in one timer
 * wheel (timerwheel.c) and the timerfd is armed for the wheel's earliest;
 * http.c parses requests.  This file owns everything else: sockets,
 * buffers, routes, the streams and their schedule, the command line, and
 * with -w N a parent process that keeps N such servers on one port.
 *
 * A request's path through the file, in reading order: loop_turn() ->
 * listener_accept() -> conn_open(); then for each event conn_event() ->
 * conn_run(), which calls the function of the current state: conn_idle()
 * and conn_head() read and parse, conn_body() reads the body, route()
 * answers or starts a stream, conn_stream() runs the stream's own state
 * (stream_events() sends what is due when the wheel calls it back),
 * conn_flush() waits for a slow reader, and conn_linger() closes politely.
 * conn_close() is the one place a connection ends.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "timerwheel.h"
#include "web/page.h"		/* page_html[]: web/index.html, made by make */

#define SSE_VERSION "0.1.0"

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

/* ==== structures ======================================================== */

/* The command line, once parsed. */
struct config {
	const char *addr;
	unsigned port;
	unsigned events;		/* -n: events per stream */
	unsigned interval_ms;		/* -i: between events */
	size_t max_conns;		/* -c: 0 means what the fd limit allows */
	struct http_limits limits;
	unsigned request_timeout_ms;	/* first byte to complete request */
	unsigned idle_timeout_ms;	/* keep-alive connection, no request */
	unsigned send_timeout_ms;	/* unsent output that does not move */
	unsigned linger_timeout_ms;	/* waiting for the client to close */
	unsigned drain_timeout_ms;	/* after a signal; 0: no limit */
	size_t max_output;		/* unsent output per connection */
	bool quiet;			/* -q: no access log */
	unsigned max_events;		/* bounds of the shape parameters */
	unsigned min_interval_ms;
	unsigned max_event_size;
	unsigned heartbeat_ms;		/* default heartbeat; 0: none */
	const char *cors;		/* --cors: the origin allowed, or NULL */
	size_t workers;			/* -w: worker processes */
};

/* Whatever epoll reports on starts with one of these: data.ptr points to
 * it, and the kind says what the object around it is. */
enum kind { KIND_FREE, KIND_LISTENER, KIND_TIMERFD, KIND_SIGNALFD, KIND_CONN };

struct source {
	enum kind kind;
	int fd;
};

/* A request buffer with the parser's state, lent to a connection from the
 * first byte of a request until the request is answered.  Streams and idle
 * keep-alive connections hold none. */
struct inbuf {
	struct inbuf *next_free;
	struct http_request req;
	size_t len;
	size_t cap;			/* srv.in_cap, or less when held */
	char data[];
};

/* Output the socket did not take yet, kept in order until it does. */
struct tail {
	char *p;
	uint32_t off, len, cap;		/* unsent bytes are p[off..len) */
};

/* What a stream's events look like on the wire. */
enum stream_format {
	FORMAT_API,			/* POST /api: data only, then ":done" */
	FORMAT_EVENTSOURCE,		/* GET /message-stream: id and data */
};

/* A stream's own state machine, inside the connection's CONN_STREAM. */
enum stream_state {	/* its timer			*/
	STREAM_EVENTS,	/* the next event or heartbeat	*/
	STREAM_FAILING,	/* its reset (drop or stall)	*/
};

#define NO_EVENT UINT32_MAX	/* drop or stall: not asked for */

/* What a request may ask of its stream (SPEC section 6): n, interval,
 * size, heartbeat, drop and stall. */
struct shape {
	uint32_t count, interval_ms, size, heartbeat_ms, drop, stall;
};

/* A stream: events first+1 .. count, event k due at
 * t0_ms + (k - first) * interval_ms. */
struct stream {
	uint64_t t0_ms;			/* when the request was complete */
	uint64_t quiet_since_ms;	/* its last bytes, for heartbeats */
	struct shape shape;
	uint32_t first;			/* resumed after this event id */
	uint32_t last;			/* the id of the last event sent */
	uint8_t state;			/* enum stream_state */
	uint8_t format;			/* enum stream_format */
	bool chunked;			/* HTTP/1.1 framing, else close-delimited */
};

enum conn_state {	/* wakes on	timer		holds		*/
	CONN_IDLE,	/* readable	idle timeout	nothing		*/
	CONN_HEAD,	/* readable	request timeout	in buffer	*/
	CONN_BODY,	/* readable	request timeout	in buffer	*/
	CONN_STREAM,	/* timer	next event	stream		*/
	CONN_FLUSH,	/* writable	(send timer)	out tail	*/
	CONN_LINGER,	/* readable	linger timeout	nothing		*/
};

/* What a state function asks for: to run the new state at once, to wait
 * (the table below gives epoll's mask), or nothing, the connection being
 * closed. */
enum wait {
	WAIT_NONE, WAIT_READ, WAIT_TIMER, WAIT_WRITE, WAIT_YIELD, WAIT_GONE
};

static const uint32_t wait_events[] = {
	[WAIT_NONE] = 0,
	[WAIT_READ] = EPOLLIN | EPOLLRDHUP,
	[WAIT_TIMER] = EPOLLRDHUP,	/* only to see the client leave */
	[WAIT_WRITE] = EPOLLOUT | EPOLLRDHUP,
	/* Its share of the turn is used up, with work in hand: epoll is
	 * level-triggered, and a socket with room to write is reported at
	 * once, so the connection runs again next turn. */
	[WAIT_YIELD] = EPOLLIN | EPOLLOUT | EPOLLRDHUP,
	[WAIT_GONE] = 0,
};

/* Where a client came from, for the access log. */
struct peer {
	sa_family_t family;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
};

struct conn {
	struct source src;		/* first: epoll's data.ptr */
	enum conn_state state;
	uint32_t events;		/* what epoll watches now */
	struct tw_timer timer;		/* the state's deadline */
	struct tw_timer send_timer;	/* armed while the tail does not move */
	struct inbuf *in;		/* borrowed while reading a request */
	struct tail out;
	struct stream stream;
	uint64_t start_ms;		/* the request's first byte */
	uint64_t bytes;			/* body bytes of this response */
	char *log_line;			/* its request line; NULL with -q */
	uint16_t status;		/* of this response */
	bool keep_alive;		/* another request may follow */
	bool peer_eof;			/* the client sent FIN */
	struct peer peer;
};

/* The upper bounds of the event lateness histogram's buckets, 0.1 ms to
 * 1 s, and each as /metrics writes it, in seconds; one more bucket counts
 * the rest. */
static const struct {
	uint64_t us;
	const char *seconds;
} lateness_le[] = {
	{ 100, "0.0001" }, { 250, "0.00025" }, { 500, "0.0005" },
	{ 1000, "0.001" }, { 2500, "0.0025" }, { 5000, "0.005" },
	{ 10000, "0.01" }, { 25000, "0.025" }, { 50000, "0.05" },
	{ 100000, "0.1" }, { 250000, "0.25" }, { 500000, "0.5" },
	{ 1000000, "1" },
};
#define LATENESS_BUCKETS (sizeof(lateness_le) / sizeof(lateness_le[0]))

/* What a load tester counts: plain counters, bumped as things happen.
 * Every field is a uint64_t, so that stats_total() can add them up. */
struct stats {
	uint64_t connections, streams_active;	/* gauges */
	uint64_t accepted, shed, requests, events;
	uint64_t streams_completed, streams_aborted;
	uint64_t streams_dropped, streams_stalled;	/* on purpose */
	uint64_t by_status[600];	/* responses, by status code */
	uint64_t lateness[LATENESS_BUCKETS + 1];
	uint64_t lateness_sum_us;
};

/* The counters of every worker process, in one shared mapping made before
 * they are forked: each adds only to its own slot, and /stats adds the
 * slots up.  Reads take no lock: a sum may be a moment old. */
struct shared {
	uint64_t started_ms;		/* CLOCK_MONOTONIC, for the uptime */
	size_t workers;
	struct stats slot[];
};

static struct server {
	struct config cfg;
	int epfd;
	struct source listener, timerfd, signalfd;
	int spare_fd;			/* given up to accept past EMFILE */
	struct tw_wheel wheel;
	uint64_t now_ms;		/* CLOCK_MONOTONIC, read each turn */
	uint64_t armed_ms;		/* the timerfd's; UINT64_MAX: off */
	int wait_ms;			/* epoll_wait()'s limit: -1, or the
					 * next deadline when the timerfd
					 * could not be armed for it */
	struct conn *conns;		/* indexed by fd */
	size_t conn_cap, nconns, max_conns;
	struct inbuf *free_bufs;
	size_t n_free_bufs, in_cap;
	char *scratch;			/* where all output is formatted */
	size_t scratch_cap;
	struct http_date date;
	bool draining;			/* a signal came: finish and exit */
	bool worker;			/* one of -w N: the parent decides */
	struct tw_timer drain_timer;	/* --drain-timeout */
	struct tw_timer accept_timer;	/* accepting paused: try again */
	struct stats *stats;		/* this process's slot in shared */
	struct shared *shared;
} srv;

/* Output is formatted into srv.scratch and sent from there at once. */
struct out {
	char *p;
	size_t len, cap;
};

#define MAX_EVENTS	256	/* epoll events per turn */
#define ACCEPT_BUDGET	64	/* connections accepted per turn */
/* Requests one connection has answered in a turn before it yields to the
 * others (conn_run()).  An answer costs about 10 us of CPU (the "plain"
 * benchmark: 86,000 a second on one core), so a client that keeps its
 * pipeline full delays the other streams' events by some 0.2 ms a turn,
 * while its pipelining still saves the epoll round trip of 15 requests in
 * 16.  It bounds the bytes too: at most 16 request buffers read a turn. */
#define TURN_REQUESTS	16
#define FREE_BUFS_MAX	16	/* request buffers kept for reuse */
/* Bytes pipelined behind a stream's request that wait in memory for the
 * stream's end: room for a few requests.  More, and the stream's answer
 * says Connection: close and they are dropped (stream_start()). */
#define HOLD_MAX	1024
#define CHUNK_ROOM	20	/* room for a chunk's size line */
#define SCRATCH_SIZE	((size_t)256 * 1024)
#define PAD_MEMBER_LEN	9	/* ,"pad":"" */
#define DAY_MS		86400000ull
#define MAX_WORKERS	64
#define MIB		(1024ull * 1024)

static uint64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Writes text to fd, stdout or stderr, in one write(), so that the lines
 * of several workers do not interleave. */
static void write_text(int fd, const char *text)
{
	/* Text that cannot be written has nowhere else to go. */
	if (write(fd, text, strlen(text)) < 0)
		errno = 0;
}

/* Writes one line to stderr, its newline added.  A line longer than the
 * buffer is cut, its newline kept. */
static void stderr_line(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static void stderr_line(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	size_t len;

	va_start(ap, fmt);
	len = http_vformat(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	line[len++] = '\n';
	line[len] = '\0';
	write_text(STDERR_FILENO, line);
}

/* A start-up failure, or one the server cannot go on from: one line, as
 * err(3) would write it, and exit 1. */
static void die(const char *what)
{
	stderr_line("sse: %s: %s", what, strerror(errno));
	exit(1);
}

static uint64_t clock_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* ==== output ============================================================ */

static struct out out_begin(void)
{
	return (struct out){ srv.scratch, 0, srv.scratch_cap };
}

static void out_add(struct out *o, const char *s, size_t n)
{
	if (n > o->cap - o->len)
		n = o->cap - o->len;	/* cannot happen: scratch fits a reply */
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void out_printf(struct out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	o->len += http_vformat(o->p + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
}

/* A chunk is formatted in two steps, because its size comes first on the
 * wire but is known last: chunk_open() leaves room for the size line,
 * the body is added, and chunk_close() writes the size line and closes
 * the gap.  Without chunking (HTTP/1.0) the body goes out as it is. */
static size_t chunk_open(struct out *o)
{
	size_t at = o->len;

	o->len += CHUNK_ROOM;
	return at;
}

static void chunk_close(struct out *o, size_t at, bool chunked)
{
	size_t n = o->len - at - CHUNK_ROOM;
	size_t head;

	if (n == 0) {
		/* Nothing to send; and an empty chunk would end the body. */
		o->len = at;
		return;
	}
	head = chunked ? http_chunk_head(o->p + at, n) : 0;

	memmove(o->p + at + head, o->p + at + CHUNK_ROOM, n);
	o->len = at + head + n;
	if (chunked)
		out_add(o, "\r\n", 2);
}

/* The status line and the headers every response has, in the seed's
 * order: Content-Type, more lines (extra, if not NULL), Connection, Date. */
static void out_head(struct out *o, const struct conn *c, int status,
		     const char *content_type, const char *extra)
{
	out_printf(o, "HTTP/1.1 %d %s\r\n", status, http_reason(status));
	if (content_type != NULL)
		out_printf(o, "Content-Type: %s\r\n", content_type);
	if (extra != NULL)
		out_add(o, extra, strlen(extra));
	if (srv.cfg.cors != NULL)
		out_printf(o, "Access-Control-Allow-Origin: %s\r\n%s",
			   srv.cfg.cors, strcmp(srv.cfg.cors, "*") == 0
			   ? "" : "Vary: Origin\r\n");
	out_printf(o, "Connection: %s\r\nDate: %s\r\n",
		   c->keep_alive ? "keep-alive" : "close",
		   http_date(&srv.date, time(NULL)));
}

/* ==== connections ======================================================= */

static void conn_on_timer(struct tw_timer *t);
static void conn_on_send_timer(struct tw_timer *t);
static void conn_update(struct conn *c, enum wait w);
static void listener_resume(void);
static void response_log(struct conn *c);

static struct inbuf *inbuf_get(void)
{
	struct inbuf *b = srv.free_bufs;

	if (b != NULL) {
		srv.free_bufs = b->next_free;
		srv.n_free_bufs--;
	} else {
		b = malloc(sizeof(*b) + srv.in_cap);
		if (b == NULL)
			return NULL;
	}
	b->len = 0;
	b->cap = srv.in_cap;
	http_request_init(&b->req, &srv.cfg.limits);
	return b;
}

static void inbuf_put(struct inbuf *b)
{
	if (srv.n_free_bufs >= FREE_BUFS_MAX || b->cap != srv.in_cap) {
		free(b);
		return;
	}
	b->next_free = srv.free_bufs;
	srv.free_bufs = b;
	srv.n_free_bufs++;
}

static void conn_release_in(struct conn *c)
{
	if (c->in != NULL) {
		inbuf_put(c->in);
		c->in = NULL;
	}
}

/* A stream may last for hours: bytes a client pipelined behind its
 * request wait in a block of their own size, not in a request buffer.
 * (If that allocation fails, the buffer is kept: nothing is lost.) */
static void conn_hold_in(struct conn *c)
{
	struct inbuf *held = malloc(sizeof(*held) + c->in->len);

	if (held == NULL)
		return;
	memcpy(held->data, c->in->data, c->in->len);
	held->len = held->cap = c->in->len;
	http_request_init(&held->req, &srv.cfg.limits);
	inbuf_put(c->in);
	c->in = held;
}

/* The held bytes go back into a whole request buffer, to be parsed and
 * read after; nothing points into them yet.  False if none is to be had. */
static bool conn_unhold_in(struct conn *c)
{
	struct inbuf *b;

	if (c->in->cap == srv.in_cap)
		return true;
	if ((b = inbuf_get()) == NULL)
		return false;
	memcpy(b->data, c->in->data, c->in->len);
	b->len = c->in->len;
	free(c->in);
	c->in = b;
	return true;
}

static void conn_open(int fd, const struct sockaddr_storage *sa)
{
	struct conn *c = &srv.conns[fd];
	struct epoll_event ev = { .events = wait_events[WAIT_READ] };
	int one = 1, lowat = (int)srv.cfg.max_output;

	memset(c, 0, sizeof(*c));
	c->src.kind = KIND_CONN;
	c->src.fd = fd;
	c->state = CONN_IDLE;
	c->events = ev.events;
	c->peer.family = sa->ss_family;
	if (sa->ss_family == AF_INET) {
		c->peer.addr.v4 = ((const struct sockaddr_in *)sa)->sin_addr;
	} else if (sa->ss_family == AF_INET6) {
		const struct in6_addr *a6 =
			&((const struct sockaddr_in6 *)sa)->sin6_addr;

		/* On a dual-stack socket (-b ::) an IPv4 client arrives as
		 * ::ffff:a.b.c.d; the log names it as itself. */
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			c->peer.family = AF_INET;
			memcpy(&c->peer.addr.v4, &a6->s6_addr[12], 4);
		} else {
			c->peer.addr.v6 = *a6;
		}
	}
	tw_timer_init(&c->timer, conn_on_timer);
	tw_timer_init(&c->send_timer, conn_on_send_timer);
	/* Events are small and must leave at once, not wait for an ACK. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* The kernel would take megabytes from a client that does not read
	 * before refusing a write; this caps what it holds unsent at
	 * --max-output, so that the server's own cap and send timeout see
	 * a stuck client soon. */
	setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat));
	ev.data.ptr = &c->src;
	if (epoll_ctl(srv.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		stderr_line("sse: epoll_ctl: %s", strerror(errno));
		c->src.kind = KIND_FREE;
		close(fd);
		return;
	}
	srv.nconns++;
	srv.stats->connections++;
	srv.stats->accepted++;
	tw_add(&srv.wheel, &c->timer, srv.now_ms + srv.cfg.idle_timeout_ms);
}

/* The one place a connection ends: it closes the descriptor, cancels the
 * timers, returns the buffers and frees the slot.  Returns WAIT_GONE so
 * that a state function can end with "return conn_close(c);". */
static enum wait conn_close(struct conn *c)
{
	tw_cancel(&srv.wheel, &c->timer);
	tw_cancel(&srv.wheel, &c->send_timer);
	conn_release_in(c);
	free(c->out.p);
	free(c->log_line);
	close(c->src.fd);	/* also takes it out of epoll */
	c->src.kind = KIND_FREE;
	srv.nconns--;
	srv.stats->connections--;
	listener_resume();	/* a descriptor is free again */
	return WAIT_GONE;
}

/* The client is gone, or must go: a stream it had is cut short, logged
 * with what it sent and counted as aborted; then the connection closes.
 * A stream failing on purpose (drop=, stall=) was counted when it began to
 * fail: a client leaving before the reset does not count it twice. */
static enum wait conn_drop(struct conn *c)
{
	if (c->state == CONN_STREAM) {
		if (c->stream.state != STREAM_FAILING)
			srv.stats->streams_aborted++;
		srv.stats->streams_active--;
		response_log(c);
	}
	return conn_close(c);
}

/* Sends bytes at once; what the socket refuses waits in the tail, for
 * conn_update() to have epoll watch for room.  Returns false when the connection is
 * lost: the client is gone, or its tail would pass --max-output.  The
 * caller then closes it. */
static bool conn_send(struct conn *c, const char *p, size_t n)
{
	struct tail *t = &c->out;
	ssize_t w = 0;

	if (t->len == t->off) {
		do
			w = send(c->src.fd, p, n, MSG_NOSIGNAL);
		while (w < 0 && errno == EINTR);
		if (w < 0 && errno != EAGAIN)
			return false;
		if (w < 0)
			w = 0;
		if ((size_t)w == n)
			return true;
	}
	p += w;
	n -= (size_t)w;
	if (t->off > 0) {	/* slide the unsent part to the front */
		memmove(t->p, t->p + t->off, t->len - t->off);
		t->len -= t->off;
		t->off = 0;
	}
	if (n > srv.cfg.max_output - t->len)
		return false;
	if (t->len + n > t->cap) {
		size_t cap = t->len + n < 4096 ? 4096 : t->len + n;
		char *q = realloc(t->p, cap);

		if (q == NULL)
			return false;
		t->p = q;
		t->cap = (uint32_t)cap;
	}
	memcpy(t->p + t->len, p, n);
	t->len += (uint32_t)n;
	if (!tw_pending(&c->send_timer))
		tw_add(&srv.wheel, &c->send_timer,
		       srv.now_ms + srv.cfg.send_timeout_ms);
	return true;
}

static bool conn_send_out(struct conn *c, const struct out *o)
{
	return conn_send(c, o->p, o->len);
}

/* Writes what the tail holds.  Returns false when the client is gone. */
static bool conn_flush_tail(struct conn *c)
{
	struct tail *t = &c->out;

	while (t->off < t->len) {
		ssize_t w = send(c->src.fd, t->p + t->off, t->len - t->off,
				 MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno == EAGAIN;
		t->off += (uint32_t)w;
		/* It moved: the client is slow, not stuck. */
		tw_add(&srv.wheel, &c->send_timer,
		       srv.now_ms + srv.cfg.send_timeout_ms);
	}
	free(t->p);
	*t = (struct tail){ 0 };
	tw_cancel(&srv.wheel, &c->send_timer);
	return true;
}

static bool conn_tail_pending(const struct conn *c)
{
	return c->out.off < c->out.len;
}

/* How a read went. */
enum read_result { READ_SOME, READ_WAIT, READ_FULL, READ_EOF };

/* Reads what the client sent into the borrowed buffer, borrowing one if
 * needed.  A failed read or allocation counts as the client leaving. */
static enum read_result conn_read(struct conn *c)
{
	ssize_t n;

	if (c->in == NULL && (c->in = inbuf_get()) == NULL)
		return READ_EOF;
	if (c->in->len == c->in->cap)
		return READ_FULL;
	do
		n = read(c->src.fd, c->in->data + c->in->len,
			 c->in->cap - c->in->len);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		c->in->len += (size_t)n;
		return READ_SOME;
	}
	if (n < 0 && errno == EAGAIN)
		return READ_WAIT;
	c->peer_eof = true;
	return READ_EOF;
}

/* The access log: Common Log Format, then the duration in milliseconds.
 * The request line may be long (--max-target), so the line goes out in
 * three pieces around it, in one writev() as write_text() would. */
static void conn_log(const struct conn *c)
{
	char host[INET6_ADDRSTRLEN], when[32], head[96], tail[80];
	const char *request = c->log_line ? c->log_line : "-";
	uint64_t took = srv.now_ms - c->start_ms;

	if (srv.cfg.quiet)
		return;
	http_addr_text(host, sizeof(host), &c->peer.addr,
		       c->peer.family == AF_INET ? sizeof(c->peer.addr.v4)
						 : sizeof(c->peer.addr.v6));
	http_log_time(when, sizeof(when), time(NULL) - (time_t)(took / 1000));
	struct iovec line[] = {
		{ head, http_format(head, sizeof(head), "%s - - [%s] \"",
				    host, when) },
		{ (char *)request, strlen(request) },
		{ tail, http_format(tail, sizeof(tail), "\" %u %llu %llu\n",
				    c->status, (unsigned long long)c->bytes,
				    (unsigned long long)took) },
	};
	if (writev(STDERR_FILENO, line, 3) < 0)
		errno = 0;	/* as in write_text() */
}

/* A response has ended: log it and count it. */
static void response_log(struct conn *c)
{
	srv.stats->by_status[c->status < 600 ? c->status : 0]++;
	conn_log(c);
	free(c->log_line);
	c->log_line = NULL;
}

/* ==== parser glue ======================================================= */

static enum wait route(struct conn *c);

/* Answers a request that cannot be served, and closes the connection
 * after the answer is out: the rest of what the client sent can no longer
 * be trusted to start a request. */
static enum wait refuse(struct conn *c, int status, const char *reason)
{
	struct out o = out_begin();
	size_t at;

	c->keep_alive = false;
	c->status = (uint16_t)status;
	tw_cancel(&srv.wheel, &c->timer);
	out_head(&o, c, status, "application/json; charset=utf-8", NULL);
	out_printf(&o, "Content-Length: %zu\r\n\r\n",
		   strlen("{\"error\":\"\"}") + strlen(reason));
	at = o.len;
	out_printf(&o, "{\"error\":\"%s\"}", reason);
	c->bytes = o.len - at;
	response_log(c);
	conn_release_in(c);
	if (!conn_send_out(c, &o))
		return conn_close(c);
	c->state = CONN_FLUSH;
	return WAIT_NONE;
}

/* The request has been answered (or its stream set up): its bytes are no
 * longer needed.  Bytes of a pipelined request that came behind it move to
 * the front of the buffer; with none, the buffer goes back to the pool. */
static void conn_request_done(struct conn *c)
{
	struct inbuf *in = c->in;
	size_t end = in->req.end;

	memmove(in->data, in->data + end, in->len - end);
	in->len -= end;
	http_request_init(&in->req, &srv.cfg.limits);
	if (in->len == 0)
		conn_release_in(c);
}

/* Starts reading a request, with the request timeout from now. */
static enum wait conn_begin_request(struct conn *c)
{
	if (c->in != NULL && !conn_unhold_in(c))
		return conn_close(c);
	c->state = CONN_HEAD;
	c->start_ms = srv.now_ms;
	c->bytes = 0;
	tw_add(&srv.wheel, &c->timer,
	       srv.now_ms + srv.cfg.request_timeout_ms);
	return WAIT_NONE;
}

/* CONN_IDLE: a keep-alive connection between requests, holding no buffer. */
static enum wait conn_idle(struct conn *c)
{
	if (srv.now_ms >= c->timer.due_ms || srv.draining)
		return conn_close(c);
	switch (conn_read(c)) {
	case READ_SOME:
		return conn_begin_request(c);
	case READ_WAIT:
		conn_release_in(c);
		return WAIT_READ;
	case READ_FULL:
	case READ_EOF:
		break;
	}
	return conn_close(c);
}

/* CONN_HEAD: the request line and headers are arriving. */
static enum wait conn_head(struct conn *c)
{
	for (;;) {
		struct http_request *req = &c->in->req;

		switch (http_parse_head(req, c->in->data, c->in->len)) {
		case HTTP_DONE:
			c->state = CONN_BODY;
			if (!srv.cfg.quiet)
				c->log_line = strndup(req->method_name.p,
					(size_t)(req->target.p + req->target.len
						 + 9 - req->method_name.p));
			if (req->expect_continue &&
			    c->in->len == req->head_len &&
			    (req->chunked || req->content_length > 0)) {
				static const char cont[] =
					"HTTP/1.1 100 Continue\r\n\r\n";

				if (!conn_send(c, cont, sizeof(cont) - 1))
					return conn_close(c);
			}
			return WAIT_NONE;
		case HTTP_ERROR:
			return refuse(c, req->status, req->reason);
		case HTTP_MORE:
			break;
		}
		if (srv.now_ms >= c->timer.due_ms)
			return refuse(c, 408, "request timeout");
		switch (conn_read(c)) {
		case READ_SOME:
			continue;
		case READ_WAIT:
			return WAIT_READ;
		case READ_FULL:
			return refuse(c, 431, "request header section too large");
		case READ_EOF:
			return conn_close(c);
		}
	}
}

/* CONN_BODY: the body is arriving (or there is none). */
static enum wait conn_body(struct conn *c)
{
	for (;;) {
		struct http_request *req = &c->in->req;

		switch (http_parse_body(req, c->in->data, c->in->len)) {
		case HTTP_DONE:
			srv.stats->requests++;
			return route(c);
		case HTTP_ERROR:
			return refuse(c, req->status, req->reason);
		case HTTP_MORE:
			break;
		}
		if (srv.now_ms >= c->timer.due_ms)
			return refuse(c, 408, "request timeout");
		switch (conn_read(c)) {
		case READ_SOME:
			continue;
		case READ_WAIT:
			return WAIT_READ;
		case READ_FULL:
			return refuse(c, 413, "request body too large");
		case READ_EOF:
			return conn_close(c);
		}
	}
}

/* ==== streams =========================================================== */

/* Ends the response in hand: the next request, or closing. */
static enum wait conn_response_end(struct conn *c)
{
	tw_cancel(&srv.wheel, &c->timer);
	response_log(c);
	c->state = CONN_FLUSH;
	return WAIT_NONE;
}

/* Event k is due (k - first) intervals after the request was complete:
 * never "an interval after the last one went out", so lateness does not
 * add up. */
static uint64_t stream_due(const struct stream *s, uint32_t k)
{
	return s->t0_ms + (uint64_t)(k - s->first) * s->shape.interval_ms;
}

/* One stream engine, two wire formats: the seed's POST /api, and the
 * EventSource one of GET /message-stream, with ids, a retry delay and no
 * ":done" (the end of the body is the end). */
static void stream_open_chunk(const struct conn *c, struct out *o)
{
	if (c->stream.format == FORMAT_EVENTSOURCE)
		out_printf(o, "retry: %u\n:ok\n\n", c->stream.shape.interval_ms);
	else
		out_add(o, ":ok\n\n", 5);
}

static void stream_done_chunk(const struct conn *c, struct out *o)
{
	if (c->stream.format == FORMAT_API)
		out_add(o, ":done\n\n", 7);
}

static void stream_heartbeat_chunk(const struct conn *c, struct out *o)
{
	(void)c;
	out_add(o, ":\n\n", 3);
}

/* Event k, padded when the stream has a size: a "pad" member, generated
 * here and never stored, makes the event exactly that many bytes. */
static void stream_event_data(const struct conn *c, struct out *o,
			      uint32_t k, uint64_t wall_ms)
{
	const struct stream *s = &c->stream;
	size_t start = o->len, len, pad;

	if (s->format == FORMAT_EVENTSOURCE)
		out_printf(o, "id: %u\ndata: {\"user\":\"sse\",\"text\":"
			   "\"Hello, world! (%u/%u)\",\"timestamp\":%llu}\n\n",
			   k, k, s->shape.count, (unsigned long long)wall_ms);
	else
		out_printf(o, "data: {\"message\":\"Hello, world!\","
			   "\"timestamp\":%llu}\n\n", (unsigned long long)wall_ms);
	len = o->len - start + PAD_MEMBER_LEN;
	if (s->shape.size == 0 || s->shape.size < len)
		return;		/* checked at the start: cannot happen */
	pad = s->shape.size - len;
	o->len -= 3;		/* reopen the object: "}\n\n" */
	out_add(o, ",\"pad\":\"", 8);
	memset(o->p + o->len, 'x', pad);
	o->len += pad;
	out_add(o, "\"}\n\n", 4);
}

/* Appends a piece of the body to o as its own chunk, formatted by fn. */
static void stream_chunk(struct conn *c, struct out *o,
			 void (*fn)(const struct conn *, struct out *))
{
	size_t at = chunk_open(o), start = o->len;

	fn(c, o);
	c->bytes += o->len - start;
	chunk_close(o, at, c->stream.chunked);
}

/* The stream's timer: the next event, or a heartbeat if that comes first
 * (the heartbeat's deadline moves each time bytes go out). */
static enum wait stream_wait(struct conn *c)
{
	const struct stream *s = &c->stream;
	uint64_t due = stream_due(s, s->last + 1);

	if (s->shape.heartbeat_ms != 0 &&
	    s->quiet_since_ms + s->shape.heartbeat_ms < due)
		due = s->quiet_since_ms + s->shape.heartbeat_ms;
	tw_add(&srv.wheel, &c->timer, due);
	return WAIT_TIMER;
}

/* Starts a stream of events first + 1 .. count: the headers and the
 * opening chunk go out at once.  HEAD gets the headers alone. */
static enum wait stream_start(struct conn *c, struct http_request *req,
			      enum stream_format format,
			      const struct shape *shape, uint32_t first)
{
	struct stream *s = &c->stream;
	struct out o = out_begin();
	bool head = req->method == HTTP_HEAD;

	*s = (struct stream){
		.t0_ms = srv.now_ms,
		.quiet_since_ms = srv.now_ms,
		.shape = *shape,
		.first = first,
		.last = first,
		.state = STREAM_EVENTS,
		.format = (uint8_t)format,
		.chunked = req->minor == 1,
	};
	if (!s->chunked)
		c->keep_alive = false;	/* the close ends the body */
	/* A stream may last for hours, and the server does not read while
	 * it runs; but the read that brought its request may have brought
	 * up to a request buffer's worth of requests behind it.  Past
	 * HOLD_MAX those are not kept: the stream says Connection: close,
	 * and the client sends them again on a new connection, as RFC 9112
	 * 9.3.2 asks of a client that pipelines. */
	if (!head && c->in->len - req->end > HOLD_MAX)
		c->keep_alive = false;
	c->status = 200;
	out_head(&o, c, 200, "text/event-stream", "Cache-Control: no-cache\r\n");
	out_printf(&o, "%sX-Accel-Buffering: no\r\n\r\n",
		   s->chunked ? "Transfer-Encoding: chunked\r\n" : "");
	if (!head)
		stream_chunk(c, &o, stream_open_chunk);
	conn_request_done(c);
	if (c->in != NULL && !head && !c->keep_alive)
		conn_release_in(c);	/* nothing will read them */
	if (c->in != NULL && !head)
		conn_hold_in(c);
	if (!conn_send_out(c, &o)) {
		response_log(c);
		return conn_close(c);
	}
	if (head)
		return conn_response_end(c);
	c->state = CONN_STREAM;
	srv.stats->streams_active++;
	return WAIT_NONE;
}

/* Counts how late an event went out, in the /metrics histogram. */
static void lateness_add(uint64_t late_us)
{
	size_t b = 0;

	while (b < LATENESS_BUCKETS && late_us > lateness_le[b].us)
		b++;
	srv.stats->lateness[b]++;
	srv.stats->lateness_sum_us += late_us;
}

/* Ends the connection with a reset rather than a FIN, and no final chunk:
 * what a client sees when a server crashes. */
static enum wait conn_reset(struct conn *c)
{
	struct linger hard = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(c->src.fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
	srv.stats->streams_active--;
	response_log(c);
	return conn_close(c);
}

/* Events from + 1 .. s->last have just been written (or queued for a
 * client that is slow to read): they are counted, and how late each went
 * out goes into the /metrics histogram. */
static void stream_sent(const struct stream *s, uint32_t from)
{
	uint64_t now_us = clock_us(CLOCK_MONOTONIC);

	for (uint32_t k = from + 1; k <= s->last; k++) {
		srv.stats->events++;
		lateness_add(now_us - stream_due(s, k) * 1000);
	}
}

/* Has event k just sent been the one after which the request asked the
 * stream to fail?  K counts event ids, so a stream resumed past K runs to
 * its end; K = 0 means right after the opening chunk. */
static bool stream_fails_after(const struct stream *s, uint32_t k,
			       uint32_t when)
{
	return when == k && (k > s->first || k == 0);
}

/* Sends o; false when the client is gone (the stream is then aborted). */
static bool stream_send(struct conn *c, struct out *o)
{
	if (o->len == 0)
		return true;
	c->stream.quiet_since_ms = srv.now_ms;
	if (conn_send_out(c, o)) {
		o->len = 0;
		return true;
	}
	return false;
}

/* Sends nothing more; at due_ms the connection is reset. */
static enum wait stream_fail(struct conn *c, uint64_t due_ms)
{
	c->stream.state = STREAM_FAILING;
	tw_add(&srv.wheel, &c->timer, due_ms);
	return WAIT_TIMER;
}

/* STREAM_EVENTS: sends every event that is due, in one write (events that
 * fell behind, because the server was busy, go out together), or a
 * heartbeat if the stream has been silent too long; then sleeps until the
 * next.  After the last comes the end of the body.  drop and stall cut it
 * short on purpose. */
static enum wait stream_events(struct conn *c)
{
	struct stream *s = &c->stream;
	struct out o = out_begin();
	uint64_t wall_ms = clock_ms(CLOCK_REALTIME);
	uint32_t from = s->last;	/* events after it go out now */
	bool stalls;

	if (stream_fails_after(s, s->last, s->shape.drop))
		goto drop;	/* drop=0: right after the opening */
	if (stream_fails_after(s, s->last, s->shape.stall))
		goto stall;
	while (s->last < s->shape.count &&
	       stream_due(s, s->last + 1) <= srv.now_ms) {
		size_t at;

		/* Keep room for one more event of the largest size. */
		if (o.cap - o.len < srv.cfg.max_event_size + 256 &&
		    !stream_send(c, &o))
			return conn_drop(c);
		at = chunk_open(&o);
		s->last++;
		stream_event_data(c, &o, s->last, wall_ms);
		c->bytes += o.len - at - CHUNK_ROOM;
		chunk_close(&o, at, s->chunked);
		if (s->last == s->shape.drop) {
			if (!stream_send(c, &o))
				return conn_drop(c);
			stream_sent(s, from);
			goto drop;
		}
		if (stream_fails_after(s, s->last, s->shape.stall))
			break;
	}
	stalls = stream_fails_after(s, s->last, s->shape.stall);
	if (o.len == 0 && s->shape.heartbeat_ms != 0 &&
	    srv.now_ms >= s->quiet_since_ms + s->shape.heartbeat_ms)
		stream_chunk(c, &o, stream_heartbeat_chunk);
	if (s->last == s->shape.count && !stalls) {
		stream_chunk(c, &o, stream_done_chunk);
		if (s->chunked)
			out_add(&o, "0\r\n\r\n", 5);
	}
	if (!stream_send(c, &o))
		return conn_drop(c);
	stream_sent(s, from);
	if (stalls)
		goto stall;
	if (s->last < s->shape.count)
		return stream_wait(c);
	srv.stats->streams_completed++;
	srv.stats->streams_active--;
	return conn_response_end(c);

drop:
	/* A crash between two events: the reset comes when event K + 1
	 * would have been due.  Sent at once, it could overtake event K in
	 * a client that had not read it yet (a browser may lose the bytes it
	 * had not handed to the page when the reset arrives); this way the
	 * client has a whole interval to take them. */
	srv.stats->streams_dropped++;
	return stream_fail(c, stream_due(s, s->last + 1));
stall:
	/* Silent from here until the stream would have ended. */
	srv.stats->streams_stalled++;
	return stream_fail(c, stream_due(s, s->shape.count));
}

/* CONN_STREAM: runs the stream's own state. */
static enum wait conn_stream(struct conn *c)
{
	if (c->peer_eof)
		return conn_drop(c);	/* the client left: stop at once */
	switch ((enum stream_state)c->stream.state) {
	case STREAM_EVENTS:
		return stream_events(c);
	case STREAM_FAILING:
		if (srv.now_ms < c->timer.due_ms)
			return WAIT_TIMER;
		return conn_reset(c);
	}
	return WAIT_TIMER;
}

/* ==== routes ============================================================ */

static int hexval(char ch)
{
	unsigned char c = (unsigned char)ch;

	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes p[0..n) into out, as a form does ('+' is a space): at
 * most cap - 1 bytes and a NUL.  A longer text is cut, so cap must exceed
 * any text the caller compares it with. */
static void form_decode(const char *p, size_t n, char *out, size_t cap)
{
	const char *end = p + n;
	size_t len = 0;

	while (p < end && len + 1 < cap) {
		int hi, lo;

		if (*p == '%' && end - p >= 3 && (hi = hexval(p[1])) >= 0 &&
		    (lo = hexval(p[2])) >= 0) {
			/* A decoded NUL must not end the text early. */
			out[len++] = (char)(hi || lo ? hi << 4 | lo : 0xff);
			p += 3;
		} else {
			out[len++] = (char)(*p == '+' ? ' ' : *p);
			p++;
		}
	}
	out[len] = '\0';
}

/* The value of key in a query string or form body, names and values
 * percent-decoded (the value into out, as form_decode() does); the last
 * one wins, unknown keys are ignored.  Returns whether key was there. */
static bool query_value(struct http_span q, const char *key, char *out,
			size_t cap)
{
	const char *p, *end;
	bool found = false;

	if (q.len == 0)
		return false;	/* also: no query at all, q.p NULL */
	p = q.p;
	end = q.p + q.len;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *e = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(e - p));
		const char *name_end = eq ? eq : e;
		char name[32];

		form_decode(p, (size_t)(name_end - p), name, sizeof(name));
		if (strcmp(name, key) == 0) {
			const char *v = eq ? eq + 1 : e;

			form_decode(v, (size_t)(e - v), out, cap);
			found = true;
		}
		p = amp ? amp + 1 : end;
	}
	return found;
}

/* ---- a strict JSON scanner, just enough to find the top-level "stream" -- */

/* RFC 8259 in full, so that invalid JSON is a 400 as the seed's body
 * parser made it, but it keeps nothing: it only walks the text, and
 * remembers whether the top-level object's last "stream" member asked for
 * a stream.  Nesting is bounded so that the walk's recursion is. */
struct json {
	const char *p, *end;
	unsigned depth;
	const char *error;
};

#define JSON_MAX_DEPTH 128

static bool json_bad(struct json *j, const char *why)
{
	if (j->error == NULL)
		j->error = why;
	return false;
}

static bool json_at(const struct json *j, char c)
{
	return j->p < j->end && *j->p == c;
}

static void json_blank(struct json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
				 *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

/* A string; its text, decoded, goes to out when out is not NULL: at most
 * cap - 1 bytes and a NUL, every code point past ASCII as 0xff, so that a
 * comparison with a short ASCII word is exact when cap exceeds the word. */
static bool json_string(struct json *j, char *out, size_t cap)
{
	size_t n = 0;

	j->p++;		/* the opening quote */
	while (j->p < j->end) {
		unsigned char c = (unsigned char)*j->p++;
		unsigned cp = c;

		if (c == '"') {
			if (out != NULL)
				out[n] = '\0';
			return true;
		}
		if (c < 0x20)
			return json_bad(j, "control character in JSON string");
		if (c == '\\') {
			static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
			const char *e;

			if (j->p == j->end)
				break;
			c = (unsigned char)*j->p++;
			if (c == 'u') {
				cp = 0;
				for (int i = 0; i < 4; i++) {
					int d = j->p < j->end ? hexval(*j->p++) : -1;

					if (d < 0)
						return json_bad(j, "bad unicode escape in JSON string");
					cp = cp << 4 | (unsigned)d;
				}
			} else if (c != '\0' && (e = strchr(from, c)) != NULL) {
				cp = (unsigned char)to[e - from];
			} else {
				return json_bad(j, "bad escape in JSON string");
			}
		}
		if (out != NULL && n + 1 < cap)
			out[n++] = (char)(cp != 0 && cp < 0x80 ? cp : 0xff);
	}
	return json_bad(j, "unterminated JSON string");
}

static bool json_digits(struct json *j)
{
	const char *start = j->p;

	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > start;
}

/* -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static bool json_number(struct json *j)
{
	if (json_at(j, '-'))
		j->p++;
	if (json_at(j, '0'))
		j->p++;
	else if (!json_digits(j))
		return json_bad(j, "bad JSON number");
	if (json_at(j, '.')) {
		j->p++;
		if (!json_digits(j))
			return json_bad(j, "bad JSON number");
	}
	if (json_at(j, 'e') || json_at(j, 'E')) {
		j->p++;
		if (json_at(j, '+') || json_at(j, '-'))
			j->p++;
		if (!json_digits(j))
			return json_bad(j, "bad JSON number");
	}
	return true;
}

static bool json_word(struct json *j, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
		return json_bad(j, "invalid JSON");
	j->p += n;
	return true;
}

static bool json_value(struct json *j);

/* Whether a valid JSON value, p[0..end), is true or a number equal to 1
 * (1, 1.0, 10e-1, 0.1E1): what the seed's loose "stream == true" took as
 * true.  A number's digits, the point aside, must be a single 1 and
 * zeros; it is 1 when the zeros after the 1, less the digits after the
 * point, plus the exponent, come to nothing. */
static bool json_is_true_or_one(const char *p, const char *end)
{
	long after_point = 0, zeros_after_one = 0, exp = 0;
	bool point = false, one = false;
	int exp_sign = 1;

	if (*p == 't')
		return true;
	if (*p < '0' || *p > '9')
		return false;	/* negative, false, null, an object, an array */
	for (; p < end && *p != 'e' && *p != 'E'; p++) {
		if (*p == '.') {
			point = true;
			continue;
		}
		after_point += point;
		if (*p == '0') {
			zeros_after_one += one;
			continue;
		}
		if (*p != '1' || one)
			return false;
		one = true;
	}
	if (p < end) {
		p++;	/* the 'e' */
		if (*p == '+' || *p == '-')
			exp_sign = *p++ == '-' ? -1 : 1;
		for (; p < end; p++)
			if (exp < 1000000)
				exp = exp * 10 + (*p - '0');
	}
	return one && zeros_after_one - after_point + exp_sign * exp == 0;
}

/* An object; when stream is not NULL (the top level), *stream tells
 * whether its last "stream" member was true, 1, "1" or "true". */
/* NOLINTNEXTLINE(misc-no-recursion): bounded by JSON_MAX_DEPTH */
static bool json_object(struct json *j, bool *stream)
{
	j->p++;
	json_blank(j);
	if (json_at(j, '}')) {
		j->p++;
		return true;
	}
	for (;;) {
		char key[8];
		const char *value;
		bool is_stream;

		if (!json_at(j, '"'))
			return json_bad(j, "expected a JSON key");
		if (!json_string(j, key, sizeof(key)))
			return false;
		json_blank(j);
		if (!json_at(j, ':'))
			return json_bad(j, "expected ':' in JSON object");
		j->p++;
		json_blank(j);
		value = j->p;
		is_stream = stream != NULL && strcmp(key, "stream") == 0;
		if (is_stream && json_at(j, '"')) {
			char text[8];

			if (!json_string(j, text, sizeof(text)))
				return false;
			*stream = strcmp(text, "1") == 0 ||
				  strcmp(text, "true") == 0;
		} else if (!json_value(j)) {
			return false;
		} else if (is_stream) {
			*stream = json_is_true_or_one(value, j->p);
		}
		json_blank(j);
		if (json_at(j, '}')) {
			j->p++;
			return true;
		}
		if (!json_at(j, ','))
			return json_bad(j, "expected ',' or '}' in JSON object");
		j->p++;
		json_blank(j);
	}
}

/* NOLINTNEXTLINE(misc-no-recursion): bounded by JSON_MAX_DEPTH */
static bool json_array(struct json *j)
{
	j->p++;
	json_blank(j);
	if (json_at(j, ']')) {
		j->p++;
		return true;
	}
	for (;;) {
		if (!json_value(j))
			return false;
		json_blank(j);
		if (json_at(j, ']')) {
			j->p++;
			return true;
		}
		if (!json_at(j, ','))
			return json_bad(j, "expected ',' or ']' in JSON array");
		j->p++;
		json_blank(j);
	}
}

/* NOLINTNEXTLINE(misc-no-recursion): bounded by JSON_MAX_DEPTH */
static bool json_value(struct json *j)
{
	bool ok;

	if (j->p == j->end)
		return json_bad(j, "unexpected end of JSON");
	switch (*j->p) {
	case '{':
	case '[':
		if (++j->depth > JSON_MAX_DEPTH)
			return json_bad(j, "JSON nested too deeply");
		ok = *j->p == '{' ? json_object(j, NULL) : json_array(j);
		j->depth--;
		return ok;
	case '"':
		return json_string(j, NULL, 0);
	case 't':
		return json_word(j, "true");
	case 'f':
		return json_word(j, "false");
	case 'n':
		return json_word(j, "null");
	default:
		return json_number(j);
	}
}

/* How a request body answers "stream?". */
enum ask { ASK_PLAIN, ASK_STREAM, ASK_BAD };

/* Scans a JSON document: ASK_BAD (with *why) if it is not valid JSON. */
static enum ask json_asks_stream(const char *p, size_t n, const char **why)
{
	struct json j = { p, p + n, 0, NULL };
	bool stream = false, ok;

	json_blank(&j);
	if (json_at(&j, '{')) {
		j.depth = 1;
		ok = json_object(&j, &stream);
	} else {
		ok = json_value(&j);
	}
	json_blank(&j);
	if (ok && j.p != j.end)
		ok = json_bad(&j, "unexpected bytes after JSON");
	*why = j.error;
	return !ok ? ASK_BAD : stream ? ASK_STREAM : ASK_PLAIN;
}

/* The media type of a Content-Type value, without its parameters. */
static struct http_span media_type(struct http_span ct)
{
	const char *semi = ct.len ? memchr(ct.p, ';', ct.len) : NULL;

	if (semi != NULL)
		ct.len = (size_t)(semi - ct.p);
	while (ct.len > 0 && (ct.p[ct.len - 1] == ' ' ||
			      ct.p[ct.len - 1] == '\t'))
		ct.len--;
	return ct;
}

static bool media_is_json(struct http_span type)
{
	struct http_span tail = { type.p, 0 };

	if (type.len > 5)
		tail = (struct http_span){ type.p + type.len - 5, 5 };
	return http_span_eq(type, "application/json") ||
	       http_span_eq(tail, "+json");
}

static bool flag_true(const char *v)
{
	return strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
}

/* Whether POST /api asks for a stream: by its body (JSON or a form), as
 * the seed's body parser read it, or by its query string. */
static enum ask api_asks_stream(const struct http_request *req,
				const char **why)
{
	struct http_span type = media_type(req->content_type);
	struct http_span body = { req->body, req->body_len };
	enum ask ask = ASK_PLAIN;
	char v[8];
	size_t i = 0;

	while (i < body.len && strchr(" \t\r\n", body.p[i]) && body.p[i])
		i++;
	/* curl -d sends JSON as a form: a '{' first makes it JSON anyway. */
	if (body.len == 0)
		;	/* an empty body is no body */
	else if (media_is_json(type) || (i < body.len && body.p[i] == '{'))
		ask = json_asks_stream(body.p, body.len, why);
	else if (http_span_eq(type, "application/x-www-form-urlencoded"))
		ask = query_value(body, "stream", v, sizeof(v)) && flag_true(v)
			? ASK_STREAM : ASK_PLAIN;
	if (ask == ASK_PLAIN && query_value(req->query, "stream", v, sizeof(v))
	    && flag_true(v))
		ask = ASK_STREAM;
	return ask;
}

/* ---- answers ----------------------------------------------------------- */

/* A whole response with a known length: status, headers (extra, if not
 * NULL, is more header lines), len bytes of body (none if body is NULL).
 * HEAD gets the same without the body.  Then the connection moves on to
 * the next request. */
static enum wait answer(struct conn *c, const struct http_request *req,
			int status, const char *type, const char *extra,
			const char *body, size_t len)
{
	struct out o = out_begin();

	c->status = (uint16_t)status;
	out_head(&o, c, status, body ? type : NULL, extra);
	if (status != 204)
		out_printf(&o, "Content-Length: %zu\r\n", len);
	out_add(&o, "\r\n", 2);
	if (req->method != HTTP_HEAD && body != NULL) {
		out_add(&o, body, len);
		c->bytes = len;
	}
	conn_request_done(c);
	if (!conn_send_out(c, &o)) {
		response_log(c);
		return conn_close(c);
	}
	return conn_response_end(c);
}

static enum wait answer_json(struct conn *c, const struct http_request *req,
			     int status, const char *extra, const char *body)
{
	return answer(c, req, status, "application/json; charset=utf-8", extra,
		      body, strlen(body));
}

/* An error answer on a connection that stays usable: {"error":"..."}. */
static enum wait answer_error(struct conn *c, const struct http_request *req,
			      int status, const char *extra, const char *why)
{
	char body[160];

	http_format(body, sizeof(body), "{\"error\":\"%s\"}", why);
	return answer_json(c, req, status, extra, body);
}

/* A whole number in decimal, every byte of s a digit: false if s is not
 * one.  Past UINT32_MAX it reads as UINT32_MAX, which is past the end of
 * any stream and above every bound the server checks. */
static bool decimal_u32(const char *s, size_t n, uint32_t *value)
{
	uint64_t v = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > UINT32_MAX)
			v = UINT32_MAX;
	}
	*value = (uint32_t)v;
	return true;
}

/* Reads one shape parameter from the query: absent leaves *v as it is;
 * present, it must be a whole number in [min, max], else why says so,
 * naming the parameter. */
static bool shape_param(struct http_span query, const char *key,
			uint32_t min, uint64_t max, uint32_t *v,
			char *why, size_t cap)
{
	char text[64];		/* a longer value is cut: refused below */
	size_t len;
	uint32_t n;

	if (!query_value(query, key, text, sizeof(text)))
		return true;
	len = strlen(text);
	/* decimal_u32() saturates at UINT32_MAX, past every max here. */
	if (len < sizeof(text) - 1 && decimal_u32(text, len, &n) &&
	    n >= min && n <= max) {
		*v = n;
		return true;
	}
	http_format(why, cap, "%s must be a whole number from %u to %llu", key,
		    min, (unsigned long long)max);
	return false;
}

/* The shape a stream request asks for (SPEC section 6), from the query
 * string over the command line's defaults.  False, with why naming the
 * parameter, if one is out of bounds. */
static bool stream_shape(const struct http_request *req,
			 enum stream_format format, struct shape *sh,
			 char *why, size_t cap)
{
	const struct config *cfg = &srv.cfg;
	struct http_span q = req->query;
	struct conn probe;
	char sample[512];
	struct out o = { sample, 0, sizeof(sample) };
	size_t natural;

	*sh = (struct shape){
		.count = cfg->events, .interval_ms = cfg->interval_ms,
		.heartbeat_ms = cfg->heartbeat_ms,
		.drop = NO_EVENT, .stall = NO_EVENT,
	};
	if (!shape_param(q, "n", 1, cfg->max_events, &sh->count, why, cap) ||
	    !shape_param(q, "interval", cfg->min_interval_ms, DAY_MS,
			 &sh->interval_ms, why, cap) ||
	    !shape_param(q, "size", 1, cfg->max_event_size, &sh->size,
			 why, cap) ||
	    !shape_param(q, "heartbeat", 0, DAY_MS, &sh->heartbeat_ms,
			 why, cap) ||
	    !shape_param(q, "drop", 0, cfg->max_events, &sh->drop, why, cap) ||
	    !shape_param(q, "stall", 0, cfg->max_events, &sh->stall, why, cap))
		return false;
	if (sh->heartbeat_ms != 0 && sh->heartbeat_ms < cfg->min_interval_ms) {
		http_format(why, cap, "heartbeat must be 0 or from %u to %llu",
			    cfg->min_interval_ms, DAY_MS);
		return false;
	}
	if (sh->size == 0)
		return true;	/* not asked for: events as they are */
	/* The largest event unpadded: the last id, today's timestamp. */
	memset(&probe, 0, sizeof(probe));
	probe.stream.format = (uint8_t)format;
	probe.stream.shape.count = sh->count;
	stream_event_data(&probe, &o, sh->count, clock_ms(CLOCK_REALTIME));
	natural = o.len + PAD_MEMBER_LEN;
	if (sh->size < natural) {
		http_format(why, cap,
			    "size must be at least %zu for this stream",
			    natural);
		return false;
	}
	return true;
}

/* POST /api: the seed's route.  A JSON hello, or a stream when asked;
 * the stream's shape comes from the query string only, as the body keeps
 * the seed's meaning. */
static enum wait route_api(struct conn *c, struct http_request *req)
{
	const char *why = NULL;
	char bad[128];
	struct shape shape;

	switch (api_asks_stream(req, &why)) {
	case ASK_STREAM:
		if (!stream_shape(req, FORMAT_API, &shape, bad, sizeof(bad)))
			return answer_error(c, req, 400, NULL, bad);
		return stream_start(c, req, FORMAT_API, &shape, 0);
	case ASK_BAD:
		return answer_error(c, req, 400, NULL, why);
	case ASK_PLAIN:
		break;
	}
	return answer_json(c, req, 200, NULL, "{\"message\":\"Hello, world!\"}");
}

/* GET /message-stream: the EventSource stream.  A reconnecting browser
 * sends the last id it saw as Last-Event-ID (a first visit can only say
 * ?lastEventId=), and the stream resumes after it, in the same shape;
 * once all events were delivered, 204 tells the browser to stop
 * reconnecting. */
static enum wait route_message_stream(struct conn *c,
				      struct http_request *req)
{
	const struct http_header *h = http_header(req, "Last-Event-ID");
	uint32_t last = 0;
	struct shape shape;
	char bad[128];

	if (!stream_shape(req, FORMAT_EVENTSOURCE, &shape, bad, sizeof(bad)))
		return answer_error(c, req, 400, NULL, bad);
	if (h == NULL || !decimal_u32(h->value.p, h->value.len, &last)) {
		char v[16];

		last = 0;
		if (query_value(req->query, "lastEventId", v, sizeof(v)) &&
		    !decimal_u32(v, strlen(v), &last))
			last = 0;
	}
	if (last >= shape.count)
		return answer(c, req, 204, NULL, NULL, NULL, 0);
	return stream_start(c, req, FORMAT_EVENTSOURCE, &shape, last);
}

/* GET /: the demo page, web/index.html, built into the binary. */
static enum wait route_page(struct conn *c, struct http_request *req)
{
	return answer(c, req, 200, "text/html; charset=utf-8", NULL,
		      (const char *)page_html, sizeof(page_html));
}

static uint64_t uptime_s(void)
{
	return (srv.now_ms - srv.shared->started_ms) / 1000;
}

/* The counters of the whole server: every worker's slot added up. */
static void stats_total(struct stats *total)
{
	uint64_t *sum = (uint64_t *)total;

	memset(total, 0, sizeof(*total));
	for (size_t w = 0; w < srv.shared->workers; w++) {
		const uint64_t *v = (const uint64_t *)&srv.shared->slot[w];

		for (size_t i = 0; i < sizeof(*total) / sizeof(*sum); i++)
			sum[i] += v[i];
	}
}

/* GET /stats: the counters as JSON. */
static enum wait route_stats(struct conn *c, struct http_request *req)
{
	static char body[8192];
	struct out o = { body, 0, sizeof(body) };
	struct stats total;
	const struct stats *st = &total;
	const char *sep = "";

	stats_total(&total);
	out_printf(&o, "{\"connections\":%llu,\"streams\":%llu,"
		   "\"requests\":%llu,\"events\":%llu,"
		   "\"streams_completed\":%llu,\"streams_aborted\":%llu,"
		   "\"streams_dropped\":%llu,\"streams_stalled\":%llu,"
		   "\"accepted\":%llu,\"shed\":%llu,\"responses\":{",
		   (unsigned long long)st->connections,
		   (unsigned long long)st->streams_active,
		   (unsigned long long)st->requests,
		   (unsigned long long)st->events,
		   (unsigned long long)st->streams_completed,
		   (unsigned long long)st->streams_aborted,
		   (unsigned long long)st->streams_dropped,
		   (unsigned long long)st->streams_stalled,
		   (unsigned long long)st->accepted,
		   (unsigned long long)st->shed);
	for (int code = 100; code < 600; code++) {
		if (st->by_status[code] == 0)
			continue;
		out_printf(&o, "%s\"%d\":%llu", sep, code,
			   (unsigned long long)st->by_status[code]);
		sep = ",";
	}
	out_printf(&o, "},\"uptime_seconds\":%llu}\n",
		   (unsigned long long)uptime_s());
	return answer(c, req, 200, "application/json; charset=utf-8", NULL,
		      body, o.len);
}

/* One metric of /metrics, with its HELP and TYPE lines. */
static void metric(struct out *o, const char *name, const char *type,
		   const char *help, uint64_t value)
{
	out_printf(o, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help,
		   name, type, name, (unsigned long long)value);
}

/* GET /metrics: the same counters in the Prometheus text format, and the
 * histogram of event lateness: when an event's bytes went to the kernel,
 * minus when it was due. */
static enum wait route_metrics(struct conn *c, struct http_request *req)
{
	static char body[16384];
	struct out o = { body, 0, sizeof(body) };
	struct stats total;
	const struct stats *st = &total;
	uint64_t cumulative = 0;

	stats_total(&total);
	metric(&o, "sse_connections", "gauge", "Open client connections.",
	       st->connections);
	metric(&o, "sse_streams", "gauge", "Streams in progress.",
	       st->streams_active);
	metric(&o, "sse_requests_total", "counter", "Requests served.",
	       st->requests);
	metric(&o, "sse_events_total", "counter", "Events sent.", st->events);
	metric(&o, "sse_streams_completed_total", "counter",
	       "Streams that sent all their events.", st->streams_completed);
	metric(&o, "sse_streams_aborted_total", "counter",
	       "Streams that ended early: the client left or fell behind.",
	       st->streams_aborted);
	metric(&o, "sse_streams_dropped_total", "counter",
	       "Streams reset on purpose after event K (drop=K).",
	       st->streams_dropped);
	metric(&o, "sse_streams_stalled_total", "counter",
	       "Streams gone silent on purpose after event K (stall=K).",
	       st->streams_stalled);
	metric(&o, "sse_connections_accepted_total", "counter",
	       "Connections accepted.", st->accepted);
	metric(&o, "sse_connections_shed_total", "counter",
	       "Connections turned away with 503 at the limit.", st->shed);
	metric(&o, "sse_uptime_seconds", "gauge",
	       "Seconds since the server started.", uptime_s());
	out_printf(&o, "# HELP sse_responses_total Responses by status code.\n"
		   "# TYPE sse_responses_total counter\n");
	for (int code = 100; code < 600; code++)
		if (st->by_status[code] != 0)
			out_printf(&o, "sse_responses_total{code=\"%d\"} %llu\n",
				   code, (unsigned long long)st->by_status[code]);
	out_printf(&o, "# HELP sse_event_lateness_seconds When an event was "
		   "handed to the kernel, minus when it was due.\n"
		   "# TYPE sse_event_lateness_seconds histogram\n");
	for (size_t b = 0; b <= LATENESS_BUCKETS; b++) {
		cumulative += st->lateness[b];
		if (b < LATENESS_BUCKETS)
			out_printf(&o, "sse_event_lateness_seconds_bucket"
				   "{le=\"%s\"} %llu\n", lateness_le[b].seconds,
				   (unsigned long long)cumulative);
		else
			out_printf(&o, "sse_event_lateness_seconds_bucket"
				   "{le=\"+Inf\"} %llu\n",
				   (unsigned long long)cumulative);
	}
	out_printf(&o, "sse_event_lateness_seconds_sum %llu.%06llu\n"
		   "sse_event_lateness_seconds_count %llu\n",
		   (unsigned long long)(st->lateness_sum_us / 1000000),
		   (unsigned long long)(st->lateness_sum_us % 1000000),
		   (unsigned long long)cumulative);
	return answer(c, req, 200, "text/plain; version=0.0.4; charset=utf-8",
		      NULL, body, o.len);
}

#define M(method) (1u << (method))

static const struct route {
	const char *path;
	unsigned methods;	/* M(HTTP_GET) also allows HEAD */
	const char *allow;	/* for 405 and OPTIONS */
	enum wait (*answer)(struct conn *c, struct http_request *req);
} routes[] = {
	{ "/", M(HTTP_GET), "GET, HEAD", route_page },
	{ "/api", M(HTTP_POST) | M(HTTP_OPTIONS), "POST, OPTIONS", route_api },
	{ "/message-stream", M(HTTP_GET) | M(HTTP_OPTIONS),
	  "GET, HEAD, OPTIONS", route_message_stream },
	{ "/stats", M(HTTP_GET), "GET, HEAD", route_stats },
	{ "/metrics", M(HTTP_GET), "GET, HEAD", route_metrics },
};

/* OPTIONS: 204 with Allow, and with --cors the answer to a browser's
 * preflight: the methods, and the request headers a page may send (the
 * JSON Content-Type of a fetch(), the Last-Event-ID of an EventSource). */
static enum wait answer_options(struct conn *c, struct http_request *req,
				const struct route *r)
{
	char extra[512];

	if (srv.cfg.cors == NULL)
		http_format(extra, sizeof(extra), "Allow: %s\r\n", r->allow);
	else
		http_format(extra, sizeof(extra), "Allow: %s\r\n"
			    "Access-Control-Allow-Methods: %s\r\n"
			    "Access-Control-Allow-Headers: Content-Type, "
			    "Last-Event-ID\r\n"
			    "Access-Control-Max-Age: 86400\r\n",
			    r->allow, r->allow);
	return answer(c, req, 204, NULL, extra, NULL, 0);
}

/* A complete request: finds its route and answers it. */
static enum wait route(struct conn *c)
{
	struct http_request *req = &c->in->req;
	unsigned m = M(req->method == HTTP_HEAD ? HTTP_GET : req->method);
	char allow[96];

	c->keep_alive = req->keep_alive && !srv.draining;
	if (req->path.len == 1 && req->path.p[0] == '*')	/* OPTIONS * */
		return answer(c, req, 204, NULL,
			      "Allow: GET, HEAD, POST, OPTIONS\r\n", NULL, 0);
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct route *r = &routes[i];

		if (req->path.len != strlen(r->path) ||
		    memcmp(req->path.p, r->path, req->path.len) != 0)
			continue;
		if (req->method == HTTP_OTHER || !(r->methods & m)) {
			http_format(allow, sizeof(allow), "Allow: %s\r\n",
				    r->allow);
			return answer_error(c, req, 405, allow,
					    "method not allowed");
		}
		if (req->method == HTTP_OPTIONS)
			return answer_options(c, req, r);
		return r->answer(c, req);
	}
	return answer_error(c, req, 404, NULL, "not found");
}

/* ==== the connection's state machine ==================================== */

/* CONN_FLUSH: a response has ended.  Once the client has taken all of it,
 * read the next request (perhaps already in the buffer), or close. */
static enum wait conn_flush(struct conn *c)
{
	if (conn_tail_pending(c))
		return WAIT_WRITE;
	if (!c->keep_alive) {
		/* Say we are done (FIN), then wait for the client to close. */
		shutdown(c->src.fd, SHUT_WR);
		c->state = CONN_LINGER;
		tw_add(&srv.wheel, &c->timer,
		       srv.now_ms + srv.cfg.linger_timeout_ms);
		return WAIT_NONE;
	}
	if (c->in != NULL)
		return conn_begin_request(c);
	c->state = CONN_IDLE;
	tw_add(&srv.wheel, &c->timer, srv.now_ms + srv.cfg.idle_timeout_ms);
	return WAIT_NONE;
}

/* CONN_LINGER: the server has sent FIN after its last answer.  It reads and
 * drops whatever the client still sends until the client closes too, or
 * the linger timeout: closing with unread bytes would make the kernel
 * reset the connection, and a reset can destroy the answer before the
 * client has read it. */
static enum wait conn_linger(struct conn *c)
{
	char sink[4096];

	if (srv.now_ms >= c->timer.due_ms)
		return conn_close(c);
	for (int i = 0; i < 16; i++) {
		ssize_t n = read(c->src.fd, sink, sizeof(sink));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return WAIT_READ;
		if (n <= 0)
			return conn_close(c);
	}
	return WAIT_READ;	/* more next turn: others get their share */
}

/* Runs the connection's state functions until one must wait, or until it
 * has answered TURN_REQUESTS requests and has the next one in hand: then
 * it yields, and the others get their turn before it goes on. */
static enum wait conn_run(struct conn *c)
{
	enum wait w = WAIT_NONE;
	unsigned answered = 0;

	while (w == WAIT_NONE) {
		switch (c->state) {
		case CONN_IDLE:
			w = conn_idle(c);
			break;
		case CONN_HEAD:
			w = conn_head(c);
			break;
		case CONN_BODY:
			w = conn_body(c);
			break;
		case CONN_STREAM:
			w = conn_stream(c);
			break;
		case CONN_FLUSH:
			w = conn_flush(c);
			if (w == WAIT_NONE && c->state == CONN_HEAD &&
			    ++answered == TURN_REQUESTS)
				w = WAIT_YIELD;
			break;
		case CONN_LINGER:
			w = conn_linger(c);
			break;
		}
	}
	return w;
}

/* Tells epoll what the connection now waits for, if that changed.  Any
 * unsent output adds EPOLLOUT, whatever the state. */
static void conn_update(struct conn *c, enum wait w)
{
	struct epoll_event ev;

	if (w == WAIT_GONE)
		return;
	ev.events = wait_events[w] | (conn_tail_pending(c) ? EPOLLOUT : 0);
	if (c->peer_eof)
		ev.events &= ~(uint32_t)EPOLLRDHUP;	/* it stays set: once */
	ev.data.ptr = &c->src;
	if (ev.events != c->events &&
	    epoll_ctl(srv.epfd, EPOLL_CTL_MOD, c->src.fd, &ev) == 0)
		c->events = ev.events;
}

/* epoll reported on a connection. */
static void conn_event(struct conn *c, uint32_t events)
{
	if (events & (EPOLLERR | EPOLLHUP)) {
		conn_drop(c);	/* reset, or closed both ways: nobody to answer */
		return;
	}
	if (events & EPOLLRDHUP)
		c->peer_eof = true;
	if ((events & EPOLLOUT) && !conn_flush_tail(c)) {
		conn_drop(c);
		return;
	}
	conn_update(c, conn_run(c));
}

/* The wheel calls these when a connection's deadline comes. */
static void conn_on_timer(struct tw_timer *t)
{
	struct conn *c = container_of(t, struct conn, timer);

	conn_update(c, conn_run(c));
}

static void conn_on_send_timer(struct tw_timer *t)
{
	/* The client has not taken a byte for --send-timeout: drop it. */
	conn_drop(container_of(t, struct conn, send_timer));
}

/* ==== the loop ========================================================== */

static bool accept_paused;

/* Turns a newcomer away: 503 if the socket takes it at once, then close.
 * Its request may be there already, and closing a socket with unread bytes
 * sends a reset, which can reach the client before the 503 and destroy
 * it: what has come is read and dropped first, up to 16 KiB (twice the
 * default --max-header: a turn's share for one newcomer), so that the
 * close is a FIN.  Bytes still to come are not waited for: the descriptor
 * is needed back now. */
static void shed(int fd)
{
	static const char body[] = "{\"error\":\"server is full\"}";
	char msg[256], sink[4096];
	size_t n = http_format(msg, sizeof(msg),
		"HTTP/1.1 503 Service Unavailable\r\n"
		"Content-Type: application/json; charset=utf-8\r\n"
		"Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		sizeof(body) - 1, body);

	if (send(fd, msg, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		errno = 0;	/* the close below is answer enough */
	for (int i = 0; i < 4; i++)
		if (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) <
		    (ssize_t)sizeof(sink))
			break;
	close(fd);
	srv.stats->shed++;
}

static void listener_resume(void);

static void accept_retry(struct tw_timer *t)
{
	(void)t;
	listener_resume();
	if (accept_paused)	/* epoll_ctl() failed: in a second, again */
		tw_add(&srv.wheel, &srv.accept_timer, srv.now_ms + 1000);
}

/* Stops watching the listener until a connection closes, or for a second
 * at most (the descriptors or the kernel's memory may be short
 * system-wide, not here). */
static void listener_pause(void)
{
	struct epoll_event ev = { .events = 0, .data.ptr = &srv.listener };

	if (!accept_paused && srv.listener.fd >= 0 &&
	    epoll_ctl(srv.epfd, EPOLL_CTL_MOD, srv.listener.fd, &ev) == 0) {
		accept_paused = true;
		tw_timer_init(&srv.accept_timer, accept_retry);
		tw_add(&srv.wheel, &srv.accept_timer, srv.now_ms + 1000);
	}
}

static void listener_resume(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &srv.listener };

	if (accept_paused && srv.listener.fd >= 0 &&
	    epoll_ctl(srv.epfd, EPOLL_CTL_MOD, srv.listener.fd, &ev) == 0) {
		accept_paused = false;
		tw_cancel(&srv.wheel, &srv.accept_timer);
	}
}

/* Out of descriptors: the spare one, kept open for this moment, is given
 * up to accept the newcomer and turn it away, so that it does not wait in
 * the backlog and epoll does not report it again and again.  If even that
 * fails, accepting pauses until a connection closes. */
static void shed_at_fd_limit(void)
{
	if (srv.spare_fd >= 0) {
		close(srv.spare_fd);
		int fd = accept4(srv.listener.fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd >= 0)
			shed(fd);
		srv.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && srv.spare_fd >= 0)
			return;
	}
	listener_pause();
}

/* Errors of accept4() that concern one newcomer only, which the next
 * accept4() does not meet: it left before it was accepted, or it brought
 * a network error along (accept(2) lists them). */
static bool accept_error_passes(int e)
{
	return e == EINTR || e == ECONNABORTED || e == EPERM || e == EPROTO ||
	       e == ENETDOWN || e == ENETUNREACH || e == EHOSTDOWN ||
	       e == EHOSTUNREACH || e == ENONET || e == ENOPROTOOPT ||
	       e == EOPNOTSUPP;
}

static void listener_accept(void)
{
	for (int i = 0; i < ACCEPT_BUDGET; i++) {
		struct sockaddr_storage sa = { 0 };
		socklen_t len = sizeof(sa);
		int fd = accept4(srv.listener.fd, (struct sockaddr *)&sa, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EAGAIN)
				return;	/* no more for now */
			if (errno == EMFILE || errno == ENFILE)
				shed_at_fd_limit();
			else if (accept_error_passes(errno))
				continue;
			else	/* ENOMEM, ENOBUFS: it would fail again at
				 * once, and epoll report the newcomer again */
				listener_pause();
			return;
		}
		if (srv.nconns >= srv.max_conns || (size_t)fd >= srv.conn_cap)
			shed(fd);
		else
			conn_open(fd, &sa);
	}
}

/* --drain-timeout has passed since the signal: what is still open is
 * closed, and the loop ends. */
static void drain_expired(struct tw_timer *t)
{
	(void)t;
	stderr_line("sse: drain timeout: closing %zu connection%s",
		    srv.nconns, srv.nconns == 1 ? "" : "s");
	for (size_t fd = 0; fd < srv.conn_cap; fd++)
		if (srv.conns[fd].src.kind == KIND_CONN)
			conn_drop(&srv.conns[fd]);
}

/* The first SIGINT or SIGTERM: stop listening at once, close idle
 * connections, and let every request and stream in progress finish; the
 * loop ends when the last connection has (or at --drain-timeout).  A
 * second signal exits at once. */
static void server_drain(void)
{
	if (srv.draining && srv.worker)
		return;		/* the parent says when to stop at once */
	if (srv.draining) {
		stderr_line("sse: second signal, exiting now");
		exit(1);
	}
	srv.draining = true;
	close(srv.listener.fd);
	srv.listener.fd = -1;
	for (size_t fd = 0; fd < srv.conn_cap; fd++) {
		struct conn *c = &srv.conns[fd];

		if (c->src.kind == KIND_CONN && c->state == CONN_IDLE)
			conn_close(c);
	}
	stderr_line("sse: draining %zu connection%s", srv.nconns,
		srv.nconns == 1 ? "" : "s");
	if (srv.cfg.drain_timeout_ms != 0) {
		tw_timer_init(&srv.drain_timer, drain_expired);
		tw_add(&srv.wheel, &srv.drain_timer,
		       srv.now_ms + srv.cfg.drain_timeout_ms);
	}
}

static void signal_event(void)
{
	struct signalfd_siginfo si;

	while (read(srv.signalfd.fd, &si, sizeof(si)) == sizeof(si))
		server_drain();
}

/* Arms the timerfd for the wheel's next deadline, if that changed.  If
 * the kernel refuses, the loop's next wait ends at that deadline instead,
 * and the next turn tries again: no timer is lost. */
static void timer_arm(void)
{
	uint64_t next = tw_next(&srv.wheel);
	struct itimerspec its = { 0 };

	srv.wait_ms = -1;
	if (next == srv.armed_ms)
		return;
	if (next != UINT64_MAX) {
		its.it_value.tv_sec = (time_t)(next / 1000);
		its.it_value.tv_nsec = (long)(next % 1000) * 1000000 + 1;
	}
	if (timerfd_settime(srv.timerfd.fd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
		if (next != UINT64_MAX)
			srv.wait_ms = next - srv.now_ms >= INT_MAX
				      ? INT_MAX : (int)(next - srv.now_ms) + 1;
		return;
	}
	srv.armed_ms = next;
}

static void timerfd_event(void)
{
	uint64_t expirations;

	if (read(srv.timerfd.fd, &expirations, sizeof(expirations)) > 0)
		srv.armed_ms = UINT64_MAX;	/* it fired: no longer armed */
}

/* One turn of the loop:
 *  1. Wait for events, for as long as it takes: timers arrive as events
 *     of the timerfd, so a server with nothing to do never wakes.  (Only
 *     if the kernel would not arm the timerfd does the wait end at the
 *     next deadline by itself.)
 *  2. Read the clock; everything this turn does happens "now".
 *  3. Hand each event to its owner, by the kind at data.ptr.  Reads come
 *     as they are ready; a connection closed earlier in this batch has a
 *     free slot and its stale event is skipped.
 *  4. Fire the timers that are due by now (the clock read again): their
 *     callbacks run the connections whose deadline came.
 *  5. Arm the timerfd for the wheel's next deadline. */
static void loop_turn(void)
{
	struct epoll_event events[MAX_EVENTS];
	int n = epoll_wait(srv.epfd, events, MAX_EVENTS, srv.wait_ms);

	if (n < 0 && errno != EINTR) {
		stderr_line("sse: epoll_wait: %s", strerror(errno));
		exit(1);
	}
	srv.now_ms = clock_ms(CLOCK_MONOTONIC);
	for (int i = 0; i < n; i++) {
		struct source *s = events[i].data.ptr;

		switch (s->kind) {
		case KIND_LISTENER:
			if (!srv.draining)
				listener_accept();
			break;
		case KIND_TIMERFD:
			timerfd_event();
			break;
		case KIND_SIGNALFD:
			signal_event();
			break;
		case KIND_CONN:
			conn_event((struct conn *)s, events[i].events);
			break;
		case KIND_FREE:
			break;
		}
	}
	srv.now_ms = clock_ms(CLOCK_MONOTONIC);
	tw_advance(&srv.wheel, srv.now_ms);
	timer_arm();
}

/* ==== main ============================================================== */

/* Writes the usage to fd: stdout when asked for, stderr after a mistake. */
static void usage(int fd)
{
	static const char text[] =
"usage: sse [-p PORT] [-b ADDR] [-n EVENTS] [-i INTERVAL_MS] [-c MAX_CONNS]\n"
"           [-w WORKERS] [--cors ORIGIN] [-q] [-h] [-V] [limits]\n"
"\n"
"  -p, --port PORT          port to listen on, 0 for any free one (3000)\n"
"  -b, --bind ADDR          IPv4 or IPv6 address to listen on (0.0.0.0)\n"
"  -n, --events N           events per stream (5)\n"
"  -i, --interval MS        milliseconds between events (1000)\n"
"  -c, --max-conns N        connections at once; more get 503\n"
"                           (default: what the descriptor limit allows)\n"
"  -w, --workers N          worker processes sharing the port (1)\n"
"  --cors ORIGIN            let pages from ORIGIN (or *) use the server\n"
"  -q, --quiet              no access log on stderr\n"
"  -h, --help               this text\n"
"  -V, --version            the version\n"
"\n"
"  --max-target BYTES       longest request target, else 414 (4096)\n"
"  --max-header BYTES       longest request head, else 431 (8192)\n"
"  --max-body BYTES         longest request body, else 413 (65536)\n"
"  --request-timeout MS     first byte to complete request, else 408 (10000)\n"
"  --idle-timeout MS        keep-alive connection without a request (5000)\n"
"  --send-timeout MS        a client that takes no output is dropped (10000)\n"
"  --max-output BYTES       unsent output per client before dropping it\n"
"                           (262144)\n"
"  --linger-timeout MS      wait for the client to close after us (2000)\n"
"  --drain-timeout MS       after SIGTERM, close what is still open after\n"
"                           MS and exit (0: wait for every stream)\n"
"\n"
"  Streams take n, interval, size, heartbeat, drop and stall in the query;\n"
"  these bound them and give the default heartbeat:\n"
"  --max-events N           largest n (1000000)\n"
"  --min-interval MS        smallest interval and heartbeat (1)\n"
"  --max-event-size BYTES   largest size (65536)\n"
"  --heartbeat MS           a \":\" comment after MS of silence (0: none)\n";

	write_text(fd, text);
}

enum {
	OPT_MAX_TARGET = 256, OPT_MAX_HEADER, OPT_MAX_BODY,
	OPT_REQUEST_TIMEOUT, OPT_IDLE_TIMEOUT, OPT_SEND_TIMEOUT,
	OPT_MAX_OUTPUT, OPT_LINGER_TIMEOUT, OPT_CORS, OPT_MAX_EVENTS,
	OPT_MIN_INTERVAL, OPT_MAX_EVENT_SIZE, OPT_HEARTBEAT, OPT_DRAIN_TIMEOUT,
};

/* The options by name: each one's code (its letter, if it has one) and
 * whether it takes a value.  A letter is the short form of the option
 * whose code it is: "-p 80" is "--port 80". */
static const struct long_option {
	const char *name;
	int opt;
	bool takes_value;
} long_options[] = {
	{ "port", 'p', true },
	{ "bind", 'b', true },
	{ "events", 'n', true },
	{ "interval", 'i', true },
	{ "max-conns", 'c', true },
	{ "workers", 'w', true },
	{ "cors", OPT_CORS, true },
	{ "quiet", 'q', false },
	{ "help", 'h', false },
	{ "version", 'V', false },
	{ "max-target", OPT_MAX_TARGET, true },
	{ "max-header", OPT_MAX_HEADER, true },
	{ "max-body", OPT_MAX_BODY, true },
	{ "request-timeout", OPT_REQUEST_TIMEOUT, true },
	{ "idle-timeout", OPT_IDLE_TIMEOUT, true },
	{ "send-timeout", OPT_SEND_TIMEOUT, true },
	{ "max-output", OPT_MAX_OUTPUT, true },
	{ "linger-timeout", OPT_LINGER_TIMEOUT, true },
	{ "drain-timeout", OPT_DRAIN_TIMEOUT, true },
	{ "max-events", OPT_MAX_EVENTS, true },
	{ "min-interval", OPT_MIN_INTERVAL, true },
	{ "max-event-size", OPT_MAX_EVENT_SIZE, true },
	{ "heartbeat", OPT_HEARTBEAT, true },
};

/* The options that take a whole number: the field of struct config each
 * sets (an unsigned or a size_t) and the bounds it must be within. */
#define NUMBER(opt, name, field, min, max) \
	{ opt, name, offsetof(struct config, field), \
	  sizeof(((struct config *)NULL)->field), min, max }

static const struct number_option {
	int opt;
	const char *name;
	size_t offset, size;
	uint32_t min, max;		/* what decimal_u32() can read */
} number_options[] = {
	NUMBER('p', "-p", port, 0, 65535),
	NUMBER('n', "-n", events, 1, 1000000000),
	NUMBER('i', "-i", interval_ms, 1, DAY_MS),
	NUMBER('c', "-c", max_conns, 1, 10000000),
	NUMBER('w', "-w", workers, 1, MAX_WORKERS),
	NUMBER(OPT_MAX_TARGET, "--max-target", limits.max_target, 16, MIB),
	NUMBER(OPT_MAX_HEADER, "--max-header", limits.max_head, 64, MIB),
	NUMBER(OPT_MAX_BODY, "--max-body", limits.max_body, 0, 64 * MIB),
	NUMBER(OPT_REQUEST_TIMEOUT, "--request-timeout", request_timeout_ms,
	       1, DAY_MS),
	NUMBER(OPT_IDLE_TIMEOUT, "--idle-timeout", idle_timeout_ms, 1, DAY_MS),
	NUMBER(OPT_SEND_TIMEOUT, "--send-timeout", send_timeout_ms, 1, DAY_MS),
	NUMBER(OPT_MAX_OUTPUT, "--max-output", max_output, 4096, 1024 * MIB),
	NUMBER(OPT_LINGER_TIMEOUT, "--linger-timeout", linger_timeout_ms,
	       1, DAY_MS),
	NUMBER(OPT_DRAIN_TIMEOUT, "--drain-timeout", drain_timeout_ms,
	       0, DAY_MS),
	NUMBER(OPT_MAX_EVENTS, "--max-events", max_events, 1, 1000000000),
	NUMBER(OPT_MIN_INTERVAL, "--min-interval", min_interval_ms, 1, DAY_MS),
	NUMBER(OPT_MAX_EVENT_SIZE, "--max-event-size", max_event_size,
	       64, 16 * MIB),
	NUMBER(OPT_HEARTBEAT, "--heartbeat", heartbeat_ms, 0, DAY_MS),
};

/* Sets a number option's field from text s, or exits 2 with one line if
 * s is not a whole number within the option's bounds.  Returns false if
 * opt is not a number option. */
static bool number_option(struct config *cfg, int opt, const char *s)
{
	for (size_t i = 0; i < sizeof(number_options) /
			       sizeof(number_options[0]); i++) {
		const struct number_option *n = &number_options[i];
		char *field = (char *)cfg + n->offset;
		uint32_t v;

		if (n->opt != opt)
			continue;
		/* decimal_u32() saturates at UINT32_MAX, past every max. */
		if (!decimal_u32(s, strlen(s), &v) || v < n->min ||
		    v > n->max) {
			stderr_line("sse: %s: '%s' is not a number from "
				    "%u to %u", n->name, s, n->min, n->max);
			exit(2);
		}
		if (n->size == sizeof(unsigned))
			*(unsigned *)(void *)field = (unsigned)v;
		else
			*(size_t *)(void *)field = (size_t)v;
		return true;
	}
	return false;
}

/* Exits 2 after a mistake on the command line, which stderr_line() has
 * named: the usage follows, as a reminder. */
static _Noreturn void usage_exit(void)
{
	usage(STDERR_FILENO);
	exit(2);
}

/* Acts on option opt, given its value (NULL if it takes none). */
static void option_set(struct config *cfg, int opt, const char *value)
{
	if (value != NULL && number_option(cfg, opt, value))
		return;
	switch (opt) {
	case 'b':
		cfg->addr = value;
		break;
	case OPT_CORS:
		cfg->cors = value;
		break;
	case 'q':
		cfg->quiet = true;
		break;
	case 'h':
		usage(STDOUT_FILENO);
		exit(0);
	case 'V':
		write_text(STDOUT_FILENO, "sse " SSE_VERSION "\n");
		exit(0);
	}
}

/* The long option that name (len bytes) names: the one called that, or
 * else the only one whose name starts so ("--po" for "--port"), as
 * getopt_long() allows.  Exits 2 if there is none or more than one. */
static const struct long_option *long_option_find(const char *arg,
						  const char *name, size_t len)
{
	const struct long_option *found = NULL;
	size_t starts = 0;

	for (size_t i = 0; i < sizeof(long_options) /
			       sizeof(long_options[0]); i++) {
		const struct long_option *o = &long_options[i];
		size_t n = strlen(o->name);

		if (n < len || memcmp(o->name, name, len) != 0)
			continue;
		if (n == len)
			return o;
		found = o;
		starts++;
	}
	if (starts == 1)
		return found;
	stderr_line(starts == 0 ? "sse: unrecognized option '%s'"
				: "sse: option '%s' is ambiguous", arg);
	usage_exit();
}

/* The option whose letter c is, or NULL. */
static const struct long_option *short_option_find(char c)
{
	for (size_t i = 0; i < sizeof(long_options) /
			       sizeof(long_options[0]); i++)
		if (long_options[i].opt == c)
			return &long_options[i];
	return NULL;
}

/* Reads the long option at argv[i], "--name", "--name value" or
 * "--name=value", and acts on it.  Returns the index of the last
 * argument it used. */
static int long_option(struct config *cfg, int argc, char **argv, int i)
{
	const char *name = argv[i] + 2, *value = NULL;
	const char *equals = strchr(name, '=');
	size_t len = equals != NULL ? (size_t)(equals - name) : strlen(name);
	const struct long_option *o = long_option_find(argv[i], name, len);

	if (name[len] == '=') {
		if (!o->takes_value) {
			stderr_line("sse: option '--%s' doesn't allow an "
				    "argument", o->name);
			usage_exit();
		}
		value = name + len + 1;
	} else if (o->takes_value) {
		if (i + 1 == argc) {
			stderr_line("sse: option '--%s' requires an argument",
				    o->name);
			usage_exit();
		}
		value = argv[++i];
	}
	option_set(cfg, o->opt, value);
	return i;
}

/* Reads the short options at argv[i]: one ("-q"), several ("-qV"), and
 * the last perhaps with its value, in the same argument ("-p80", "-qp80")
 * or in the next ("-p 80").  Returns the index of the last argument it
 * used. */
static int short_options(struct config *cfg, int argc, char **argv, int i)
{
	for (const char *p = argv[i] + 1; *p != '\0'; p++) {
		const struct long_option *o = short_option_find(*p);
		char letter[2] = { *p, '\0' };

		if (o == NULL) {
			stderr_line("sse: invalid option -- '%s'", letter);
			usage_exit();
		}
		if (!o->takes_value) {
			option_set(cfg, o->opt, NULL);
			continue;
		}
		if (p[1] != '\0') {
			option_set(cfg, o->opt, p + 1);
		} else if (i + 1 < argc) {
			option_set(cfg, o->opt, argv[++i]);
		} else {
			stderr_line("sse: option requires an argument -- '%s'",
				    letter);
			usage_exit();
		}
		break;
	}
	return i;
}

/* The command line, read the way getopt_long() reads it; not by
 * getopt_long() itself, which in a static build brings stdio and wide
 * characters along for its messages.  Options may come in any order, also
 * after an argument that is not one (a mistake all the same, reported
 * after them), and "--" ends them. */
static void parse_args(int argc, char **argv, struct config *cfg)
{
	const char *stray = NULL;	/* the first argument not an option */

	*cfg = (struct config){
		.addr = "0.0.0.0",
		.port = 3000,
		.events = 5,
		.interval_ms = 1000,
		.workers = 1,
		.limits = { .max_target = 4096, .max_head = 8192,
			    .max_body = 65536 },
		.request_timeout_ms = 10000,
		.idle_timeout_ms = 5000,
		.send_timeout_ms = 10000,
		.linger_timeout_ms = 2000,
		.max_output = 256 * (size_t)1024,
		.max_events = 1000000,
		.min_interval_ms = 1,
		.max_event_size = 65536,
	};
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (strcmp(arg, "--") == 0) {
			if (stray == NULL && i + 1 < argc)
				stray = argv[i + 1];
			break;
		}
		if (arg[0] != '-' || arg[1] == '\0') {
			if (stray == NULL)
				stray = arg;
		} else if (arg[1] == '-') {
			i = long_option(cfg, argc, argv, i);
		} else {
			i = short_options(cfg, argc, argv, i);
		}
	}
	if (stray != NULL) {
		stderr_line("sse: unexpected argument '%s'", stray);
		usage_exit();
	}
	if (cfg->max_output < cfg->max_event_size) {
		stderr_line("sse: --max-output (%zu) must be at least "
			    "--max-event-size (%u)", cfg->max_output,
			    cfg->max_event_size);
		exit(2);
	}
}

/* Opens a socket bound to addr:port, listening unless told not to.  With
 * reuseport several processes may bind the same port, and the kernel
 * spreads new connections over those that listen. */
static int open_listener(const char *addr, unsigned port, bool reuseport,
			 bool listening)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6,
				   .sin6_port = htons((uint16_t)port) };
	struct sockaddr_in a4 = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port) };
	struct sockaddr *sa = (struct sockaddr *)&a4;
	socklen_t len = sizeof(a4);
	int fd, one = 1;

	/* A numeric address only: no resolver, no DNS at start. */
	if (inet_pton(AF_INET6, addr, &a6.sin6_addr) == 1) {
		sa = (struct sockaddr *)&a6;
		len = sizeof(a6);
	} else if (inet_pton(AF_INET, addr, &a4.sin_addr) != 1) {
		stderr_line("sse: -b %s: not an IPv4 or IPv6 address", addr);
		exit(2);
	}
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, sa, len) < 0) {
		stderr_line(sa->sa_family == AF_INET6
			    ? "sse: cannot listen on [%s]:%u: %s"
			    : "sse: cannot listen on %s:%u: %s", addr, port,
			    strerror(errno));
		exit(1);
	}
	/* The kernel caps the backlog at net.core.somaxconn. */
	if (listening && listen(fd, 4096) < 0)
		die("listen");
	return fd;
}

/* The port a socket is bound to: with -p 0, the kernel chose it. */
static unsigned bound_port(int fd)
{
	union {
		struct sockaddr any;
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} a = { 0 };
	socklen_t len = sizeof(a);

	if (getsockname(fd, &a.any, &len) < 0)
		die("getsockname");
	return ntohs(a.any.sa_family == AF_INET6 ? a.v6.sin6_port
						 : a.v4.sin_port);
}

/* Says where the server listens, and returns the port (port 0 asks the
 * kernel for a free one: this is where the caller learns which). */
static unsigned announce(int fd)
{
	union {
		struct sockaddr any;
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} a = { 0 };
	socklen_t len = sizeof(a);
	char host[INET6_ADDRSTRLEN];
	unsigned port;

	if (getsockname(fd, &a.any, &len) < 0)
		die("getsockname");
	if (a.any.sa_family == AF_INET6) {
		http_addr_text(host, sizeof(host), &a.v6.sin6_addr,
			       sizeof(a.v6.sin6_addr));
		port = ntohs(a.v6.sin6_port);
		stderr_line("sse: listening on [%s]:%u", host, port);
	} else {
		http_addr_text(host, sizeof(host), &a.v4.sin_addr,
			       sizeof(a.v4.sin_addr));
		port = ntohs(a.v4.sin_port);
		stderr_line("sse: listening on %s:%u", host, port);
	}
	return port;
}

/* The shared mapping of counters, one slot per worker. */
static struct shared *shared_map(size_t workers)
{
	size_t size = sizeof(struct shared) + workers * sizeof(struct stats);
	struct shared *sh = mmap(NULL, size, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (sh == MAP_FAILED)
		die("mmap");
	sh->started_ms = clock_ms(CLOCK_MONOTONIC);
	sh->workers = workers;
	return sh;
}

/* Adds a descriptor to epoll, with its source as data.ptr. */
static void watch(struct source *s, enum kind kind, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };

	s->kind = kind;
	s->fd = fd;
	if (epoll_ctl(srv.epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll_ctl");
}

/* Descriptors the server keeps besides connections: stdio, epoll, the
 * listener, the timerfd, the signalfd and the spare. */
#define RESERVED_FDS 16

/* Sets up one serving process on the listening socket fd, counting into
 * slot w of the shared counters. */
static void server_init(int fd, size_t w)
{
	struct rlimit rl;
	sigset_t mask;

	/* As many connections as the system lets this process have.  prlimit
	 * rather than setrlimit, which musl makes stop every thread in turn:
	 * code a single-threaded server would carry for nothing. */
	if (prlimit(0, RLIMIT_NOFILE, NULL, &rl) == 0 &&
	    rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		prlimit(0, RLIMIT_NOFILE, &rl, NULL);
	}
	if (prlimit(0, RLIMIT_NOFILE, NULL, &rl) < 0)
		die("prlimit");
	srv.conn_cap = rl.rlim_cur > 1 << 24 ? 1 << 24 : (size_t)rl.rlim_cur;
	srv.max_conns = srv.conn_cap - RESERVED_FDS;
	if (srv.cfg.max_conns != 0 && srv.cfg.max_conns < srv.max_conns)
		srv.max_conns = srv.cfg.max_conns;
	/* Untouched pages cost nothing: the table is paid for as used. */
	srv.conns = calloc(srv.conn_cap, sizeof(*srv.conns));
	srv.in_cap = srv.cfg.limits.max_head + srv.cfg.limits.max_body + 4096;
	/* Room for a response's head and at least one event of the largest
	 * size: conn_stream() sends a batch before it could overflow. */
	srv.scratch_cap = SCRATCH_SIZE;
	if (srv.scratch_cap < srv.cfg.max_event_size + 4096 + 256)
		srv.scratch_cap = srv.cfg.max_event_size + 4096 + 256;
	srv.scratch = malloc(srv.scratch_cap);
	if (srv.conns == NULL || srv.scratch == NULL)
		die("malloc");

	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		die("signal");
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);

	srv.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (srv.epfd < 0)
		die("epoll_create1");
	srv.stats = &srv.shared->slot[w];
	/* Its connections died with the worker that had this slot before. */
	srv.stats->connections = srv.stats->streams_active = 0;
	watch(&srv.listener, KIND_LISTENER, fd);
	watch(&srv.timerfd, KIND_TIMERFD,
	      timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
	watch(&srv.signalfd, KIND_SIGNALFD,
	      signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
	srv.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	srv.now_ms = clock_ms(CLOCK_MONOTONIC);
	srv.armed_ms = UINT64_MAX;
	srv.wait_ms = -1;
	tw_init(&srv.wheel, srv.now_ms);
}

/* ==== workers =========================================================== */

/* Serves until a drain is over; the exit status of a worker process. */
static int serve(int fd, size_t w)
{
	server_init(fd, w);
	while (!srv.draining || srv.nconns > 0)
		loop_turn();
	return 0;
}

/* Forks worker w, which listens on port; parent_fd is the parent's own
 * socket, which the worker does not need.  SIGINT and SIGTERM stay blocked
 * across the fork, so that one arriving before the worker's signalfd
 * exists waits for it instead of killing the worker.  Returns the pid, or
 * 0 if the fork failed. */
static pid_t worker_start(int parent_fd, int port, size_t w)
{
	pid_t parent = getpid(), pid = fork();

	if (pid < 0) {
		stderr_line("sse: fork: %s", strerror(errno));
		return 0;
	}
	if (pid == 0) {
		/* A worker drains when its parent goes, however it went,
		 * even if that was before this line. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			kill(getpid(), SIGTERM);	/* pending until read */
		close(parent_fd);
		srv.worker = true;
		exit(serve(open_listener(srv.cfg.addr, (unsigned)port, true,
					 true), w));
	}
	return pid;
}

/* The parent's view of its workers. */
struct worker {
	pid_t pid;			/* 0: not running */
	uint64_t born_ms, restart_ms;
};

/* Starts worker w now, or if the fork fails, in a second. */
static void worker_spawn(struct worker *wk, int fd, int port, size_t w)
{
	uint64_t now = clock_ms(CLOCK_MONOTONIC);

	wk->pid = worker_start(fd, port, w);
	wk->born_ms = now;
	wk->restart_ms = now + 1000;
}

/* Collects the workers that have exited.  While the server runs each is
 * to be replaced: at once, or after a second if it died within a second
 * of starting, so that a worker that crashes at start cannot spin.
 * Returns false if, during a drain, one did not exit cleanly. */
static bool workers_reap(struct worker *wk, size_t n)
{
	uint64_t now = clock_ms(CLOCK_MONOTONIC);
	bool clean = true;
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (size_t w = 0; w < n; w++) {
			if (wk[w].pid != pid)
				continue;
			wk[w].pid = 0;
			if (srv.draining) {
				clean &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
				break;
			}
			stderr_line("sse: worker %d %s %d; starting another",
				    (int)pid, WIFSIGNALED(st)
				    ? "killed by signal" : "exited with status",
				    WIFSIGNALED(st) ? WTERMSIG(st)
						    : WEXITSTATUS(st));
			wk[w].restart_ms = now - wk[w].born_ms < 1000
				? now + 1000 : now;
		}
	}
	return clean;
}

/* Waits for a signal, or until the earliest restart that is due. */
static int supervise_wait(const struct worker *wk, size_t n,
			  const sigset_t *mask)
{
	uint64_t now = clock_ms(CLOCK_MONOTONIC), next = UINT64_MAX;
	struct timespec wait;
	siginfo_t si;

	for (size_t w = 0; w < n; w++)
		if (wk[w].pid == 0 && wk[w].restart_ms < next)
			next = wk[w].restart_ms;
	if (next == UINT64_MAX || srv.draining)
		return sigwaitinfo(mask, &si);
	next = next > now ? next - now : 0;
	wait.tv_sec = (time_t)(next / 1000);
	wait.tv_nsec = (long)(next % 1000) * 1000000;
	return sigtimedwait(mask, &si, &wait);
}

/* -w N: the parent binds the port (learning it, if -p 0, and finding it
 * taken) without listening on it, forks N workers that each listen on it
 * with SO_REUSEPORT, and then only watches: a worker that dies is
 * replaced, and SIGINT or SIGTERM is passed on to every worker, which
 * drains (a worker that gets the signal twice, from a terminal's Ctrl-C
 * and from the parent, drains once).  The parent exits when they all have:
 * 0 if every one drained cleanly.  A second signal to the parent kills
 * the workers at once, and it exits 1. */
static int supervise(size_t n)
{
	struct worker wk[MAX_WORKERS] = { 0 };
	bool clean = true;
	sigset_t mask;
	int port, fd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	srv.shared = shared_map(n);
	/* A plain bind first: SO_REUSEPORT would share a port in use. */
	fd = open_listener(srv.cfg.addr, srv.cfg.port, false, false);
	port = (int)bound_port(fd);
	close(fd);
	fd = open_listener(srv.cfg.addr, (unsigned)port, true, false);
	announce(fd);			/* the parent keeps the port bound */
	for (size_t w = 0; w < n; w++)
		worker_spawn(&wk[w], fd, port, w);
	for (;;) {
		int sig = supervise_wait(wk, n, &mask);
		size_t alive = 0;

		if ((sig == SIGINT || sig == SIGTERM) && srv.draining) {
			stderr_line("sse: second signal, exiting now");
			for (size_t w = 0; w < n; w++)
				if (wk[w].pid > 0)
					kill(wk[w].pid, SIGKILL);
			return 1;
		}
		if (sig == SIGINT || sig == SIGTERM) {
			srv.draining = true;
			for (size_t w = 0; w < n; w++)
				if (wk[w].pid > 0)
					kill(wk[w].pid, sig);
		}
		clean &= workers_reap(wk, n);
		for (size_t w = 0; w < n; w++) {
			if (wk[w].pid == 0 && !srv.draining &&
			    clock_ms(CLOCK_MONOTONIC) >= wk[w].restart_ms)
				worker_spawn(&wk[w], fd, port, w);
			alive += wk[w].pid > 0;
		}
		if (srv.draining && alive == 0)
			break;
	}
	close(fd);
	return clean ? 0 : 1;
}

#ifndef SSE_NO_MAIN
int main(int argc, char **argv)
{
	parse_args(argc, argv, &srv.cfg);
	if (srv.cfg.workers > 1)
		return supervise(srv.cfg.workers);
	srv.shared = shared_map(1);
	int fd = open_listener(srv.cfg.addr, srv.cfg.port, false, true);

	announce(fd);
	return serve(fd, 0);
}
#endif
