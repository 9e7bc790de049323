/* shapes.c - the query parameters that shape a stream, seen on the wire.
 *
 * Usage: tests/shapes [PATH-TO-SSE]		(default ./sse)
 *
 * docs/protocol.md section 6 lets a load tester shape a stream with n,
 * interval, size, heartbeat, drop and stall in the query string of either
 * stream route, POST /api and GET /message-stream.  Every case runs on both:
 *
 *	n-interval/	n events, event k due k intervals after the
 *			request
 *	size/		every event exactly SIZE bytes on the wire, from
 *			the smallest allowed to --max-event-size, padded
 *			with a "pad" string; one byte less than the
 *			smallest is a 400
 *	heartbeat/	`:` comments in the silence, each heartbeat ms
 *			after the bytes before it, so never right after an
 *			event; --heartbeat gives the default, heartbeat=0
 *			none
 *	drop/		events 1..K, then a reset (not a FIN) when event
 *			K + 1 was due, no last chunk; drop=0; /stats
 *			streams_dropped; a stream resumed with
 *			Last-Event-ID at or past K runs to its end, one
 *			resumed before K keeps the query's shape
 *	stall/		events 1..K, silence for as long as the rest of
 *			the stream would have lasted, then a reset; /stats
 *			streams_stalled; resumed streams as for drop
 *	bounds/		a table: each parameter at and just past its
 *			edges (bounds are inclusive), with the default
 *			limits and with small ones set by flag
 *	not-a-number/	each parameter with each malformed value
 *	query/		a table: percent-decoding, repeated keys (the
 *			last wins), unknown keys, empty queries and pairs
 *	api-body/	a table: /api takes its shape from the query
 *			only; its body keeps the seed's meaning
 *
 * A rejection is a 400 whose JSON error `{"error":"..."}` names the
 * parameter.  The bounds and not-a-number rows run in this process; the
 * timed groups run in child processes beside them, each with its own
 * server, so that the whole run lasts about as long as the slowest group
 * (about 4 s).  Every wait is a poll with a deadline (testlib.h).
 *
 * Each case prints one line, `pass NAME`, `FAIL NAME: WHY` or `skip NAME:
 * WHY`; the exit status is 1 if any case failed.
 */
#include "testlib.h"

#define EARLY_MS 5		/* a chunk may seem this early (rounding) */
#define LATE_MS 250		/* or this late (a busy test machine) */

#define NELEM(a) (sizeof (a) / sizeof (a)[0])

#define JSON "application/json"
#define FORM "application/x-www-form-urlencoded"
#define HELLO "{\"message\":\"Hello, world!\"}"
#define STREAM_BODY "{\"stream\":true}"

static const char *sse = "./sse";

/* A server like most here: loopback, a free port, quiet, five events
 * 100 ms apart, then the given arguments up to a NULL. */
#define SERVER_ARGS(...) ((const char *const[]){ "-b", "127.0.0.1", \
	"-p", "0", "-q", "-i", "100", "-n", "5", __VA_ARGS__ })

/* The small limits the bounds table moves the edges to. */
#define SMALL_LIMITS "--max-events", "10", "--min-interval", "50", \
	"--max-event-size", "300"

/* ---------------------------------------------------------- requests -- */

enum route { API, ES };

static const char *const route_name[] = {
	[API] = "api",
	[ES] = "message-stream",
};

/* One request for a stream. */
struct ask {
	enum route route;
	const char *query;	/* after the `?`; NULL: no `?` at all */
	const char *header;	/* one more header line, no CRLF; or NULL */
	const char *body;	/* /api only; NULL: {"stream":true} */
};

/* The request line, for a FAIL line and the request itself. */
static const char *request_line(const struct ask *a)
{
	static char line[1024];

	snprintf(line, sizeof line, "%s %s%s%s",
		 a->route == API ? "POST" : "GET",
		 a->route == API ? "/api" : "/message-stream",
		 a->query != NULL ? "?" : "", a->query ? a->query : "");
	return line;
}

/* The request's bytes.  POST /api asks for its stream with the seed's
 * JSON body, not with ?stream=1, so that the query is the row's alone;
 * a body that does not start with `{` goes as a form. */
static const char *request_text(const struct ask *a)
{
	static char text[2048];
	const char *body = a->body ? a->body
			 : a->route == API ? STREAM_BODY : NULL;
	int len = snprintf(text, sizeof text, "%s HTTP/1.1\r\nHost: t\r\n",
			   request_line(a));

	if (a->header != NULL)
		len += snprintf(text + len, sizeof text - (size_t)len,
				"%s\r\n", a->header);
	if (body != NULL)
		snprintf(text + len, sizeof text - (size_t)len,
			 "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n%s",
			 body[0] == '{' ? JSON : FORM, strlen(body), body);
	else
		snprintf(text + len, sizeof text - (size_t)len, "\r\n");
	return text;
}

/* Connects and sends a's request.  Returns 0, or -1 with a note. */
static int ask_open(struct client *c, int port, const struct ask *a)
{
	const char *req = request_text(a);

	if (client_open(c, port) != 0)
		return -1;
	return client_send(c, req, strlen(req), 0, mono_ms() + 2000);
}

/* Names the request in front of the note, if there is one. */
static void prefix_request(const struct ask *a)
{
	t_prefix("%s%s%s: ", request_line(a), a->header ? " with " : "",
		 a->header ? a->header : "");
}

/* ------------------------------------------------------------- checks -- */

/* Does word occur in s[0..n) whole, not inside a longer run of letters,
 * digits and `_`?  ("n" is in "n must be", not in "number".) */
