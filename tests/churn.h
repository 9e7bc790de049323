/* churn.h - many clients of several kinds at once, each checking every byte
 * the server sends against the transcript it expects: the engine of
 * tests/syscall_faults.c (the server under injected faults) and bench/soak
 * (the server under hours of churn).
 *
 * A client is one connection of one kind (enum churn_kind): it connects,
 * sends its request bytes in one go, and reads.  Everything it reads must
 * match its transcript, a pattern built once from the server's documented
 * answers (docs/protocol.md sections 1, 2 and 6), where `#` stands for a
 * run of digits (a timestamp) and `~` for a run of bytes up to a CR (the
 * Date header).  After each read the bytes so far are matched: a byte that
 * differs is a wrong byte, whatever happens after; bytes that are a prefix
 * of the transcript mean "so far so good".  How the client ends decides
 * its outcome (enum churn_outcome):
 *
 *	exact	the whole transcript, and then what the kind expects
 *		(its own close, the server's FIN or the server's reset)
 *	closed	the server closed before the transcript was whole; every
 *		byte that came was right
 *	shed	the server turned the connection away: a 503 (byte-exact)
 *		or a close without a byte
 *	wrong	a byte that does not match; never acceptable
 *	hung	neither whole nor closed by the client's deadline
 *
 * A fault may make a server close a connection (it could not allocate its
 * buffer, say), never send a wrong byte or leave one hanging.  The run
 * counts outcomes by kind; churn_expect() turns the exact ones into the
 * /stats counters the server must then show.
 *
 * The second half is the server's side of such a run, as /proc and the
 * server show it: its CPU time and memory, its descriptors back at the
 * idle count, a second of sleep, /stats against the clients' outcomes,
 * and starting it with tests/faultshim.so preloaded.
 *
 * Everything here is static; include it once, after testlib.h.
 */
#ifndef SSE_CHURN_H
#define SSE_CHURN_H

#include "testlib.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"

/* ------------------------------------------------------------ kinds -- */

enum churn_kind {
	K_API,		/* POST /api stream, read whole; the client closes */
	K_EVENTS,	/* GET /message-stream, sized events, Connection:
			 * close: read whole, then the server's FIN */
	K_PLAIN,	/* a plain POST /api; the client closes */
	K_PIPELINE,	/* in one write: two plain POST /api, a stream and
			 * a plain one with Connection: close, which waits
			 * for the stream's end */
	K_DROP,		/* GET /message-stream?drop=2: events 1 and 2, then
			 * the server's reset */
	K_RESET,	/* a stream the client resets once it has the :ok */
	K_HALF_PLAIN,	/* a plain POST /api, then the client's FIN: the
			 * answer, then the server's close */
	K_HALF_STREAM,	/* a stream request, then the client's FIN: the
			 * server ends the stream at once */
	K_KINDS
};

static const char *const churn_kind_name[K_KINDS] = {
	[K_API] = "api", [K_EVENTS] = "events", [K_PLAIN] = "plain",
	[K_PIPELINE] = "pipeline", [K_DROP] = "drop", [K_RESET] = "reset",
	[K_HALF_PLAIN] = "half-plain", [K_HALF_STREAM] = "half-stream",
};

/* How a kind ends once its transcript is whole (or, for the last two,
 * whenever the server lets it). */
enum churn_end {
	END_CLIENT,	/* the client closes: the connection is keep-alive */
	END_FIN,	/* the server closes (FIN) */
	END_RESET,	/* the server resets */
	END_CLIENT_RESET,	/* the client resets once it has the :ok */
	END_ANY,	/* any prefix, then the server's close */
};

enum churn_outcome { O_EXACT, O_CLOSED, O_SHED, O_WRONG, O_HUNG, O_KINDS };

static const char *const churn_outcome_name[O_KINDS] = {
	"exact", "closed", "shed", "wrong", "hung",
};

/* Streams that complete are N_EVENTS events, interval ms apart; streams
 * that the client cuts are SLOW_MS apart, so that the cut always comes
 * first, however busy the machine. */
