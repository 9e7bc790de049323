/* sseload.c - a load generator for sse: many streams, every byte checked.
 *
 *	usage: bench/sseload [options] http://HOST:PORT/PATH?QUERY
 *	       bench/sseload [options] --publish URL http://HOST:PORT/topics/T
 *
 * The parent forks P worker processes.  Each worker opens its share of the
 * C connections on a schedule (connection i at start + i * ramp / C), sends
 * one request on each and follows every response on one epoll loop, the
 * way sse serves them: each connection is a small state machine, and
 * nothing blocks.  A response is read in three layers: the head (status
 * line and headers), the body's framing (chunked, Content-Length, or until
 * close), and the event stream inside, cut into events at blank lines.
 * Each event's bytes are checked against sse's formats (docs/protocol.md
 * sections 1, 2 and 6), and its arrival is compared with the moment it was
 * due: the request written plus k intervals, the server's own drift-free
 * schedule.
 * On GET /message-stream the stream says its own shape (its opener's
 * retry: is the interval, each event's "(k/N)" the count), so -n and -i
 * are needed only to insist on one.
 *
 * With --publish the streams are subscribers of a hub (docs/protocol.md
 * section 8, or any server that sends a published body as an event's
 * data, as nchan does), and one more process, the publisher, POSTs events to the URL
 * given at a set rate once every subscriber is in.  Each event's body is
 * a line of JSON that says which publish it was (its sequence number on
 * its topic) and the moment it was sent, so every subscriber checks that
 * it got each event of its topic exactly once and in order, whatever the
 * server's ids look like, and each delivery's publish-to-receive time is
 * counted.  Where the events carry ids, they must increase too, and a
 * subscriber that --churn drops comes back with the last one in
 * Last-Event-ID.
 *
 * A worker counts what it sees in one struct result: failures by reason,
 * and event lateness, connect time and time to first byte as log-linear
 * histograms with buckets under 1% wide, so that percentiles over
 * millions of events cost a walk over a few thousand counters.  At the end
 * it writes the result down a pipe; the parent merges them and prints a
 * table (and JSON with --json).  While the workers run they keep a few
 * counters in shared memory, which the parent reads for the progress line
 * and to sample the server's memory when every stream is open (--pid).
 *
 * Any host: a name is resolved once, at start.  For a loopback target the
 * connections are spread over source addresses 127.0.0.2 and up, so that
 * one machine can open more than one address's ephemeral ports; a remote
 * target gets this machine's own address, and as many connections as its
 * port range and descriptor limit allow (the README says how to raise
 * them).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STREAMS_PER_WORKER 18900	/* under 19,000 descriptors each */
#define WAITING_MAX	1024	/* a worker's connections awaiting heads */
#define OPEN_BATCH	64	/* connections opened a turn of the loop */
#define HEAD_MAX	16384	/* longest response head */
#define EVENT_MAX	(1u << 20)	/* longest event */
#define NOTE_LEN	320
#define ID_MAX		64	/* longest event id kept for resuming */
#define PUBCONNS_MAX	64	/* the publisher's connections */
#define STATUS_MAX	600

/* ==== configuration ===================================================== */

enum format { FORMAT_AUTO, FORMAT_API, FORMAT_EVENTSOURCE };

static const char *const format_name[] = {
	[FORMAT_AUTO] = "auto",
	[FORMAT_API] = "api",
	[FORMAT_EVENTSOURCE] = "eventsource",
};

/* Where requests go: the address, resolved once, and what the request
 * line and Host say. */
struct target {
	struct sockaddr_storage addr;
	socklen_t addr_len;
	bool loopback;		/* 127.0.0.0/8 or ::1 */
	bool ipv4;
	char *authority;	/* HOST[:PORT] as in the URL, for Host */
	char *target;		/* /PATH?QUERY; "{}" is the topic */
};

static struct config {
	struct target sub;	/* the streams' */
	const char *method, *body, *shape, *json_path;
	char *headers;		/* the -H lines, each ending in CRLF */
	bool has_content_type;	/* one of them is Content-Type */
	char *request;		/* what every connection sends */
	size_t request_len;

	/* the run */
	uint32_t conns, workers, src;
	int64_t ramp_us, limit_us, start_us;
	pid_t pid;

	/* what each stream should bring: ids first + 1 .. total */
	enum format format;
	bool check;
	bool learn_total, learn_interval;	/* from the stream itself */
	uint32_t total, first, expected, interval_ms, size;

	/* --publish: a hub's subscribers and their publisher */
	bool hub;
	struct target pub;
	char *pub_headers;	/* the --publish-header lines */
	char **sub_request;	/* per topic, without the blank line */
	size_t *sub_request_len;
	uint32_t topics, rate, count, pub_conns, pub_size;
	int64_t churn_us, linger_us;
} cfg = { .conns = 100, .check = true, .topics = 1, .rate = 10,
	  .count = 100, .pub_conns = 8, .linger_us = 5000000 };

/* What the publisher tells the subscribers, in shared memory: when it
 * began and when it was done (0 until then). */
static struct hub_share {
	int64_t start_us, end_us;
	uint64_t published;
} *share;

static volatile sig_atomic_t stop;	/* SIGINT: end the run now */

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ==== histograms ======================================================== */

/* A log-linear histogram of microseconds (HdrHistogram's layout): values
 * under 128 have a bucket each; above, every power of two is cut into 128
 * buckets, so a bucket is under 1% of its values wide.  2^41 us is 25
 * days; anything longer lands in the last bucket. */
#define HIST_SUB_BITS	7
#define HIST_SUB	(1u << HIST_SUB_BITS)
#define HIST_TOP_BIT	40
#define HIST_BUCKETS	((size_t)HIST_SUB * (HIST_TOP_BIT - HIST_SUB_BITS + 2))

struct hist {
	uint64_t count, max_us;
	uint64_t b[HIST_BUCKETS];
};

static size_t hist_index(uint64_t v)
{
	int e;

	if (v < HIST_SUB)
		return (size_t)v;
	e = 63 - __builtin_clzll(v);	/* 2^e <= v < 2^(e+1) */
	if (e > HIST_TOP_BIT)
		return HIST_BUCKETS - 1;
	return HIST_SUB + (size_t)(e - HIST_SUB_BITS) * HIST_SUB +
	       (size_t)(v >> (e - HIST_SUB_BITS)) - HIST_SUB;
}

/* The middle of bucket i. */
static double hist_value(size_t i)
{
	size_t e, sub;
	uint64_t width;

	if (i < HIST_SUB)
		return (double)i;
	e = (i - HIST_SUB) / HIST_SUB + HIST_SUB_BITS;
	sub = (i - HIST_SUB) % HIST_SUB;
	width = 1ull << (e - HIST_SUB_BITS);
	return (double)((HIST_SUB + sub) * width) + (double)(width - 1) / 2;
}

/* Adds one sample; a negative one (an event a hair early, by the server's
 * millisecond clock) counts as 0. */
static void hist_add(struct hist *h, int64_t us)
{
	uint64_t v = us > 0 ? (uint64_t)us : 0;

	h->b[hist_index(v)]++;
	h->count++;
	if (v > h->max_us)
		h->max_us = v;
}

static void hist_merge(struct hist *to, const struct hist *from)
{
	for (size_t i = 0; i < HIST_BUCKETS; i++)
		to->b[i] += from->b[i];
	to->count += from->count;
	if (from->max_us > to->max_us)
		to->max_us = from->max_us;
}

/* The q-quantile (0 < q <= 1) in milliseconds: the middle of the bucket
 * that holds it, never above the largest sample. */
static double hist_ms(const struct hist *h, double q)
{
	uint64_t rank = (uint64_t)(q * (double)h->count + 0.999999), seen = 0;

	if (rank == 0)
		rank = 1;
	for (size_t i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank) {
			double v = hist_value(i);

			return (v < (double)h->max_us ? v : (double)h->max_us) /
			       1000;
		}
	}
	return (double)h->max_us / 1000;
}

/* ==== results =========================================================== */

enum fail {
	FAIL_CONNECT,	/* socket, bind or connect failed */
	FAIL_RESET,	/* refused, reset, or closed before the head */
	FAIL_STATUS,	/* a status other than 200 */
	FAIL_HEADER,	/* a malformed head, or not an event stream */
	FAIL_FRAMING,	/* bad chunks, or bytes after the body */
	FAIL_EVENT,	/* bytes that are not sse's event */
	FAIL_MISSING,	/* the stream ended before its last event */
	FAIL_TIMEOUT,	/* the time limit came first */
	FAIL_LOST,	/* a published event never came (--publish) */
	FAIL_DUPLICATE,	/* one came twice */
	FAIL_ORDER,	/* one came after a later one */
	FAIL_COUNT
};

static const char *const fail_name[FAIL_COUNT] = {
	"connect error", "refused or reset", "bad status", "bad header",
	"bad framing", "bad event bytes", "missing events", "timeout",
	"lost events", "duplicates", "out of order",
};

static const char *const fail_key[FAIL_COUNT] = {
	"connect", "reset", "status", "header", "framing", "event",
	"missing", "timeout", "lost", "duplicate", "order",
};

/* Counters a worker publishes while it runs.  A stream is open from its
 * first bytes to its end, and settled once it has had its first bytes or
 * failed. */
enum count {
	N_OPENED, N_OPEN, N_SETTLED, N_COMPLETED, N_FAILED, N_EVENTS, N_COUNT
};

struct progress {
	uint64_t n[N_COUNT];
} __attribute__((aligned(64)));

/* What one worker saw; the parent adds them up. */
struct result {
	uint64_t n[N_COUNT];
	uint64_t connected, heartbeats;
	uint64_t fail[FAIL_COUNT];
	uint64_t status[STATUS_MAX];	/* bad statuses by code */
	char note[FAIL_COUNT][NOTE_LEN];	/* the first failure of each */
	struct hist late, connect, first_byte;

	/* what a stream learned of its shape (0: nothing) */
	uint32_t total, interval_ms;

	/* --publish: the subscribers' deliveries ... */
	uint64_t deliveries;	/* published events received, repeats too */
	uint64_t distinct;	/* of them, each event once */
	uint64_t lost, duplicates, disorder, jumps, gap_events;
	uint64_t reconnects, replays;
	struct hist delivery;	/* publish to receive */
	/* ... and the publisher's publishes */
	uint64_t pub_sent, pub_ok, pub_failed;
	char pub_note[NOTE_LEN];
	struct hist pub_answer;	/* request sent to answer read */
	struct hist pub_behind;	/* request sent minus due */
};

static void result_merge(struct result *to, const struct result *from)
{
	for (int i = 0; i < N_COUNT; i++)
		to->n[i] += from->n[i];
	to->connected += from->connected;
	to->heartbeats += from->heartbeats;
	for (int i = 0; i < FAIL_COUNT; i++) {
		to->fail[i] += from->fail[i];
		if (to->note[i][0] == '\0')
			memcpy(to->note[i], from->note[i], NOTE_LEN);
	}
	for (int i = 0; i < STATUS_MAX; i++)
		to->status[i] += from->status[i];
	hist_merge(&to->late, &from->late);
	hist_merge(&to->connect, &from->connect);
	hist_merge(&to->first_byte, &from->first_byte);
	if (to->total == 0)
		to->total = from->total;
	if (to->interval_ms == 0)
		to->interval_ms = from->interval_ms;
	to->deliveries += from->deliveries;
	to->distinct += from->distinct;
	to->lost += from->lost;
	to->duplicates += from->duplicates;
	to->disorder += from->disorder;
	to->jumps += from->jumps;
	to->gap_events += from->gap_events;
	to->reconnects += from->reconnects;
	to->replays += from->replays;
	hist_merge(&to->delivery, &from->delivery);
	to->pub_sent += from->pub_sent;
	to->pub_ok += from->pub_ok;
	to->pub_failed += from->pub_failed;
	if (to->pub_note[0] == '\0')
		memcpy(to->pub_note, from->pub_note, NOTE_LEN);
	hist_merge(&to->pub_answer, &from->pub_answer);
	hist_merge(&to->pub_behind, &from->pub_behind);
}

/* Bytes as text for a note: printable ones as they are, the rest
 * escaped, cut short with "..." (a static buffer). */
static const char *esc(const char *p, size_t len)
{
	static char out[80];
	size_t o = 0, i;

	for (i = 0; i < len && o + 8 < sizeof(out); i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch == '\n')
			o += (size_t)sprintf(out + o, "\\n");
		else if (ch == '\r')
			o += (size_t)sprintf(out + o, "\\r");
		else if (ch < 0x20 || ch >= 0x7f || ch == '\\')
			o += (size_t)sprintf(out + o, "\\x%02x", ch);
		else
			out[o++] = (char)ch;
	}
	memcpy(out + o, i < len ? "..." : "", i < len ? 4 : 1);
	return out;
}

/* ==== a worker: its connections ========================================= */

enum conn_state {	/* waits for */
	CONN_NEW,	/* its time to open */
	CONN_CONNECT,	/* writable: the handshake is over */
	CONN_SEND,	/* writable: room for the rest of the request */
	CONN_HEAD,	/* readable: the status line and headers */
	CONN_BODY,	/* readable: the events */
	CONN_DONE,	/* nothing: completed or failed, and closed */
};

enum framing { BODY_CHUNKED, BODY_LENGTH, BODY_CLOSE };

enum chunk {	/* where the chunked decoder is, in wire order */
	CH_SIZE0,	/* a chunk size's first hex digit */
	CH_SIZE,	/* more digits, extensions or the line end */
	CH_EXT,		/* extensions, ignored to the line end */
	CH_SIZE_LF,	/* the LF after the size line's CR */
	CH_DATA,	/* left more bytes of data */
	CH_DATA_CR,	/* the CRLF after the data */
	CH_DATA_LF,
	CH_TRAILER,	/* after the last chunk: trailers, a blank line */
	CH_TRAILER_LINE,
	CH_TRAILER_LF,
	CH_END,		/* the body is over */
};

enum stage {		/* where the event stream is (checked) */
	STAGE_OPENER,	/* ":ok", or "retry: MS\n:ok" */
	STAGE_EVENTS,	/* events and heartbeats */
	STAGE_END,	/* all in (and ":done" for api): only the body end */
};

