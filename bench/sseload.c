/* sseload.c - a load generator for sse: many streams, every byte checked.
 *
 *	usage: bench/sseload [options] http://HOST:PORT/PATH?QUERY
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
 * Only loopback targets: this is a tool for one machine's servers, not for
 * loading someone else's.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
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
#define NOTE_LEN	192
#define STATUS_MAX	600

/* ==== configuration ===================================================== */

enum format { FORMAT_AUTO, FORMAT_API, FORMAT_EVENTSOURCE };

static const char *const format_name[] = {
	[FORMAT_AUTO] = "auto",
	[FORMAT_API] = "api",
	[FORMAT_EVENTSOURCE] = "eventsource",
};

static struct config {
	/* the target */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	bool ipv4;
	char *authority;	/* HOST[:PORT] as in the URL, for Host */
	char *target;		/* /PATH?QUERY, --shape appended */
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
	uint32_t total, first, expected, interval_ms, size;
} cfg = { .conns = 100, .check = true };

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
	FAIL_COUNT
};

static const char *const fail_name[FAIL_COUNT] = {
	"connect error", "refused or reset", "bad status", "bad header",
	"bad framing", "bad event bytes", "missing events", "timeout",
};

static const char *const fail_key[FAIL_COUNT] = {
	"connect", "reset", "status", "header", "framing", "event",
	"missing", "timeout",
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
	bool line_end;		/* the last body byte ended a line */
	uint32_t sent;		/* request bytes written */
	uint32_t events;	/* events received */
	uint32_t pend_len, pend_cap;
	uint64_t left;		/* bytes left in the chunk or the body */
	int64_t start_us;	/* connect() called */
	int64_t written_us;	/* the request written; events due from */
	char *pend;		/* a head or an event split across reads */
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

static void conn_end(struct conn *c)
{
	if (c->state == CONN_CONNECT || c->state == CONN_SEND ||
	    c->state == CONN_HEAD)
		w.waiting--;
	if (c->state != CONN_NEW)
		close(c->fd);
	if (c->started)
		w.r.n[N_OPEN]--;
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

/* Ends a connection as failed for reason.  The first failure of each
 * reason keeps a note of what went wrong, for the report. */
__attribute__((format(printf, 3, 4)))
static void conn_fail(struct conn *c, enum fail reason, const char *fmt, ...)
{
	char *note = w.r.note[reason];

	if (note[0] == '\0') {
		va_list ap;
		int len = snprintf(note, NOTE_LEN, "stream %" PRIu64 ": ",
				   conn_number(c));

		va_start(ap, fmt);
		vsnprintf(note + len, NOTE_LEN - (size_t)len, fmt, ap);
		va_end(ap);
	}
	w.r.fail[reason]++;
	w.r.n[N_FAILED]++;
	if (!c->started)
		w.r.n[N_SETTLED]++;
	conn_end(c);
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

static bool opener_ok(const char *e, size_t len)
{
	struct scan s = { e, e + len };

	if (cfg.format == FORMAT_EVENTSOURCE &&
	    !(lit(&s, "retry: ") && num_is(&s, cfg.interval_ms) &&
	      lit(&s, "\n")))
		return false;
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
		event_arrived(c);
	else if (c->stage == STAGE_EVENTS)
		w.r.heartbeats++;
	c->stage = STAGE_EVENTS;
	if (c->events >= cfg.expected)
		conn_complete(c);
}

/* One block of the event stream, e[0..len) with its blank line: the
 * opener, an event, a heartbeat, or (api) ":done". */
static void event(struct conn *c, const char *e, size_t len)
{
	bool api = cfg.format == FORMAT_API;
	uint32_t k = cfg.first + c->events + 1;

	if (!cfg.check) {
		event_counted(c, e, len);
		return;
	}
	if (c->stage == STAGE_OPENER) {
		if (opener_ok(e, len))
			c->stage = STAGE_EVENTS;
		else
			conn_fail(c, FAIL_EVENT, "opener %s", esc(e, len));
		return;
	}
	if (is(e, len, ":\n\n")) {
		w.r.heartbeats++;
		return;
	}
	if (c->stage == STAGE_END) {
		conn_fail(c, FAIL_EVENT, "after the end: %s", esc(e, len));
	} else if (api && is(e, len, ":done\n\n")) {
		if (c->events < cfg.expected)
			conn_fail(c, FAIL_MISSING, ":done after %u of %u "
				  "events", c->events, cfg.expected);
		else
			c->stage = STAGE_END;
	} else if (c->events >= cfg.expected) {
		conn_fail(c, FAIL_EVENT, "more than %u events: %s",
			  cfg.expected, esc(e, len));
	} else if (api ? !api_event_ok(e, len)
		       : !eventsource_event_ok(e, len, k)) {
		conn_fail(c, FAIL_EVENT, "event %u: %s", k, esc(e, len));
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
	if (c->events < cfg.expected)
		conn_fail(c, FAIL_MISSING, "%s after %u of %u events", how,
			  c->events, cfg.expected);
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

/* Starts a non-blocking connect; epoll says when it is over. */
static void conn_open(struct conn *c)
{
	struct epoll_event ev = { .events = EPOLLOUT,
				  .data.u32 = (uint32_t)(c - w.c) };

	w.r.n[N_OPENED]++;
	c->start_us = now_us();
	c->fd = socket(cfg.addr.ss_family,
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
	if (connect(c->fd, (struct sockaddr *)&cfg.addr, cfg.addr_len) < 0 &&
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
	ssize_t n = send(c->fd, cfg.request + c->sent,
			 cfg.request_len - c->sent, MSG_NOSIGNAL);

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			conn_fail(c, FAIL_RESET, "send: %s", strerror(errno));
		return;
	}
	c->sent += (uint32_t)n;
	if (c->sent < cfg.request_len)
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
	else if (c->framing == BODY_CLOSE)
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
		w.r.n[N_SETTLED]++;
		w.r.n[N_OPEN]++;
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
static void worker_loop(void)
{
	int64_t deadline = cfg.start_us + cfg.limit_us;
	struct epoll_event ev[512];

	while (w.live > 0 && !stop) {
		int64_t now = now_us(), next = open_due_conns(now);
		int n, ms;

		if (now >= deadline)
			break;
		if (next > deadline)
			next = deadline;
		ms = next <= now ? 0 : (int)((next - now + 999) / 1000);
		n = epoll_wait(w.epfd, ev, 512, ms);
		for (int i = 0; i < n; i++)
			conn_event(&w.c[ev[i].data.u32]);
		publish();
	}
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
		conn_fail(c, FAIL_TIMEOUT, "%s: after %u of %u events", why,
			  c->events, cfg.expected);
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
	worker_loop();
	for (uint32_t k = 0; k < w.n; k++)
		conn_time_out(&w.c[k]);
	publish();
	write_all(out, &w.r, sizeof(w.r));
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
static void spawn(void)
{
	for (uint32_t i = 0; i < cfg.workers; i++) {
		int fd[2];

		if (pipe2(fd, O_CLOEXEC) < 0 || (par.pids[i] = fork()) < 0) {
			perror("sseload: fork");
			exit(1);
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

/* While the workers run: every 20 ms, take in their results, sample the
 * server once every stream has started or failed, and every 250 ms
 * redraw the progress line; until every pipe is at its end. */
static void collect(void)
{
	struct pollfd *pfd = calloc(cfg.workers, sizeof(*pfd));
	uint32_t *who = calloc(cfg.workers, sizeof(*who));
	int64_t next_line = 0;
	bool peak_taken = cfg.pid == 0, forwarded = false;
	uint64_t sum[N_COUNT];

	for (;;) {
		nfds_t n = 0;

		for (uint32_t i = 0; i < cfg.workers; i++)
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
			for (uint32_t i = 0; i < cfg.workers; i++)
				kill(par.pids[i], SIGINT);
			forwarded = true;
		}
		if (par.tty && now_us() >= next_line) {
			fprintf(stderr, "\rsseload: opened %" PRIu64 "/%u  "
				"open %" PRIu64 "  completed %" PRIu64 "  "
				"failed %" PRIu64 "  events %" PRIu64 "  "
				"%.1f s\033[K", sum[N_OPENED], cfg.conns,
				sum[N_OPEN], sum[N_COMPLETED], sum[N_FAILED],
				sum[N_EVENTS],
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

	for (uint32_t i = 0; i < cfg.workers; i++) {
		int st;

		waitpid(par.pids[i], &st, 0);
		if (par.got[i] == sizeof(par.res[i])) {
			result_merge(total, &par.res[i]);
			continue;
		}
		ok = false;
		if (WIFSIGNALED(st))
			fprintf(stderr, "sseload: worker %u died: %s\n", i,
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

static void report(const struct result *r)
{
	printf("%s http://%s%s\n", cfg.method, cfg.authority, cfg.target);
	printf("  %s, %u events %u ms apart%s; %u worker%s, ramp %.1f s\n\n",
	       format_name[cfg.format], cfg.expected, cfg.interval_ms,
	       cfg.check ? "" : ", not checked", cfg.workers,
	       cfg.workers == 1 ? "" : "s", (double)cfg.ramp_us / 1e6);
	printf("connections         %10u  (%" PRIu64 " connected)\n",
	       cfg.conns, r->connected);
	printf("streams completed   %10" PRIu64 "\n", r->n[N_COMPLETED]);
	printf("streams failed      %10" PRIu64 "\n", r->n[N_FAILED]);
	for (int i = 0; i < FAIL_COUNT; i++) {
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
	const char *sep = "\n";

	for (int i = 0; i < FAIL_COUNT; i++)
		if (r->note[i][0] != '\0') {
			printf("%sfirst %s: %s\n", sep, fail_name[i],
			       r->note[i]);
			sep = "";
		}
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

/* The results as one JSON object, the table's figures under plain names. */
static void json_report(FILE *f, const struct result *r)
{
	const char *sep = "";

	fprintf(f, "{\n  \"method\": ");
	json_string(f, cfg.method);
	fprintf(f, ",\n  \"host\": ");
	json_string(f, cfg.authority);
	fprintf(f, ",\n  \"target\": ");
	json_string(f, cfg.target);
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
"\n"
"Opens many SSE streams to a server on this machine, checks every event\n"
"and reports how late they came.  HOST must be a loopback address:\n"
"127.0.0.0/8, localhost or [::1].\n"
"\n"
"  -c N              streams in all (100)\n"
"  -p P              worker processes (as many as keep each under 19,000\n"
"                    descriptors)\n"
"  -r SECONDS        open the streams evenly over this time (0: at once)\n"
"  -X METHOD         request method (GET, or POST with -d)\n"
"  -d BODY           request body, sent as application/json unless -H\n"
"                    gives a Content-Type\n"
"  -H 'Name: value'  an extra request header (repeatable)\n"
"  -n EVENTS         events per stream (the URL's n=, else 5)\n"
"  -i MS             milliseconds between them (the URL's interval=,\n"
"                    else 1000)\n"
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
"Exit status: 0 if every stream completed, 1 if not, 2 for a usage error.\n");
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

/* Fills cfg.addr from HOST (brackets stripped); false unless HOST is a
 * loopback address.  No resolver: localhost is 127.0.0.1. */
static bool loopback(const char *host, uint16_t port)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)&cfg.addr;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&cfg.addr;

	if (strcasecmp(host, "localhost") == 0)
		host = "127.0.0.1";
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		cfg.addr_len = sizeof(*a4);
		cfg.ipv4 = true;
		return ntohl(a4->sin_addr.s_addr) >> 24 == 127;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		cfg.addr_len = sizeof(*a6);
		return IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr);
	}
	return false;
}

/* http://HOST[:PORT][/PATH][?QUERY]: the address, Host and target. */
static void parse_url(const char *url)
{
	const char *auth = url + 7, *auth_end, *host_end, *port_at;
	char host[64];
	unsigned long long port = 80;

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
		char digits[8] = "";

		if (*port_at != ':' || auth_end - port_at > 6)
			die2("%s: a bad port", url);
		memcpy(digits, port_at + 1, (size_t)(auth_end - port_at - 1));
		port = number("port", digits, 1, 65535);
	}
	if (!loopback(host, (uint16_t)port))
		die2("%s: not a loopback address (127.0.0.0/8, localhost or "
		     "[::1]); sseload loads this machine only", host);
	cfg.authority = strndup(url + 7, (size_t)(auth_end - url - 7));
	if (asprintf(&cfg.target, "%s%.*s", *auth_end == '/' ? "" : "/",
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

/* The one request every connection sends. */
static void build_request(void)
{
	char length[48] = "";
	int n;

	if (cfg.body != NULL || strcmp(cfg.method, "POST") == 0)
		snprintf(length, sizeof(length), "Content-Length: %zu\r\n",
			 cfg.body ? strlen(cfg.body) : 0);
	n = asprintf(&cfg.request, "%s %s HTTP/1.1\r\nHost: %s\r\n"
		     "Accept: text/event-stream\r\nUser-Agent: sseload\r\n"
		     "%s%s%s\r\n%s", cfg.method, cfg.target, cfg.authority,
		     cfg.headers ? cfg.headers : "",
		     cfg.body && !cfg.has_content_type ?
		     "Content-Type: application/json\r\n" : "", length,
		     cfg.body ? cfg.body : "");
	if (n < 0)
		exit(1);
	cfg.request_len = (size_t)n;
}

enum { OPT_SHAPE = 256, OPT_FORMAT, OPT_NO_CHECK, OPT_SRC, OPT_PID, OPT_JSON };

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
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* What the options left open: -n and -i else the URL's n= and
 * interval= else 5 and 1000; the format by path; enough workers; the
 * source addresses; the time limit. */
static void settle(uint32_t events, uint32_t interval_ms, uint32_t workers,
		   int src, int64_t limit_us)
{
	const char *q = strchr(cfg.target, '?');
	size_t path_len = q ? (size_t)(q - cfg.target) : strlen(cfg.target);
	struct rlimit rl;
	uint32_t share;

	cfg.total = 5;
	cfg.interval_ms = 1000;
	query_number(cfg.target, "n", &cfg.total);
	query_number(cfg.target, "interval", &cfg.interval_ms);
	query_number(cfg.target, "size", &cfg.size);
	if (cfg.first == 0)
		query_number(cfg.target, "lastEventId", &cfg.first);
	cfg.total = events ? events : cfg.total;
	cfg.interval_ms = interval_ms ? interval_ms : cfg.interval_ms;
	cfg.expected = cfg.total > cfg.first ? cfg.total - cfg.first : 0;
	if (cfg.format == FORMAT_AUTO)
		cfg.format = path_len >= 4 &&
			     memcmp(cfg.target + path_len - 4, "/api", 4) == 0
			     ? FORMAT_API : FORMAT_EVENTSOURCE;
	if (cfg.method == NULL)
		cfg.method = cfg.body ? "POST" : "GET";
	cfg.workers = workers ? workers :
		      (cfg.conns + STREAMS_PER_WORKER - 1) / STREAMS_PER_WORKER;
	if (cfg.workers > cfg.conns)
		cfg.workers = cfg.conns;
	share = (cfg.conns + cfg.workers - 1) / cfg.workers;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY
	    && share + 16 > rl.rlim_max)
		die2("-p %u: %u streams a worker, over the descriptor limit "
		     "(%llu); use more workers", cfg.workers, share,
		     (unsigned long long)rl.rlim_max);
	cfg.src = src >= 0 ? (uint32_t)src : 50;
	if (!cfg.ipv4)
		cfg.src = 0;	/* ::1 has no neighbours to bind */
	cfg.limit_us = limit_us >= 0 ? limit_us :
		       cfg.ramp_us + (int64_t)cfg.expected * cfg.interval_ms *
		       1000 + 10000000;
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

	parse_url(url);
	if (cfg.shape == NULL)
		return;
	if (asprintf(&t, "%s%c%s", cfg.target,
		     strchr(cfg.target, '?') ? '&' : '?', cfg.shape) < 0)
		exit(1);
	cfg.target = t;
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
	par.pids = calloc(cfg.workers, sizeof(*par.pids));
	par.fds = calloc(cfg.workers, sizeof(*par.fds));
	par.got = calloc(cfg.workers, sizeof(*par.got));
	par.res = calloc(cfg.workers, sizeof(*par.res));
	par.prog = mmap(NULL, cfg.workers * sizeof(*par.prog),
			PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			-1, 0);
	if (!par.pids || !par.fds || !par.got || !par.res ||
	    par.prog == MAP_FAILED) {
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
	return ok && total.n[N_COMPLETED] == cfg.conns ? 0 : 1;
}