#define N_EVENTS 3
#define SLOW_MS 5000
#define EVENT_SIZE 160
#define DROP_AFTER 2

/* ---------------------------------------------------------- patterns -- */

enum pmatch { PM_WRONG, PM_PREFIX, PM_FULL };

/* Matches s[0..n) against pat, where `#` is a run of digits and `~` a run
 * of bytes other than CR (each at least one byte).  PM_FULL: s is the
 * whole transcript; PM_PREFIX: s is the start of one; PM_WRONG: neither,
 * with *at the offset of the first byte that does not fit.  *rest is
 * what was left of the pattern then. */
static enum pmatch pat_match_at(const char *pat, const char *s, size_t n,
				size_t *at, const char **rest)
{
	size_t i = 0;

	for (; *rest = pat, *pat != '\0'; pat++) {
		if (*pat == '#' || *pat == '~') {
			size_t k = 0;

			while (i + k < n && (*pat == '#'
					     ? isdigit((unsigned char)s[i + k])
					     : s[i + k] != '\r'))
				k++;
			if (i + k == n)
				return *at = n, PM_PREFIX;
			if (k == 0)
				return *at = i, PM_WRONG;
			i += k;
			continue;
		}
		if (i == n)
			return *at = n, PM_PREFIX;
		if (s[i] != *pat)
			return *at = i, PM_WRONG;
		i++;
	}
	*at = i;
	return i == n ? PM_FULL : PM_WRONG;
}

static enum pmatch pat_match(const char *pat, const char *s, size_t n,
			     size_t *at)
{
	const char *rest;

	return pat_match_at(pat, s, n, at, &rest);
}

struct pat {
	char p[16384];
	size_t len;
};

static void pat_add(struct pat *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	p->len += (size_t)vsnprintf(p->p + p->len, sizeof p->p - p->len, fmt,
				    ap);
	va_end(ap);
}

/* A chunk holding text, in which each `@` is a 13-digit timestamp (the
 * wall clock in ms until the year 2286): its size counts 13 bytes, and
 * the pattern has `#`. */
static void pat_chunk(struct pat *p, const char *text)
{
	size_t n = 0;

	for (const char *t = text; *t != '\0'; t++)
		n += *t == '@' ? 13 : 1;
	pat_add(p, "%zx\r\n", n);
	for (const char *t = text; *t != '\0'; t++)
		pat_add(p, "%c", *t == '@' ? '#' : *t);
	pat_add(p, "\r\n");
}

static void pat_stream_head(struct pat *p, bool keep_alive)
{
	pat_add(p, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
		"Cache-Control: no-cache\r\nConnection: %s\r\nDate: ~\r\n"
		"Transfer-Encoding: chunked\r\nX-Accel-Buffering: no\r\n\r\n",
		keep_alive ? "keep-alive" : "close");
}

/* POST /api's stream of n events, whole. */
static void pat_api_stream(struct pat *p, bool keep_alive, int n)
{
	pat_stream_head(p, keep_alive);
	pat_chunk(p, ":ok\n\n");
	for (int k = 0; k < n; k++)
		pat_chunk(p, "data: {\"message\":\"Hello, world!\","
			  "\"timestamp\":@}\n\n");
	pat_chunk(p, ":done\n\n");
	pat_add(p, "0\r\n\r\n");
}

static void pat_plain(struct pat *p, bool keep_alive)
{
	pat_add(p, "HTTP/1.1 200 OK\r\n"
		"Content-Type: application/json; charset=utf-8\r\n"
		"Connection: %s\r\nDate: ~\r\nContent-Length: 27\r\n\r\n"
		"{\"message\":\"Hello, world!\"}",
		keep_alive ? "keep-alive" : "close");
}

/* GET /message-stream's events 1..upto of n, each size bytes
 * (docs/protocol.md section 6): the pad fills the event up to its size. */