static bool has_word(const char *s, size_t n, const char *word)
{
	size_t w = strlen(word);

	for (size_t i = 0; i + w <= n; i++) {
		bool before = i > 0 && (isalnum((unsigned char)s[i - 1]) ||
					s[i - 1] == '_');
		bool after = i + w < n && (isalnum((unsigned char)s[i + w]) ||
					   s[i + w] == '_');

		if (!before && !after && memcmp(s + i, word, w) == 0)
			return true;
	}
	return false;
}

/* A rejection: 400, a JSON `{"error":"..."}` body whose text names the
 * parameter, so that a load tester knows which one to fix. */
static bool error_names(const struct response *r, const char *param)
{
	const char *type = resp_header(r, "Content-Type");

	if (r->status != 400)
		return t_note("status %d, expected 400 naming %s; body %s",
			      r->status, param, esc(r->body, r->body_len));
	if (type == NULL || strncmp(type, JSON, strlen(JSON)) != 0)
		return t_note("Content-Type: %s, expected %s", escs(type),
			      JSON);
	if (!glob("{\"error\":\"*\"}", r->body, r->body_len))
		return t_note("body %s, expected {\"error\":\"...\"}",
			      esc(r->body, r->body_len));
	if (!has_word(r->body + 10, r->body_len - 12, param))
		return t_note("the error %s does not name %s",
			      esc(r->body, r->body_len), param);
	return true;
}

/* The head of a stream: 200, text/event-stream, chunked. */
static bool stream_head_ok(const struct response *r)
{
	const char *type = resp_header(r, "Content-Type");
	const char *te = resp_header(r, "Transfer-Encoding");

	if (r->status != 200)
		return t_note("status %d, expected 200 and a stream; body %s",
			      r->status, esc(r->body, r->body_len));
	if (type == NULL || strcmp(type, "text/event-stream") != 0)
		return t_note("Content-Type: %s, expected text/event-stream",
			      escs(type));
	if (te == NULL || strcmp(te, "chunked") != 0)
		return t_note("Transfer-Encoding: %s, expected chunked",
			      escs(te));
	return true;
}

/* The stream the request is to get, and how it is to end. */
enum end {
	COMPLETE,	/* every event, then the end of the body */
	DROP,		/* event K, then a reset when K + 1 was due */
	STALL,		/* event K, then silence while the rest
			 * would have lasted, then a reset */
};

struct want {
	struct ask ask;
	int n, interval;	/* the stream's length and spacing */
	int size;		/* each event's bytes; 0: unpadded */
	int heartbeat;		/* ms; 0: no heartbeats may come */
	int first;		/* resumed after this event (Last-Event-ID) */
	enum end end;
	int k;			/* DROP or STALL after this event */
};

/* The opening chunk: `:ok`, after a retry line on /message-stream. */
static bool opening_ok(const struct want *w, const char *p, size_t len)
{
	char want[64];

	if (w->ask.route == ES)
		snprintf(want, sizeof want, "retry: %d\n:ok\n\n", w->interval);
	else
		snprintf(want, sizeof want, ":ok\n\n");
	if (len != strlen(want) || memcmp(p, want, len) != 0)
		return t_note("opening chunk %s, expected %s", esc(p, len),
			      escs(want));
	return true;
}

/* Event k of n as the route writes it (docs/protocol.md sections 1 and
 * 2), up to the digits of its timestamp.  Returns its length. */
static size_t event_start(char *buf, size_t cap, enum route route, int k,
			  int n)
{
	if (route == API)
		return (size_t)snprintf(buf, cap, "data: {\"message\":\"Hello, "
					"world!\",\"timestamp\":");
	return (size_t)snprintf(buf, cap, "id: %d\ndata: {\"user\":\"sse\","
				"\"text\":\"Hello, world! (%d/%d)\","
				"\"timestamp\":", k, k, n);
}

/* The smallest size= a stream of n events takes: its longest event (the
 * last id, a timestamp as long as now's) with an empty "pad" string. */
static int smallest_size(enum route route, int n)
{
	char start[256], stamp[32];
	size_t len = event_start(start, sizeof start, route, n, n);

	len += (size_t)snprintf(stamp, sizeof stamp, "%lld",
				(long long)wall_ms());
	return (int)(len + strlen(",\"pad\":\"\"}\n\n"));
}

/* Is p[0..len) event k: its lines, a timestamp and the blank line, and
 * with a size exactly that many bytes by a last member "pad"?
 * docs/protocol.md and the README promise a "pad" string and no more, so
 * its bytes may be any that a JSON string holds as they are (which no SSE
 * line break is). */
static bool event_ok(const struct want *w, const char *p, size_t len, int k)
{
	char start[256];
	size_t n = event_start(start, sizeof start, w->ask.route, k, w->n);
	size_t i = n;

	if (len < n || memcmp(p, start, n) != 0)
		return t_note("chunk %s, expected event %d: %s#...",
			      esc(p, len), k, escs(start));
	while (i < len && isdigit((unsigned char)p[i]))
		i++;
	if (i == n)
		return t_note("event %d has no timestamp: %s", k, esc(p, len));
	const char *rest = p + i;
	size_t rest_len = len - i;
	if (w->size == 0) {
		if (rest_len != 3 || memcmp(rest, "}\n\n", 3) != 0)
			return t_note("event %d is %s, expected no more than "
				      "}\\n\\n after the timestamp", k,
				      esc(p, len));
		return true;
	}
	if (len != (size_t)w->size)
		return t_note("event %d is %zu bytes, expected size=%d: %s", k,
			      len, w->size, esc(p, len));
	if (rest_len < 12 || memcmp(rest, ",\"pad\":\"", 8) != 0 ||
	    memcmp(rest + rest_len - 4, "\"}\n\n", 4) != 0)
		return t_note("event %d ends in %s, expected ,\"pad\":\"...\"}"
			      "\\n\\n after the timestamp", k,
			      esc(rest, rest_len));
	for (size_t j = 8; j < rest_len - 4; j++)
		if (rest[j] < 0x20 || rest[j] > 0x7e || rest[j] == '"' ||
		    rest[j] == '\\')
			return t_note("event %d's pad holds %s, which a JSON "
				      "string cannot hold as it is", k,
				      esc(rest + j, 1));
	return true;
}