struct conn {
	int fd;
	uint8_t state, framing, chunk, stage;
	bool started;		/* its first bytes came */
	bool settled;		/* counted in N_SETTLED (once, churn or not) */
	bool line_end;		/* the last body byte ended a line */
	uint32_t sent;		/* request bytes written */
	uint32_t events;	/* events received */
	uint32_t pend_len, pend_cap;
	uint64_t left;		/* bytes left in the chunk or the body */
	int64_t start_us;	/* connect() called */
	int64_t written_us;	/* the request written; events due from */
	char *pend;		/* a head or an event split across reads */

	/* --publish */
	char *req;		/* this connection's request, if its own */
	uint32_t req_len;
	uint32_t topic;		/* the topic it follows */
	uint32_t distinct;	/* events of it received, each once */
	uint32_t high;		/* the highest sequence number seen */
	uint32_t dups, disorder;
	uint8_t *seen;		/* a bit per sequence number */
	int64_t drop_us;	/* --churn: when to drop it */
	int64_t resumed_us;	/* when it last came back */
	bool resumed;
	char last_id[ID_MAX];	/* the last event's id, for resuming */
};

static struct worker {
	int id, epfd;
	struct conn *c;
	uint32_t n;		/* its share of the connections */
	uint32_t next;		/* the next one to open */
	uint32_t waiting;	/* connecting, sending, or before the head */
	uint32_t live;		/* not done yet */
	int64_t now_us;		/* when the bytes in hand were read */
	struct progress *p;
	struct result r;
	char buf[65536];
} w;

/* Connection k of this worker is connection w.id + k * workers of all. */
static uint64_t conn_number(const struct conn *c)
{
	return (uint64_t)w.id + (uint64_t)(c - w.c) * cfg.workers;
}

static uint32_t topic_events(uint32_t topic);

static void conn_end(struct conn *c)
{
	if (c->state == CONN_CONNECT || c->state == CONN_SEND ||
	    c->state == CONN_HEAD)
		w.waiting--;
	if (c->state != CONN_NEW)
		close(c->fd);
	if (c->started)
		w.r.n[N_OPEN]--;
	if (cfg.hub) {
		w.r.lost += topic_events(c->topic) - c->distinct;
		free(c->seen);
		free(c->req);
		c->seen = NULL;
		c->req = NULL;
	}
	free(c->pend);
	c->pend = NULL;
	c->pend_len = c->pend_cap = 0;
	c->state = CONN_DONE;
	w.live--;
}

static void conn_complete(struct conn *c)
{
	w.r.n[N_COMPLETED]++;
	conn_end(c);
}

/* Keeps a note of what went wrong, for the report: the first of each
 * reason only. */
__attribute__((format(printf, 3, 0)))
static void vnote(const struct conn *c, enum fail reason, const char *fmt,
		  va_list ap)
{
	char *note = w.r.note[reason];
	int len;

	if (note[0] != '\0')
		return;
	len = snprintf(note, NOTE_LEN, "stream %" PRIu64 ": ", conn_number(c));
	vsnprintf(note + len, NOTE_LEN - (size_t)len, fmt, ap);
}

__attribute__((format(printf, 3, 4)))
static void note(const struct conn *c, enum fail reason, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnote(c, reason, fmt, ap);
	va_end(ap);
}

/* Ends a connection as failed for reason (its note already taken). */
static void conn_failed(struct conn *c, enum fail reason)
{
	w.r.fail[reason]++;
	w.r.n[N_FAILED]++;
	if (!c->settled) {
		w.r.n[N_SETTLED]++;
		c->settled = true;
	}
	conn_end(c);
}

/* Ends a connection as failed for reason, with a note of why. */
__attribute__((format(printf, 3, 4)))
static void conn_fail(struct conn *c, enum fail reason, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnote(c, reason, fmt, ap);
	va_end(ap);
	conn_failed(c, reason);
}

/* Appends to the connection's pending bytes; false past max. */
static bool pend_add(struct conn *c, const char *p, size_t len, size_t max)
{
	if (c->pend_len + len > max)
		return false;
	if (c->pend_len + len > c->pend_cap) {
		size_t cap = c->pend_cap ? c->pend_cap : 512;
		char *np;

		while (cap < c->pend_len + len)
			cap *= 2;
		np = realloc(c->pend, cap);
		if (np == NULL)
			return false;
		c->pend = np;
		c->pend_cap = (uint32_t)cap;
	}
	memcpy(c->pend + c->pend_len, p, len);
	c->pend_len += (uint32_t)len;
	return true;
}

/* ==== a worker: checking events ========================================= */

/* A cursor for matching an event against its expected form. */
struct scan {
	const char *p, *end;
};

static bool lit(struct scan *s, const char *text)
{
	size_t n = strlen(text);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, text, n) != 0)
		return false;
	s->p += n;
	return true;
}

static bool num(struct scan *s, uint64_t *v)
{
	const char *start = s->p;

	*v = 0;
	while (s->p < s->end && *s->p >= '0' && *s->p <= '9' &&
	       s->p - start < 19)
		*v = *v * 10 + (uint64_t)(*s->p++ - '0');
	return s->p > start;
}

static bool num_is(struct scan *s, uint64_t want)
{
	uint64_t v;

	return num(s, &v) && v == want;
}

/* The rest of an event's JSON: the timestamp, a "pad" member if the
 * stream has a size, the closing brace and the blank line; and the whole
 * event exactly size bytes. */
static bool event_tail(struct scan *s, size_t len)
{
	uint64_t t;

	if (!num(s, &t))
		return false;
	if (lit(s, ",\"pad\":\"")) {
		while (s->p < s->end && *s->p == 'x')
			s->p++;
		if (!lit(s, "\""))
			return false;
	}
	return lit(s, "}\n\n") && s->p == s->end &&
	       (cfg.size == 0 || len == cfg.size);
}

/* POST /api's event (docs/protocol.md section 1). */
static bool api_event_ok(const char *e, size_t len)
{
	struct scan s = { e, e + len };

	return lit(&s, "data: {\"message\":\"Hello, world!\",\"timestamp\":") &&
	       event_tail(&s, len);
}

/* Where the stream's shape came from, for a failure's note: what sseload
 * expected and which flag would change it. */
static const char *total_from, *interval_from;

/* GET /message-stream's event k: "(k/N)" tells N, the stream's length,
 * which the first event of a stream sets if nothing else has (-n, n=). */
static void learn_total(const char *e, size_t len)
{
	const char *p = memmem(e, len, "Hello, world! (", 15);
	struct scan s;
	uint64_t k, n;

	if (!cfg.learn_total || cfg.total != 0 || p == NULL)
		return;
	s = (struct scan){ p + 15, e + len };
	if (num(&s, &k) && lit(&s, "/") && num(&s, &n) && n > 0 &&
	    n <= UINT32_MAX) {
		cfg.total = (uint32_t)n;
		cfg.expected = cfg.total > cfg.first ? cfg.total - cfg.first : 0;
		w.r.total = cfg.total;
		total_from = "learned from the stream's first \"(k/N)\"; -n sets it";
	}
}

/* GET /message-stream's event k of total (docs/protocol.md section 2). */
static bool eventsource_event_ok(const char *e, size_t len, uint32_t k)
{
	struct scan s = { e, e + len };

	return lit(&s, "id: ") && num_is(&s, k) &&
	       lit(&s, "\ndata: {\"user\":\"sse\",") &&
	       lit(&s, "\"text\":\"Hello, world! (") && num_is(&s, k) &&
	       lit(&s, "/") && num_is(&s, cfg.total) &&
	       lit(&s, ")\",\"timestamp\":") && event_tail(&s, len);
}

/* ":ok", after "retry: MS" for eventsource; MS is the interval, which the
 * first opener sets if nothing else has (-i, interval=). */
static bool opener_ok(const char *e, size_t len)
{
	struct scan s = { e, e + len };
	uint64_t ms;

	if (cfg.format == FORMAT_EVENTSOURCE) {
		if (!lit(&s, "retry: ") || !num(&s, &ms) || !lit(&s, "\n"))
			return false;
		if (cfg.interval_ms == 0 && ms > 0 && ms <= 86400000) {
			cfg.interval_ms = (uint32_t)ms;
			w.r.interval_ms = cfg.interval_ms;
			interval_from = "learned from the first opener's retry:; "
					"-i sets it";
		}
		if (ms != cfg.interval_ms)
			return false;
	}
	return lit(&s, ":ok\n\n") && s.p == s.end;
}

static bool is(const char *e, size_t len, const char *text)
{
	return len == strlen(text) && memcmp(e, text, len) == 0;
}

/* An event came: count it and how late it is.  The k-th event of the
 * stream was due k intervals after the request went out. */
static void event_arrived(struct conn *c)
{
	int64_t due;

	c->events++;
	w.r.n[N_EVENTS]++;
	due = c->written_us + (int64_t)c->events * cfg.interval_ms * 1000;
	hist_add(&w.r.late, w.now_us - due);
}

/* --no-check: a block with a data line is an event, any other block a
 * heartbeat (but the first, the opener); n events complete the stream. */
static void event_counted(struct conn *c, const char *e, size_t len)
{
	bool data = len >= 4 && memcmp(e, "data", 4) == 0;

	for (size_t i = 0; !data && i + 5 <= len; i++)
		data = e[i] == '\n' && memcmp(e + i + 1, "data", 4) == 0;
	if (data)
		learn_total(e, len);
	else if (c->stage == STAGE_OPENER && cfg.learn_interval)
		opener_ok(e, len);	/* for its retry: */
	if (data)
		event_arrived(c);
	else if (c->stage == STAGE_EVENTS)
		w.r.heartbeats++;
	c->stage = STAGE_EVENTS;
	if (!(cfg.learn_total && cfg.total == 0) && c->events >= cfg.expected)
		conn_complete(c);
}

/* ==== a worker: checking a hub's events (--publish) ===================== */

/* How many events the publisher sends to topic t: publish k goes to
 * topic k % topics, as its sequence number k / topics + 1 there. */
static uint32_t topic_events(uint32_t t)
{
	return cfg.count / cfg.topics + (t < cfg.count % cfg.topics);
}

/* The fields of one block of an event stream that a subscriber reads: its
 * id, its event type and its first data line (p and length each). */
struct block {
	const char *id, *type, *data;
	size_t id_len, type_len, data_len;
	bool has_data;
};

static void block_fields(const char *e, size_t len, struct block *b)
{
	const char *p = e, *end = e + len;

	memset(b, 0, sizeof(*b));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p), name, vn;
		const char *colon, *v;

		if (n > 0 && p[n - 1] == '\r')
			n--;
		colon = memchr(p, ':', n);
		name = colon ? (size_t)(colon - p) : n;
		v = colon ? colon + 1 : p + n;
		if (v < p + n && *v == ' ')
			v++;
		vn = (size_t)(p + n - v);
		if (name == 4 && memcmp(p, "data", 4) == 0) {
			if (!b->has_data) {
				b->data = v;
				b->data_len = vn;
			}
			b->has_data = true;
		} else if (name == 2 && memcmp(p, "id", 2) == 0) {
			b->id = v;
			b->id_len = vn;
		} else if (name == 5 && memcmp(p, "event", 5) == 0) {
			b->type = v;
			b->type_len = vn;
		}
		p = nl ? nl + 1 : end;
	}
}

/* The number after "KEY": in a published body. */
static bool field(const char *d, size_t len, const char *key, uint64_t *v)
{
	char k[16];
	int kl = snprintf(k, sizeof(k), "\"%s\":", key);
	const char *p = memmem(d, len, k, (size_t)kl);
	struct scan s;

	if (p == NULL)
		return false;
	s = (struct scan){ p + kl, d + len };
	return num(&s, v);
}

/* Orders two ids by their runs of digits, read as numbers, where both
 * have the same shape (sse's "EPOCH-SEQ", nchan's "TIME:N", a plain
 * number): -1, 0 or 1; 2 where the shapes differ and no order can be
 * told. */
static int id_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	size_t i = 0, j = 0;

	while (i < an && j < bn) {
		bool da = a[i] >= '0' && a[i] <= '9';
		bool db = b[j] >= '0' && b[j] <= '9';
		size_t ia, jb;

		if (da != db)
			return 2;
		if (!da) {
			if (a[i++] != b[j++])
				return 2;
			continue;
		}
		while (i < an && a[i] == '0' && i + 1 < an && a[i + 1] >= '0' &&
		       a[i + 1] <= '9')
			i++;
		while (j < bn && b[j] == '0' && j + 1 < bn && b[j + 1] >= '0' &&
		       b[j + 1] <= '9')
			j++;
		for (ia = i; ia < an && a[ia] >= '0' && a[ia] <= '9'; ia++)
			;
		for (jb = j; jb < bn && b[jb] >= '0' && b[jb] <= '9'; jb++)
			;
		if (ia - i != jb - j)
			return ia - i < jb - j ? -1 : 1;
		int d = memcmp(a + i, b + j, ia - i);

		if (d != 0)
			return d < 0 ? -1 : 1;
		i = ia;
		j = jb;
	}
	return i == an && j == bn ? 0 : 2;
}

/* Every event of its topic came: complete, unless one came twice or out
 * of order on the way. */
static void hub_stream_done(struct conn *c)
{
	if (c->dups > 0)
		conn_failed(c, FAIL_DUPLICATE);
	else if (c->disorder > 0)
		conn_failed(c, FAIL_ORDER);
	else
		conn_complete(c);
}

/* A published event came: its publish-to-receive time, and whether it is
 * new (each sequence number once), in order (never below the highest
 * seen, and its id after the last one) or after a jump (some missing, for
 * now). */