static void pat_events(struct pat *p, int interval, int n, int upto,
		       int size)
{
	char text[1024];

	snprintf(text, sizeof text, "retry: %d\n:ok\n\n", interval);
	pat_chunk(p, text);
	for (int k = 1; k <= upto; k++) {
		int len = snprintf(text, sizeof text, "id: %d\ndata: {\"user\":"
				   "\"sse\",\"text\":\"Hello, world! (%d/%d)\","
				   "\"timestamp\":@,\"pad\":\"", k, k, n);
		int pad = size - (len + 12) - 4;	/* @ and "}\n\n */

		for (int i = 0; i < pad && len < (int)sizeof text - 8; i++)
			text[len++] = 'x';
		snprintf(text + len, sizeof text - (size_t)len, "\"}\n\n");
		pat_chunk(p, text);
	}
}

/* What a shed connection may read: this, or nothing before the close. */
static const char churn_503[] =
	"HTTP/1.1 503 Service Unavailable\r\n"
	"Content-Type: application/json; charset=utf-8\r\n"
	"Content-Length: 26\r\nConnection: close\r\n\r\n"
	"{\"error\":\"server is full\"}";

/* ----------------------------------------------------------- the mix -- */

struct churn_spec {
	char req[2048];
	size_t req_len;
	struct pat want;
	enum churn_end end;
	bool half_close;	/* shutdown(SHUT_WR) after the request */
};

#define STREAM_HEADERS \
	"Host: t\r\nContent-Type: application/json\r\nContent-Length: 15\r\n"
#define PLAIN_POST "POST /api HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"

/* The requests and transcripts of every kind, for streams interval ms
 * apart. */
static void churn_specs(struct churn_spec spec[K_KINDS], int interval)
{
	struct churn_spec *s;

	memset(spec, 0, sizeof(struct churn_spec) * K_KINDS);

	s = &spec[K_API];
	snprintf(s->req, sizeof s->req, "POST /api?n=%d&interval=%d HTTP/1.1"
		 "\r\n" STREAM_HEADERS "\r\n{\"stream\":true}", N_EVENTS,
		 interval);
	pat_api_stream(&s->want, true, N_EVENTS);
	s->end = END_CLIENT;

	s = &spec[K_EVENTS];
	snprintf(s->req, sizeof s->req, "GET /message-stream?n=%d&interval=%d"
		 "&size=%d HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
		 N_EVENTS, interval, EVENT_SIZE);
	pat_stream_head(&s->want, false);
	pat_events(&s->want, interval, N_EVENTS, N_EVENTS, EVENT_SIZE);
	pat_add(&s->want, "0\r\n\r\n");
	s->end = END_FIN;

	s = &spec[K_PLAIN];
	snprintf(s->req, sizeof s->req, PLAIN_POST);
	pat_plain(&s->want, true);
	s->end = END_CLIENT;

	s = &spec[K_PIPELINE];
	snprintf(s->req, sizeof s->req, PLAIN_POST PLAIN_POST
		 "POST /api?n=%d&interval=%d HTTP/1.1\r\n" STREAM_HEADERS
		 "\r\n{\"stream\":true}POST /api HTTP/1.1\r\nHost: t\r\n"
		 "Content-Length: 0\r\nConnection: close\r\n\r\n", N_EVENTS,
		 interval);
	pat_plain(&s->want, true);
	pat_plain(&s->want, true);
	pat_api_stream(&s->want, true, N_EVENTS);
	pat_plain(&s->want, false);
	s->end = END_FIN;

	s = &spec[K_DROP];
	snprintf(s->req, sizeof s->req, "GET /message-stream?n=%d&interval=%d"
		 "&size=%d&drop=%d HTTP/1.1\r\nHost: t\r\n\r\n", N_EVENTS + 1,
		 interval, EVENT_SIZE, DROP_AFTER);
	pat_stream_head(&s->want, true);
	pat_events(&s->want, interval, N_EVENTS + 1, DROP_AFTER, EVENT_SIZE);
	s->end = END_RESET;

	s = &spec[K_RESET];
	snprintf(s->req, sizeof s->req, "POST /api?n=%d&interval=%d HTTP/1.1"
		 "\r\n" STREAM_HEADERS "\r\n{\"stream\":true}", N_EVENTS,
		 SLOW_MS);
	pat_api_stream(&s->want, true, N_EVENTS);
	s->end = END_CLIENT_RESET;

	s = &spec[K_HALF_PLAIN];
	snprintf(s->req, sizeof s->req, PLAIN_POST);
	pat_plain(&s->want, true);
	s->end = END_FIN;
	s->half_close = true;

	s = &spec[K_HALF_STREAM];
	snprintf(s->req, sizeof s->req, "POST /api?n=%d&interval=%d HTTP/1.1"
		 "\r\n" STREAM_HEADERS "\r\n{\"stream\":true}", N_EVENTS,
		 SLOW_MS);
	pat_api_stream(&s->want, true, N_EVENTS);
	s->end = END_ANY;
	s->half_close = true;

	for (int k = 0; k < K_KINDS; k++)
		spec[k].req_len = strlen(spec[k].req);
}