/* Walks r's chunks: the opening, events first + 1 .. the last one
 * expected, each due (k - first) intervals after the request went out at
 * sent, with heartbeats between them when asked for, then `:done` on a
 * complete /api stream.  A heartbeat is due heartbeat ms after the bytes
 * before it went out, so it may not come sooner than that after the
 * earliest they could have: that also keeps it from following an event
 * at once (the server re-arms it with every event). */
static bool chunks_ok(const struct want *w, const struct response *r,
		      int64_t sent)
{
	int last = w->end == COMPLETE ? w->n : w->k;
	int k = w->first, beats = 0;
	int most = w->heartbeat ? (w->interval - 1) / w->heartbeat : 0;
	long long earliest = 0;	/* the soonest the last chunk was due */
	bool done = false;

	if (r->nch > RESP_CHUNKS)
		return t_note("%d chunks, more than this test keeps (%d)",
			      r->nch, RESP_CHUNKS);
	for (int i = 0; i < r->nch; i++) {
		const char *p = r->body + r->ch[i].off;
		size_t len = r->ch[i].len;
		long long at = (long long)(r->ch[i].mono_ms - sent), due;

		if (i == 0) {
			if (!opening_ok(w, p, len))
				return false;
			due = 0;
		} else if (len == 3 && memcmp(p, ":\n\n", 3) == 0) {
			earliest += w->heartbeat;
			if (w->heartbeat == 0)
				return t_note("chunk %d is a heartbeat, and "
					      "none was asked for", i);
			if (++beats > most)
				return t_note("heartbeat %d after event %d: "
					      "at most %d fit in %d ms", beats,
					      k, most, w->interval);
			if (at < earliest - EARLY_MS)
				return t_note("a heartbeat (chunk %d) came "
					      "%lld ms after the request, "
					      "before %lld: sooner than %d ms "
					      "after the bytes before it", i,
					      at, earliest, w->heartbeat);
			continue;
		} else if (k < last) {
			if (!event_ok(w, p, len, ++k))
				return false;
			if (w->heartbeat && beats == 0)
				return t_note("no heartbeat in the %d ms "
					      "before event %d", w->interval,
					      k);
			beats = 0;
			due = (long long)(k - w->first) * w->interval;
		} else if (w->ask.route == API && w->end == COMPLETE &&
			   !done) {
			if (len != 7 || memcmp(p, ":done\n\n", 7) != 0)
				return t_note("chunk %d is %s, expected :done "
					      "after the last event", i,
					      esc(p, len));
			done = true;
			due = (long long)(k - w->first) * w->interval;
		} else {
			return t_note("chunk %d is %s, after event %d, the "
				      "last expected", i, esc(p, len), last);
		}
		if (at < due - EARLY_MS || at > due + LATE_MS)
			return t_note("chunk %d (%s) came %lld ms after the "
				      "request, expected %lld (-%d, +%d)", i,
				      esc(p, len > 80 ? 80 : len), at, due,
				      EARLY_MS, LATE_MS);
		earliest = due;
	}
	if (k < last)
		return t_note("%d events, expected %d (events %d to %d); "
			      "body %s", k - w->first, last - w->first,
			      w->first + 1, last, esc(r->body, r->body_len));
	if (w->ask.route == API && w->end == COMPLETE && !done)
		return t_note("no :done after the last event");
	return true;
}

/* When the reset is due, in ms after the request: for drop when event
 * K + 1 would have been, for stall when the stream would have ended. */
static int reset_ms(const struct want *w)
{
	int upto = w->end == DROP ? w->k + 1 : w->n;

	return (upto - w->first) * w->interval;
}

/* How the stream ended, at end_ms: a complete body with its zero-size
 * chunk, or a reset at its time with no last chunk, as a crashing or
 * hung server's stream ends. */
static bool end_ok(const struct want *w, const struct client *c,
		   const struct response *r, int64_t sent, int64_t end_ms)
{
	if (w->end == COMPLETE) {
		if (r->state != RS_DONE)
			return t_note("the body did not end with the zero-size "
				      "chunk (%s)", c->eof
				      ? c->err ? strerror(c->err) : "FIN"
				      : "no close either");
		return true;
	}
	if (r->zero_chunk)
		return t_note("a zero-size chunk ended the body: a complete "
			      "stream, expected a reset");
	if (c->err != ECONNRESET)
		return t_note("the connection ended with %s, expected a "
			      "reset (ECONNRESET)", c->err ? strerror(c->err)
							   : "a clean FIN");
	if (c->len > r->pos)
		return t_note("part of a chunk before the reset: %s",
			      esc(c->in + r->pos, c->len - r->pos));
	long long at = (long long)(end_ms - sent);
	int due = reset_ms(w);
	if (at < due - EARLY_MS || at > due + LATE_MS)
		return t_note("reset %lld ms after the request, expected %d "
			      "(-%d, +%d): when %s", at, due, EARLY_MS,
			      LATE_MS, w->end == DROP
			      ? "event K + 1 would have been due"
			      : "the stream would have ended");
	return true;
}