static void hub_delivery(struct conn *c, const struct block *b, uint64_t n,
			 uint64_t t)
{
	uint32_t bit = (uint32_t)n - 1;

	w.r.deliveries++;
	w.r.n[N_EVENTS]++;
	hist_add(&w.r.delivery, w.now_us - (int64_t)t);
	if (c->resumed && (int64_t)t < c->resumed_us)
		w.r.replays++;
	if (c->seen[bit / 8] & (1u << bit % 8)) {
		c->dups++;
		w.r.duplicates++;
		note(c, FAIL_DUPLICATE, "event %" PRIu64 " of topic %u came "
		     "again, after %u distinct events", n, c->topic,
		     c->distinct);
	} else {
		c->seen[bit / 8] |= (uint8_t)(1u << bit % 8);
		c->distinct++;
		w.r.distinct++;
		if (n < c->high) {
			c->disorder++;
			w.r.disorder++;
			note(c, FAIL_ORDER, "event %" PRIu64 " of topic %u "
			     "came after event %u", n, c->topic, c->high);
		} else {
			if (n > c->high + 1)
				w.r.jumps++;
			c->high = (uint32_t)n;
			if (b->id != NULL && c->last_id[0] != '\0' &&
			    id_cmp(b->id, b->id_len, c->last_id,
				   strlen(c->last_id)) <= 0) {
				c->disorder++;
				w.r.disorder++;
				note(c, FAIL_ORDER, "event %" PRIu64 "'s id %s "
				     "is not after the last one, %s", n,
				     esc(b->id, b->id_len), c->last_id);
			}
		}
	}
	if (b->id != NULL && b->id_len < ID_MAX) {
		memcpy(c->last_id, b->id, b->id_len);
		c->last_id[b->id_len] = '\0';
	}
	if (c->distinct == topic_events(c->topic))
		hub_stream_done(c);
}

/* One block of a subscriber's stream: an opener or a heartbeat (no
 * data), a gap event (the server says some are gone), or an event the
 * publisher sent, which must be one of this topic's. */
static void hub_event(struct conn *c, const char *e, size_t len)
{
	struct block b;
	uint64_t topic, n, t;

	block_fields(e, len, &b);
	if (b.type_len == 3 && memcmp(b.type, "gap", 3) == 0) {
		w.r.gap_events++;
		return;
	}
	if (!b.has_data) {
		if (c->stage == STAGE_EVENTS)
			w.r.heartbeats++;
		c->stage = STAGE_EVENTS;
		return;
	}
	c->stage = STAGE_EVENTS;
	if (!field(b.data, b.data_len, "topic", &topic) ||
	    !field(b.data, b.data_len, "n", &n) ||
	    !field(b.data, b.data_len, "t", &t)) {
		conn_fail(c, FAIL_EVENT, "not an event sseload published (its "
			  "data has no \"topic\", \"n\" and \"t\"): %s",
			  esc(e, len));
		return;
	}
	if (topic != c->topic || n == 0 || n > topic_events(c->topic)) {
		conn_fail(c, FAIL_EVENT, "event %" PRIu64 " of topic %" PRIu64
			  ", expected one of topic %u's events 1 to %u: %s", n,
			  topic, c->topic, topic_events(c->topic),
			  esc(e, len));
		return;
	}
	hub_delivery(c, &b, n, t);
}

/* One block of the event stream, e[0..len) with its blank line: the
 * opener, an event, a heartbeat, or (api) ":done". */
static void event(struct conn *c, const char *e, size_t len)
{
	bool api = cfg.format == FORMAT_API;
	uint32_t k;

	if (cfg.hub) {
		hub_event(c, e, len);
		return;
	}
	if (!cfg.check) {
		event_counted(c, e, len);
		return;
	}
	if (c->stage == STAGE_OPENER) {
		if (opener_ok(e, len))
			c->stage = STAGE_EVENTS;
		else if (api)
			conn_fail(c, FAIL_EVENT, "opener %s, expected \":ok\"",
				  esc(e, len));
		else
			conn_fail(c, FAIL_EVENT, "opener %s, expected "
				  "\"retry: %u\" (the interval in ms, %s) "
				  "then \":ok\"", esc(e, len),
				  cfg.interval_ms, interval_from);
		return;
	}
	if (is(e, len, ":\n\n")) {
		w.r.heartbeats++;
		return;
	}
	if (!api)
		learn_total(e, len);
	k = cfg.first + c->events + 1;
	if (c->stage == STAGE_END) {
		conn_fail(c, FAIL_EVENT, "after the end: %s", esc(e, len));
	} else if (api && is(e, len, ":done\n\n")) {
		if (c->events < cfg.expected)
			conn_fail(c, FAIL_MISSING, ":done after %u of %u "
				  "events (%s)", c->events, cfg.expected,
				  total_from);
		else
			c->stage = STAGE_END;
	} else if (c->events >= cfg.expected) {
		conn_fail(c, FAIL_EVENT, "more than %u events (%s): %s",
			  cfg.expected, total_from, esc(e, len));
	} else if (api && !api_event_ok(e, len)) {
		conn_fail(c, FAIL_EVENT, "event %u: %s, expected "
			  "docs/protocol.md section 1's event%s", k, esc(e, len),
			  cfg.size ? " of size= bytes" : "");
	} else if (!api && !eventsource_event_ok(e, len, k)) {
		conn_fail(c, FAIL_EVENT, "event %u: %s, expected \"id: %u\" "
			  "and \"(%u/%u)\" (N: %s)%s", k, esc(e, len), k, k,
			  cfg.total, total_from,
			  cfg.size ? ", of size= bytes" : "");
	} else {
		event_arrived(c);
		if (!api && c->events == cfg.expected)
			c->stage = STAGE_END;
	}
}

/* Where the event that begins at p ends: just past the blank line, or 0
 * if it does not end in p[0..len).  Lines end in "\n"; a "\r" before it
 * is ignored, so "\r\n\r\n" ends an event too.  Whether the last byte
 * seen ended a line carries over to the next call. */
static size_t event_end(struct conn *c, const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\n') {
			if (c->line_end) {
				c->line_end = false;
				return i + 1;
			}
			c->line_end = true;
		} else if (p[i] != '\r') {
			c->line_end = false;
		}
	}
	return 0;
}

/* Cuts body bytes into events.  An event whole in p is checked where it
 * is; one split across reads or chunks is gathered in pend first. */
static void events_feed(struct conn *c, const char *p, size_t len)
{
	while (len > 0 && c->state == CONN_BODY) {
		size_t end = event_end(c, p, len);

		if (end == 0) {
			if (!pend_add(c, p, len, EVENT_MAX))
				conn_fail(c, FAIL_EVENT, "an event over %u "
					  "bytes", EVENT_MAX);
			return;
		}
		if (c->pend_len == 0) {
			event(c, p, end);
		} else if (pend_add(c, p, end, EVENT_MAX)) {
			size_t n = c->pend_len;

			c->pend_len = 0;	/* event() may free pend */
			event(c, c->pend, n);
		} else {
			conn_fail(c, FAIL_EVENT, "an event over %u bytes",
				  EVENT_MAX);
		}
		p += end;
		len -= end;
	}
}

/* ==== a worker: the body ================================================ */

/* The body is over: the stream is complete if it brought every event (and
 * for api ":done"). */
static void stream_end(struct conn *c, const char *how)
{
	if (cfg.hub)
		conn_fail(c, FAIL_RESET, "%s after %u of topic %u's %u events",
			  how, c->distinct, c->topic, topic_events(c->topic));
	else if (cfg.learn_total && cfg.total == 0)
		conn_fail(c, FAIL_MISSING, "%s before the first event, whose "
			  "\"(k/N)\" says how many are due (-n sets it)", how);
	else if (c->events < cfg.expected)
		conn_fail(c, FAIL_MISSING, "%s after %u of %u events (%s)", how,
			  c->events, cfg.expected, total_from);
	else if (cfg.check && c->stage != STAGE_END)
		conn_fail(c, FAIL_MISSING, "%s without :done", how);
	else if (c->pend_len > 0)
		conn_fail(c, FAIL_EVENT, "%s inside an event", how);
	else
		conn_complete(c);
}

/* The framing says the body is over; extra[0..len) came after it.  One
 * request was sent, so nothing may follow its response. */
static void body_end(struct conn *c, const char *extra, size_t len)
{
	if (cfg.check && len > 0)
		conn_fail(c, FAIL_FRAMING, "%zu bytes after the body: %s", len,
			  esc(extra, len));
	else
		stream_end(c, "the body ended");
}

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* The size line is over: data follows, or after size 0 the trailers. */
static bool chunk_sized(struct conn *c)
{
	c->chunk = c->left == 0 ? CH_TRAILER : CH_DATA;
	return true;
}

/* One byte of chunked framing outside the data, in wire order; false if
 * it cannot be there.  A bare LF is accepted where CRLF belongs. */
static bool chunk_byte(struct conn *c, char ch)
{
	int d = hex_digit(ch);

	switch ((enum chunk)c->chunk) {
	case CH_SIZE0:
		if (d < 0)
			return false;
		c->left = (uint64_t)d;
		c->chunk = CH_SIZE;
		return true;
	case CH_SIZE:
		if (d >= 0 && c->left >> 56 == 0) {
			c->left = c->left * 16 + (uint64_t)d;
			return true;
		}
		if (ch == '\r')
			c->chunk = CH_SIZE_LF;
		else if (ch == '\n')
			return chunk_sized(c);
		else if (ch == ';' || ch == ' ' || ch == '\t')
			c->chunk = CH_EXT;
		else
			return false;
		return true;
	case CH_EXT:
		return ch == '\n' ? chunk_sized(c) : true;
	case CH_SIZE_LF:
		return ch == '\n' && chunk_sized(c);
	case CH_DATA_CR:
		if (ch == '\r')
			c->chunk = CH_DATA_LF;
		else if (ch == '\n')
			c->chunk = CH_SIZE0;
		else
			return false;
		return true;
	case CH_DATA_LF:
		c->chunk = CH_SIZE0;
		return ch == '\n';
	case CH_TRAILER:
		c->chunk = ch == '\r' ? CH_TRAILER_LF :
			   ch == '\n' ? CH_END : CH_TRAILER_LINE;
		return true;
	case CH_TRAILER_LINE:
		if (ch == '\n')
			c->chunk = CH_TRAILER;
		return true;
	case CH_TRAILER_LF:
		c->chunk = CH_END;
		return ch == '\n';
	case CH_DATA:
	case CH_END:
		break;	/* the caller's */
	}
	return false;
}

/* Follows chunked framing over p[0..len), handing each run of chunk data
 * to the event splitter as it comes: a resumable decoder, as
 * picohttpparser's phr_decode_chunked. */
static void chunked_feed(struct conn *c, const char *p, size_t len)
{
	size_t i = 0;

	while (i < len && c->state == CONN_BODY) {
		if (c->chunk == CH_DATA) {
			size_t n = len - i < c->left ? len - i : c->left;

			c->left -= n;
			if (c->left == 0)
				c->chunk = CH_DATA_CR;
			events_feed(c, p + i, n);
			i += n;
		} else if (!chunk_byte(c, p[i++])) {
			conn_fail(c, FAIL_FRAMING, "chunk framing at %s",
				  esc(p + i - 1, len - i + 1));
		} else if (c->chunk == CH_END) {
			body_end(c, p + i, len - i);
		}
	}
}

static void body_feed(struct conn *c, const char *p, size_t len)
{
	size_t n;

	switch ((enum framing)c->framing) {
	case BODY_CHUNKED:
		chunked_feed(c, p, len);
		break;
	case BODY_LENGTH:
		n = len < c->left ? len : c->left;
		c->left -= n;
		events_feed(c, p, n);
		if (c->state == CONN_BODY && c->left == 0)
			body_end(c, p + n, len - n);
		break;
	case BODY_CLOSE:
		events_feed(c, p, len);
		break;
	}
}

/* ==== a worker: churn (--churn) ========================================= */

/* A subscriber stays between 0 and twice --churn, evenly at random
 * (xorshift64, seeded per worker), so that drops fall at any moment
 * relative to the publishes. */
static uint64_t rng_state;

static int64_t churn_delay(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (int64_t)(rng_state % (uint64_t)(2 * cfg.churn_us + 1));
}

static void conn_open(struct conn *c);

/* Drops a subscriber's connection and opens it again at once, to resume
 * after the last event it got. */
static void conn_drop(struct conn *c)
{
	close(c->fd);
	if (c->started)
		w.r.n[N_OPEN]--;
	w.r.reconnects++;
	c->started = false;
	c->line_end = false;
	c->stage = STAGE_OPENER;
	c->chunk = CH_SIZE0;
	c->sent = 0;
	c->pend_len = 0;
	c->resumed = true;
	c->resumed_us = now_us();
	c->state = CONN_NEW;
	conn_open(c);
}

/* Drops the subscribers whose time has come, while the publisher has not
 * finished (after that, each waits only for what it still lacks).  Only
 * a subscriber with an id to come back with: one without would come back
 * to live events only (docs/protocol.md section 8), and lose, by design,
 * whatever was published while it was away.  So on a server that sends no ids there
 * is no churn. */
static void churn(int64_t now)
{
	if (__atomic_load_n(&share->end_us, __ATOMIC_RELAXED) != 0)
		return;
	for (uint32_t k = 0; k < w.n; k++)
		if (w.c[k].state == CONN_BODY && w.c[k].drop_us <= now &&
		    w.c[k].last_id[0] != '\0')
			conn_drop(&w.c[k]);
}

/* ==== a worker: the response head ======================================= */

struct head {
	bool chunked, has_length, event_stream;
	uint64_t length;
};