/* ---------------------------------------------------------- clients -- */

enum cl_state { CL_FREE, CL_CONNECT, CL_RUN };

struct churn_client {
	enum cl_state state;
	enum churn_kind kind;
	int fd;
	size_t sent, len;
	int64_t deadline;
	char in[16384];
};

struct churn {
	/* Set by the caller. */
	int port;
	int interval;		/* ms between the events of completing streams */
	int slots;		/* clients at once */
	long limit;		/* clients in all; 0: until `until` */
	int64_t until;		/* mono_ms() after which no client starts */
	int client_ms;		/* each client's deadline, from its start */
	unsigned weight[K_KINDS];	/* the mix: a share for each kind */

	/* The results. */
	long started;
	long count[K_KINDS][O_KINDS];
	char first_bad[1024];	/* the first wrong or hung client, why */

	/* Inside. */
	struct churn_spec spec[K_KINDS];
	struct churn_client *cl;
	unsigned turn;		/* the mix's position */
};

static void churn_note(struct churn *ch, struct churn_client *c,
		       const char *fmt, ...)
{
	char why[700];
	va_list ap;

	if (ch->first_bad[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	snprintf(ch->first_bad, sizeof ch->first_bad, "client #%ld (%s): %s",
		 ch->started, churn_kind_name[c->kind], why);
}

static void churn_end(struct churn *ch, struct churn_client *c,
		      enum churn_outcome o, bool reset)
{
	if (reset) {
		struct linger hard = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
	}
	close(c->fd);
	c->fd = -1;
	c->state = CL_FREE;
	ch->count[c->kind][o]++;
}

/* The next kind of the mix: weights spread in a fixed order, so that a
 * run's mix is the same every time. */
static enum churn_kind churn_next_kind(struct churn *ch)
{
	unsigned total = 0;

	for (int k = 0; k < K_KINDS; k++)
		total += ch->weight[k];
	unsigned at = ch->turn++ % (total ? total : 1);
	for (int k = 0; k < K_KINDS; k++) {
		if (at < ch->weight[k])
			return (enum churn_kind)k;
		at -= ch->weight[k];
	}
	return K_API;
}

static void churn_start(struct churn *ch, struct churn_client *c)
{
	struct client tmp;

	c->kind = churn_next_kind(ch);
	c->sent = c->len = 0;
	c->deadline = mono_ms() + ch->client_ms;
	ch->started++;
	if (client_open_nb(&tmp, ch->port) != 0) {
		churn_note(ch, c, "connect: %s", strerror(errno));
		ch->count[c->kind][O_HUNG]++;
		return;
	}
	c->fd = tmp.fd;
	c->state = CL_CONNECT;
}

/* What the client has read, judged once the server has closed (eof, with
 * err the read's errno) or after each read (eof false). */
static void churn_judge(struct churn *ch, struct churn_client *c, bool eof,
			int err)
{
	const struct churn_spec *s = &ch->spec[c->kind];
	size_t at;
	const char *rest;
	enum pmatch m = pat_match_at(s->want.p, c->in, c->len, &at, &rest);

	if (m == PM_WRONG && c->len >= 12 &&
	    memcmp(c->in, "HTTP/1.1 503", 12) == 0) {
		m = pat_match(churn_503, c->in, c->len, &at);
		if (m == PM_FULL && eof)
			return churn_end(ch, c, O_SHED, false);
		if (m != PM_WRONG && !eof)
			return;		/* more of the 503 to come */
	}
	if (m == PM_WRONG) {
		churn_note(ch, c, "byte %zu differs: got %s, expected %s", at,
			   esc(c->in + at, c->len - at > 60 ? 60
					   : c->len - at),
			   esc(rest, strnlen(rest, 60)));
		return churn_end(ch, c, O_WRONG, false);
	}
	if (!eof) {
		if (m == PM_FULL && s->end == END_CLIENT)
			return churn_end(ch, c, O_EXACT, false);
		if (s->end == END_CLIENT_RESET &&
		    memmem(c->in, c->len, ":ok\n\n", 5) != NULL)
			return churn_end(ch, c, O_EXACT, true);
		return;
	}
	if (c->len == 0 && s->end != END_ANY)
		return churn_end(ch, c, O_SHED, false);
	if (s->end == END_ANY)
		return churn_end(ch, c, O_EXACT, false);
	if (m != PM_FULL)
		return churn_end(ch, c, O_CLOSED, false);
	if (s->end == END_RESET && err != ECONNRESET) {
		churn_note(ch, c, "the stream ended with %s, not a reset",
			   err ? strerror(err) : "a FIN");
		return churn_end(ch, c, O_WRONG, false);
	}
	churn_end(ch, c, O_EXACT, false);
}

static void churn_step(struct churn *ch, struct churn_client *c,
		       short revents)
{
	const struct churn_spec *s = &ch->spec[c->kind];

	if (c->state == CL_CONNECT) {
		int e = 0;
		socklen_t len = sizeof e;

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &len);
		if (e != 0) {
			churn_note(ch, c, "connect: %s", strerror(e));
			return churn_end(ch, c, O_HUNG, false);
		}
		c->state = CL_RUN;
	}
	if ((revents & POLLOUT) && c->sent < s->req_len) {
		ssize_t n = send(c->fd, s->req + c->sent, s->req_len - c->sent,
				 MSG_NOSIGNAL);

		if (n > 0)
			c->sent += (size_t)n;
		else if (n < 0 && errno != EAGAIN && errno != EINTR)
			c->sent = s->req_len;	/* closed: read what came */
		if (c->sent == s->req_len && s->half_close)
			shutdown(c->fd, SHUT_WR);
	}
	if (!(revents & (POLLIN | POLLHUP | POLLERR)))
		return;
	for (;;) {
		ssize_t n = read(c->fd, c->in + c->len, sizeof c->in - c->len);

		if (n > 0) {
			c->len += (size_t)n;
			if (c->len == sizeof c->in) {
				churn_note(ch, c, "more bytes than the "
					   "transcript: %s",
					   esc(c->in, c->len));
				return churn_end(ch, c, O_WRONG, false);
			}
			churn_judge(ch, c, false, 0);
			if (c->state == CL_FREE)
				return;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		return churn_judge(ch, c, true, n < 0 ? errno : 0);
	}
}

/* Runs the mix: ch->slots clients at once, a new one starting as one
 * ends, until ch->limit clients have started (or ch->until has come) and
 * all have ended, or deadline.  Returns how many were wrong or hung. */
static long churn_run(struct churn *ch, int64_t deadline)
{
	struct pollfd *p = calloc((size_t)ch->slots, sizeof *p);
	int *idx = calloc((size_t)ch->slots, sizeof *idx);
	long bad = 0;

	churn_specs(ch->spec, ch->interval);
	ch->cl = calloc((size_t)ch->slots, sizeof *ch->cl);
	if (p == NULL || idx == NULL || ch->cl == NULL) {
		snprintf(ch->first_bad, sizeof ch->first_bad, "out of memory");
		free(p);
		free(idx);
		free(ch->cl);
		return 1;
	}
	for (;;) {
		int64_t now = mono_ms();
		bool more = true;
		nfds_t np = 0;

		for (int i = 0; i < ch->slots; i++) {
			struct churn_client *c = &ch->cl[i];

			more = (ch->limit == 0 || ch->started < ch->limit) &&
			       (ch->until == 0 || now < ch->until);
			if (c->state == CL_FREE && more)
				churn_start(ch, c);
			if (c->state != CL_FREE && now >= c->deadline) {
				churn_note(ch, c, "still open after %d ms; "
					   "read: %s", ch->client_ms,
					   esc(c->in, c->len));
				churn_end(ch, c, O_HUNG, false);
			}
			if (c->state == CL_FREE)
				continue;
			short ev = POLLIN;
			if (c->state == CL_CONNECT ||
			    c->sent < ch->spec[c->kind].req_len)
				ev |= POLLOUT;
			p[np] = (struct pollfd){ .fd = c->fd, .events = ev };
			idx[np++] = i;
		}
		if (np == 0 && !more)
			break;
		if (now >= deadline) {
			for (nfds_t k = 0; k < np; k++)
				churn_end(ch, &ch->cl[idx[k]], O_HUNG, false);
			break;
		}
		if (poll(p, np, np ? 100 : 10) < 0 && errno != EINTR)
			break;
		for (nfds_t k = 0; k < np; k++)
			if (p[k].revents != 0)
				churn_step(ch, &ch->cl[idx[k]], p[k].revents);
	}
	for (int k = 0; k < K_KINDS; k++)
		bad += ch->count[k][O_WRONG] + ch->count[k][O_HUNG];
	free(p);
	free(idx);
	free(ch->cl);
	ch->cl = NULL;
	return bad;
}

static long churn_total(const struct churn *ch, enum churn_outcome o)
{
	long n = 0;

	for (int k = 0; k < K_KINDS; k++)
		n += ch->count[k][o];
	return n;
}

/* One line: the outcomes of every kind, e.g. for stderr. */
static void churn_describe(const struct churn *ch, char *out, size_t cap)
{
	size_t len = (size_t)snprintf(out, cap, "%ld clients:", ch->started);

	for (int k = 0; k < K_KINDS && len < cap; k++) {
		len += (size_t)snprintf(out + len, cap - len, " %s",
					churn_kind_name[k]);
		for (int o = 0; o < O_KINDS && len < cap; o++)
			if (ch->count[k][o] != 0 || o == O_EXACT)
				len += (size_t)snprintf(out + len, cap - len,
					"%s%s %ld", o == O_EXACT ? " " : "/",
					churn_outcome_name[o],
					ch->count[k][o]);
	}
}

/* ---------------------------------------------------------- counters -- */

/* The counters of GET /stats that the churn accounts for. */
struct churn_stats {
	long long connections, streams, requests, events, completed, aborted,
		dropped, stalled, accepted, shed, responses, ok200;
};

static long long churn_json_int(const char *body, const char *key)
{
	char pat[64];

	snprintf(pat, sizeof pat, "\"%s\":", key);
	const char *p = strstr(body, pat);
	return p == NULL ? -1 : strtoll(p + strlen(pat), NULL, 10);
}

/* Asks GET /stats (closing after), trying again until the deadline: a
 * server under faults may close a connection or two.  The answer does
 * not count itself: its request is in `requests`, its response not yet in
 * `responses`.  Returns false with a note. */
static bool churn_stats_get(int port, struct churn_stats *st,
			    int64_t deadline)
{
	static const char req[] =
		"GET /stats HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";

	for (;;) {
		struct client c;
		struct response r = { 0 };
		int64_t until = mono_ms() + 3000;
		bool ok = false;

		if (until > deadline)
			until = deadline;
		if (client_open(&c, port) == 0 &&
		    client_send(&c, req, strlen(req), 0, until) == 0 &&
		    client_read(&c, &r, until) == 0 && r.status == 200 &&
		    r.body != NULL) {
			const char *b = r.body, *resp = strstr(b, "\"responses\":{");

			st->connections = churn_json_int(b, "connections");
			st->streams = churn_json_int(b, "streams");
			st->requests = churn_json_int(b, "requests");
			st->events = churn_json_int(b, "events");
			st->completed = churn_json_int(b, "streams_completed");
			st->aborted = churn_json_int(b, "streams_aborted");
			st->dropped = churn_json_int(b, "streams_dropped");
			st->stalled = churn_json_int(b, "streams_stalled");
			st->accepted = churn_json_int(b, "accepted");
			st->shed = churn_json_int(b, "shed");
			st->responses = st->ok200 = 0;
			for (const char *q = resp ? resp + 13 : NULL;
			     q != NULL && *q != '}';) {
				q = strchr(q, '"');
				if (q == NULL || q[1] < '1' || q[1] > '5')
					break;
				int code = atoi(q + 1);
				const char *v = strchr(q, ':');
				long long n = v ? strtoll(v + 1, NULL, 10) : 0;
				st->responses += n;
				if (code == 200)
					st->ok200 = n;
				q = v ? strpbrk(v, ",}") : NULL;
				if (q != NULL && *q == ',')
					q++;
			}
			ok = resp != NULL && st->completed >= 0 &&
			     st->stalled >= 0;
			if (!ok)
				t_note("GET /stats: counters missing: %s",
				       esc(r.body, r.body_len));
		}
		resp_free(&r);
		client_close(&c);
		if (ok)
			return true;
		if (mono_ms() >= deadline)
			return t_note("no answer to GET /stats in time"), false;
		t_clear();
		poll(NULL, 0, 50);
	}
}

/* What /stats must have added up to, from the clients that were exact
 * (and nothing else happened): a stream that was whole was completed, a
 * reset or half-closed stream aborted, a drop dropped.  gets is how many
 * GET /stats were answered, the one that reads them included (whose own
 * response is not counted yet). */
static void churn_expect(const struct churn *ch, long gets,
			 struct churn_stats *want)
{
	const long(*n)[O_KINDS] = ch->count;
	long api = n[K_API][O_EXACT], events = n[K_EVENTS][O_EXACT],
	     plain = n[K_PLAIN][O_EXACT], pipe = n[K_PIPELINE][O_EXACT],
	     drop = n[K_DROP][O_EXACT], reset = n[K_RESET][O_EXACT],
	     half_plain = n[K_HALF_PLAIN][O_EXACT],
	     half_stream = n[K_HALF_STREAM][O_EXACT];

	memset(want, 0, sizeof *want);
	want->requests = api + events + plain + 4 * pipe + drop + reset +
			 half_plain + half_stream + gets;
	want->responses = want->ok200 = want->requests - 1;
	want->completed = api + events + pipe;
	want->aborted = reset + half_stream;
	want->dropped = drop;
	want->events = (long long)N_EVENTS * (api + events + pipe) +
		       DROP_AFTER * drop;
	want->accepted = ch->started + gets;
}

/* ---------------------------------------------------- the server's side -- */

/* Starts the server bin with args and, unless shim is NULL, the fault
 * library preloaded with these faults: in its environment only. */
static bool churn_server_start(struct server *s, const char *bin,
			       const char *const args[], const char *shim,
			       const char *faults)
{
	const char *asan_env = getenv("ASAN_OPTIONS");
	char asan_opts[1024];

	if (shim == NULL)
		return server_start(s, bin, args) == 0;

	/* A sanitized server checks that its runtime comes first among the
	 * libraries; with the shim preloaded it does not, and need not. */
	snprintf(asan_opts, sizeof asan_opts, "%s%sverify_asan_link_order=0",
		 asan_env ? asan_env : "", asan_env && *asan_env ? ":" : "");
	setenv("ASAN_OPTIONS", asan_opts, 1);
	setenv("LD_PRELOAD", shim, 1);
	setenv("SSE_FAULTS", faults, 1);
	int r = server_start(s, bin, args);
	unsetenv("LD_PRELOAD");
	unsetenv("SSE_FAULTS");
	if (asan_env != NULL)
		setenv("ASAN_OPTIONS", asan_env, 1);
	else
		unsetenv("ASAN_OPTIONS");
	return r == 0;
}

/* Stops the server with SIGTERM and keeps what it wrote to stderr in out
 * (the shim's report is its last line).  Returns its exit code, -1 if it
 * did not end within 10 s (it is then killed). */
static int churn_server_stop(struct server *s, char *out, size_t cap)
{
	size_t len = s->err_len < cap - 1 ? s->err_len : cap - 1;
	char *bufs[1] = { out };
	size_t lens[1];
	int fd = s->err_fd;

	memcpy(out, s->err, len);
	out[len] = '\0';
	lens[0] = len;
	kill(s->pid, SIGTERM);
	int code = wait_child(s->pid, &fd, bufs, lens, cap, 1,
			      mono_ms() + 10000);
	if (code < 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
	}
	close(s->err_fd);
	s->pid = -1;
	s->err_fd = -1;
	return code;
}

/* Waits until the server holds want descriptors. */
static bool churn_fds_become(pid_t pid, int want, int64_t deadline)
{
	int n;

	while ((n = fd_count(pid)) != want) {
		if (mono_ms() >= deadline)
			return t_note("the server holds %d descriptors, %d when "
				      "idle", n, want);
		poll(NULL, 0, 10);
	}
	return true;
}

/* The server's descriptors with no client: asked once /stats has been
 * answered (the server is up, its descriptors all made) and its
 * connection is gone. */
static int churn_idle_fds(struct server *s)
{
	struct churn_stats st;
	int n = -1, same = 0;

	if (!churn_stats_get(s->port, &st, mono_ms() + 10000))
		return -1;
	/* The GET's connection closes when the server sees the client's
	 * close: the count is idle once it holds still for 200 ms. */
	for (int64_t end = mono_ms() + 5000; mono_ms() < end && same < 20;) {
		int now = fd_count(s->pid);

		same = now == n ? same + 1 : 0;
		n = now;
		poll(NULL, 0, 10);
	}
	if (same < 20)
		return t_note("the descriptor count never settled"), -1;
	return n;
}

/* The server, alone, for a second: CPU time at most 50 ms. */
static bool churn_sleeps(pid_t pid)
{
	int64_t c0 = proc_cpu_ms(pid);

	poll(NULL, 0, 1000);
	int64_t used = proc_cpu_ms(pid) - c0;
	if (c0 < 0 || used > 50)
		return t_note("the idle server used %lld ms of CPU in 1 s",
			      (long long)used);
	return true;
}

/* The counters after the churn against the clients' outcomes.  With
 * exact set, every client was exact and each counter must be what they
 * saw; else only what no fault can excuse. */
static bool churn_counters_ok(const struct churn *ch,
			      const struct churn_stats *st0,
			      const struct churn_stats *st1, bool exact)
{
	struct churn_stats want;

	churn_expect(ch, 1, &want);
	if (st1->connections != 1 || st1->streams != 0)
		return t_note("/stats: %lld connections and %lld streams "
			      "left, expected 1 (its own) and 0",
			      st1->connections, st1->streams);
	if (st1->responses != st1->requests - 1)
		return t_note("/stats: %lld requests but %lld responses "
			      "(every request is answered once)",
			      st1->requests - 1, st1->responses);
#define DELTA(f) (st1->f - st0->f)
#define CHECK(f, cmp, what)                                                 \
	do {                                                                 \
		if (!(DELTA(f) cmp want.f))                                  \
			return t_note("/stats: %s went up by %lld, "         \
				      "expected %s %lld", what, DELTA(f),    \
				      #cmp, (long long)want.f);              \
	} while (0)
	if (!exact) {
		CHECK(completed, >=, "streams_completed");
		CHECK(dropped, >=, "streams_dropped");
		CHECK(events, >=, "events");
		return true;
	}
	want.responses = want.ok200 = want.requests;	/* the GET before */
	CHECK(requests, ==, "requests");
	CHECK(responses, ==, "responses");
	CHECK(ok200, ==, "200 responses");
	CHECK(completed, ==, "streams_completed");
	CHECK(aborted, ==, "streams_aborted");
	CHECK(dropped, ==, "streams_dropped");
	CHECK(stalled, ==, "streams_stalled");
	CHECK(events, ==, "events");
	CHECK(accepted, ==, "accepted");
	CHECK(shed, ==, "shed");
#undef CHECK
#undef DELTA
	return true;
}

#pragma GCC diagnostic pop

#endif