/* ------------------------------------------------------------ streams -- */

/* Reads a stream into r until its body ends, the server closes or resets
 * the connection, or the deadline; *end_ms is when the last bytes (or the
 * close) arrived.  Unlike client_read(), an end in the middle of the body
 * is no error here: a dropped or stalled stream ends so, and end_ok()
 * judges it.  Returns 0, or -1 with a note. */
static int read_stream(struct client *c, struct response *r,
		       int64_t deadline, int64_t *end_ms)
{
	int64_t mono = mono_ms(), wall = wall_ms();

	resp_init(r);
	for (;;) {
		enum resp_state st = resp_feed(r, c->in, c->len, false, mono,
					       wall);

		if (st == RS_BAD)
			return t_note("bad response: %s; bytes read: %s",
				      r->bad, esc(c->in, c->len)), -1;
		if (st == RS_DONE || c->eof) {
			*end_ms = mono;
			if (st == RS_HEAD)
				return t_note("the connection ended before a "
					      "response: %s", esc(c->in,
								  c->len)), -1;
			return 0;
		}
		if (client_fill(c) >= 0) {
			mono = mono_ms();
			wall = wall_ms();
			continue;
		}
		if (wait_fd(c->fd, POLLIN, deadline) == 0)
			return t_note("the stream neither ended nor was reset "
				      "in time; body so far: %s",
				      esc(r->body, r->body_len)), -1;
	}
}

/* A counter of GET /stats, or -1 with a note. */
static long stat_value(int port, const char *name)
{
	static const char req[] = "GET /stats HTTP/1.1\r\nHost: t\r\n\r\n";
	struct client c = { .fd = -1 };
	struct response r = { 0 };
	char key[64];
	long v = -1;

	snprintf(key, sizeof key, "\"%s\":", name);
	if (client_open(&c, port) == 0 &&
	    client_send(&c, req, strlen(req), 0, mono_ms() + 2000) == 0 &&
	    client_read(&c, &r, mono_ms() + 2000) == 0) {
		const char *p = r.body ? strstr(r.body, key) : NULL;

		if (r.status != 200 || p == NULL)
			t_note("GET /stats: status %d, no %s in %s", r.status,
			       key, esc(r.body, r.body_len));
		else
			v = strtol(p + strlen(key), NULL, 10);
	}
	client_close(&c);
	resp_free(&r);
	return v;
}

/* A drop or stall counts once in /stats, and the stream it reset is no
 * longer counted as running (each group's server runs one at a time). */
static bool stats_counted(int port, const char *counter, long before)
{
	long after = stat_value(port, counter);
	long running = stat_value(port, "streams");

	if (t_noted())
		return false;
	if (after != before + 1)
		return t_note("/stats %s went from %ld to %ld, expected %ld",
			      counter, before, after, before + 1);
	if (running != 0)
		return t_note("/stats streams is %ld after the reset, "
			      "expected 0", running);
	return true;
}

/* Runs the stream w asks for against the server on port and checks its
 * head, its chunks and their times, and its end. */
static bool stream_ok(int port, const struct want *w)
{
	const char *counter = w->end == DROP ? "streams_dropped"
			    : w->end == STALL ? "streams_stalled" : NULL;
	long before = counter ? stat_value(port, counter) : 0;
	struct client c = { .fd = -1 };
	struct response r = { 0 };
	int64_t deadline = mono_ms() + 3000 +
			   (int64_t)(w->n - w->first + 1) * w->interval;
	int64_t sent, end_ms;

	if (!t_noted() && ask_open(&c, port, &w->ask) == 0) {
		sent = mono_ms();
		if (read_stream(&c, &r, deadline, &end_ms) == 0 &&
		    stream_head_ok(&r) && chunks_ok(w, &r, sent))
			end_ok(w, &c, &r, sent, end_ms);
	}
	client_close(&c);
	resp_free(&r);
	if (counter != NULL && !t_noted())
		stats_counted(port, counter, before);
	prefix_request(&w->ask);
	return !t_noted();
}

/* Prints the line of one stream case, GROUP/LABEL/ROUTE. */
static void stream_case(int port, const char *group, const char *label,
			const struct want *w)
{
	char name[160];

	snprintf(name, sizeof name, "%s/%s/%s", group, label,
		 route_name[w->ask.route]);
	stream_ok(port, w);
	t_result(name, true);
}

/* Does the request get the 400 that names param? */
static bool rejected(int port, const struct ask *a, const char *param)
{
	struct client c = { .fd = -1 };
	struct response r = { 0 };

	if (ask_open(&c, port, a) == 0 &&
	    client_read(&c, &r, mono_ms() + 2000) == 0)
		error_names(&r, param);
	client_close(&c);
	resp_free(&r);
	prefix_request(a);
	return !t_noted();
}

/* Does the request start a stream: its head and opening chunk?  The
 * client then leaves; a long stream is not waited for. */
static bool accepted(int port, const struct ask *a)
{
	struct client c = { .fd = -1 };
	struct response r = { 0 };
	const char *open = a->route == ES ? "retry: #\n:ok\n\n" : ":ok\n\n";

	resp_init(&r);
	if (ask_open(&c, port, a) == 0 &&
	    client_more(&c, &r, mono_ms() + 2000, 1) == 0 &&
	    stream_head_ok(&r) &&
	    !glob(open, r.body + r.ch[0].off, r.ch[0].len))
		t_note("opening chunk %s, expected %s",
		       esc(r.body + r.ch[0].off, r.ch[0].len), escs(open));
	client_close(&c);
	resp_free(&r);
	prefix_request(a);
	return !t_noted();
}