/* "HTTP/1.x SSS": the status, or -1. */
static int status_of(const char *h, size_t len)
{
	if (len < 13 || memcmp(h, "HTTP/1.", 7) != 0 || h[7] < '0' ||
	    h[7] > '9' || h[8] != ' ' || h[9] < '1' || h[9] > '5' ||
	    h[10] < '0' || h[10] > '9' || h[11] < '0' || h[11] > '9' ||
	    (h[12] != ' ' && h[12] != '\r' && h[12] != '\n'))
		return -1;
	return (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
}

static bool name_is(const char *p, size_t len, const char *name)
{
	return len == strlen(name) && strncasecmp(p, name, len) == 0;
}

/* One header line p[0..len), without its line end: notes what it says
 * about the body.  False (and c failed) if it is malformed. */
static bool header_line(struct conn *c, const char *p, size_t len,
			struct head *h)
{
	const char *colon = memchr(p, ':', len), *v, *end = p + len;
	size_t name_len, n;

	if (colon == NULL || colon == p) {
		conn_fail(c, FAIL_HEADER, "header line %s", esc(p, len));
		return false;
	}
	name_len = (size_t)(colon - p);
	for (v = colon + 1; v < end && (*v == ' ' || *v == '\t'); v++)
		;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	n = (size_t)(end - v);
	if (name_is(p, name_len, "Content-Type")) {
		h->event_stream = n >= 17 &&
			strncasecmp(v, "text/event-stream", 17) == 0 &&
			(n == 17 || v[17] == ';' || v[17] == ' ');
	} else if (name_is(p, name_len, "Transfer-Encoding")) {
		if (!name_is(v, n, "chunked")) {
			conn_fail(c, FAIL_HEADER, "%s", esc(p, len));
			return false;
		}
		h->chunked = true;
	} else if (name_is(p, name_len, "Content-Length")) {
		struct scan s = { v, end };

		if (!num(&s, &h->length) || s.p != end) {
			conn_fail(c, FAIL_HEADER, "%s", esc(p, len));
			return false;
		}
		h->has_length = true;
	}
	return true;
}

enum head_result { HEAD_MORE, HEAD_OK, HEAD_INTERIM, HEAD_BAD };

/* Parses a whole response head, p[0..len) ending in its blank line: the
 * status, then the headers that say how the body is framed and that it is
 * an event stream. */
static enum head_result head_parse(struct conn *c, const char *p, size_t len)
{
	const char *line = (const char *)memchr(p, '\n', len) + 1;
	const char *end = p + len;
	int status = status_of(p, len);
	struct head h = { 0 };

	if (status < 0) {
		conn_fail(c, FAIL_HEADER, "status line %s", esc(p, len));
		return HEAD_BAD;
	}
	if (status < 200)
		return HEAD_INTERIM;	/* 100 Continue and the like */
	if (status != 200) {
		w.r.status[status]++;
		conn_fail(c, FAIL_STATUS, "%s", esc(p, (size_t)(line - p)));
		return HEAD_BAD;
	}
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t n = (size_t)(nl - line);

		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (n == 0)
			break;
		if (!header_line(c, line, n, &h))
			return HEAD_BAD;
		line = nl + 1;
	}
	if (h.chunked && h.has_length) {
		conn_fail(c, FAIL_HEADER, "both Transfer-Encoding and "
			  "Content-Length");
		return HEAD_BAD;
	}
	if (cfg.check && !h.event_stream) {
		conn_fail(c, FAIL_HEADER, "Content-Type is not "
			  "text/event-stream");
		return HEAD_BAD;
	}
	c->framing = h.chunked ? BODY_CHUNKED :
		     h.has_length ? BODY_LENGTH : BODY_CLOSE;
	c->left = h.length;
	return HEAD_OK;
}

/* Where the head in p[0..len) ends, just past its blank line, looking
 * from from on; 0 if not there yet. */
static size_t head_end(const char *p, size_t len, size_t from)
{
	for (size_t i = from; i < len; i++) {
		if (p[i] != '\n')
			continue;
		if (i + 1 < len && p[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && p[i + 1] == '\r' && p[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* Looks for a whole head: in p, or in what pend holds followed by p.
 * The head usually comes whole in one read and is parsed where it is; one
 * split across reads is gathered in pend.  *used says how many bytes of p
 * the head took. */
static enum head_result head_take(struct conn *c, const char *p, size_t len,
				  size_t *used)
{
	size_t old = c->pend_len, end = old ? 0 : head_end(p, len, 0);
	const char *h = p;
	enum head_result r;

	if (end == 0) {
		if (!pend_add(c, p, len, HEAD_MAX)) {
			conn_fail(c, FAIL_HEADER, "a head over %u bytes",
				  HEAD_MAX);
			return HEAD_BAD;
		}
		end = head_end(c->pend, c->pend_len, old > 3 ? old - 3 : 0);
		if (end == 0)
			return HEAD_MORE;
		h = c->pend;
	}
	*used = end - old;	/* the head ends in the new bytes */
	r = head_parse(c, h, end);
	if (r != HEAD_BAD)
		c->pend_len = 0;
	return r;
}

/* Bytes in the head state: interim (1xx) heads are skipped, and what
 * follows the response's head is the body's. */
static void head_feed(struct conn *c, const char *p, size_t len)
{
	enum head_result r = HEAD_INTERIM;
	size_t used = 0;

	while (r == HEAD_INTERIM) {
		p += used;
		len -= used;
		r = head_take(c, p, len, &used);
	}
	if (r != HEAD_OK)
		return;
	c->state = CONN_BODY;
	w.waiting--;
	if (cfg.churn_us > 0)
		c->drop_us = w.now_us + churn_delay();
	if (c->framing == BODY_LENGTH && c->left == 0)
		body_end(c, p + used, len - used);
	else
		body_feed(c, p + used, len - used);
}

/* ==== a worker: the socket ============================================== */

/* Connection i binds to 127.0.0.(2 + i % src), any port, so that the
 * ephemeral ports of src addresses are shared out and never run out.
 * IP_BIND_ADDRESS_NO_PORT leaves the port to connect(), which needs it
 * unique per destination only. */
static int bind_source(int fd, uint64_t i)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int one = 1;

	a.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)(2 + i % cfg.src));
	/* Without it (before Linux 4.2) bind() picks the port: fewer ports. */
	(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
			 sizeof(one));
	return bind(fd, (struct sockaddr *)&a, sizeof(a));
}

/* A subscriber's request: its topic's, with Last-Event-ID when it comes
 * back after --churn dropped it. */
static bool hub_request(struct conn *c)
{
	char resume[ID_MAX + 32] = "";
	int n;

	free(c->req);
	c->req = NULL;
	if (c->resumed && c->last_id[0] != '\0')
		snprintf(resume, sizeof(resume), "Last-Event-ID: %s\r\n",
			 c->last_id);
	n = asprintf(&c->req, "%s%s\r\n", cfg.sub_request[c->topic], resume);
	if (n < 0) {
		c->req = NULL;
		conn_fail(c, FAIL_CONNECT, "out of memory");
		return false;
	}
	c->req_len = (uint32_t)n;
	return true;
}

/* Starts a non-blocking connect; epoll says when it is over. */
static void conn_open(struct conn *c)
{
	struct epoll_event ev = { .events = EPOLLOUT,
				  .data.u32 = (uint32_t)(c - w.c) };

	w.r.n[N_OPENED]++;
	c->start_us = now_us();
	if (cfg.hub && !hub_request(c))
		return;
	c->fd = socket(cfg.sub.addr.ss_family,
		       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		conn_fail(c, FAIL_CONNECT, "socket: %s", strerror(errno));
		return;
	}
	c->state = CONN_CONNECT;
	w.waiting++;
	if (cfg.src > 0 && bind_source(c->fd, conn_number(c)) < 0) {
		conn_fail(c, FAIL_CONNECT, "bind: %s", strerror(errno));
		return;
	}
	if (connect(c->fd, (struct sockaddr *)&cfg.sub.addr,
		    cfg.sub.addr_len) < 0 &&
	    errno != EINPROGRESS) {
		conn_fail(c, errno == ECONNREFUSED ? FAIL_RESET : FAIL_CONNECT,
			  "connect: %s", strerror(errno));
		return;
	}
	if (epoll_ctl(w.epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		conn_fail(c, FAIL_CONNECT, "epoll_ctl: %s", strerror(errno));
}

/* Writes what is left of the request; once it is all out, the events'
 * schedule starts and the connection waits to read. */
static void conn_send(struct conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN,
				  .data.u32 = (uint32_t)(c - w.c) };
	const char *req = c->req ? c->req : cfg.request;
	size_t len = c->req ? c->req_len : cfg.request_len;
	ssize_t n = send(c->fd, req + c->sent, len - c->sent, MSG_NOSIGNAL);

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			conn_fail(c, FAIL_RESET, "send: %s", strerror(errno));
		return;
	}
	c->sent += (uint32_t)n;
	if (c->sent < len)
		return;
	c->written_us = now_us();
	c->state = CONN_HEAD;
	if (epoll_ctl(w.epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		conn_fail(c, FAIL_CONNECT, "epoll_ctl: %s", strerror(errno));
}

/* The handshake is over, or failed. */
static void conn_connected(struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err != 0) {
		conn_fail(c, err == ECONNREFUSED ? FAIL_RESET : FAIL_CONNECT,
			  "connect: %s", strerror(err));
		return;
	}
	hist_add(&w.r.connect, now_us() - c->start_us);
	w.r.connected++;
	c->state = CONN_SEND;
	conn_send(c);
}

/* The server closed its side. */
static void conn_eof(struct conn *c)
{
	if (c->state == CONN_HEAD)
		conn_fail(c, FAIL_RESET, "closed before the response head");
	else if (c->framing == BODY_CLOSE || cfg.hub)
		stream_end(c, "closed");
	else if (c->events < cfg.expected || c->stage != STAGE_END)
		stream_end(c, "closed before the body's end");
	else
		conn_fail(c, FAIL_FRAMING, "closed before the body's end");
}

/* One read, handed to the head or the body; level-triggered epoll calls
 * again if more is waiting. */
static void conn_read(struct conn *c)
{
	ssize_t n = read(c->fd, w.buf, sizeof(w.buf));

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			conn_fail(c, FAIL_RESET, "read after %u events: %s",
				  c->events, strerror(errno));
		return;
	}
	w.now_us = now_us();
	if (n == 0) {
		conn_eof(c);
		return;
	}
	if (!c->started) {
		hist_add(&w.r.first_byte, w.now_us - c->written_us);
		c->started = true;
		w.r.n[N_OPEN]++;
		if (!c->settled) {
			w.r.n[N_SETTLED]++;
			c->settled = true;
		}
	}
	if (c->state == CONN_HEAD)
		head_feed(c, w.buf, (size_t)n);
	else
		body_feed(c, w.buf, (size_t)n);
}

static void conn_event(struct conn *c)
{
	switch ((enum conn_state)c->state) {
	case CONN_CONNECT:
		conn_connected(c);
		break;
	case CONN_SEND:
		conn_send(c);
		break;
	case CONN_HEAD:
	case CONN_BODY:
		conn_read(c);
		break;
	case CONN_NEW:
	case CONN_DONE:
		break;	/* stale: closed earlier in the same batch */
	}
}

/* ==== a worker: the loop ================================================ */

/* Connection k of this worker opens at start + i * ramp / conns, i being
 * its number among all. */
static int64_t open_due(uint32_t k)
{
	uint64_t i = (uint64_t)w.id + (uint64_t)k * cfg.workers;

	return cfg.start_us + (int64_t)((uint64_t)cfg.ramp_us * i / cfg.conns);
}

/* Opens the connections whose time has come: at most OPEN_BATCH a turn,
 * so that the loop sees handshakes end between batches (and connect times
 * stay the kernel's, not the loop's), and while fewer than WAITING_MAX
 * wait for their heads, so that a slow server sees a steady queue rather
 * than a flood of SYNs.  Returns when the loop should next wake to open. */
static int64_t open_due_conns(int64_t now)
{
	for (int batch = 0; w.next < w.n; batch++) {
		int64_t due = open_due(w.next);

		if (due > now)
			return due;
		if (w.waiting >= WAITING_MAX)
			return INT64_MAX;	/* an event wakes the loop */
		if (batch == OPEN_BATCH)
			return now;
		conn_open(&w.c[w.next++]);
	}
	return INT64_MAX;
}

static void publish(void)
{
	for (int i = 0; i < N_COUNT; i++)
		__atomic_store_n(&w.p->n[i], w.r.n[i], __ATOMIC_RELAXED);
}

/* The loop: open what is due, wait for the sockets or the next opening,
 * serve each socket's event, publish the counters.  Until every
 * connection is done, the time limit, or SIGINT. */
static int64_t worker_deadline(void)
{
	int64_t end;

	if (cfg.hub) {	/* the publisher's end, and a while for the rest */
		end = __atomic_load_n(&share->end_us, __ATOMIC_RELAXED);
		if (end != 0 && end + cfg.linger_us < cfg.start_us + cfg.limit_us)
			return end + cfg.linger_us;
	} else if (cfg.limit_us < 0) {	/* -t not given: by the shape */
		return cfg.start_us + cfg.ramp_us + 10000000 +
		       (int64_t)(cfg.expected ? cfg.expected : 1000) *
		       (cfg.interval_ms ? cfg.interval_ms : 1000) * 1000;
	}
	return cfg.start_us + cfg.limit_us;
}

static void worker_loop(void)
{
	struct epoll_event ev[512];

	while (w.live > 0 && !stop) {
		int64_t now = now_us(), next = open_due_conns(now);
		int64_t deadline = worker_deadline();
		int n, ms;

		if (now >= deadline)
			break;
		if (cfg.churn_us > 0)
			churn(now);
		if (cfg.hub && next > now + 20000)
			next = now + 20000;	/* the publisher's end, churn */
		if (next > deadline)
			next = deadline;
		ms = next <= now ? 0 : (int)((next - now + 999) / 1000);
		n = epoll_wait(w.epfd, ev, 512, ms);
		for (int i = 0; i < n; i++)
			conn_event(&w.c[ev[i].data.u32]);
		publish();
	}
}

/* The lowest sequence number a subscriber has not had. */
static uint32_t first_missing(const struct conn *c)
{
	uint32_t n = 0;

	while (n < topic_events(c->topic) && c->seen[n / 8] & (1u << n % 8))
		n++;
	return n + 1;
}

/* What a stream still waited for when the run ended. */
static void conn_time_out(struct conn *c)
{
	const char *why = stop ? "interrupted" : "time limit";

	switch ((enum conn_state)c->state) {
	case CONN_NEW:
		conn_fail(c, FAIL_TIMEOUT, "%s: never opened", why);
		break;
	case CONN_CONNECT:
	case CONN_SEND:
		conn_fail(c, FAIL_TIMEOUT, "%s: still connecting", why);
		break;
	case CONN_HEAD:
		conn_fail(c, FAIL_TIMEOUT, "%s: no response head", why);
		break;
	case CONN_BODY:
		if (cfg.hub && share->end_us != 0)
			conn_fail(c, FAIL_LOST, "lost %u of topic %u's %u "
				  "events; the first: %u", topic_events(c->topic)
				  - c->distinct, c->topic,
				  topic_events(c->topic), first_missing(c));
		else if (cfg.hub)
			conn_fail(c, FAIL_TIMEOUT, "%s: after %u of topic %u's "
				  "%u events, before the publisher was done",
				  why, c->distinct, c->topic,
				  topic_events(c->topic));
		else
			conn_fail(c, FAIL_TIMEOUT, "%s: after %u of %u events",
				  why, c->events, cfg.expected);
		break;
	case CONN_DONE:
		break;
	}
}

static void write_all(int fd, const void *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(1);
		p = (const char *)p + n;
		len -= (size_t)n;
	}
}

/* A worker: its share of the connections, from the first connect to the
 * result written to out. */
__attribute__((noreturn))
static void worker_main(int id, struct progress *p, int out)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	w.id = id;
	w.p = p;
	w.n = cfg.conns / cfg.workers +
	      ((uint32_t)id < cfg.conns % cfg.workers);
	w.live = w.n;
	w.c = calloc(w.n, sizeof(*w.c));
	w.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w.c == NULL || w.epfd < 0) {
		perror("sseload: worker");
		_exit(1);
	}
	rng_state = 0x9e3779b97f4a7c15ull ^ ((uint64_t)id << 32) ^
		    (uint64_t)now_us();
	for (uint32_t k = 0; cfg.hub && k < w.n; k++) {
		struct conn *c = &w.c[k];

		c->topic = (uint32_t)(conn_number(c) % cfg.topics);
		c->seen = calloc(topic_events(c->topic) / 8 + 1, 1);
		if (c->seen == NULL) {
			perror("sseload: worker");
			_exit(1);
		}
	}
	worker_loop();
	for (uint32_t k = 0; k < w.n; k++)
		conn_time_out(&w.c[k]);
	publish();
	write_all(out, &w.r, sizeof(w.r));
	_exit(0);
}