/* ------------------------------------------------------ timed groups -- */

/* Starts a group's server, or prints the group's FAIL. */
static bool start(struct server *s, const char *name,
		  const char *const args[])
{
	if (server_start(s, sse, args) == 0)
		return true;
	t_result(name, false);
	return false;
}

/* n and interval from the query, over the server's -n 5 -i 100: a short
 * slow stream, whose times show the interval, and a long fast one. */
static void test_n_interval(void)
{
	struct server s;

	if (!start(&s, "n-interval/server", SERVER_ARGS(NULL)))
		return;
	for (enum route rt = API; rt <= ES; rt++) {
		struct want slow = { .ask = { .route = rt,
					      .query = "n=3&interval=200" },
				     .n = 3, .interval = 200 };
		struct want fast = { .ask = { .route = rt,
					      .query = "interval=10&n=50" },
				     .n = 50, .interval = 10 };

		stream_case(s.port, "n-interval", "n=3,interval=200", &slow);
		stream_case(s.port, "n-interval", "n=50,interval=10", &fast);
	}
	server_stop(&s, 2000);
}

/* A stream of n events of size bytes each, 10 ms apart. */
static void size_case(int port, const char *label, enum route rt, int n,
		      int size)
{
	char query[64];
	struct want w = { .ask = { .route = rt, .query = query },
			  .n = n, .interval = 10, .size = size };

	snprintf(query, sizeof query, "n=%d&interval=10&size=%d", n, size);
	stream_case(port, "size", label, &w);
}

/* One byte below the smallest size is refused, naming size. */
static void size_too_small(int port, enum route rt, int n, int least)
{
	char query[64], name[96];
	struct ask a = { .route = rt, .query = query };

	snprintf(query, sizeof query, "n=%d&size=%d", n, least - 1);
	snprintf(name, sizeof name, "size/smallest-1/%s", route_name[rt]);
	rejected(port, &a, "size");
	t_result(name, true);
}

/* Sizes from the smallest a stream allows to --max-event-size, by its
 * default (65,536) and set by flag.  /message-stream runs ten events, so
 * that ids 1 to 9 are a byte shorter than id 10 and take more pad. */
static void test_size(void)
{
	struct server s;

	if (!start(&s, "size/server", SERVER_ARGS(NULL)))
		return;
	for (enum route rt = API; rt <= ES; rt++) {
		int n = rt == API ? 3 : 10;
		int least = smallest_size(rt, n);

		size_case(s.port, "smallest", rt, n, least);
		size_case(s.port, "smallest+1", rt, n, least + 1);
		size_case(s.port, "1000", rt, n, 1000);
		size_case(s.port, "65536-default-max", rt, n, 65536);
		size_too_small(s.port, rt, n, least);
	}
	server_stop(&s, 2000);

	if (!start(&s, "size/server-max-event-size-300",
		   SERVER_ARGS("--max-event-size", "300", NULL)))
		return;
	for (enum route rt = API; rt <= ES; rt++)
		size_case(s.port, "300-max-event-size-flag", rt, 3, 300);
	server_stop(&s, 2000);
}

/* Two events 500 ms apart with heartbeats every 150 ms: three fit in
 * each silence, the last 50 ms before the event.  Heartbeats on a fixed
 * grid from the start would put one 100 ms after event 1 (at 600 ms),
 * which chunks_ok() refuses. */
static void heartbeat_case(int port, const char *label, enum route rt,
			   const char *query, int heartbeat)
{
	struct want w = { .ask = { .route = rt, .query = query },
			  .n = 2, .interval = 500, .heartbeat = heartbeat };

	stream_case(port, "heartbeat", label, &w);
}

static void test_heartbeat(void)
{
	struct server s;

	if (!start(&s, "heartbeat/server", SERVER_ARGS(NULL)))
		return;
	for (enum route rt = API; rt <= ES; rt++)
		heartbeat_case(s.port, "heartbeat=150", rt,
			       "n=2&interval=500&heartbeat=150", 150);
	server_stop(&s, 2000);
}

/* --heartbeat gives the default, and heartbeat=0 turns it off. */
static void test_heartbeat_flag(void)
{
	struct server s;

	if (!start(&s, "heartbeat/server-heartbeat-150",
		   SERVER_ARGS("--heartbeat", "150", NULL)))
		return;
	for (enum route rt = API; rt <= ES; rt++) {
		heartbeat_case(s.port, "flag-default", rt,
			       "n=2&interval=500", 150);
		heartbeat_case(s.port, "heartbeat=0-over-flag", rt,
			       "n=2&interval=500&heartbeat=0", 0);
	}
	server_stop(&s, 2000);
}

/* A stream cut short: events first + 1 .. k, then the reset. */
static void cut_case(int port, const char *group, const char *label,
		     enum route rt, const char *query, int n, int interval,
		     enum end end, int k)
{
	struct want w = { .ask = { .route = rt, .query = query },
			  .n = n, .interval = interval, .end = end, .k = k };

	stream_case(port, group, label, &w);
}

/* A resumed /message-stream: after event first, as Last-Event-ID says,
 * in the shape of the query. */
static void resume_case(int port, const char *group, const char *label,
			const char *query, int first, struct want w)
{
	char header[64];

	snprintf(header, sizeof header, "Last-Event-ID: %d", first);
	w.ask = (struct ask){ .route = ES, .query = query, .header = header };
	w.first = first;
	stream_case(port, group, label, &w);
}

/* drop=K on both routes: after event 2, after the opening (K = 0), and
 * after the last event, where the reset takes the place of the body's
 * end. */
static void test_drop(void)
{
	struct server s;

	if (!start(&s, "drop/server", SERVER_ARGS(NULL)))
		return;
	for (enum route rt = API; rt <= ES; rt++) {
		cut_case(s.port, "drop", "K=2", rt,
			 "n=5&interval=200&drop=2", 5, 200, DROP, 2);
		cut_case(s.port, "drop", "K=0-after-ok", rt,
			 "n=5&interval=200&drop=0", 5, 200, DROP, 0);
		cut_case(s.port, "drop", "K=n-no-done", rt,
			 "n=3&interval=100&drop=3", 3, 100, DROP, 3);
	}
	server_stop(&s, 2000);
}

/* K counts event ids: a stream resumed at or past K runs to its end; one
 * resumed before K keeps n, interval, size and drop from the query. */
static void test_drop_resume(void)
{
	struct server s;
	const char *q = "n=5&interval=100&drop=2";

	if (!start(&s, "drop-resume/server", SERVER_ARGS(NULL)))
		return;
	resume_case(s.port, "drop", "resume-at-K", q, 2,
		    (struct want){ .n = 5, .interval = 100 });
	resume_case(s.port, "drop", "resume-past-K", q, 4,
		    (struct want){ .n = 5, .interval = 100 });
	resume_case(s.port, "drop", "resume-before-K",
		    "n=6&interval=150&size=200&drop=3", 1,
		    (struct want){ .n = 6, .interval = 150, .size = 200,
				   .end = DROP, .k = 3 });

	/* A browser's first request can only say ?lastEventId=. */
	struct want w = { .ask = { .route = ES, .query =
				   "n=5&interval=100&drop=2&lastEventId=2" },
			  .n = 5, .interval = 100, .first = 2 };
	stream_case(s.port, "drop", "resume-at-K-by-lastEventId", &w);
	server_stop(&s, 2000);
}

/* stall=K on both routes: after event 1, and after the opening. */
static void test_stall(void)
{
	struct server s;

	if (!start(&s, "stall/server", SERVER_ARGS(NULL)))
		return;
	for (enum route rt = API; rt <= ES; rt++) {
		cut_case(s.port, "stall", "K=1", rt,
			 "n=4&interval=150&stall=1", 4, 150, STALL, 1);
		cut_case(s.port, "stall", "K=0-after-ok", rt,
			 "n=3&interval=150&stall=0", 3, 150, STALL, 0);
	}
	/* Nothing of the stream is left after event n: the reset follows
	 * at once, still without :done or the last chunk. */
	cut_case(s.port, "stall", "K=n-no-done", API,
		 "n=2&interval=150&stall=2", 2, 150, STALL, 2);
	/* With both, the earlier wins; a resume past the one still meets
	 * the other. */
	cut_case(s.port, "stall", "before-drop", ES,
		 "n=5&interval=100&drop=3&stall=1", 5, 100, STALL, 1);
	cut_case(s.port, "stall", "after-drop", ES,
		 "n=5&interval=100&drop=1&stall=3", 5, 100, DROP, 1);
	resume_case(s.port, "stall", "resume-past-drop",
		    "n=5&interval=100&drop=1&stall=3", 2,
		    (struct want){ .n = 5, .interval = 100, .end = STALL,
				   .k = 3 });
	server_stop(&s, 2000);
}

/* As for drop: at or past K a resumed stream runs to its end, before K
 * it keeps the query's shape and stalls after event K. */
static void test_stall_resume(void)
{
	struct server s;
	const char *q = "n=4&interval=100&stall=2";

	if (!start(&s, "stall-resume/server", SERVER_ARGS(NULL)))
		return;
	resume_case(s.port, "stall", "resume-at-K", q, 2,
		    (struct want){ .n = 4, .interval = 100 });
	resume_case(s.port, "stall", "resume-past-K", q, 3,
		    (struct want){ .n = 4, .interval = 100 });
	resume_case(s.port, "stall", "resume-before-K",
		    "n=5&interval=100&size=200&stall=3", 1,
		    (struct want){ .n = 5, .interval = 100, .size = 200,
				   .end = STALL, .k = 3 });
	server_stop(&s, 2000);
}

/* ------------------------------------------------------------ tables -- */

/* Runs one request on both routes against the server on port: a 400
 * naming param, or with param NULL a stream.  A FAIL names the row. */
static void both_routes(int port, const char *name, const char *query,
			const char *param, int line, const char *why)
{
	for (enum route rt = API; rt <= ES && !t_noted(); rt++) {
		struct ask a = { .route = rt, .query = query };

		if (param != NULL)
			rejected(port, &a, param);
		else
			accepted(port, &a);
	}
	t_prefix("shapes.c:%d (%s): ", line, why);
	t_result(name, true);
}

/* Which server a bounds row runs against. */
enum limits {
	DEFAULTS,	/* the default limits */
	SMALL,		/* SMALL_LIMITS: the edges moved by flag */
};

/* Each parameter at its edges and just past them, on both routes.  A row
 * with a param is a 400 naming it; without one, a stream. */
struct bound_row {
	int line;
	enum limits limits;
	const char *query, *param, *why;
};

#define B(...) { __LINE__, __VA_ARGS__ }