/* ==== the publisher (--publish) ========================================= */

/* The publisher keeps a few keep-alive connections to the publish URL and
 * sends publish k, due at start + k / rate, on one that is free, but never
 * two to the same topic at once, so that a topic's order on the server is
 * its sequence numbers' order.  A server that answers a publish only once
 * every subscriber has it queued (nchan) holds its connection that long:
 * how far the publishes fell behind schedule says so. */

enum pc_state {	/* waits for */
	PC_CLOSED,	/* a publish, to connect */
	PC_CONNECT,	/* writable: the handshake is over */
	PC_SEND,	/* writable: room for the rest of the request */
	PC_READ,	/* readable: the answer */
	PC_IDLE,	/* a publish */
};

struct pubconn {
	int fd;
	uint8_t state;
	uint32_t topic;		/* of the publish in flight */
	uint64_t k;		/* the publish in flight */
	int64_t sent_us;	/* its request began */
	char *req;
	size_t req_len, sent, got;
	char resp[8192];
};

static struct publisher {
	int epfd;
	struct pubconn pc[PUBCONNS_MAX];
	uint8_t *busy;		/* a publish in flight, per topic */
	uint32_t inflight;
	struct result r;
} pub;

/* A URL's target with "{}" made the topic's number. */
static char *expand(const char *tmpl, uint32_t topic)
{
	const char *at = strstr(tmpl, "{}");
	char *out;

	if (at == NULL)
		return strdup(tmpl);
	if (asprintf(&out, "%.*s%u%s", (int)(at - tmpl), tmpl, topic,
		     at + 2) < 0)
		return NULL;
	return out;
}

__attribute__((format(printf, 2, 3)))
static void pub_note(uint64_t k, const char *fmt, ...)
{
	va_list ap;
	int len;

	if (pub.r.pub_note[0] != '\0')
		return;
	len = snprintf(pub.r.pub_note, NOTE_LEN, "publish %" PRIu64 ": ", k);
	va_start(ap, fmt);
	vsnprintf(pub.r.pub_note + len, NOTE_LEN - (size_t)len, fmt, ap);
	va_end(ap);
}

static void pc_close(struct pubconn *pc)
{
	close(pc->fd);
	pc->state = PC_CLOSED;
	pc->got = 0;
}

/* The publish in flight on pc is over, answered or not. */
static void pub_over(struct pubconn *pc, bool ok)
{
	if (ok)
		pub.r.pub_ok++;
	else
		pub.r.pub_failed++;
	free(pc->req);
	pc->req = NULL;
	pub.busy[pc->topic] = 0;
	pub.inflight--;
}

static void pub_lost(struct pubconn *pc, const char *why)
{
	pub_note(pc->k, "%s", why);
	pub_over(pc, false);
	pc_close(pc);
}

/* Writes what is left of the request. */
static void pc_send(struct pubconn *pc)
{
	struct epoll_event ev = { .events = EPOLLIN,
				  .data.u32 = (uint32_t)(pc - pub.pc) };
	ssize_t n = send(pc->fd, pc->req + pc->sent, pc->req_len - pc->sent,
			 MSG_NOSIGNAL);

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			pub_lost(pc, strerror(errno));
		return;
	}
	pc->sent += (size_t)n;
	if (pc->sent < pc->req_len) {
		ev.events = EPOLLOUT;
		pc->state = PC_SEND;
	} else {
		pc->state = PC_READ;
	}
	epoll_ctl(pub.epfd, EPOLL_CTL_MOD, pc->fd, &ev);
}

/* Builds publish k's request and sends it (after connecting, if pc is
 * closed).  Its body says which publish it is and when it was sent:
 * {"seq":K,"topic":T,"n":N,"t":MICROSECONDS}, padded to --size. */
static void pub_start(struct pubconn *pc, uint64_t k, int64_t due)
{
	uint32_t t = (uint32_t)(k % cfg.topics);
	char body[65600], *path = expand(cfg.pub.target, t);
	int64_t now = now_us();
	int len = snprintf(body, sizeof(body), "{\"seq\":%" PRIu64 ",\"topic\":"
			   "%u,\"n\":%" PRIu64 ",\"t\":%" PRId64, k, t,
			   k / cfg.topics + 1, now);

	if (cfg.pub_size > (uint32_t)len + 10) {
		size_t pad = cfg.pub_size - (uint32_t)len - 10;

		len += snprintf(body + len, sizeof(body) - (size_t)len,
				",\"pad\":\"%0*d", (int)pad, 0);
		memset(body + len - pad, 'x', pad);
		len += snprintf(body + len, sizeof(body) - (size_t)len, "\"");
	}
	len += snprintf(body + len, sizeof(body) - (size_t)len, "}");
	pc->k = k;
	pc->topic = t;
	pc->sent = pc->got = 0;
	pc->sent_us = now;
	pub.busy[t] = 1;
	pub.inflight++;
	pub.r.pub_sent++;
	__atomic_store_n(&share->published, pub.r.pub_sent, __ATOMIC_RELAXED);
	hist_add(&pub.r.pub_behind, now - due);
	if (path == NULL ||
	    asprintf(&pc->req, "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: "
		     "sseload\r\nContent-Type: application/json\r\n"
		     "Content-Length: %d\r\n%s\r\n%s", path,
		     cfg.pub.authority, len,
		     cfg.pub_headers ? cfg.pub_headers : "", body) < 0) {
		pc->req = NULL;
		pub_note(k, "out of memory");
		pub_over(pc, false);
		free(path);
		return;
	}
	free(path);
	pc->req_len = strlen(pc->req);
	if (pc->state == PC_IDLE) {
		pc_send(pc);
		return;
	}
	struct epoll_event ev = { .events = EPOLLOUT,
				  .data.u32 = (uint32_t)(pc - pub.pc) };

	pc->fd = socket(cfg.pub.addr.ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (pc->fd < 0) {
		pub_note(k, "socket: %s", strerror(errno));
		pub_over(pc, false);
		return;
	}
	pc->state = PC_CONNECT;
	if ((connect(pc->fd, (struct sockaddr *)&cfg.pub.addr,
		     cfg.pub.addr_len) < 0 && errno != EINPROGRESS) ||
	    epoll_ctl(pub.epfd, EPOLL_CTL_ADD, pc->fd, &ev) < 0)
		pub_lost(pc, strerror(errno));
}

/* Whether the answer in pc->resp is whole: its head, then a body framed
 * by Content-Length or chunked (else it runs to the close, at_eof). */
static bool pc_answer_whole(struct pubconn *pc, bool at_eof, bool *keep)
{
	char *end = memmem(pc->resp, pc->got, "\r\n\r\n", 4), *cl;
	size_t head;

	if (end == NULL)
		return false;
	head = (size_t)(end - pc->resp) + 4;
	*end = '\0';
	*keep = strcasestr(pc->resp, "\r\nconnection: close") == NULL;
	cl = strcasestr(pc->resp, "\r\ncontent-length:");
	if (cl != NULL) {
		bool whole = pc->got >= head + strtoull(cl + 17, NULL, 10);

		*end = '\r';
		return whole;
	}
	if (strcasestr(pc->resp, "\r\ntransfer-encoding: chunked")) {
		*end = '\r';
		return pc->got >= head + 5 &&
		       memcmp(pc->resp + pc->got - 5, "0\r\n\r\n", 5) == 0;
	}
	*end = '\r';
	*keep = false;
	return at_eof;
}

/* Reads the answer; once it is whole, the publish is over: 2xx is
 * published, anything else a failure noted with its status line and
 * body. */
static void pc_read(struct pubconn *pc)
{
	ssize_t n = read(pc->fd, pc->resp + pc->got,
			 sizeof(pc->resp) - 1 - pc->got);
	bool keep = true;
	int status;

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			pub_lost(pc, strerror(errno));
		return;
	}
	pc->got += (size_t)n;
	if (!pc_answer_whole(pc, n == 0, &keep)) {
		if (n == 0)
			pub_lost(pc, "closed before the whole answer");
		else if (pc->got == sizeof(pc->resp) - 1)
			pub_lost(pc, "an answer over 8 KiB");
		return;
	}
	hist_add(&pub.r.pub_answer, now_us() - pc->sent_us);
	status = status_of(pc->resp, pc->got);
	if (status >= 200 && status < 300) {
		pub_over(pc, true);
	} else {
		char *body = memmem(pc->resp, pc->got, "\r\n\r\n", 4);
		char *line_end = memchr(pc->resp, '\r', pc->got);
		size_t line = line_end ? (size_t)(line_end - pc->resp) : 0;

		pub_note(pc->k, "%.*s: %s", (int)(line < 60 ? line : 60),
			 pc->resp, body == NULL ? "" :
			 esc(body + 4, pc->got - (size_t)(body + 4 - pc->resp)));
		pub_over(pc, false);
	}
	pc->got = 0;
	if (keep && n > 0)
		pc->state = PC_IDLE;
	else
		pc_close(pc);
}

static void pc_event(struct pubconn *pc)
{
	int err = 0;
	socklen_t len = sizeof(err);

	switch ((enum pc_state)pc->state) {
	case PC_CONNECT:
		getsockopt(pc->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0)
			pub_lost(pc, strerror(err));
		else
			pc_send(pc);
		break;
	case PC_SEND:
		pc_send(pc);
		break;
	case PC_READ:
		pc_read(pc);
		break;
	case PC_IDLE:	/* the server closed a kept-alive connection */
		pc_close(pc);
		break;
	case PC_CLOSED:
		break;
	}
}

/* A connection free for the next publish: an idle one, else a closed
 * one to open, else none (NULL). */
static struct pubconn *pc_free(void)
{
	struct pubconn *closed = NULL;

	for (uint32_t i = 0; i < cfg.pub_conns; i++) {
		if (pub.pc[i].state == PC_IDLE)
			return &pub.pc[i];
		if (pub.pc[i].state == PC_CLOSED && closed == NULL)
			closed = &pub.pc[i];
	}
	return closed;
}

static void progress_sum(uint64_t *sum);

/* The publisher: once every subscriber has its answer's head (or failed),
 * and a moment more, the publishes on their schedule; then the time it
 * was done, for the subscribers, and its result to out. */
__attribute__((noreturn))
static void publisher_main(int out)
{
	int64_t deadline = cfg.start_us + cfg.limit_us, start;
	uint64_t sum[N_COUNT], next = 0;
	struct epoll_event ev[PUBCONNS_MAX];

	pub.epfd = epoll_create1(EPOLL_CLOEXEC);
	pub.busy = calloc(cfg.topics, 1);
	if (pub.epfd < 0 || pub.busy == NULL) {
		perror("sseload: publisher");
		_exit(1);
	}
	for (progress_sum(sum); sum[N_SETTLED] < cfg.conns && !stop &&
	     now_us() < deadline; progress_sum(sum))
		usleep(10000);
	usleep(200000);	/* for a server that subscribes after its head */
	start = now_us();
	__atomic_store_n(&share->start_us, start, __ATOMIC_RELAXED);
	while (!stop && (next < cfg.count || pub.inflight > 0)) {
		int64_t now = now_us(), wake = now + 50000;
		int n;

		if (now >= deadline)
			break;
		while (next < cfg.count) {
			int64_t due = start + (int64_t)(next * 1000000 /
							cfg.rate);
			struct pubconn *pc;

			if (due > now) {
				wake = due < wake ? due : wake;
				break;
			}
			if (pub.busy[next % cfg.topics] ||
			    (pc = pc_free()) == NULL)
				break;
			pub_start(pc, next++, due);
		}
		n = epoll_wait(pub.epfd, ev, PUBCONNS_MAX,
			       wake > now ? (int)((wake - now + 999) / 1000) :
			       0);
		for (int i = 0; i < n; i++)
			pc_event(&pub.pc[ev[i].data.u32]);
	}
	if (pub.inflight > 0)
		pub_note(next - 1, "%u publishes unanswered at the %s",
			 pub.inflight, stop ? "interrupt" : "time limit");
	pub.r.pub_failed += pub.inflight;
	__atomic_store_n(&share->end_us, now_us(), __ATOMIC_RELAXED);
	write_all(out, &pub.r, sizeof(pub.r));
	_exit(0);
}

/* ==== the parent: the server's memory and CPU time ====================== */

struct sample {
	bool ok;
	uint64_t rss_kib, cpu_us;
};

/* The server's resident memory (VmRSS in /proc/PID/status) and CPU time
 * (utime + stime, fields 14 and 15 of /proc/PID/stat). */
static struct sample server_sample(pid_t pid)
{
	struct sample s = { 0 };
	char path[64], line[512], *p;
	unsigned long long ut, st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return s;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %" SCNu64, &s.rss_kib) == 1)
			break;
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return s;
	p = fgets(line, sizeof(line), f);
	fclose(f);
	/* The name, field 2, may hold spaces: count from its ')'. */
	if (p == NULL || (p = strrchr(line, ')')) == NULL ||
	    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu "
		   "%llu", &ut, &st) != 2)
		return s;
	s.cpu_us = (ut + st) * 1000000 / (uint64_t)sysconf(_SC_CLK_TCK);
	s.ok = true;
	return s;
}

/* ==== the parent: running the workers =================================== */

static struct parent {
	pid_t *pids;
	int *fds;		/* each worker's result pipe, -1 once read */
	size_t *got;		/* result bytes read from each */
	struct result *res;
	struct progress *prog;	/* shared with the workers */
	struct sample idle, peak, end;
	uint64_t open_at_peak;
	bool tty;
	int64_t wall_us;
} par;

static void on_sigint(int sig)
{
	(void)sig;
	stop = 1;
}

static void progress_sum(uint64_t *sum)
{
	memset(sum, 0, N_COUNT * sizeof(*sum));
	for (uint32_t i = 0; i < cfg.workers; i++)
		for (int k = 0; k < N_COUNT; k++)
			sum[k] += __atomic_load_n(&par.prog[i].n[k],
						  __ATOMIC_RELAXED);
}

/* Forks the workers, each with a pipe for its result. */
/* The workers, and with --publish the publisher after them. */
static uint32_t procs(void)
{
	return cfg.workers + cfg.hub;
}

static void spawn(void)
{
	for (uint32_t i = 0; i < procs(); i++) {
		int fd[2];

		if (pipe2(fd, O_CLOEXEC) < 0 || (par.pids[i] = fork()) < 0) {
			perror("sseload: fork");
			exit(1);
		}
		if (par.pids[i] == 0 && i == cfg.workers) {
			close(fd[0]);
			publisher_main(fd[1]);
		}
		if (par.pids[i] == 0) {
			close(fd[0]);
			worker_main((int)i, &par.prog[i], fd[1]);
		}
		close(fd[1]);
		par.fds[i] = fd[0];
	}
}

/* Reads what worker i has written of its result; false at its end. */
static bool collect_one(uint32_t i)
{
	ssize_t n = read(par.fds[i], (char *)&par.res[i] + par.got[i],
			 sizeof(par.res[i]) - par.got[i]);

	if (n < 0 && errno == EINTR)
		return true;
	if (n > 0) {
		par.got[i] += (size_t)n;
		return true;
	}
	close(par.fds[i]);
	par.fds[i] = -1;
	return false;
}

/* "published N  ", with --publish, for the progress line. */
static const char *published_text(void)
{
	static char text[48];

	text[0] = '\0';
	if (cfg.hub)
		snprintf(text, sizeof(text), "published %" PRIu64 "  ",
			 __atomic_load_n(&share->published, __ATOMIC_RELAXED));
	return text;
}

/* While the workers run: every 20 ms, take in their results, sample the
 * server once every stream has started or failed, and every 250 ms
 * redraw the progress line; until every pipe is at its end. */
static void collect(void)
{
	struct pollfd *pfd = calloc(procs(), sizeof(*pfd));
	uint32_t *who = calloc(procs(), sizeof(*who));
	int64_t next_line = 0;
	bool peak_taken = cfg.pid == 0, forwarded = false;
	uint64_t sum[N_COUNT];

	for (;;) {
		nfds_t n = 0;

		for (uint32_t i = 0; i < procs(); i++)
			if (par.fds[i] >= 0) {
				pfd[n].fd = par.fds[i];
				pfd[n].events = POLLIN;
				who[n++] = i;
			}
		if (n == 0)
			break;
		if (poll(pfd, n, 20) > 0)
			for (nfds_t k = 0; k < n; k++)
				if (pfd[k].revents != 0)
					collect_one(who[k]);
		progress_sum(sum);
		if (!peak_taken && sum[N_SETTLED] >= cfg.conns) {
			par.peak = server_sample(cfg.pid);
			par.open_at_peak = sum[N_OPEN];
			peak_taken = true;
		}
		if (stop && !forwarded) {	/* a SIGINT sent to us alone */
			for (uint32_t i = 0; i < procs(); i++)
				kill(par.pids[i], SIGINT);
			forwarded = true;
		}
		if (par.tty && now_us() >= next_line) {
			fprintf(stderr, "\rsseload: opened %" PRIu64 "/%u  "
				"open %" PRIu64 "  completed %" PRIu64 "  "
				"failed %" PRIu64 "  events %" PRIu64 "  "
				"%s%.1f s\033[K", sum[N_OPENED], cfg.conns,
				sum[N_OPEN], sum[N_COMPLETED], sum[N_FAILED],
				sum[N_EVENTS], published_text(),
				(double)(now_us() - cfg.start_us) / 1e6);
			next_line = now_us() + 250000;
		}
	}
	if (par.tty)
		fputs("\r\033[K", stderr);
	free(pfd);
	free(who);
}

/* Waits for the workers and adds their results up into total; false if
 * one of them failed to report. */
static bool reap(struct result *total)
{
	bool ok = true;

	for (uint32_t i = 0; i < procs(); i++) {
		int st;

		waitpid(par.pids[i], &st, 0);
		if (par.got[i] == sizeof(par.res[i])) {
			result_merge(total, &par.res[i]);
			continue;
		}
		ok = false;
		if (WIFSIGNALED(st))
			fprintf(stderr, "sseload: %s %u died: %s\n",
				i == cfg.workers ? "publisher" : "worker", i,
				strsignal(WTERMSIG(st)));
		else
			fprintf(stderr, "sseload: worker %u ended without its "
				"results\n", i);
	}
	return ok;
}

/* ==== the parent: the report ============================================ */

static const double quantile[] = { 0.5, 0.9, 0.99, 0.999 };
#define QUANTILES (sizeof(quantile) / sizeof(*quantile))

static void hist_row(const char *name, const struct hist *h)
{
	printf("%-20s", name);
	if (h->count == 0) {
		printf("%10s\n", "-");
		return;
	}
	for (size_t i = 0; i < QUANTILES; i++)
		printf("%10.2f", hist_ms(h, quantile[i]));
	printf("%10.2f\n", (double)h->max_us / 1000);
}

static void report_statuses(const struct result *r)
{
	const char *sep = "  (";

	for (int s = 0; s < STATUS_MAX; s++)
		if (r->status[s] > 0) {
			printf("%s%d: %" PRIu64, sep, s, r->status[s]);
			sep = ", ";
		}
	if (sep[0] == ',')
		printf(")");
}

static void report_server(void)
{
	printf("server (pid %d)\n", (int)cfg.pid);
	if (!par.idle.ok || !par.end.ok) {
		printf("  could not read /proc/%d\n", (int)cfg.pid);
		return;
	}
	printf("  RSS idle           %10" PRIu64 " KiB\n", par.idle.rss_kib);
	if (par.peak.ok)
		printf("  RSS at peak        %10" PRIu64 " KiB  (%" PRIu64
		       " streams open)\n", par.peak.rss_kib,
		       par.open_at_peak);
	printf("  RSS at end         %10" PRIu64 " KiB\n", par.end.rss_kib);
	if (par.peak.ok && par.open_at_peak > 0)
		printf("  RSS per stream     %10.0f bytes\n",
		       ((double)par.peak.rss_kib - (double)par.idle.rss_kib) *
		       1024 / (double)par.open_at_peak);
	printf("  CPU time           %10.3f s\n",
	       (double)(par.end.cpu_us - par.idle.cpu_us) / 1e6);
}

static void report_server_cpu_per_event(const struct result *r)
{
	if (cfg.pid == 0 || !par.idle.ok || !par.end.ok)
		return;
	if (r->n[N_EVENTS] > 0)
		printf("  CPU per event      %10.2f us\n",
		       (double)(par.end.cpu_us - par.idle.cpu_us) /
		       (double)r->n[N_EVENTS]);
}

/* Deliveries a run should bring: every subscriber every event of its
 * topic. */
static uint64_t deliveries_expected(void)
{
	uint64_t n = 0;

	for (uint32_t t = 0; t < cfg.topics && t < cfg.conns; t++)
		n += (uint64_t)(cfg.conns / cfg.topics +
				(t < cfg.conns % cfg.topics)) * topic_events(t);
	return n;
}

/* The first reason of each kind of failure, after a blank line, if any
 * failed. */
static void report_notes(const struct result *r)
{
	const char *sep = "\n";

	for (int i = 0; i < FAIL_COUNT; i++)
		if (r->note[i][0] != '\0') {
			printf("%sfirst %s: %s\n", sep, fail_name[i],
			       r->note[i]);
			sep = "";
		}
	if (r->pub_note[0] != '\0')
		printf("%sfirst failed publish: %s\n", sep, r->pub_note);
}

/* --publish: the subscribers' table, the publisher's, the times. */
static void report_hub(const struct result *r)
{
	uint64_t want = deliveries_expected();

	printf("GET http://%s%s  (subscribers)\n", cfg.sub.authority,
	       cfg.sub.target);
	printf("POST http://%s%s  (publisher)\n", cfg.pub.authority,
	       cfg.pub.target);
	printf("  %u publishes at %u a second over %u topic%s, %u subscribers"
	       "; %u worker%s, ramp %.1f s%s\n\n", cfg.count, cfg.rate,
	       cfg.topics, cfg.topics == 1 ? "" : "s", cfg.conns, cfg.workers,
	       cfg.workers == 1 ? "" : "s", (double)cfg.ramp_us / 1e6,
	       cfg.churn_us ? "; churn" : "");
	printf("subscribers         %10u  (%" PRIu64 " connected)\n",
	       cfg.conns, r->connected);
	printf("  got every event   %10" PRIu64 "\n", r->n[N_COMPLETED]);
	printf("  failed            %10" PRIu64 "\n", r->n[N_FAILED]);
	for (int i = 0; i < FAIL_COUNT; i++) {
		if (i == FAIL_MISSING)
			continue;
		printf("    %-16s%10" PRIu64, fail_name[i], r->fail[i]);
		if (i == FAIL_STATUS)
			report_statuses(r);
		printf("\n");
	}
	printf("publishes sent      %10" PRIu64 "  (of %u)\n", r->pub_sent,
	       cfg.count);
	printf("  answered 2xx      %10" PRIu64 "\n", r->pub_ok);
	printf("  failed            %10" PRIu64 "\n", r->pub_failed);
	printf("deliveries          %10" PRIu64 "  (of %" PRIu64 " expected; "
	       "%" PRIu64 " distinct)\n", r->deliveries, want, r->distinct);
	printf("  lost              %10" PRIu64 "\n", r->lost);
	printf("  duplicates        %10" PRIu64 "\n", r->duplicates);
	printf("  out of order      %10" PRIu64 "\n", r->disorder);
	printf("  jumps ahead       %10" PRIu64 "  (an event skipped, for "
	       "the moment)\n", r->jumps);
	printf("  gap events        %10" PRIu64 "  (the server's \"event: "
	       "gap\")\n", r->gap_events);
	printf("reconnects          %10" PRIu64 "\n", r->reconnects);
	printf("  replayed events   %10" PRIu64 "  (published while away)\n",
	       r->replays);
	printf("heartbeats          %10" PRIu64 "\n", r->heartbeats);
	printf("wall time           %10.2f s\n\n", (double)par.wall_us / 1e6);
	printf("%-20s%10s%10s%10s%10s%10s\n", "ms", "p50", "p90", "p99",
	       "p99.9", "max");
	hist_row("publish to receive", &r->delivery);
	hist_row("publish answer", &r->pub_answer);
	hist_row("publish behind", &r->pub_behind);
	hist_row("connect time", &r->connect);
	hist_row("first byte", &r->first_byte);
	if (cfg.pid != 0) {
		printf("\n");
		report_server();
		if (par.idle.ok && par.end.ok && r->deliveries > 0)
			printf("  CPU per delivery   %10.2f us\n",
			       (double)(par.end.cpu_us - par.idle.cpu_us) /
			       (double)r->deliveries);
	}
	report_notes(r);
}