static const struct bound_row bound_rows[] = {
	B(DEFAULTS, "n=0", "n", "a stream has at least one event"),
	B(DEFAULTS, "n=1", NULL, "bounds are inclusive"),
	B(DEFAULTS, "n=1000000", NULL, "--max-events is 1,000,000 by default"),
	B(DEFAULTS, "n=1000001", "n", "one past --max-events"),
	B(DEFAULTS, "interval=0", "interval", "--min-interval is 1 by default"),
	B(DEFAULTS, "interval=1", NULL, "bounds are inclusive"),
	B(DEFAULTS, "interval=86400000", NULL, "a day is the longest interval"),
	B(DEFAULTS, "interval=86400001", "interval", "past a day"),
	B(DEFAULTS, "size=0", "size", "smaller than the unpadded event "
	  "(docs/protocol.md section 6); unlike heartbeat=0, no document "
	  "makes 0 mean off"),
	B(DEFAULTS, "size=1", "size", "far smaller than the unpadded event"),
	B(DEFAULTS, "size=65536", NULL, "--max-event-size is 65,536 by "
	  "default"),
	B(DEFAULTS, "size=65537", "size", "one past --max-event-size"),
	B(DEFAULTS, "heartbeat=0", NULL, "0 turns heartbeats off"),
	B(DEFAULTS, "heartbeat=1", NULL, "--min-interval bounds heartbeats"),
	B(DEFAULTS, "heartbeat=86400000", NULL, "a day is the longest"),
	B(DEFAULTS, "heartbeat=86400001", "heartbeat", "past a day"),
	B(DEFAULTS, "drop=0", NULL, "drop=0: after the opening :ok"),
	B(DEFAULTS, "drop=1000000", NULL, "--max-events bounds K"),
	B(DEFAULTS, "drop=1000001", "drop", "one past --max-events"),
	B(DEFAULTS, "stall=0", NULL, "stall=0: after the opening :ok"),
	B(DEFAULTS, "stall=1000000", NULL, "--max-events bounds K"),
	B(DEFAULTS, "stall=1000001", "stall", "one past --max-events"),

	B(SMALL, "n=10", NULL, "--max-events 10 moves the edge"),
	B(SMALL, "n=11", "n", "one past --max-events 10"),
	B(SMALL, "interval=49", "interval", "one below --min-interval 50"),
	B(SMALL, "interval=50", NULL, "--min-interval 50 moves the edge"),
	B(SMALL, "size=300", NULL, "--max-event-size 300 moves the edge"),
	B(SMALL, "size=301", "size", "one past --max-event-size 300"),
	B(SMALL, "heartbeat=0", NULL, "0 is off whatever --min-interval"),
	B(SMALL, "heartbeat=49", "heartbeat", "one below --min-interval 50"),
	B(SMALL, "heartbeat=50", NULL, "--min-interval 50 moves the edge"),
	B(SMALL, "drop=10", NULL, "--max-events 10 bounds K"),
	B(SMALL, "drop=11", "drop", "one past --max-events 10"),
	B(SMALL, "stall=10", NULL, "--max-events 10 bounds K"),
	B(SMALL, "stall=11", "stall", "one past --max-events 10"),
};

static const char *const shape_params[] = {
	"n", "interval", "size", "heartbeat", "drop", "stall",
};

/* What follows a parameter's name in the query, each not a number. */
static const struct {
	const char *text, *why;
} not_numbers[] = {
	{ "=abc", "letters" },
	{ "=", "an empty value" },
	{ "", "a name without `=`: an empty value (WHATWG URL 5.1)" },
	{ "=1x", "a number with a tail" },
	{ "=-1", "a sign" },
	{ "=+1", "a sign (a `+` is a space once decoded, and neither is a "
		 "digit)" },
	{ "=1.5", "a fraction" },
	{ "=1%00", "a NUL after the digit, percent-encoded" },
	{ "=4294967297", "2^32 + 1, which wraps to 1 in 32 bits" },
	{ "=99999999999999999999", "more than 64 bits" },
};

/* The bounds rows, and every parameter with every value that is not a
 * number, against a server with the default limits and one with small
 * ones; both run in this process, beside the timed groups. */
static void test_bounds(void)
{
	struct server s[2];
	char name[128], query[64];

	if (!start(&s[DEFAULTS], "bounds/server", SERVER_ARGS(NULL)))
		return;
	if (!start(&s[SMALL], "bounds/server-small-limits",
		   SERVER_ARGS(SMALL_LIMITS, NULL))) {
		server_stop(&s[DEFAULTS], 2000);
		return;
	}
	for (size_t i = 0; i < NELEM(bound_rows); i++) {
		const struct bound_row *row = &bound_rows[i];

		snprintf(name, sizeof name, "bounds/%s%s",
			 row->limits == SMALL ? "small-limits/" : "",
			 row->query);
		both_routes(s[row->limits].port, name, row->query, row->param,
			    row->line, row->why);
	}
	for (size_t p = 0; p < NELEM(shape_params); p++)
		for (size_t v = 0; v < NELEM(not_numbers); v++) {
			snprintf(query, sizeof query, "%s%s", shape_params[p],
				 not_numbers[v].text);
			snprintf(name, sizeof name, "not-a-number/%s", query);
			both_routes(s[DEFAULTS].port, name, query,
				    shape_params[p], __LINE__,
				    not_numbers[v].why);
		}
	server_stop(&s[SMALL], 2000);
	server_stop(&s[DEFAULTS], 2000);
}