static void report(const struct result *r)
{
	if (cfg.hub) {
		report_hub(r);
		return;
	}
	printf("%s http://%s%s\n", cfg.method, cfg.sub.authority,
	       cfg.sub.target);
	printf("  %s, %u events %u ms apart%s; %u worker%s, ramp %.1f s\n\n",
	       format_name[cfg.format], cfg.expected, cfg.interval_ms,
	       cfg.check ? "" : ", not checked", cfg.workers,
	       cfg.workers == 1 ? "" : "s", (double)cfg.ramp_us / 1e6);
	printf("connections         %10u  (%" PRIu64 " connected)\n",
	       cfg.conns, r->connected);
	printf("streams completed   %10" PRIu64 "\n", r->n[N_COMPLETED]);
	printf("streams failed      %10" PRIu64 "\n", r->n[N_FAILED]);
	for (int i = 0; i < FAIL_LOST; i++) {	/* the rest are --publish's */
		printf("  %-18s%10" PRIu64, fail_name[i], r->fail[i]);
		if (i == FAIL_STATUS)
			report_statuses(r);
		printf("\n");
	}
	printf("events received     %10" PRIu64 "\n", r->n[N_EVENTS]);
	printf("heartbeats          %10" PRIu64 "\n", r->heartbeats);
	printf("wall time           %10.2f s\n\n", (double)par.wall_us / 1e6);
	printf("%-20s%10s%10s%10s%10s%10s\n", "ms", "p50", "p90", "p99",
	       "p99.9", "max");
	hist_row("event lateness", &r->late);
	hist_row("connect time", &r->connect);
	hist_row("first byte", &r->first_byte);
	if (cfg.pid != 0) {
		printf("\n");
		report_server();
		report_server_cpu_per_event(r);
	}
	report_notes(r);
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void json_hist(FILE *f, const char *name, const struct hist *h)
{
	static const char *const key[] = { "p50", "p90", "p99", "p99.9" };

	fprintf(f, ",\n  \"%s\": {\"count\": %" PRIu64, name, h->count);
	if (h->count > 0) {
		for (size_t i = 0; i < QUANTILES; i++)
			fprintf(f, ", \"%s\": %.3f", key[i],
				hist_ms(h, quantile[i]));
		fprintf(f, ", \"max\": %.3f", (double)h->max_us / 1000);
	}
	fprintf(f, "}");
}

static void json_server(FILE *f, const struct result *r)
{
	double cpu_us = (double)(par.end.cpu_us - par.idle.cpu_us);

	fprintf(f, ",\n  \"server\": {\"pid\": %d", (int)cfg.pid);
	if (par.idle.ok && par.end.ok) {
		fprintf(f, ", \"rss_idle_kib\": %" PRIu64 ", \"rss_end_kib\": %"
			PRIu64 ", \"cpu_us\": %.0f", par.idle.rss_kib,
			par.end.rss_kib, cpu_us);
		if (r->n[N_EVENTS] > 0)
			fprintf(f, ", \"cpu_us_per_event\": %.3f",
				cpu_us / (double)r->n[N_EVENTS]);
	}
	if (par.idle.ok && par.peak.ok && par.open_at_peak > 0)
		fprintf(f, ", \"rss_peak_kib\": %" PRIu64 ", \"open_at_peak\": "
			"%" PRIu64 ", \"rss_per_stream_bytes\": %.0f",
			par.peak.rss_kib, par.open_at_peak,
			((double)par.peak.rss_kib - (double)par.idle.rss_kib) *
			1024 / (double)par.open_at_peak);
	fprintf(f, "}");
}

static void json_hub(FILE *f, const struct result *r)
{
	fprintf(f, ",\n  \"publish\": {\"url\": ");
	json_string(f, cfg.pub.target);
	fprintf(f, ", \"rate\": %u, \"count\": %u, \"topics\": %u, "
		"\"churn_ms\": %.0f, \"sent\": %" PRIu64 ", \"ok\": %" PRIu64
		", \"failed\": %" PRIu64 ", \"note\": ", cfg.rate, cfg.count,
		cfg.topics, (double)cfg.churn_us / 1000, r->pub_sent, r->pub_ok,
		r->pub_failed);
	json_string(f, r->pub_note);
	fprintf(f, "}");
	fprintf(f, ",\n  \"deliveries\": %" PRIu64 ", \"deliveries_expected\": "
		"%" PRIu64 ", \"distinct\": %" PRIu64 ", \"lost\": %" PRIu64
		", \"duplicates\": %" PRIu64 ", \"out_of_order\": %" PRIu64
		", \"jumps\": %" PRIu64 ", \"gap_events\": %" PRIu64
		", \"reconnects\": %" PRIu64 ", \"replays\": %" PRIu64,
		r->deliveries, deliveries_expected(), r->distinct, r->lost,
		r->duplicates, r->disorder, r->jumps, r->gap_events,
		r->reconnects, r->replays);
	json_hist(f, "delivery_ms", &r->delivery);
	json_hist(f, "publish_answer_ms", &r->pub_answer);
	json_hist(f, "publish_behind_ms", &r->pub_behind);
	if (cfg.pid != 0 && par.idle.ok && par.end.ok && r->deliveries > 0)
		fprintf(f, ",\n  \"cpu_us_per_delivery\": %.3f",
			(double)(par.end.cpu_us - par.idle.cpu_us) /
			(double)r->deliveries);
}

/* The results as one JSON object, the table's figures under plain names. */
static void json_report(FILE *f, const struct result *r)
{
	const char *sep = "";

	fprintf(f, "{\n  \"method\": ");
	json_string(f, cfg.method);
	fprintf(f, ",\n  \"host\": ");
	json_string(f, cfg.sub.authority);
	fprintf(f, ",\n  \"target\": ");
	json_string(f, cfg.sub.target);
	fprintf(f, ",\n  \"format\": \"%s\", \"checked\": %s, \"events\": %u, "
		"\"interval_ms\": %u, \"workers\": %u, \"ramp_s\": %.3f",
		format_name[cfg.format], cfg.check ? "true" : "false",
		cfg.expected, cfg.interval_ms, cfg.workers,
		(double)cfg.ramp_us / 1e6);
	fprintf(f, ",\n  \"connections\": %u, \"connected\": %" PRIu64
		", \"completed\": %" PRIu64 ", \"failed\": %" PRIu64,
		cfg.conns, r->connected, r->n[N_COMPLETED], r->n[N_FAILED]);
	fprintf(f, ",\n  \"failures\": {");
	for (int i = 0; i < FAIL_COUNT; i++)
		fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "", fail_key[i],
			r->fail[i]);
	fprintf(f, "},\n  \"statuses\": {");
	for (int s = 0; s < STATUS_MAX; s++)
		if (r->status[s] > 0) {
			fprintf(f, "%s\"%d\": %" PRIu64, sep, s, r->status[s]);
			sep = ", ";
		}
	fprintf(f, "},\n  \"notes\": {");
	sep = "";
	for (int i = 0; i < FAIL_COUNT; i++)
		if (r->note[i][0] != '\0') {
			fprintf(f, "%s\"%s\": ", sep, fail_key[i]);
			json_string(f, r->note[i]);
			sep = ", ";
		}
	fprintf(f, "},\n  \"events_received\": %" PRIu64 ", \"heartbeats\": %"
		PRIu64 ", \"wall_s\": %.3f", r->n[N_EVENTS], r->heartbeats,
		(double)par.wall_us / 1e6);
	if (cfg.hub)
		json_hub(f, r);
	json_hist(f, "lateness_ms", &r->late);
	json_hist(f, "connect_ms", &r->connect);
	json_hist(f, "first_byte_ms", &r->first_byte);
	if (cfg.pid != 0)
		json_server(f, r);
	fprintf(f, "\n}\n");
}

/* ==== the command line ================================================== */

static void usage(FILE *f)
{
	fprintf(f,
"usage: bench/sseload [options] http://HOST:PORT/PATH?QUERY\n"
"       bench/sseload [options] --publish URL http://HOST:PORT/topics/T\n"
"\n"
"Opens many SSE streams to a server, checks every event and reports how\n"
"late they came.  HOST is a name (resolved once, at start) or an address;\n"
"for a loopback one the streams are spread over source addresses.\n"
"\n"
"  -c N              streams in all (100)\n"
"  -p P              worker processes (as many as keep each under 19,000\n"
"                    descriptors)\n"
"  -r SECONDS        open the streams evenly over this time (0: at once)\n"
"  -X METHOD         request method (GET, or POST with -d)\n"
"  -d BODY           request body, sent as application/json unless -H\n"
"                    gives a Content-Type\n"
"  -H 'Name: value'  an extra request header (repeatable)\n"
"  -n EVENTS         events per stream (the URL's n=; else, on\n"
"                    /message-stream, the stream's own \"(k/N)\"; else 5)\n"
"  -i MS             milliseconds between them (the URL's interval=; else\n"
"                    the stream's retry:; else 1000)\n"
"  -t SECONDS        time limit (ramp + n * interval + 10)\n"
"  --shape QUERY     append to the URL's query: 'n=20&interval=50&size=1024'\n"
"  --format F        api, eventsource, or auto: api if the path ends in\n"
"                    /api (auto)\n"
"  --no-check        count events without checking their bytes; a stream\n"
"                    is complete after n events (for other servers)\n"
"  --src N           connection i binds to 127.0.0.(2 + i %% N) (50 for\n"
"                    127.x targets; 0: no bind)\n"
"  --pid PID         sample that server's memory and CPU time\n"
"  --json FILE       write the results as JSON too\n"
"  -h, --help        this text\n"
"\n"
"A hub (--publish): the streams subscribe; one more process publishes.\n"
"  --publish URL     POST each event to URL, once every stream is open\n"
"  --rate R          publishes a second (10)\n"
"  --count N         publishes in all (100)\n"
"  --topics T        stream i follows topic i %% T, publish k goes to topic\n"
"                    k %% T; \"{}\" in either URL is the topic's number (1)\n"
"  --publish-header 'Name: value'  on every publish (repeatable): a token\n"
"  --size BYTES      pad each published body to this size\n"
"  --churn MS        drop each stream at random moments, MS apart on\n"
"                    average, and come back with its last Last-Event-ID\n"
"  --publishers N    connections the publisher may use at once (8)\n"
"  --linger SECONDS  after the last publish, how long streams may take\n"
"                    to get the rest (5)\n"
"\n"
"Exit status: 0 if every stream completed (with --publish: every event\n"
"published and received once, in order, by every stream), 1 if not, 2\n"
"for a usage error.\n");
}

__attribute__((format(printf, 1, 2), noreturn))
static void die2(const char *fmt, ...)
{
	va_list ap;

	fputs("sseload: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static unsigned long long number(const char *opt, const char *s,
				 unsigned long long min, unsigned long long max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-' || v < min ||
	    v > max)
		die2("%s %s: not a whole number from %llu to %llu", opt, s, min,
		     max);
	return v;
}

static int64_t seconds(const char *opt, const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || !(v >= 0 && v <= 1e7))
		die2("%s %s: not a number of seconds", opt, s);
	return (int64_t)(v * 1e6);
}

/* The last value of key in the query of target, if it is a number. */
static bool query_number(const char *target, const char *key, uint32_t *v)
{
	const char *p = strchr(target, '?');
	size_t klen = strlen(key);
	bool found = false;

	while (p != NULL) {
		p++;
		if (strncmp(p, key, klen) == 0 && p[klen] == '=' &&
		    p[klen + 1] >= '0' && p[klen + 1] <= '9') {
			char *end;
			unsigned long n = strtoul(p + klen + 1, &end, 10);

			if ((*end == '&' || *end == '\0') && n <= UINT32_MAX) {
				*v = (uint32_t)n;
				found = true;
			}
		}
		p = strchr(p, '&');
	}
	return found;
}

/* Whether a connection to ai's address is accepted within 2 s: the
 * probe that picks one of a name's addresses (localhost may be ::1 first,
 * and a server may listen on 127.0.0.1 alone). */
static bool answers(const struct addrinfo *ai)
{
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
			SOCK_CLOEXEC, 0), err = 0;
	socklen_t len = sizeof(err);
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	bool ok;

	if (fd < 0)
		return false;
	ok = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
	     (errno == EINPROGRESS && poll(&p, 1, 2000) == 1 &&
	      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
	      err == 0);
	close(fd);
	return ok;
}

/* Resolves HOST (brackets stripped) once, at start, into t's address: the
 * first of its addresses that accepts a connection, else the first.
 * Whether it is a loopback address decides whether connections are
 * spread over source addresses. */
static void resolve(struct target *t, const char *host, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *list, *ai;
	int err = getaddrinfo(host, port, &hints, &list);

	if (err != 0)
		die2("%s: no address (getaddrinfo: %s)", host,
		     gai_strerror(err));
	for (ai = list; ai != NULL && !answers(ai); ai = ai->ai_next)
		;
	if (ai == NULL)
		ai = list;
	memcpy(&t->addr, ai->ai_addr, ai->ai_addrlen);
	t->addr_len = ai->ai_addrlen;
	if (ai->ai_family == AF_INET) {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&t->addr;

		t->ipv4 = true;
		t->loopback = ntohl(a4->sin_addr.s_addr) >> 24 == 127;
	} else {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&t->addr;

		t->loopback = IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
	}
	freeaddrinfo(list);
}

/* http://HOST[:PORT][/PATH][?QUERY]: the address, Host and target. */
static void parse_url(struct target *t, const char *url)
{
	const char *auth = url + 7, *auth_end, *host_end, *port_at;
	char host[256], digits[8] = "80";

	if (strncasecmp(url, "http://", 7) != 0)
		die2("%s: not an http:// URL", url);
	auth_end = auth + strcspn(auth, "/?#");
	if (*auth == '[') {
		host_end = memchr(auth, ']', (size_t)(auth_end - auth));
		if (host_end == NULL)
			die2("%s: no ] after the IPv6 address", url);
		port_at = host_end + 1;
		auth++;
	} else {
		host_end = memchr(auth, ':', (size_t)(auth_end - auth));
		if (host_end == NULL)
			host_end = auth_end;
		port_at = host_end;
	}
	if ((size_t)(host_end - auth) >= sizeof(host) || host_end == auth)
		die2("%s: no host", url);
	memcpy(host, auth, (size_t)(host_end - auth));
	host[host_end - auth] = '\0';
	if (port_at < auth_end) {
		if (*port_at != ':' || auth_end - port_at > 6 ||
		    auth_end - port_at < 2)
			die2("%s: a bad port", url);
		memcpy(digits, port_at + 1, (size_t)(auth_end - port_at - 1));
		digits[auth_end - port_at - 1] = '\0';
		number("port", digits, 1, 65535);
	}
	resolve(t, host, digits);
	t->authority = strndup(url + 7, (size_t)(auth_end - url - 7));
	if (asprintf(&t->target, "%s%.*s", *auth_end == '/' ? "" : "/",
		     (int)strcspn(auth_end, "#"), auth_end) < 0)
		exit(1);
}

/* One -H: kept as a request line; Content-Type and Last-Event-ID noted. */
static void add_header(const char *h)
{
	const char *colon = strchr(h, ':');
	size_t name_len = colon ? (size_t)(colon - h) : 0;
	char *joined;

	if (name_len == 0 || strpbrk(h, "\r\n") != NULL ||
	    memchr(h, ' ', name_len) != NULL)
		die2("-H %s: not a 'Name: value' header", h);
	if (name_is(h, name_len, "Content-Type"))
		cfg.has_content_type = true;
	if (name_is(h, name_len, "Last-Event-ID"))
		cfg.first = (uint32_t)number("-H Last-Event-ID",
					     colon + 1 + strspn(colon + 1, " "),
					     0, UINT32_MAX);
	if (asprintf(&joined, "%s%s\r\n", cfg.headers ? cfg.headers : "",
		     h) < 0)
		exit(1);
	free(cfg.headers);
	cfg.headers = joined;
}

/* One --publish-header, as -H checks it. */
static void add_publish_header(const char *h)
{
	const char *colon = strchr(h, ':');
	size_t name_len = colon ? (size_t)(colon - h) : 0;
	char *joined;

	if (name_len == 0 || strpbrk(h, "\r\n") != NULL ||
	    memchr(h, ' ', name_len) != NULL)
		die2("--publish-header %s: not a 'Name: value' header", h);
	if (asprintf(&joined, "%s%s\r\n",
		     cfg.pub_headers ? cfg.pub_headers : "", h) < 0)
		exit(1);
	free(cfg.pub_headers);
	cfg.pub_headers = joined;
}