/* How the query is read: each row on both routes, against a server whose
 * streams are five events 10 ms apart.  n is the events the query asks
 * for; 0 means a 400 naming n. */
struct query_row {
	int line;
	const char *name, *query;
	int n;
	const char *why;
};

#define Q(...) { __LINE__, __VA_ARGS__ }

static const struct query_row query_rows[] = {
	Q("percent-name", "%6E=3", 3, "names are percent-decoded: %6E is n"),
	Q("percent-name-lowercase", "%6e=2", 2, "hex digits in either case"),
	Q("percent-value", "n=%33", 3, "values are percent-decoded: %33 is 3"),
	Q("repeated-last-wins", "n=2&n=3", 3, "a repeated key: the last wins"),
	Q("repeated-bad-then-good", "n=abc&n=2", 2,
	  "only the last value is read"),
	Q("repeated-good-then-bad", "n=2&n=abc", 0,
	  "the last value is read, and it is no number"),
	Q("unknown-keys", "foo=bar&N=2&nn=4&n2=1&x&n=3", 3,
	  "unknown keys are ignored; names compare whole and exactly"),
	Q("empty-query", "", 5, "a `?` alone: the server's -n"),
	Q("no-query", NULL, 5, "no query: the server's -n"),
	Q("empty-pairs", "&&n=2", 2, "empty pairs are skipped"),
	Q("trailing-amp", "n=2&&", 2, "empty pairs at the end too"),
	Q("leading-zeros", "n=002", 2, "leading zeros are still a number"),
	Q("many-leading-zeros", "n=000000000002", 2,
	  "however many: 000000000002 is the number 2, in bounds"),
};

/* /api reads the shape from the query only: its body says whether to
 * stream, as the seed's did, and nothing else.  n is the events; 0 means
 * the plain answer. */
struct body_row {
	int line;
	const char *name, *query, *body;
	int n;
	const char *why;
};

static const struct body_row body_rows[] = {
	Q("json-false-query-n", "n=2", "{\"stream\":false}", 0,
	  "the shape does not ask for a stream; the body says no"),
	Q("form-false-query-n", "n=2", "stream=false", 0,
	  "the same with a form body"),
	Q("json-true-query-n", "n=2", STREAM_BODY, 2,
	  "the body asks, the query shapes"),
	Q("shape-in-json-body", NULL,
	  "{\"stream\":true,\"n\":2,\"size\":500,\"drop\":1}", 5,
	  "shape keys in a JSON body are not read"),
	Q("bad-shape-in-json-body", NULL, "{\"stream\":true,\"n\":\"abc\"}", 5,
	  "nor checked"),
	Q("shape-in-form-body", NULL, "stream=1&n=2&size=500&drop=1", 5,
	  "shape keys in a form body are not read"),
};

/* The plain answer of docs/protocol.md section 1. */
static bool plain_ok(int port, const struct ask *a)
{
	struct client c = { .fd = -1 };
	struct response r = { 0 };

	if (ask_open(&c, port, a) == 0 &&
	    client_read(&c, &r, mono_ms() + 2000) == 0 &&
	    (r.status != 200 || !glob(HELLO, r.body, r.body_len)))
		t_note("status %d, body %s, expected 200 and %s", r.status,
		       esc(r.body, r.body_len), HELLO);
	client_close(&c);
	resp_free(&r);
	prefix_request(a);
	return !t_noted();
}

static void test_query(void)
{
	struct server s;
	char name[128];

	if (!start(&s, "query/server",
		   SERVER_ARGS("-i", "10", NULL)))
		return;
	for (size_t i = 0; i < NELEM(query_rows); i++) {
		const struct query_row *row = &query_rows[i];

		for (enum route rt = API; rt <= ES && !t_noted(); rt++) {
			struct want w = { .ask = { .route = rt,
						   .query = row->query },
					  .n = row->n, .interval = 10 };

			if (row->n == 0)
				rejected(s.port, &w.ask, "n");
			else
				stream_ok(s.port, &w);
		}
		snprintf(name, sizeof name, "query/%s", row->name);
		t_prefix("shapes.c:%d (%s): ", row->line, row->why);
		t_result(name, true);
	}
	for (size_t i = 0; i < NELEM(body_rows); i++) {
		const struct body_row *row = &body_rows[i];
		struct want w = { .ask = { .route = API, .query = row->query,
					   .body = row->body },
				  .n = row->n, .interval = 10 };

		if (row->n == 0)
			plain_ok(s.port, &w.ask);
		else
			stream_ok(s.port, &w);
		snprintf(name, sizeof name, "api-body/%s", row->name);
		t_prefix("shapes.c:%d (%s; body %s): ", row->line, row->why,
			 row->body);
		t_result(name, true);
	}
	server_stop(&s, 2000);
}

/* -------------------------------------------------------------- main -- */

int main(int argc, char **argv)
{
	int64_t deadline = mono_ms() + 30000;

	if (argc > 1)
		sse = argv[1];
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);

	run_in_child("n-interval", test_n_interval);
	run_in_child("size", test_size);
	run_in_child("heartbeat", test_heartbeat);
	run_in_child("heartbeat-flag", test_heartbeat_flag);
	run_in_child("drop", test_drop);
	run_in_child("drop-resume", test_drop_resume);
	run_in_child("stall", test_stall);
	run_in_child("stall-resume", test_stall_resume);
	run_in_child("query", test_query);
	test_bounds();
	collect_children(deadline);
	fprintf(stderr, "shapes: %d passed, %d failed, %d skipped\n",
		t_passed, t_failed, t_skipped);
	return t_failed ? 1 : 0;
}