/* --publish: a subscriber's request per topic, all but its blank line
 * (a resume may add Last-Event-ID). */
static void build_hub_requests(void)
{
	cfg.sub_request = calloc(cfg.topics, sizeof(*cfg.sub_request));
	if (cfg.sub_request == NULL)
		exit(1);
	for (uint32_t t = 0; t < cfg.topics; t++) {
		char *path = expand(cfg.sub.target, t);

		if (path == NULL ||
		    asprintf(&cfg.sub_request[t], "GET %s HTTP/1.1\r\nHost: "
			     "%s\r\nAccept: text/event-stream\r\nUser-Agent: "
			     "sseload\r\n%s", path, cfg.sub.authority,
			     cfg.headers ? cfg.headers : "") < 0)
			exit(1);
		free(path);
	}
}

/* The one request every connection sends. */
static void build_request(void)
{
	char length[48] = "";
	int n;

	if (cfg.hub) {
		build_hub_requests();
		return;
	}
	if (cfg.body != NULL || strcmp(cfg.method, "POST") == 0)
		snprintf(length, sizeof(length), "Content-Length: %zu\r\n",
			 cfg.body ? strlen(cfg.body) : 0);
	n = asprintf(&cfg.request, "%s %s HTTP/1.1\r\nHost: %s\r\n"
		     "Accept: text/event-stream\r\nUser-Agent: sseload\r\n"
		     "%s%s%s\r\n%s", cfg.method, cfg.sub.target,
		     cfg.sub.authority,
		     cfg.headers ? cfg.headers : "",
		     cfg.body && !cfg.has_content_type ?
		     "Content-Type: application/json\r\n" : "", length,
		     cfg.body ? cfg.body : "");
	if (n < 0)
		exit(1);
	cfg.request_len = (size_t)n;
}

enum {
	OPT_SHAPE = 256, OPT_FORMAT, OPT_NO_CHECK, OPT_SRC, OPT_PID, OPT_JSON,
	OPT_PUBLISH, OPT_RATE, OPT_COUNT, OPT_TOPICS, OPT_PUBLISH_HEADER,
	OPT_SIZE, OPT_CHURN, OPT_LINGER, OPT_PUBLISHERS,
};

static const struct option long_options[] = {
	{ "connections", required_argument, NULL, 'c' },
	{ "workers", required_argument, NULL, 'p' },
	{ "ramp", required_argument, NULL, 'r' },
	{ "method", required_argument, NULL, 'X' },
	{ "data", required_argument, NULL, 'd' },
	{ "header", required_argument, NULL, 'H' },
	{ "events", required_argument, NULL, 'n' },
	{ "interval", required_argument, NULL, 'i' },
	{ "time", required_argument, NULL, 't' },
	{ "shape", required_argument, NULL, OPT_SHAPE },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "no-check", no_argument, NULL, OPT_NO_CHECK },
	{ "src", required_argument, NULL, OPT_SRC },
	{ "pid", required_argument, NULL, OPT_PID },
	{ "json", required_argument, NULL, OPT_JSON },
	{ "publish", required_argument, NULL, OPT_PUBLISH },
	{ "rate", required_argument, NULL, OPT_RATE },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "topics", required_argument, NULL, OPT_TOPICS },
	{ "publish-header", required_argument, NULL, OPT_PUBLISH_HEADER },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "churn", required_argument, NULL, OPT_CHURN },
	{ "linger", required_argument, NULL, OPT_LINGER },
	{ "publishers", required_argument, NULL, OPT_PUBLISHERS },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* The stream's shape, for GET /message-stream: -n and -i, else the
 * URL's n= and interval=, else what the stream says of itself (its
 * opener's retry: and each event's "(k/N)").  POST /api's stream does not
 * say: 5 and 1000, the server's defaults, unless told. */
static void settle_shape(uint32_t events, uint32_t interval_ms)
{
	static char total_text[80], interval_text[80];
	bool url_n, url_i;

	cfg.total = 5;
	cfg.interval_ms = 1000;
	url_n = query_number(cfg.sub.target, "n", &cfg.total);
	url_i = query_number(cfg.sub.target, "interval", &cfg.interval_ms);
	query_number(cfg.sub.target, "size", &cfg.size);
	if (cfg.first == 0)
		query_number(cfg.sub.target, "lastEventId", &cfg.first);
	cfg.total = events ? events : cfg.total;
	cfg.interval_ms = interval_ms ? interval_ms : cfg.interval_ms;
	snprintf(total_text, sizeof(total_text), events ? "-n %u" :
		 url_n ? "the URL's n=%u; -n overrides it" :
		 "%u, the server's default; -n sets it", cfg.total);
	snprintf(interval_text, sizeof(interval_text), interval_ms ?
		 "-i %u" : url_i ? "the URL's interval=%u; -i overrides it" :
		 "%u, the server's default; -i sets it", cfg.interval_ms);
	total_from = total_text;
	interval_from = interval_text;
	if (cfg.format == FORMAT_EVENTSOURCE && !events && !url_n) {
		cfg.learn_total = true;
		cfg.total = 0;
		total_from = "not yet learned; -n sets it";
	}
	if (cfg.format == FORMAT_EVENTSOURCE && !interval_ms && !url_i) {
		cfg.learn_interval = true;
		cfg.interval_ms = 0;
		interval_from = "not yet learned; -i sets it";
	}
	cfg.expected = cfg.total > cfg.first ? cfg.total - cfg.first : 0;
}

/* What the options left open: the shape (above), the format by path,
 * enough workers, the source addresses, the time limit. */
static void settle(uint32_t events, uint32_t interval_ms, uint32_t workers,
		   int src, int64_t limit_us)
{
	const char *q = strchr(cfg.sub.target, '?');
	size_t path_len = q ? (size_t)(q - cfg.sub.target)
			    : strlen(cfg.sub.target);
	struct rlimit rl;
	uint32_t each;

	if (cfg.format == FORMAT_AUTO)
		cfg.format = path_len >= 4 &&
			     memcmp(cfg.sub.target + path_len - 4, "/api", 4)
			     == 0 ? FORMAT_API : FORMAT_EVENTSOURCE;
	if (cfg.hub && (cfg.body || cfg.method || cfg.shape || events ||
			interval_ms))
		die2("--publish: the subscribers GET their topic; -d, -X, "
		     "--shape, -n and -i are for sse's own streams");
	if (!cfg.hub)
		settle_shape(events, interval_ms);
	if (cfg.method == NULL)
		cfg.method = cfg.body ? "POST" : "GET";
	cfg.workers = workers ? workers :
		      (cfg.conns + STREAMS_PER_WORKER - 1) / STREAMS_PER_WORKER;
	if (cfg.workers > cfg.conns)
		cfg.workers = cfg.conns;
	each = (cfg.conns + cfg.workers - 1) / cfg.workers;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY
	    && each + 16 > rl.rlim_max)
		die2("-p %u: %u streams a worker, over the descriptor limit "
		     "(%llu); use more workers, or raise the limit (ulimit -n; "
		     "see the README)", cfg.workers, each,
		     (unsigned long long)rl.rlim_max);
	if (src > 0 && !(cfg.sub.loopback && cfg.sub.ipv4))
		die2("--src %d: source addresses 127.0.0.x are for a 127.x "
		     "target only", src);
	cfg.src = src >= 0 ? (uint32_t)src :
		  cfg.sub.loopback && cfg.sub.ipv4 ? 50 : 0;
	if (limit_us >= 0)
		cfg.limit_us = limit_us;
	else if (cfg.hub)
		cfg.limit_us = cfg.ramp_us + (int64_t)cfg.count * 1000000 /
			       cfg.rate + cfg.linger_us + 30000000;
	else if (cfg.learn_total || cfg.learn_interval)
		cfg.limit_us = -1;	/* by the shape, once learned */
	else
		cfg.limit_us = cfg.ramp_us + (int64_t)cfg.expected *
			       cfg.interval_ms * 1000 + 10000000;
}

static FILE *json_file;

static enum format format_of(const char *name)
{
	for (int f = FORMAT_AUTO; f <= FORMAT_EVENTSOURCE; f++)
		if (strcmp(name, format_name[f]) == 0)
			return (enum format)f;
	die2("--format %s: not api, eventsource or auto", name);
}

/* The URL, with --shape appended to its query. */
static void take_url(const char *url)
{
	char *t;

	parse_url(&cfg.sub, url);
	if (cfg.shape == NULL)
		return;
	if (asprintf(&t, "%s%c%s", cfg.sub.target,
		     strchr(cfg.sub.target, '?') ? '&' : '?', cfg.shape) < 0)
		exit(1);
	cfg.sub.target = t;
}

/* One case per option: long, but flat.  What the options leave open is
 * settled after the URL is known. */
static void parse_options(int argc, char **argv)
{
	uint32_t events = 0, interval_ms = 0, workers = 0;
	int ch, src = -1;
	int64_t limit_us = -1;

	while ((ch = getopt_long(argc, argv, "c:p:r:X:d:H:n:i:t:h",
				 long_options, NULL)) != -1) {
		switch (ch) {
		case 'c':
			cfg.conns = (uint32_t)number("-c", optarg, 1, 10000000);
			break;
		case 'p':
			workers = (uint32_t)number("-p", optarg, 1, 1024);
			break;
		case 'r':
			cfg.ramp_us = seconds("-r", optarg);
			break;
		case 'X':
			if (optarg[0] == '\0' || strpbrk(optarg, " \r\n"))
				die2("-X %s: not a method", optarg);
			cfg.method = optarg;
			break;
		case 'd':
			cfg.body = optarg;
			break;
		case 'H':
			add_header(optarg);
			break;
		case 'n':
			events = (uint32_t)number("-n", optarg, 1, UINT32_MAX);
			break;
		case 'i':
			interval_ms = (uint32_t)number("-i", optarg, 1,
						       86400000);
			break;
		case 't':
			limit_us = seconds("-t", optarg);
			break;
		case OPT_SHAPE:
			cfg.shape = optarg;
			break;
		case OPT_FORMAT:
			cfg.format = format_of(optarg);
			break;
		case OPT_NO_CHECK:
			cfg.check = false;
			break;
		case OPT_SRC:
			src = (int)number("--src", optarg, 0, 253);
			break;
		case OPT_PID:
			cfg.pid = (pid_t)number("--pid", optarg, 1, INT_MAX);
			if (kill(cfg.pid, 0) < 0 && errno == ESRCH)
				die2("--pid %s: no such process", optarg);
			break;
		case OPT_JSON:
			cfg.json_path = optarg;
			break;
		case OPT_PUBLISH:
			cfg.hub = true;
			parse_url(&cfg.pub, optarg);
			break;
		case OPT_RATE:
			cfg.rate = (uint32_t)number("--rate", optarg, 1, 1000000);
			break;
		case OPT_COUNT:
			cfg.count = (uint32_t)number("--count", optarg, 1,
						     100000000);
			break;
		case OPT_TOPICS:
			cfg.topics = (uint32_t)number("--topics", optarg, 1,
						      1000000);
			break;
		case OPT_PUBLISH_HEADER:
			add_publish_header(optarg);
			break;
		case OPT_SIZE:
			cfg.pub_size = (uint32_t)number("--size", optarg, 0,
							65536);
			break;
		case OPT_CHURN:
			cfg.churn_us = (int64_t)number("--churn", optarg, 1,
						       86400000) * 1000;
			break;
		case OPT_LINGER:
			cfg.linger_us = seconds("--linger", optarg);
			break;
		case OPT_PUBLISHERS:
			cfg.pub_conns = (uint32_t)number("--publishers", optarg,
							 1, PUBCONNS_MAX);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		exit(2);
	}
	take_url(argv[optind]);
	if (!cfg.hub && (cfg.churn_us || cfg.topics > 1 || cfg.pub_headers))
		die2("--churn, --topics and --publish-header go with --publish");
	settle(events, interval_ms, workers, src, limit_us);
	if (cfg.json_path && (json_file = fopen(cfg.json_path, "w")) == NULL)
		die2("--json %s: %s", cfg.json_path, strerror(errno));
}

int main(int argc, char **argv)
{
	static struct result total;
	struct sigaction sa = { .sa_handler = on_sigint };
	bool ok;

	parse_options(argc, argv);
	build_request();
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGINT, &sa, NULL);
	par.tty = isatty(STDERR_FILENO);
	par.pids = calloc(procs(), sizeof(*par.pids));
	par.fds = calloc(procs(), sizeof(*par.fds));
	par.got = calloc(procs(), sizeof(*par.got));
	par.res = calloc(procs(), sizeof(*par.res));
	par.prog = mmap(NULL, cfg.workers * sizeof(*par.prog),
			PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			-1, 0);
	share = mmap(NULL, sizeof(*share), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!par.pids || !par.fds || !par.got || !par.res ||
	    par.prog == MAP_FAILED || share == MAP_FAILED) {
		perror("sseload");
		return 1;
	}
	if (cfg.pid != 0)
		par.idle = server_sample(cfg.pid);
	cfg.start_us = now_us();
	spawn();
	collect();
	ok = reap(&total);
	par.wall_us = now_us() - cfg.start_us;
	if (cfg.learn_total && total.total != 0) {
		cfg.total = total.total;
		cfg.expected = cfg.total > cfg.first ? cfg.total - cfg.first
						     : 0;
	}
	if (cfg.learn_interval && total.interval_ms != 0)
		cfg.interval_ms = total.interval_ms;
	if (cfg.pid != 0)
		par.end = server_sample(cfg.pid);
	report(&total);
	if (json_file != NULL) {
		json_report(json_file, &total);
		if (ferror(json_file) || fclose(json_file) != 0) {
			fprintf(stderr, "sseload: --json %s: %s\n",
				cfg.json_path, strerror(errno));
			ok = false;
		}
	}
	if (cfg.hub && (total.pub_ok != cfg.count || total.duplicates ||
			total.disorder || total.lost))
		ok = false;
	return ok && total.n[N_COMPLETED] == cfg.conns ? 0 : 1;
}
