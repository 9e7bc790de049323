/* wire.c - the server as its clients see it: transcripts and timings.
 *
 * Usage: tests/wire [PATH-TO-SSE]		(default ./sse)
 *
 * Most cases are transcripts (struct transcript): the bytes a client
 * sends, in order, each followed by the answer the contract
 * (docs/protocol.md sections 1, 4 and 7) asks for, and a line on why.
 * Four tables hold them: which POST bodies ask for a stream (detect), how
 * the server treats odd or hostile HTTP (http), the limit flags on a
 * server of their own (limits), and conversations of several requests or
 * with a wait in them: keep-alive, pipelining, 100-continue and the
 * stream's schedule.  The first three run all at once, every row on its
 * own connection, and each short row twice: once as one write and once a
 * byte per write, which must give the same answer.  The conversations run
 * one after the other.
 *
 * The command line has a row type of its own (struct cli_row), since a
 * run that never serves is no conversation: its answer is an exit status,
 * stdout and stderr.
 *
 * What a row cannot say is written as a function, since what it tests is
 * time or a process rather than bytes: the schedule at the default
 * one-second interval and across a server stopped and resumed, timeouts,
 * the linger after a refusal, a client that half-closes mid-stream, the
 * graceful drain on SIGTERM, the connection cap, the access log, a port in
 * use and IPv6.  The slow ones run in child processes beside the rest,
 * each against its own server, so that the whole run lasts about as long
 * as the slowest case, a stream at the default interval.
 *
 * Each case prints one line, `pass NAME`, `FAIL NAME: WHY` or `skip NAME:
 * WHY`; a row's FAIL names it (wire.c:LINE), shows the bytes it sent last
 * and what in the answer differs.  The exit status is 1 if any case
 * failed.
 */
#include "testlib.h"

#define EVENTS 5		/* -n of the servers here */
#define INTERVAL_MS 100		/* -i of most servers here */
#define EARLY_MS 5		/* an event may seem this early (rounding) */
#define LATE_MS 250		/* or this late (a busy test machine) */
#define BYTEWISE_MAX 16384	/* longer requests are not sent bytewise */
#define PAUSE_MS 600		/* the drift case stops the server so long */
#define LINGER_MS 400		/* --linger-timeout of the limits server */
#define PROBE_MS 20		/* the linger case sends a byte this often */

#define HELLO "{\"message\":\"Hello, world!\"}"
#define ERROR_BODY "{\"error\":\"*\"}"

#define PLAIN_REQ "POST /api HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"
#define STREAM_REQ "POST /api HTTP/1.1\r\nHost: t\r\n" \
	"Content-Type: application/json\r\nContent-Length: 15\r\n\r\n" \
	"{\"stream\":true}"
#define CLOSE_REQ "POST /api HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
#define NOPE_REQ "POST /nope HTTP/1.1\r\nHost: t\r\n\r\n"

static const char *sse = "./sse";

/* The arguments of a server like most here: loopback, a free port, quiet,
 * five events 100 ms apart, then the given ones up to a NULL. */
#define SERVER_ARGS(...) ((const char *const[]){ "-b", "127.0.0.1", \
	"-p", "0", "-q", "-i", "100", "-n", "5", __VA_ARGS__ })

/* What a response says about the connection. */
enum conn_want {
	KEEP,		/* stays open: no `Connection: close` */
	CLOSE,		/* `Connection: close`, and the server closes */
	EITHER,		/* not checked */
};

/* ------------------------------------------------------------ checks -- */

/* The head and the start of the body, for a FAIL line. */
static const char *resp_text(const struct response *r)
{
	static char text[2048];
	size_t len = (size_t)snprintf(text, sizeof text, "%s",
				      r->status_line);

	for (int i = 0; i < r->nh && len < sizeof text - 600; i++)
		len += (size_t)snprintf(text + len, sizeof text - len,
					"\\r\\n%s: %s", r->h[i].name,
					r->h[i].value);
	snprintf(text + len, sizeof text - len, "\\r\\n\\r\\n%s",
		 esc(r->body, r->body_len > 200 ? 200 : r->body_len));
	return text;
}

static bool status_is(const struct response *r, int status)
{
	if (r->status != status)
		return t_note("status %d, expected %d; response: %s",
			      r->status, status, resp_text(r));
	return true;
}

/* Is the status line `HTTP/1.1 rest`?  An HTTP/1.0 request may also get
 * `HTTP/1.0 rest`. */
static bool status_line_is(const struct response *r, const char *rest,
			   bool http10)
{
	char want[64], want10[64];

	snprintf(want, sizeof want, "HTTP/1.1 %s", rest);
	snprintf(want10, sizeof want10, "HTTP/1.0 %s", rest);
	if (strcmp(r->status_line, want) == 0 ||
	    (http10 && strcmp(r->status_line, want10) == 0))
		return true;
	return t_note("status line %s, expected %s; response: %s",
		      escs(r->status_line), want, resp_text(r));
}

/* Is there one header called name, and is its value want? */
static bool header_is(const struct response *r, const char *name,
		      const char *want)
{
	const char *v = resp_header(r, name);
	int n = resp_header_count(r, name);

	if (v == NULL)
		return t_note("no %s header, expected %s: %s; response: %s",
			      name, name, want, resp_text(r));
	if (n != 1)
		return t_note("%d %s headers, expected one", n, name);
	if (strcmp(v, want) != 0)
		return t_note("%s: %s, expected %s: %s", name, escs(v), name,
			      escs(want));
	return true;
}

static bool header_absent(const struct response *r, const char *name)
{
	const char *v = resp_header(r, name);

	if (v != NULL)
		return t_note("unexpected %s: %s", name, escs(v));
	return true;
}

/* Does "Name: value-glob" match a header of r? */
static bool header_matches(const struct response *r, const char *spec)
{
	const char *colon = strchr(spec, ':');
	char name[64];

	snprintf(name, sizeof name, "%.*s", (int)(colon - spec), spec);
	for (int i = 0; i < r->nh; i++)
		if (strcasecmp(r->h[i].name, name) == 0 &&
		    glob(colon + 2, r->h[i].value, strlen(r->h[i].value)))
			return true;
	return t_note("no header matches %s; response: %s", escs(spec),
		      resp_text(r));
}

/* Is v an IMF-fixdate (RFC 9110 section 5.6.7) within a minute of our
 * clock, with the right day of the week? */
static bool date_ok(const char *v)
{
	static const char shape[] = "xxx, 00 xxx 0000 00:00:00 GMT";
	static const char days[] = "SunMonTueWedThuFriSat";
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	struct tm tm = { 0 };

	if (v == NULL)
		return t_note("no Date header");
	bool ok = strlen(v) == sizeof shape - 1;
	for (size_t i = 0; ok && i < sizeof shape - 1; i++)
		ok = shape[i] == '0' ? isdigit((unsigned char)v[i])
		   : shape[i] == 'x' ? isalpha((unsigned char)v[i])
				     : v[i] == shape[i];
	const char *day = ok ? strstr(days, (char[4]){ v[0], v[1], v[2] })
			     : NULL;
	const char *mon = ok ? strstr(months, (char[4]){ v[8], v[9], v[10] })
			     : NULL;
	if (day == NULL || mon == NULL || (day - days) % 3 ||
	    (mon - months) % 3)
		return t_note("Date: %s is not an IMF-fixdate like "
			      "`Tue, 24 Nov 2026 15:33:27 GMT`", escs(v));
	tm.tm_mday = atoi(v + 5);
	tm.tm_mon = (int)(mon - months) / 3;
	tm.tm_year = atoi(v + 12) - 1900;
	tm.tm_hour = atoi(v + 17);
	tm.tm_min = atoi(v + 20);
	tm.tm_sec = atoi(v + 23);
	time_t t = timegm(&tm);
	struct tm check;
	gmtime_r(&t, &check);
	if (check.tm_wday != (int)(day - days) / 3 ||
	    check.tm_mday != atoi(v + 5))
		return t_note("Date: %s names the wrong day", escs(v));
	if (llabs((long long)t - wall_ms() / 1000) > 60)
		return t_note("Date: %s is more than a minute off", escs(v));
	return true;
}

static bool connection_ok(const struct response *r, enum conn_want conn)
{
	const char *v = resp_header(r, "Connection");

	switch (conn) {
	case KEEP:
		if (v != NULL && strcasecmp(v, "close") == 0)
			return t_note("Connection: close, expected the "
				      "connection to stay open");
		return true;
	case CLOSE:
		if (v == NULL || strcasecmp(v, "close") != 0)
			return t_note("Connection: %s, expected close",
				      escs(v));
		return true;
	case EITHER:
		return true;
	}
	return true;
}

/* The exact Connection header of the seed's answers. */
static bool seed_connection_ok(const struct response *r, enum conn_want conn)
{
	const char *v = resp_header(r, "Connection");

	if (conn == EITHER && v != NULL &&
	    (strcmp(v, "close") == 0 || strcmp(v, "keep-alive") == 0))
		return true;
	return header_is(r, "Connection", conn == CLOSE ? "close"
							: "keep-alive");
}

/* The plain answer of docs/protocol.md section 1, headers in any order. */
static bool plain_ok(const struct response *r, enum conn_want conn,
		     bool http10)
{
	const char *type = resp_header(r, "Content-Type");

	if (type != NULL && strcmp(type, "text/event-stream") == 0)
		return t_note("a stream, expected the plain answer");
	status_line_is(r, "200 OK", http10);
	header_is(r, "Content-Type", "application/json; charset=utf-8");
	header_is(r, "Content-Length", "27");
	seed_connection_ok(r, conn);
	date_ok(resp_header(r, "Date"));
	header_absent(r, "Transfer-Encoding");
	if (!glob(HELLO, r->body, r->body_len))
		t_note("body %s, expected %s", esc(r->body, r->body_len),
		       escs(HELLO));
	return !t_noted();
}

/* Every event's timestamp lies between the wall clock before the
 * request (wall0) and the arrival of its chunk, and none goes back. */
static bool timestamps_ok(const struct response *r, int64_t wall0)
{
	const char *p = r->body, *end = r->body + r->body_len;
	int64_t prev = 0;

	for (int k = 1; (p = memmem(p, (size_t)(end - p), "\"timestamp\":",
				    12)) != NULL; k++) {
		p += 12;
		long long t = strtoll(p, NULL, 10);
		int64_t hi = r->chunked && k < r->nch && k < RESP_CHUNKS
			   ? r->ch[k].wall_ms : wall_ms();

		if (t < wall0 - EARLY_MS || t > hi + EARLY_MS)
			return t_note("event %d's timestamp %lld is outside "
				      "[%lld, %lld]: wall-clock ms from before "
				      "the request to the event's arrival", k,
				      t, (long long)wall0, (long long)hi);
		if (t < prev)
			return t_note("event %d's timestamp %lld is before "
				      "the one before it, %lld", k, t,
				      (long long)prev);
		prev = t;
	}
	return true;
}

/* The stream of docs/protocol.md section 1: its headers, its n events
 * each in its own chunk (an HTTP/1.0 client gets the same bytes
 * unchunked, ended by the close) and their timestamps. */
static bool stream_ok(const struct response *r, int n, int64_t wall0,
		      enum conn_want conn, bool http10)
{
	if (!status_line_is(r, "200 OK", http10))
		return false;
	if (glob(HELLO, r->body, r->body_len))
		return t_note("the plain answer, expected the stream");
	header_is(r, "Content-Type", "text/event-stream");
	header_is(r, "Cache-Control", "no-cache");
	header_is(r, "X-Accel-Buffering", "no");
	seed_connection_ok(r, http10 ? CLOSE : conn);
	date_ok(resp_header(r, "Date"));
	header_absent(r, "Content-Length");
	if (http10)
		header_absent(r, "Transfer-Encoding");
	else if (header_is(r, "Transfer-Encoding", "chunked"))
		stream_chunks_ok(r, n);
	if (!t_noted() && !glob(stream_glob(n), r->body, r->body_len))
		t_note("body %s, expected %s", esc(r->body, r->body_len),
		       escs(stream_glob(n)));
	if (!t_noted())
		timestamps_ok(r, wall0);
	return !t_noted();
}

/* Did chunk k arrive on time, counting from sent_ms, when the request
 * was complete?  `:ok` is due at once, event k at k intervals, and `:done`
 * with the last event. */
static bool timing_ok(const struct response *r, int64_t sent_ms, int n,
		      int interval)
{
	for (int k = 0; k < r->nch && k <= n + 1 && k < RESP_CHUNKS; k++) {
		int due = (k <= n ? k : n) * interval;
		long long at = (long long)(r->ch[k].mono_ms - sent_ms);

		if (at < due - EARLY_MS || at > due + LATE_MS)
			return t_note("chunk %d (%s) arrived %lld ms after "
				      "the request, expected %d ms (-%d, "
				      "+%d)", k, esc(r->body + r->ch[k].off,
						     r->ch[k].len),
				      at, due, EARLY_MS, LATE_MS);
	}
	return true;
}

/* An error answer: the status, a JSON `{"error":...}` body. */
static bool error_ok(const struct response *r, int status,
		     enum conn_want conn)
{
	const char *type = resp_header(r, "Content-Type");
	char cl[32];

	if (!status_is(r, status))
		return false;
	if (type == NULL || strncmp(type, "application/json", 16) != 0)
		t_note("Content-Type: %s, expected application/json",
		       escs(type));
	if (!glob(ERROR_BODY, r->body, r->body_len))
		t_note("body %s, expected %s", esc(r->body, r->body_len),
		       ERROR_BODY);
	snprintf(cl, sizeof cl, "%zu", r->body_len);
	header_is(r, "Content-Length", cl);
	connection_ok(r, conn);
	return !t_noted();
}

/* --------------------------------------------------- one client -- */

/* Sends req and reads one response by the deadline. */
static int send_read(struct client *c, const char *req, struct response *r,
		     int64_t deadline)
{
	if (client_send(c, req, strlen(req), 0, deadline) != 0)
		return -1;
	return client_read(c, r, deadline);
}

/* The time a stream of the servers here takes, and some to spare. */
static int64_t stream_deadline(void)
{
	return mono_ms() + EVENTS * INTERVAL_MS + 3000;
}

/* Events arrive on their schedule: `:ok` at once, event k at k intervals
 * after the request was complete, `:done` with the last. */
static bool stream_timing(struct client *c, int interval)
{
	struct response r = { 0 };
	int64_t wall0 = wall_ms();
	int64_t deadline = mono_ms() + EVENTS * interval + 3000;
	bool ok = false;

	if (client_send(c, STREAM_REQ, strlen(STREAM_REQ), 0, deadline) == 0) {
		int64_t sent = mono_ms();

		ok = client_read(c, &r, deadline) == 0 &&
		     stream_ok(&r, EVENTS, wall0, KEEP, false) &&
		     timing_ok(&r, sent, EVENTS, interval);
	}
	resp_free(&r);
	return ok;
}


/* ------------------------------------------------------ transcripts -- */

/* A transcript is one client's conversation with the server, step by
 * step: the bytes it sends, the answer it must read, perhaps more of each,
 * as llhttp's transcripts (test/request/, in markdown) write a request
 * and the events its parser must give.
 * A row reads
 *
 *	R("expect-100/plain", "the client waits for the 100 before its body",
 *	  SEND("POST /api HTTP/1.1\r\n" H
 *	       "Content-Length: 2\r\n"
 *	       "Expect: 100-continue\r\n"
 *	       "\r\n"),
 *	  ANSWER("100 Continue", INTERIM, KEEP),
 *	  SEND("{}"),
 *	  ANSWER("200 OK", PLAIN, KEEP)),
 *
 * SEND's bytes go on the wire as written, except that `$(N*c)` stands for
 * N copies of the byte c and `$(length)` for the number of bytes after the
 * blank line that follows it (a Content-Length).  An ANSWER is the status
 * line after `HTTP/1.1 ` (an HTTP/1.0 request may get `HTTP/1.0 ` too),
 * the shape of the response, what it says of the connection (KEEP, CLOSE
 * or EITHER, above) and, when the row needs them, one more header that
 * must be there (.header = "Name: glob", glob() as in testlib.h) and the
 * body (.body = "glob").  When the last answer says CLOSE, the server
 * must close the connection after it, with nothing more.
 */
/* The shapes of an answer, and what each checks beyond the status line:
 *
 *	PLAIN	docs/protocol.md section 1's plain answer: Content-Type:
 *		application/json; charset=utf-8, Content-Length: 27, a
 *		Date, no Transfer-Encoding, Connection: keep-alive or close,
 *		and HELLO
 *	STREAM	its stream: Content-Type: text/event-stream, Cache-Control:
 *		no-cache, X-Accel-Buffering: no, a Date, Transfer-Encoding:
 *		chunked (to HTTP/1.0 none: the close ends it), no
 *		Content-Length; `:ok`, EVENTS events and `:done`, each in its
 *		chunk, their timestamps between the request's and the chunk's
 *	TIMED	a STREAM on its schedule: `:ok` at once after the last byte
 *		sent, event k k intervals after it, `:done` with the last
 *		(EARLY_MS early to LATE_MS late)
 *	ERROR	an error: Content-Type: application/json, a body like
 *		ERROR_BODY, its Content-Length
 *	INTERIM	a 1xx: the status line alone, no header, no body
 *	ANY	nothing but what the row names
 */
enum shape { PLAIN, STREAM, TIMED, ERROR, INTERIM, ANY };

/* What the server must answer. */
struct answer {
	const char *status;	/* the status line after the version */
	enum shape shape;
	enum conn_want conn;
	const char *header;	/* "Name: glob" a header matches, or NULL */
	const char *body;	/* the body, a glob; NULL: the shape's own */
};

/* One step: the client sends len bytes, or (send NULL) reads an answer. */
struct step {
	const char *send;
	size_t len;
	struct answer answer;
};

#define STEPS 6

struct transcript {
	int line;
	const char *name, *why;
	struct step steps[STEPS];	/* up to the first empty one */
};

#define R(name, why, ...) { __LINE__, name, why, { __VA_ARGS__ } }
#define SEND(bytes) { .send = bytes, .len = sizeof bytes - 1 }
#define ANSWER(st, sh, cn, ...) \
	{ .answer = { .status = st, .shape = sh, .conn = cn, __VA_ARGS__ } }

/* The pieces of a request that the rows share. */
#define H "Host: t\r\n"
#define POST_API "POST /api HTTP/1.1\r\n" H
#define CT_JSON "Content-Type: application/json\r\n"
#define CT_FORM "Content-Type: application/x-www-form-urlencoded\r\n"
#define BODY(bytes) "Content-Length: $(length)\r\n\r\n" bytes

/* Which bodies ask for a stream (docs/protocol.md section 1), all at once
 * on the main server, each as one write and a byte per write. */
static const struct transcript detect_rows[] = {
	R("json-true", "the seed's own request",
	  SEND(POST_API CT_JSON BODY("{\"stream\":true}")),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("json-1", "the seed compared loosely: 1 == true",
	  SEND(POST_API CT_JSON BODY("{\"stream\":1}")),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("json-string-1", "loosely, \"1\" == true",
	  SEND(POST_API CT_JSON BODY("{\"stream\":\"1\"}")),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("json-string-true", "docs/protocol.md section 1 lists \"true\"",
	  SEND(POST_API CT_JSON BODY("{\"stream\":\"true\"}")),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("json-charset", "parameters do not change the type",
	  SEND(POST_API "Content-Type: application/json; charset=utf-8\r\n"
	       BODY("{\"stream\":true}")),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("json-type-case", "media types are case-insensitive (RFC 9110 "
	  "8.3.1)",
	  SEND(POST_API "Content-Type: Application/JSON\r\n"
	       BODY("{\"stream\":true}")),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("plus-json", "any +json type is JSON",
	  SEND(POST_API "Content-Type: application/vnd.x+json\r\n"
	       BODY("{\"stream\":true}")),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("sniffed-no-type", "a body that starts with { is JSON",
	  SEND(POST_API BODY("{\"stream\":true}")),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("sniffed-curl-d", "curl -d sends JSON as a form: the { decides",
	  SEND(POST_API CT_FORM BODY("{\"stream\":true}")),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("sniffed-text", "the first non-blank byte decides, not the type",
	  SEND(POST_API "Content-Type: text/plain\r\n"
	       BODY("{\"stream\":true}")),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("sniffed-blanks", "blanks before the { are skipped",
	  SEND(POST_API BODY(" \r\n\t{\"stream\":true}")),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("keys-in-any-order", "the key need not come first",
	  SEND(POST_API CT_JSON BODY("{\"a\":1,\"b\":\"x\",\"stream\":true}")),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("nested-beside", "nested objects and arrays beside the key are "
	  "skipped whole",
	  SEND(POST_API CT_JSON
	       BODY("{\"a\":{\"b\":[1,{\"stream\":false}],\"c\":{}},\"stream\""
	            ":true,\"d\":[[],{}]}")),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("escaped-quote-before", "an escaped quote does not end a string",
	  SEND(POST_API CT_JSON
	       BODY("{\"a\":\"x\\\"stream\\\":true\",\"stream\":true}")),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("escapes", "every JSON escape is skipped correctly",
	  SEND(POST_API CT_JSON
	       BODY("{\"a\":\"\\\\\\\"\\u00e9\\n\\/\",\"stream\":true}")),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("whitespace", "JSON allows whitespace around every token",
	  SEND(POST_API CT_JSON BODY("\n{\n\t\"stream\" :\r\n true\n}\n")),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("unicode-escaped-key", "the key is \"stream\" once unescaped, as "
	  "JSON.parse sees",
	  SEND(POST_API CT_JSON BODY("{\"\\u0073tream\":true}")),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("numbers-beside", "every JSON value kind beside the key",
	  SEND(POST_API CT_JSON
	       BODY("{\"n\":-1.5e+3,\"z\":0,\"stream\":true,\"f\":false,\"u\":"
	            "null}")),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("json-1.0", "1.0 is the number 1: JSON.parse gives 1, and 1 == true",
	  SEND(POST_API CT_JSON BODY("{\"stream\":1.0}")),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("json-escaped-value", "the string is \"true\" once unescaped",
	  SEND(POST_API CT_JSON BODY("{\"stream\":\"tru\\u0065\"}")),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("form-true", "a form asks with stream=true",
	  SEND(POST_API CT_FORM BODY("stream=true")),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("form-1", "or with stream=1",
	  SEND(POST_API CT_FORM BODY("stream=1")),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("form-among-others", "the field may come anywhere in the form",
	  SEND(POST_API CT_FORM BODY("a=1&stream=true&b=2")),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("form-encoded", "names and values are percent-decoded (WHATWG URL "
	  "5.1)",
	  SEND(POST_API CT_FORM BODY("str%65am=tru%65")),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("query-true", "the query asks too",
	  SEND("POST /api?stream=true HTTP/1.1\r\n" H "\r\n"),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("query-1", "stream=1 as well",
	  SEND("POST /api?stream=1 HTTP/1.1\r\n" H "\r\n"),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("query-among-others", "the parameter may come anywhere in the query",
	  SEND("POST /api?a=b&stream=1 HTTP/1.1\r\n" H "\r\n"),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("query-encoded", "names and values are percent-decoded (WHATWG URL "
	  "5.1)",
	  SEND("POST /api?str%65am=%31 HTTP/1.1\r\n" H "\r\n"),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("query-text-body", "a body that is not JSON does not cancel the "
	  "query",
	  SEND("POST /api?stream=true HTTP/1.1\r\n" H
	       "Content-Type: text/plain\r\n"
	       BODY("hello")),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("json-false", "false does not ask",
	  SEND(POST_API CT_JSON BODY("{\"stream\":false}")),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("json-0", "0 == false",
	  SEND(POST_API CT_JSON BODY("{\"stream\":0}")),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("json-yes", "only \"1\" and \"true\" among strings",
	  SEND(POST_API CT_JSON BODY("{\"stream\":\"yes\"}")),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("json-2", "2 == true is false, even loosely",
	  SEND(POST_API CT_JSON BODY("{\"stream\":2}")),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("json-null", "null does not ask",
	  SEND(POST_API CT_JSON BODY("{\"stream\":null}")),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("json-string-0", "\"0\" does not ask",
	  SEND(POST_API CT_JSON BODY("{\"stream\":\"0\"}")),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("json-string-TRUE", "strings compare exactly",
	  SEND(POST_API CT_JSON BODY("{\"stream\":\"TRUE\"}")),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("json-empty-object", "no key",
	  SEND(POST_API CT_JSON BODY("{}")),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("json-empty-body", "an empty body is no body, even declared JSON",
	  SEND(POST_API CT_JSON BODY("")),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("no-body", "the seed's answer",
	  SEND(POST_API "\r\n"),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("json-array", "valid JSON, but not an object",
	  SEND(POST_API CT_JSON BODY("[1,2]")),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("sniffed-array", "only a { makes an untyped body JSON",
	  SEND(POST_API BODY("[1,2]")),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("text-hello", "text is no JSON",
	  SEND(POST_API "Content-Type: text/plain\r\n" BODY("hello")),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("nested-stream", "only the top-level object counts",
	  SEND(POST_API CT_JSON BODY("{\"a\":{\"stream\":true}}")),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("stream-in-string", "text inside a string is no key",
	  SEND(POST_API CT_JSON BODY("{\"a\":\"\\\"stream\\\":true\"}")),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("stream-as-value", "a value that reads stream is no key",
	  SEND(POST_API CT_JSON BODY("{\"a\":\"stream\",\"b\":true}")),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("nested-array-stream", "the top-level key says false",
	  SEND(POST_API CT_JSON
	       BODY("{\"a\":[{\"stream\":true}],\"stream\":false}")),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("key-prefix-suffix", "keys compare whole",
	  SEND(POST_API CT_JSON BODY("{\"streams\":true,\"xstream\":true}")),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("key-case", "keys compare exactly",
	  SEND(POST_API CT_JSON BODY("{\"Stream\":true}")),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("form-false", "false does not ask",
	  SEND(POST_API CT_FORM BODY("stream=false")),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("form-yes", "only true and 1 ask",
	  SEND(POST_API CT_FORM BODY("stream=yes")),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("form-other-key", "names compare whole",
	  SEND(POST_API CT_FORM BODY("upstream=1")),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("query-false", "false does not ask",
	  SEND("POST /api?stream=false HTTP/1.1\r\n" H "\r\n"),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("query-other-key", "names compare whole",
	  SEND("POST /api?upstream=1 HTTP/1.1\r\n" H "\r\n"),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("unterminated", "declared JSON that is not valid is a 400",
	  SEND(POST_API CT_JSON BODY("{\"stream\":true")),
	  ANSWER("400 Bad Request", ERROR, EITHER)),
	R("bad-literal", "tru is no literal",
	  SEND(POST_API CT_JSON BODY("{\"stream\":tru}")),
	  ANSWER("400 Bad Request", ERROR, EITHER)),
	R("trailing-comma", "JSON has no trailing commas",
	  SEND(POST_API CT_JSON BODY("{\"a\":1,}")),
	  ANSWER("400 Bad Request", ERROR, EITHER)),
	R("single-quotes", "JSON strings take double quotes",
	  SEND(POST_API CT_JSON BODY("{'a':1}")),
	  ANSWER("400 Bad Request", ERROR, EITHER)),
	R("trailing-garbage", "nothing but blanks may follow the value",
	  SEND(POST_API CT_JSON BODY("{\"stream\":true} x")),
	  ANSWER("400 Bad Request", ERROR, EITHER)),
	R("sniffed-invalid", "a body sniffed as JSON must be valid too",
	  SEND(POST_API BODY("{\"stream\":true")),
	  ANSWER("400 Bad Request", ERROR, EITHER)),
	R("json-type-form-body", "declared JSON decides over the look of the "
	  "body",
	  SEND(POST_API CT_JSON BODY("stream=true")),
	  ANSWER("400 Bad Request", ERROR, EITHER)),
	R("declared-array-open", "invalid JSON of any shape",
	  SEND(POST_API CT_JSON BODY("[1,2")),
	  ANSWER("400 Bad Request", ERROR, EITHER)),
	R("leading-zero", "JSON numbers have no leading zeros",
	  SEND(POST_API CT_JSON BODY("{\"a\":01}")),
	  ANSWER("400 Bad Request", ERROR, EITHER)),
	R("bare-dot", "a JSON number starts with a digit",
	  SEND(POST_API CT_JSON BODY("{\"a\":.5}")),
	  ANSWER("400 Bad Request", ERROR, EITHER)),
	R("lone-minus", "- is no number",
	  SEND(POST_API CT_JSON BODY("{\"a\":-}")),
	  ANSWER("400 Bad Request", ERROR, EITHER)),
	R("bad-exponent", "an exponent needs digits",
	  SEND(POST_API CT_JSON BODY("{\"a\":1e}")),
	  ANSWER("400 Bad Request", ERROR, EITHER)),
	R("nan", "JSON has no NaN",
	  SEND(POST_API CT_JSON BODY("{\"a\":NaN}")),
	  ANSWER("400 Bad Request", ERROR, EITHER)),
	R("bad-escape", "\\x is no JSON escape",
	  SEND(POST_API CT_JSON BODY("{\"a\":\"\\x\"}")),
	  ANSWER("400 Bad Request", ERROR, EITHER)),
	R("bad-unicode-escape", "\\u takes four hex digits",
	  SEND(POST_API CT_JSON BODY("{\"a\":\"\\u12G4\"}")),
	  ANSWER("400 Bad Request", ERROR, EITHER)),
	R("control-in-string", "control bytes must be escaped in JSON strings",
	  SEND(POST_API CT_JSON BODY("{\"a\":\"\001\"}")),
	  ANSWER("400 Bad Request", ERROR, EITHER)),
	R("unterminated-string", "the string never ends",
	  SEND(POST_API CT_JSON BODY("{\"a\":\"abc}")),
	  ANSWER("400 Bad Request", ERROR, EITHER)),
	R("missing-colon", "a key needs its colon",
	  SEND(POST_API CT_JSON BODY("{\"a\" 1}")),
	  ANSWER("400 Bad Request", ERROR, EITHER)),
	R("missing-value", "a key needs its value",
	  SEND(POST_API CT_JSON BODY("{\"a\":}")),
	  ANSWER("400 Bad Request", ERROR, EITHER)),
	R("unquoted-key", "keys are strings",
	  SEND(POST_API CT_JSON BODY("{stream:true}")),
	  ANSWER("400 Bad Request", ERROR, EITHER)),
	R("extra-close", "one value only",
	  SEND(POST_API CT_JSON BODY("{\"a\":1}}")),
	  ANSWER("400 Bad Request", ERROR, EITHER)),
	R("two-objects", "one value only",
	  SEND(POST_API CT_JSON BODY("{}{}")),
	  ANSWER("400 Bad Request", ERROR, EITHER)),
	R("deep-nesting", "65,000 open arrays are invalid JSON, not a stack "
	  "overflow",
	  SEND(POST_API CT_JSON BODY("{\"a\":$(65000*[)")),
	  ANSWER("400 Bad Request", ERROR, EITHER)),
	/* The error names what it found, so that a user sees the mistake. */
	R("python-true", "JSON's literals are lower case",
	  SEND(POST_API CT_JSON BODY("{\"stream\":True}")),
	  ANSWER("400 Bad Request", ERROR, EITHER,
		 .body = "{\"error\":\"invalid literal 'True'\"}")),
	R("cut-literal", "a literal cut short",
	  SEND(POST_API CT_JSON BODY("{\"stream\":tru}")),
	  ANSWER("400 Bad Request", ERROR, EITHER,
		 .body = "{\"error\":\"invalid literal 'tru'\"}")),
	R("bare-word", "an unquoted word",
	  SEND(POST_API CT_JSON BODY("{\"stream\":yes}")),
	  ANSWER("400 Bad Request", ERROR, EITHER,
		 .body = "{\"error\":\"invalid literal 'yes'\"}")),
	R("form-sent-as-json", "a form body declared JSON",
	  SEND(POST_API CT_JSON BODY("stream=true")),
	  ANSWER("400 Bad Request", ERROR, EITHER,
		 .body = "{\"error\":\"not JSON: starts with 's'\"}")),
	R("quote-first", "JSON strings take double quotes",
	  SEND(POST_API CT_JSON BODY("'a'")),
	  ANSWER("400 Bad Request", ERROR, EITHER,
		 .body = "{\"error\":\"not JSON: starts with byte 39\"}")),
	R("number-named", "a number error stays one",
	  SEND(POST_API CT_JSON BODY("{\"a\":1x}")),
	  ANSWER("400 Bad Request", ERROR, EITHER,
		 .body = "{\"error\":\"expected ',' or '}' in JSON object\"}")),
};

/* How the server treats HTTP itself (docs/protocol.md section 4), run as
 * the detect rows are. */
static const struct transcript http_rows[] = {
	R("minimal", "the plain answer, and the connection stays open",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "Content-Length: 0\r\n"
	       "\r\n"),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("no-length", "no Content-Length: no body (RFC 9112 6.3)",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "\r\n"),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("bare-lf", "RFC 9112 2.2 lets a server accept LF alone; "
	  "docs/protocol.md section 4 does",
	  SEND("POST /api HTTP/1.1\n" H
	       "Content-Length: 15\n"
	       "\n"
	       "{\"stream\":true}"),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("header-name-case", "header names are case-insensitive",
	  SEND("POST /api HTTP/1.1\r\n"
	       "HOST: t\r\n"
	       "content-type: application/json\r\n"
	       "content-length: 15\r\n"
	       "\r\n"
	       "{\"stream\":true}"),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("chunked-body", "a chunked request body is decoded before it is "
	  "read",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "Content-Type: application/json\r\n"
	       "Transfer-Encoding: chunked\r\n"
	       "\r\n"
	       "5\r\n"
	       "{\"str\r\n"
	       "a\r\n"
	       "eam\":true}\r\n"
	       "0\r\n"
	       "\r\n"),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("chunked-ext-trailer", "chunk extensions and trailers are skipped",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "Content-Type: application/json\r\n"
	       "Transfer-Encoding: chunked\r\n"
	       "\r\n"
	       "5;x=y\r\n"
	       "{\"str\r\n"
	       "A\r\n"
	       "eam\":true}\r\n"
	       "0\r\n"
	       "X-T: 1\r\n"
	       "\r\n"),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("chunked-empty", "coding names are case-insensitive; an empty body",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "Transfer-Encoding: Chunked\r\n"
	       "\r\n"
	       "0\r\n"
	       "\r\n"),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("connection-close", "the client asked to close: the answer says "
	  "so, then closes",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "Connection: close\r\n"
	       "\r\n"),
	  ANSWER("200 OK", PLAIN, CLOSE)),
	R("connection-close-stream", "a stream to a closing client says "
	  "close and closes at its end",
	  SEND("POST /api?stream=1 HTTP/1.1\r\n" H
	       "Connection: close\r\n"
	       "\r\n"),
	  ANSWER("200 OK", STREAM, CLOSE)),
	R("http10", "HTTP/1.0 closes after the answer",
	  SEND("POST /api HTTP/1.0\r\n"
	       "\r\n"),
	  ANSWER("200 OK", PLAIN, CLOSE)),
	R("http10-stream", "HTTP/1.0 has no chunks: the close ends the stream",
	  SEND("POST /api?stream=true HTTP/1.0\r\n"
	       "\r\n"),
	  ANSWER("200 OK", STREAM, CLOSE)),
	R("http10-json-stream", "the body asks on HTTP/1.0 as well",
	  SEND("POST /api HTTP/1.0\r\n"
	       "Content-Type: application/json\r\n"
	       "Content-Length: 15\r\n"
	       "\r\n"
	       "{\"stream\":true}"),
	  ANSWER("200 OK", STREAM, CLOSE)),
	R("http10-keep-alive-stream", "an unchunked stream can only end with "
	  "the close",
	  SEND("POST /api?stream=1 HTTP/1.0\r\n"
	       "Connection: keep-alive\r\n"
	       "\r\n"),
	  ANSWER("200 OK", STREAM, CLOSE)),
	R("http10-expect", "no 100 Continue to HTTP/1.0 (RFC 9110 10.1.1)",
	  SEND("POST /api HTTP/1.0\r\n"
	       "Expect: 100-continue\r\n"
	       "Content-Length: 2\r\n"
	       "\r\n"
	       "{}"),
	  ANSWER("200 OK", PLAIN, CLOSE)),
	R("connection-close-case", "connection options are case-insensitive",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "Connection: Close\r\n"
	       "\r\n"),
	  ANSWER("200 OK", PLAIN, CLOSE)),
	R("absolute-form", "a server must accept the absolute form (RFC 9112 "
	  "3.2.2)",
	  SEND("POST http://t/api HTTP/1.1\r\n" H
	       "\r\n"),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("leading-crlf", "RFC 9112 2.2: an empty line before the request "
	  "line is ignored",
	  SEND("\r\n"
	       "POST /api HTTP/1.1\r\n" H
	       "\r\n"),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("tab-in-value", "HTAB is allowed inside a field value",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "X-A: b\tc\r\n"
	       "\r\n"),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("obs-text-in-value", "bytes 0x80-0xff are obs-text, allowed in "
	  "values",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "X-A: caf\303\251\r\n"
	       "\r\n"),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("empty-value", "a field value may be empty",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "X-A:\r\n"
	       "\r\n"),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("target-4096", "a target of exactly 4 KiB is allowed",
	  SEND("POST /api?$(4091*a) HTTP/1.1\r\n" H
	       "\r\n"),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("head-7k", "a head under 8 KiB is allowed",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "X-Pad: $(7000*a)\r\n"
	       "\r\n"),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("body-64k", "a body of exactly 64 KiB is allowed",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "Content-Type: text/plain\r\n"
	       "Content-Length: 65536\r\n"
	       "\r\n"
	       "$(65536*a)"),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("unknown-path", "unknown path: 404, and the connection stays usable",
	  SEND("POST /nope HTTP/1.1\r\n" H
	       "\r\n"),
	  ANSWER("404 Not Found", ERROR, KEEP)),
	R("path-prefix", "paths compare whole",
	  SEND("POST /apix HTTP/1.1\r\n" H
	       "\r\n"),
	  ANSWER("404 Not Found", ERROR, KEEP)),
	R("get-api", "known path, wrong method: 405 with Allow",
	  SEND("GET /api HTTP/1.1\r\n" H
	       "\r\n"),
	  ANSWER("405 Method Not Allowed", ERROR, EITHER,
		 .header = "Allow: *POST*")),
	R("put-api", "known path, wrong method: 405 with Allow",
	  SEND("PUT /api HTTP/1.1\r\n" H
	       "Content-Length: 0\r\n"
	       "\r\n"),
	  ANSWER("405 Method Not Allowed", ERROR, EITHER,
		 .header = "Allow: *POST*")),
	R("no-version", "a request line has three parts",
	  SEND("POST /api\r\n" H
	       "\r\n"),
	  ANSWER("400 Bad Request", ERROR, CLOSE)),
	R("double-space", "single spaces separate the request line",
	  SEND("POST  /api HTTP/1.1\r\n" H
	       "\r\n"),
	  ANSWER("400 Bad Request", ERROR, CLOSE)),
	R("extra-token", "nothing follows the version",
	  SEND("POST /api HTTP/1.1 x\r\n" H
	       "\r\n"),
	  ANSWER("400 Bad Request", ERROR, CLOSE)),
	R("garbage-line", "no request line at all",
	  SEND("hello\r\n"
	       "\r\n"),
	  ANSWER("400 Bad Request", ERROR, CLOSE)),
	R("lowercase-version", "HTTP-name is case-sensitive (RFC 9112 2.3)",
	  SEND("POST /api http/1.1\r\n" H
	       "\r\n"),
	  ANSWER("400 Bad Request", ERROR, CLOSE)),
	R("no-host", "HTTP/1.1 requires Host (RFC 9112 3.2)",
	  SEND("POST /api HTTP/1.1\r\n"
	       "Content-Length: 0\r\n"
	       "\r\n"),
	  ANSWER("400 Bad Request", ERROR, CLOSE)),
	R("two-hosts", "more than one Host is a 400 (RFC 9112 3.2)",
	  SEND("POST /api HTTP/1.1\r\n"
	       "Host: a\r\n"
	       "Host: b\r\n"
	       "\r\n"),
	  ANSWER("400 Bad Request", ERROR, CLOSE)),
	R("cl-and-te", "both framings: a smuggling attempt",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "Content-Length: 5\r\n"
	       "Transfer-Encoding: chunked\r\n"
	       "\r\n"
	       "0\r\n"
	       "\r\n"),
	  ANSWER("400 Bad Request", ERROR, CLOSE)),
	R("differing-cl", "which length? a smuggling attempt",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "Content-Length: 1\r\n"
	       "Content-Length: 2\r\n"
	       "\r\n"
	       "ab"),
	  ANSWER("400 Bad Request", ERROR, CLOSE)),
	R("cl-list", "differing lengths in one field",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "Content-Length: 1, 2\r\n"
	       "\r\n"
	       "ab"),
	  ANSWER("400 Bad Request", ERROR, CLOSE)),
	R("cl-non-numeric", "a length is digits",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "Content-Length: abc\r\n"
	       "\r\n"),
	  ANSWER("400 Bad Request", ERROR, CLOSE)),
	R("cl-negative", "a length is digits, no sign",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "Content-Length: -1\r\n"
	       "\r\n"),
	  ANSWER("400 Bad Request", ERROR, CLOSE)),
	R("cl-plus", "a length is digits, no sign",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "Content-Length: +1\r\n"
	       "\r\n"
	       "a"),
	  ANSWER("400 Bad Request", ERROR, CLOSE)),
	R("cl-overflow", "an overflowing length is a 400 (docs/protocol.md "
	  "section 4)",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "Content-Length: 99999999999999999999999\r\n"
	       "\r\n"),
	  ANSWER("400 Bad Request", ERROR, CLOSE)),
	R("cl-2-to-the-64", "2^64 wraps to 0 in a careless parser",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "Content-Length: 18446744073709551616\r\n"
	       "\r\n"),
	  ANSWER("400 Bad Request", ERROR, CLOSE)),
	R("obs-fold", "obs-fold is rejected (RFC 9112 5.2)",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "X-A: b\r\n"
	       " c\r\n"
	       "\r\n"),
	  ANSWER("400 Bad Request", ERROR, CLOSE)),
	R("space-before-colon", "RFC 9112 5.1 requires a 400",
	  SEND("POST /api HTTP/1.1\r\n"
	       "Host : t\r\n"
	       "\r\n"),
	  ANSWER("400 Bad Request", ERROR, CLOSE)),
	R("tab-before-colon", "any whitespace before the colon",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "X-A\t: b\r\n"
	       "\r\n"),
	  ANSWER("400 Bad Request", ERROR, CLOSE)),
	R("bare-cr", "a CR alone is no line end",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "X-A: b\rc\r\n"
	       "\r\n"),
	  ANSWER("400 Bad Request", ERROR, CLOSE)),
	R("nul-in-value", "NUL in a header",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "X-A: b\000c\r\n"
	       "\r\n"),
	  ANSWER("400 Bad Request", ERROR, CLOSE)),
	R("ctl-in-value", "a control byte in a header",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "X-A: b\001c\r\n"
	       "\r\n"),
	  ANSWER("400 Bad Request", ERROR, CLOSE)),
	R("del-in-value", "DEL is a control byte too",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "X-A: b\177c\r\n"
	       "\r\n"),
	  ANSWER("400 Bad Request", ERROR, CLOSE)),
	R("nul-in-name", "a header name is a token",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "X\000A: b\r\n"
	       "\r\n"),
	  ANSWER("400 Bad Request", ERROR, CLOSE)),
	R("empty-name", "a header needs a name",
	  SEND("POST /api HTTP/1.1\r\n" H
	       ": b\r\n"
	       "\r\n"),
	  ANSWER("400 Bad Request", ERROR, CLOSE)),
	R("no-colon", "a header needs its colon",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "X-A b\r\n"
	       "\r\n"),
	  ANSWER("400 Bad Request", ERROR, CLOSE)),
	R("chunk-size-bad", "a chunk size is hex digits",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "Transfer-Encoding: chunked\r\n"
	       "\r\n"
	       "zz\r\n"),
	  ANSWER("400 Bad Request", ERROR, CLOSE)),
	R("expect-other", "100-continue is the only expectation (RFC 9110 "
	  "10.1.1)",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "Expect: 200-ok\r\n"
	       "\r\n"),
	  ANSWER("417 Expectation Failed", ERROR, CLOSE)),
	R("expect-other-body", "refused from the head, whatever the body asks",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "Expect: x-wait\r\n"
	       "Content-Type: application/json\r\n"
	       "Content-Length: 15\r\n"
	       "\r\n"
	       "{\"stream\":true}"),
	  ANSWER("417 Expectation Failed", ERROR, CLOSE)),
	R("te-gzip", "only chunked is implemented",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "Transfer-Encoding: gzip\r\n"
	       "\r\n"),
	  ANSWER("501 Not Implemented", ERROR, CLOSE)),
	R("te-gzip-chunked", "only chunked is implemented",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "Transfer-Encoding: gzip, chunked\r\n"
	       "\r\n"
	       "0\r\n"
	       "\r\n"),
	  ANSWER("501 Not Implemented", ERROR, CLOSE)),
	R("target-4097", "a target over 4 KiB",
	  SEND("POST /api?$(4092*a) HTTP/1.1\r\n" H
	       "\r\n"),
	  ANSWER("414 URI Too Long", ERROR, CLOSE)),
	R("head-9k", "a header section over 8 KiB",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "X-Pad: $(9000*a)\r\n"
	       "\r\n"),
	  ANSWER("431 Request Header Fields Too Large", ERROR, CLOSE)),
	R("body-over-64k", "the length alone says too much: 413 without "
	  "waiting for it",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "Content-Length: 65537\r\n"
	       "\r\n"),
	  ANSWER("413 Content Too Large", ERROR, CLOSE)),
	R("chunk-over-64k", "a chunk size alone says too much: 413 at once",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "Transfer-Encoding: chunked\r\n"
	       "\r\n"
	       "10001\r\n"),
	  ANSWER("413 Content Too Large", ERROR, CLOSE)),
	R("chunks-over-64k", "chunks that add up to more than 64 KiB",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "Transfer-Encoding: chunked\r\n"
	       "\r\n"
	       "8000\r\n"
	       "$(32768*a)\r\n"
	       "8000\r\n"
	       "$(32768*a)\r\n"
	       "1\r\n"
	       "a\r\n"
	       "0\r\n"
	       "\r\n"),
	  ANSWER("413 Content Too Large", ERROR, CLOSE)),
	R("http-2.0", "only HTTP/1.0 and HTTP/1.1 are spoken",
	  SEND("POST /api HTTP/2.0\r\n" H
	       "\r\n"),
	  ANSWER("505 HTTP Version Not Supported", ERROR, CLOSE)),
	R("http-1.2", "HTTP/1.2 is answered as HTTP/1.1 (RFC 9110 2.5)",
	  SEND("POST /api HTTP/1.2\r\n" H
	       "\r\n"),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("http-1.9-stream", "HTTP/1.9 gets a chunked stream, as HTTP/1.1 "
	  "does",
	  SEND("POST /api HTTP/1.9\r\n" H
	       "Content-Type: application/json\r\n"
	       "Content-Length: 15\r\n"
	       "\r\n"
	       "{\"stream\":true}"),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("absolute-empty-host", "an http URI with an empty host is invalid "
	  "(RFC 9110 4.2.1)",
	  SEND("POST http:///api HTTP/1.1\r\n" H
	       "\r\n"),
	  ANSWER("400 Bad Request", ERROR, CLOSE)),
	R("absolute-userinfo", "no userinfo in an http URI (RFC 9110 4.2.4)",
	  SEND("POST http://u:p@t/api HTTP/1.1\r\n" H
	       "\r\n"),
	  ANSWER("400 Bad Request", ERROR, CLOSE)),
	R("http-0.9", "only HTTP/1.0 and HTTP/1.1 are spoken",
	  SEND("POST /api HTTP/0.9\r\n" H
	       "\r\n"),
	  ANSWER("505 HTTP Version Not Supported", ERROR, CLOSE)),
};

/* The limit flags of docs/protocol.md section 7, on a server started with
 * `--max-target 64 --max-header 256` (test_limits()): at each limit a
 * request is served, one byte past it refused.  The target counts from its
 * first byte to the space before the version; the head from the request
 * line to the blank line that ends it, both included. */
static const struct transcript limit_rows[] = {
	R("target-64", "a target of exactly --max-target bytes",
	  SEND("POST /api?$(59*a) HTTP/1.1\r\n" H
	       "\r\n"),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("target-65", "a target one byte over --max-target",
	  SEND("POST /api?$(60*a) HTTP/1.1\r\n" H
	       "\r\n"),
	  ANSWER("414 URI Too Long", ERROR, CLOSE)),
	R("head-256", "a head of exactly --max-header bytes",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "X-Pad: $(216*a)\r\n"
	       "\r\n"),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("head-257", "a head one byte over --max-header",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "X-Pad: $(217*a)\r\n"
	       "\r\n"),
	  ANSWER("431 Request Header Fields Too Large", ERROR, CLOSE)),
	R("head-256-and-body", "the body does not count towards the head",
	  SEND("POST /api HTTP/1.1\r\n" H
	       "Content-Type: text/plain\r\n"
	       "Content-Length: 100\r\n"
	       "X-Pad: $(169*a)\r\n"
	       "\r\n"
	       "$(100*b)"),
	  ANSWER("200 OK", PLAIN, KEEP)),
};

/* Conversations of more than one request, or with a wait in them, on the
 * main server, one after the other, each on a connection of its own. */
static const struct transcript session_rows[] = {
	R("stream-timing", "`:ok` at once, event k at k intervals after the "
	  "request was complete, `:done` with the last",
	  SEND(STREAM_REQ),
	  ANSWER("200 OK", TIMED, KEEP)),
	R("keep-alive/two-plain", "two plain requests, one after the other",
	  SEND(PLAIN_REQ),
	  ANSWER("200 OK", PLAIN, KEEP),
	  SEND(PLAIN_REQ),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("keep-alive/after-stream", "after a stream's last chunk the "
	  "connection serves the next request",
	  SEND(STREAM_REQ),
	  ANSWER("200 OK", STREAM, KEEP),
	  SEND(PLAIN_REQ),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("keep-alive/after-message-stream", "an EventSource stream ends "
	  "without `:done`: exactly one zero-size chunk ends it, and the next "
	  "answer follows",
	  SEND("GET /message-stream HTTP/1.1\r\n" H
	       "\r\n"),
	  ANSWER("200 OK", ANY, KEEP,
		 .header = "Content-Type: text/event-stream"),
	  SEND(PLAIN_REQ),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("keep-alive/after-404", "a 404 leaves the connection open for the "
	  "next request",
	  SEND(NOPE_REQ),
	  ANSWER("404 Not Found", ERROR, KEEP),
	  SEND(PLAIN_REQ),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("pipelining/stream-then-plain", "the plain answer follows the "
	  "stream's zero-size chunk, and the stream keeps its schedule: read "
	  "in order, a plain answer sent inside the stream breaks its chunks",
	  SEND(STREAM_REQ PLAIN_REQ),
	  ANSWER("200 OK", TIMED, KEEP),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("pipelining/three-plain", "requests in one write get their answers "
	  "in order",
	  SEND(PLAIN_REQ PLAIN_REQ PLAIN_REQ),
	  ANSWER("200 OK", PLAIN, KEEP),
	  ANSWER("200 OK", PLAIN, KEEP),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("pipelining/plain-stream-plain", "a stream between plain requests "
	  "in one write",
	  SEND(PLAIN_REQ STREAM_REQ PLAIN_REQ),
	  ANSWER("200 OK", PLAIN, KEEP),
	  ANSWER("200 OK", STREAM, KEEP),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("pipelining/close-ends-it", "after `Connection: close` nothing "
	  "more is answered, even a request already sent (RFC 9112 9.6)",
	  SEND(CLOSE_REQ PLAIN_REQ),
	  ANSWER("200 OK", PLAIN, CLOSE)),
	R("pipelining/error-ends-it", "a good request, a bad one and a good "
	  "one in one write: the first answered, the second refused, then "
	  "the close",
	  SEND(PLAIN_REQ "hello\r\n\r\n" PLAIN_REQ),
	  ANSWER("200 OK", PLAIN, KEEP),
	  ANSWER("400 Bad Request", ERROR, CLOSE)),
	R("expect-100/plain", "the client sends the head alone and waits for "
	  "the 100 before the body (RFC 9110 10.1.1)",
	  SEND(POST_API CT_JSON
	       "Content-Length: 2\r\n"
	       "Expect: 100-continue\r\n"
	       "\r\n"),
	  ANSWER("100 Continue", INTERIM, KEEP),
	  SEND("{}"),
	  ANSWER("200 OK", PLAIN, KEEP)),
	R("expect-100/stream", "the body after the 100 asks for a stream",
	  SEND(POST_API CT_JSON
	       "Content-Length: 15\r\n"
	       "Expect: 100-continue\r\n"
	       "\r\n"),
	  ANSWER("100 Continue", INTERIM, KEEP),
	  SEND("{\"stream\":true}"),
	  ANSWER("200 OK", STREAM, KEEP)),
	R("expect-100/mixed-case", "the expectation is case-insensitive",
	  SEND(POST_API CT_JSON
	       "Content-Length: 2\r\n"
	       "Expect: 100-Continue\r\n"
	       "\r\n"),
	  ANSWER("100 Continue", INTERIM, KEEP),
	  SEND("{}"),
	  ANSWER("200 OK", PLAIN, KEEP)),
};

#define NELEM(a) (sizeof (a) / sizeof (a)[0])

/* Expands a step's bytes, p[0..n): each `$(N*c)` into N copies of the
 * byte c, then `$(length)` into the count of the bytes after the blank
 * line that follows it.  Returns a malloc'd copy, NUL-terminated, and its
 * length in *len. */
static char *expand(const char *p, size_t n, size_t *len)
{
	size_t cap = n + 32, out = 0;
	char *b = malloc(cap);

	for (size_t i = 0; i < n;) {
		unsigned long count = 0;
		char c;
		int used = 0;

		if (p[i] == '$' && sscanf(p + i, "$(%lu*%c)%n", &count, &c,
					  &used) == 2 && used > 0) {
			i += (size_t)used;
		} else {
			count = 1;
			c = p[i++];
		}
		if (out + count + 32 > cap) {
			cap = (out + count + 32) * 2;
			b = realloc(b, cap);
		}
		memset(b + out, c, count);
		out += count;
	}
	b[out] = '\0';

	static const char mark[] = "$(length)";
	char *at = memmem(b, out, mark, sizeof mark - 1);
	char *blank = at ? memmem(at, out - (size_t)(at - b), "\r\n\r\n", 4)
			 : NULL;
	if (blank != NULL) {
		char num[24];
		size_t body = out - (size_t)(blank + 4 - b);
		size_t k = (size_t)snprintf(num, sizeof num, "%zu", body);
		size_t tail = out - (size_t)(at - b) - (sizeof mark - 1);

		memmove(at + k, at + sizeof mark - 1, tail + 1);
		memcpy(at, num, k);
		out = out - (sizeof mark - 1) + k;
	}
	*len = out;
	return b;
}

/* Did the request go out as HTTP/1.0?  Its answers may say so. */
static bool is_http10(const char *req, size_t len)
{
	return memmem(req, len, " HTTP/1.0\r\n", 11) != NULL;
}

/* Checks one answer: r is what the client read, wall0 the wall clock
 * before the row's first byte, sent_ms when its last byte went out. */
static bool answer_ok(const struct answer *a, const struct response *r,
		      bool http10, int64_t wall0, int64_t sent_ms)
{
	if (!status_line_is(r, a->status, http10))
		return false;
	switch (a->shape) {
	case PLAIN:
		plain_ok(r, a->conn, http10);
		break;
	case STREAM:
	case TIMED:
		if (stream_ok(r, EVENTS, wall0, a->conn, http10) &&
		    a->shape == TIMED)
			timing_ok(r, sent_ms, EVENTS, INTERVAL_MS);
		break;
	case ERROR:
		error_ok(r, atoi(a->status), a->conn);
		break;
	case INTERIM:
		if (r->nh != 0 || r->body_len != 0)
			t_note("the %s has headers or a body: %s", a->status,
			       resp_text(r));
		break;
	case ANY:
		connection_ok(r, a->conn);
		break;
	}
	if (a->header != NULL)
		header_matches(r, a->header);
	if (a->body != NULL && !glob(a->body, r->body, r->body_len))
		t_note("body %s, expected %s", esc(r->body, r->body_len),
		       escs(a->body));
	return !t_noted();
}

/* Prints a row's line: a FAIL names the row and shows the bytes it sent
 * last. */
static void row_result(const char *table, const struct transcript *t,
		       const char *how, const char *sent, size_t len)
{
	char name[128];

	snprintf(name, sizeof name, "%s%s%s", table, t->name, how);
	t_prefix("wire.c:%d (%s; sent %s): ", t->line, t->why,
		 esc(sent, len));
	t_result(name, true);
}

/* Is the row one SEND and its ANSWER, as a row run at once must be? */
static bool one_exchange(const struct transcript *t)
{
	return t->steps[0].send != NULL && t->steps[1].send == NULL &&
	       t->steps[1].answer.status != NULL && t->steps[2].send == NULL &&
	       t->steps[2].answer.status == NULL;
}

/* Runs the rows of a table all at once against the server on port, each
 * on its own connection, as one write and, when short, a byte per write
 * (the case's name ends in /bytewise): the two must get the same answer.
 * Each row is one SEND and its ANSWER.  Prints their lines. */
static void run_at_once(const char *table, const struct transcript *t,
			size_t n, int port)
{
	struct xfer *x = calloc(2 * n, sizeof *x);
	char **req = calloc(n, sizeof *req);
	size_t *len = calloc(n, sizeof *len);
	int nx = 0;

	for (size_t i = 0; i < n; i++) {
		req[i] = expand(t[i].steps[0].send, t[i].steps[0].len, &len[i]);
		struct xfer one = {
			.out = req[i], .out_len = len[i],
			.want_close = t[i].steps[1].answer.conn == CLOSE,
		};

		x[nx++] = one;
		if (len[i] <= BYTEWISE_MAX) {
			one.piece = 1;
			x[nx++] = one;
		}
	}
	xfer_run(x, nx, port, mono_ms() + 20000);
	for (size_t i = 0, k = 0; i < n; i++) {
		const struct answer *a = &t[i].steps[1].answer;

		for (int bytewise = 0; bytewise < 2; bytewise++) {
			if (bytewise && len[i] > BYTEWISE_MAX)
				break;
			if (!one_exchange(&t[i]))
				t_note("a row run at once is one SEND and its "
				       "ANSWER");
			else if (x[k].err[0] != '\0')
				t_note("%s", x[k].err);
			else if (answer_ok(a, &x[k].r,
					   is_http10(req[i], len[i]),
					   x[k].wall0, x[k].sent_ms) &&
				 a->conn == CLOSE && !x[k].closed)
				t_note("the server did not close the "
				       "connection");
			row_result(table, &t[i], bytewise ? "/bytewise" : "",
				   req[i], len[i]);
			k++;
		}
	}
	for (int i = 0; i < nx; i++)
		xfer_free(&x[i]);
	for (size_t i = 0; i < n; i++)
		free(req[i]);
	free(req);
	free(len);
	free(x);
}

/* Runs one row step by step on a connection of its own to port; the
 * connection then ends as the last answer says.  Prints its line. */
static void run_session(const struct transcript *t, int port)
{
	struct client c;
	struct response r = { 0 };
	const struct answer *last = NULL;
	char *req = NULL;
	size_t len = 0;
	int64_t wall0 = wall_ms(), sent_ms = mono_ms();
	int answers = 0;

	if (client_open(&c, port) != 0) {
		row_result("", t, "", "", 0);
		return;
	}
	for (int i = 0; i < STEPS && !t_noted(); i++) {
		const struct step *s = &t->steps[i];
		int64_t deadline = stream_deadline();

		if (s->send != NULL) {
			free(req);
			req = expand(s->send, s->len, &len);
			if (client_send(&c, req, len, 0, deadline) == 0)
				sent_ms = mono_ms();
		} else if (s->answer.status != NULL) {
			last = &s->answer;
			if (client_read(&c, &r, deadline) == 0)
				answer_ok(last, &r, is_http10(req, len), wall0,
					  sent_ms);
			t_prefix("answer %d: ", ++answers);
		}
	}
	if (!t_noted() && last != NULL && last->conn == CLOSE)
		client_closed(&c, mono_ms() + 3000);
	row_result("", t, "", req ? req : "", len);
	client_close(&c);
	resp_free(&r);
	free(req);
}

/* Runs every row of the detect and http tables, then the sessions,
 * against the server on port. */
static void run_tables(int port)
{
	run_at_once("detect/", detect_rows, NELEM(detect_rows), port);
	run_at_once("http/", http_rows, NELEM(http_rows), port);
	for (size_t i = 0; i < NELEM(session_rows); i++)
		run_session(&session_rows[i], port);
}

/* ----------------------------------------------- cases with a server -- */

/* Starts a server for a case, or prints the case's FAIL. */
static bool start(struct server *s, const char *name,
		  const char *const args[])
{
	if (server_start(s, sse, args) == 0)
		return true;
	t_result(name, false);
	return false;
}

/* The server ends (after a SIGTERM if term) with exit status 0 within
 * two seconds. */
static void stopped(struct server *s, const char *name, bool term)
{
	int code = term ? server_stop(s, 2000) : server_wait(s, 2000);

	if (code < 0)
		t_note("the server did not exit within 2 s");
	else if (code != 0)
		t_note("exit status %d, expected 0", code);
	t_result(name, true);
}

/* At the default one-second interval, event 5 comes at 5 s, not 5 s plus
 * whatever each event was late. */
static void test_default_interval(void)
{
	struct server s;
	struct client c;
	static const char *const args[] = { "-b", "127.0.0.1", "-p", "0",
					    "-q", "-n", "5", NULL };

	if (!start(&s, "stream-timing/default-interval", args))
		return;
	if (client_open(&c, s.port) == 0) {
		stream_timing(&c, 1000);
		client_close(&c);
	}
	t_result("stream-timing/default-interval", true);
	server_stop(&s, 2000);
}

/* Stops the server for PAUSE_MS, then lets it go on.  Returns when it
 * went on (mono_ms()).  The pause is what the case does to the server,
 * not a wait for something, so it is a plain sleep. */
static int64_t server_pause(struct server *s)
{
	int64_t until = mono_ms() + PAUSE_MS;

	kill(s->pid, SIGSTOP);
	while (mono_ms() < until)
		poll(NULL, 0, ms_until(until));
	kill(s->pid, SIGCONT);
	return mono_ms();
}

/* Did event k arrive no earlier than its due time, sent + k intervals,
 * and at most LATE_MS after that or after the resume, whichever is later?
 * Event 1 came before the stop and is held to its own due time. */
static bool grid_ok(const struct response *r, int64_t sent,
		    int64_t resumed, int n)
{
	for (int k = 1; k <= n && k < r->nch && k < RESP_CHUNKS; k++) {
		int64_t due = sent + (int64_t)k * INTERVAL_MS;
		int64_t from = k > 1 && resumed > due ? resumed : due;
		long long at = (long long)(r->ch[k].mono_ms - sent);

		if (at < due - sent - EARLY_MS || at > from - sent + LATE_MS)
			return t_note("event %d arrived %lld ms after the "
				      "request, expected %lld ms (-%d, +%d): "
				      "due at %lld ms, the server stopped "
				      "from %lld to %lld ms", k, at,
				      (long long)(from - sent), EARLY_MS,
				      LATE_MS, (long long)(due - sent),
				      (long long)(resumed - PAUSE_MS - sent),
				      (long long)(resumed - sent));
	}
	return true;
}

/* The schedule is drift-free (docs/protocol.md section 1): event k is due
 * k intervals after the request, however late the ones before went out.
 * The server is stopped (SIGSTOP) for PAUSE_MS right after event 1 of a
 * stream of 12.  The events due meanwhile must come out together at the
 * SIGCONT, and the rest back on the original grid.  A server that waits an
 * interval after each send would put event k at the resume plus k - 2
 * intervals: every event after the resume PAUSE_MS - INTERVAL_MS late,
 * twice LATE_MS, and the caught-up ones an interval apart. */
static void test_drift_free(void)
{
	static const char name[] = "stream-timing/drift-free-after-stop";
	static const char req[] = "POST /api?stream=1&n=12 HTTP/1.1\r\n"
				  "Host: t\r\n\r\n";
	const int n = 12;
	struct server s;
	struct client c;
	struct response r = { 0 };

	if (!start(&s, name, SERVER_ARGS(NULL)))
		return;
	if (client_open(&c, s.port) == 0) {
		int64_t wall0 = wall_ms();
		int64_t deadline = mono_ms() + n * INTERVAL_MS + PAUSE_MS +
				   3000;

		if (client_send(&c, req, strlen(req), 0, deadline) == 0) {
			int64_t sent = mono_ms();

			if (client_more(&c, &r, deadline, 2) == 0) {
				int64_t resumed = server_pause(&s);

				if (client_more(&c, &r, deadline, 0) == 0 &&
				    stream_ok(&r, n, wall0, KEEP, false))
					grid_ok(&r, sent, resumed, n);
			}
		}
		client_close(&c);
	}
	resp_free(&r);
	t_result(name, true);
	server_stop(&s, 2000);
}

/* Waits for the server to close c, and notes when that is not between
 * from + lo and from + hi ms. */
static bool closed_between(struct client *c, int64_t from, int lo, int hi)
{
	if (!client_closed(c, from + hi + 1000))
		return false;
	long long at = (long long)(mono_ms() - from);
	if (at < lo || at > hi)
		return t_note("closed after %lld ms, expected %d to %d ms", at,
			      lo, hi);
	return true;
}

/* A request incomplete after the request timeout gets a 408 in time. */
static void timeout_408(int port, const char *name, const char *part)
{
	struct client c;
	struct response r = { 0 };

	if (client_open(&c, port) == 0) {
		int64_t t = mono_ms();

		if (client_send(&c, part, strlen(part), 0, t + 1000) == 0 &&
		    client_read(&c, &r, t + 2000) == 0 &&
		    error_ok(&r, 408, CLOSE)) {
			long long at = (long long)(r.head_ms - t);

			if (at < 250 || at > 300 + LATE_MS)
				t_note("408 after %lld ms, expected 300", at);
			client_closed(&c, t + 2000);
		}
		client_close(&c);
	}
	resp_free(&r);
	t_result(name, true);
}

/* A client that sends its head a byte every 50 ms, never quite idle,
 * still gets its 408 when the request timeout has passed since the first
 * byte.  Between bytes it waits on the socket, for the 408. */
static void timeout_trickle(int port)
{
	static const char head[] = "POST /api HTTP/1.1\r\nHost: t\r\n"
				   "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	struct client c;
	struct response r = { 0 };

	if (client_open(&c, port) == 0) {
		int64_t t = mono_ms();

		for (size_t i = 0; i < sizeof head - 1; i++)
			if (client_send(&c, head + i, 1, 0, t + 2000) != 0 ||
			    wait_fd(c.fd, POLLIN, t + 50 * ((int)i + 1)) != 0)
				break;
		t_clear();	/* the server may close before a byte */
		if (client_read(&c, &r, t + 2000) == 0 &&
		    error_ok(&r, 408, CLOSE)) {
			long long at = (long long)(r.head_ms - t);

			if (at < 250 || at > 300 + LATE_MS)
				t_note("408 after %lld ms, expected 300", at);
		}
		client_close(&c);
	}
	resp_free(&r);
	t_result("timeout/request-trickle", true);
}

/* A keep-alive connection idle after its answer is closed in time, with
 * nothing sent. */
static void timeout_idle(int port)
{
	struct client c;
	struct response r = { 0 };

	if (client_open(&c, port) == 0) {
		if (send_read(&c, PLAIN_REQ, &r, mono_ms() + 2000) == 0 &&
		    plain_ok(&r, KEEP, false))
			closed_between(&c, r.end_ms, 250, 300 + LATE_MS);
		client_close(&c);
	}
	resp_free(&r);
	t_result("timeout/idle-keep-alive", true);
}

/* A connection that never sends a byte is closed in time too, with
 * nothing or a 408. */
static void timeout_silent(int port)
{
	struct client c;
	struct response r = { 0 };

	if (client_open(&c, port) == 0) {
		int64_t t = mono_ms();

		if (client_read(&c, &r, t + 300 + LATE_MS + 1000) == 0) {
			if (error_ok(&r, 408, CLOSE))
				client_closed(&c, t + 2000);
		} else if (c.eof && c.len == 0) {
			t_clear();
		}
		long long at = (long long)(mono_ms() - t);
		if (!t_noted() && (at < 250 || at > 300 + LATE_MS))
			t_note("closed after %lld ms, expected 300", at);
		client_close(&c);
	}
	resp_free(&r);
	t_result("timeout/silent-connection", true);
}

/* A stream longer than both timeouts is not cut by them; once it ends the
 * idle timeout runs. */
static void timeout_spares_stream(int port)
{
	struct client c;
	struct response r = { 0 };

	if (client_open(&c, port) == 0) {
		int64_t wall0 = wall_ms();

		if (send_read(&c, STREAM_REQ, &r, stream_deadline()) == 0 &&
		    stream_ok(&r, EVENTS, wall0, KEEP, false))
			closed_between(&c, r.end_ms, 250, 300 + LATE_MS);
		client_close(&c);
	}
	resp_free(&r);
	t_result("timeout/stream-outlives-timeouts", true);
}

static void test_timeouts(void)
{
	struct server s;
	const char *const *args = SERVER_ARGS("--request-timeout", "300",
					      "--idle-timeout", "300", NULL);

	if (!start(&s, "timeout/server", args))
		return;
	timeout_408(s.port, "timeout/request-head",
		    "POST /api HTTP/1.1\r\nHost: t\r\n");
	timeout_408(s.port, "timeout/request-body",
		    "POST /api HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n"
		    "\r\nabc");
	timeout_trickle(s.port);
	timeout_idle(s.port);
	timeout_silent(s.port);
	timeout_spares_stream(s.port);
	server_stop(&s, 2000);
}

/* After a refusal the server sends FIN, then reads and drops what the
 * client still sends, for --linger-timeout (LINGER_MS here) and no longer,
 * so that a client still sending its body sees the answer and not a reset
 * (README).  Here the client sends a head whose length alone is refused,
 * 413, and reads the answer up to the FIN.  Returns whether all went so;
 * *sent is when the request went out. */
static bool refused(struct client *c, int port, int64_t *sent)
{
	static const char req[] = "POST /api HTTP/1.1\r\nHost: t\r\n"
				  "Content-Length: 100000\r\n\r\n";
	struct response r = { 0 };
	int64_t deadline = mono_ms() + 2000;
	bool ok = false;

	if (client_open(c, port) != 0)
		return false;
	if (client_send(c, req, strlen(req), 0, deadline) == 0) {
		*sent = mono_ms();
		ok = client_read(c, &r, deadline) == 0 &&
		     error_ok(&r, 413, CLOSE) && client_closed(c, deadline);
	}
	resp_free(&r);
	return ok;
}

/* The client goes on sending its body, a byte every PROBE_MS.  While the
 * server reads, the bytes vanish; once it has closed, the kernel answers
 * the next one with a reset (poll() waiting for no event reports only
 * that).  The close comes no sooner than LINGER_MS after the request and
 * no later than that after the FIN, give or take a probe and LATE_MS. */
static void linger_closes(int port)
{
	struct client c;
	int64_t sent;

	if (refused(&c, port, &sent)) {
		int64_t fin = mono_ms();
		int64_t limit = fin + LINGER_MS + PROBE_MS + LATE_MS;

		while (wait_fd(c.fd, 0, mono_ms() + PROBE_MS) == 0 &&
		       send(c.fd, "a", 1, MSG_NOSIGNAL) == 1 &&
		       mono_ms() < limit + 1000)
			;
		int64_t closed = mono_ms();
		if (closed - sent < LINGER_MS - EARLY_MS)
			t_note("the server closed %lld ms after the request, "
			       "before --linger-timeout %d ms",
			       (long long)(closed - sent), LINGER_MS);
		else if (closed > limit)
			t_note("no reset %lld ms after the server's FIN: it "
			       "still reads, expected it to close at "
			       "--linger-timeout %d ms (+%d)",
			       (long long)(closed - fin),
			       LINGER_MS, PROBE_MS + LATE_MS);
	}
	client_close(&c);
	t_result("linger/closes-at-timeout", true);
}

/* The client sends a few bytes of its body at once, then nothing.  The
 * server must read them: closing with bytes unread, the kernel would
 * reset the connection, and a reset can destroy an answer the client has
 * not read yet.  So its close at the linger timeout comes without a word,
 * and shows only when the client sends once more, after it. */
static void linger_reads(int port)
{
	struct client c;
	int64_t sent;

	if (refused(&c, port, &sent) &&
	    client_send(&c, "abcd", 4, 0, mono_ms() + 1000) == 0) {
		int64_t fin = mono_ms(), quiet = fin + LINGER_MS + LATE_MS;

		if (wait_fd(c.fd, 0, quiet) != 0)
			t_note("a reset %lld ms after the server's FIN, with "
			       "nothing sent since the 4 bytes after it: the "
			       "server closed with them unread, or reset",
			       (long long)(mono_ms() - fin));
		else if (send(c.fd, "a", 1, MSG_NOSIGNAL) == 1 &&
			 wait_fd(c.fd, 0, mono_ms() + 1000) == 0)
			t_note("the connection was still open %lld ms after "
			       "the server's FIN, past --linger-timeout %d ms",
			       (long long)(mono_ms() - fin), LINGER_MS);
	}
	client_close(&c);
	t_result("linger/reads-until-timeout", true);
}

/* The limit flags: the rows of limit_rows, and the linger. */
static void test_limits(void)
{
	struct server s;
	char linger[16];

	snprintf(linger, sizeof linger, "%d", LINGER_MS);
	if (!start(&s, "limits/server",
		   SERVER_ARGS("--max-target", "64", "--max-header", "256",
			       "--linger-timeout", linger, NULL)))
		return;
	run_at_once("limits/", limit_rows, NELEM(limit_rows), s.port);
	linger_closes(s.port);
	linger_reads(s.port);
	server_stop(&s, 2000);
}

/* The number after "key": in a /stats body, or -1. */
static long long stats_int(const struct response *r, const char *key)
{
	char pat[64];

	snprintf(pat, sizeof pat, "\"%s\":", key);
	const char *p = r->body ? strstr(r->body, pat) : NULL;
	return p == NULL ? -1 : strtoll(p + strlen(pat), NULL, 10);
}

/* Reads until the server closes c, by the deadline, whatever comes
 * before.  Returns whether it closed. */
static bool eof_by(struct client *c, int64_t deadline)
{
	while (!c->eof)
		if (client_fill(c) < 0 && wait_fd(c->fd, POLLIN, deadline) == 0)
			return false;
	return true;
}

/* After the client's FIN the server has closed the stream's connection:
 * its descriptor is gone (the close came before the FIN we read), and
 * /stats counts no stream, one aborted. */
static void half_close_freed(struct server *s, int held)
{
	static const char req[] = "GET /stats HTTP/1.1\r\nHost: t\r\n\r\n";
	struct client c;
	struct response r = { 0 };
	int now = fd_count(s->pid);

	if (now != held - 1)
		t_note("the server holds %d descriptors, expected %d: one "
		       "fewer than with the stream", now, held - 1);
	else if (client_open(&c, s->port) == 0) {
		if (send_read(&c, req, &r, mono_ms() + 2000) == 0 &&
		    status_is(&r, 200) &&
		    (stats_int(&r, "connections") != 1 ||
		     stats_int(&r, "streams") != 0 ||
		     stats_int(&r, "streams_aborted") != 1))
			t_note("/stats says %s, expected connections 1 (this "
			       "one), streams 0, streams_aborted 1",
			       esc(r.body, r.body_len));
		client_close(&c);
	}
	resp_free(&r);
	t_result("half-close/connection-freed", true);
}

/* A client that half-closes (shutdown(SHUT_WR), a FIN) while its stream
 * runs.  The contract is silent; README chooses to take it as gone, as
 * Node does: the stream stops and the server closes at once, with no
 * `:done`, and frees the connection (docs/protocol.md section 5).  The
 * stream has three seconds to run, so a server that ignores the FIN fails. */
static void test_half_close(void)
{
	static const char name[] = "half-close/stream-ends-at-once";
	static const char req[] = "POST /api?stream=1&n=30 HTTP/1.1\r\n"
				  "Host: t\r\n\r\n";
	struct server s;
	struct client c;
	struct response r = { 0 };
	int held = -1;

	if (!start(&s, "half-close/server", SERVER_ARGS(NULL)))
		return;
	if (client_open(&c, s.port) == 0) {
		int64_t deadline = mono_ms() + 2000;

		if (client_send(&c, req, strlen(req), 0, deadline) == 0 &&
		    client_more(&c, &r, deadline, 2) == 0) {
			held = fd_count(s.pid);
			shutdown(c.fd, SHUT_WR);
			if (!eof_by(&c, mono_ms() + 1000))
				t_note("the server kept the stream going 1 s "
				       "after the client's FIN: %s",
				       esc(c.in, c.len));
			else if (memmem(c.in, c.len, SSE_DONE,
					sizeof SSE_DONE - 1) != NULL)
				t_note("the stream ran to its end after the "
				       "client's FIN: %s", esc(c.in, c.len));
		}
		client_close(&c);
	}
	resp_free(&r);
	if (t_result(name, true))
		half_close_freed(&s, held);
	else
		t_skip("half-close/connection-freed", "the case before failed");
	server_stop(&s, 2000);
}

/* After SIGTERM new connections are refused: a connect either fails or
 * lands in the backlog just before the listener closes and is closed.
 * Returns whether the refusal came by the deadline; notes it if not.  A
 * connection made before the server has read its signal waits for that,
 * which on a busy machine may take a while: until the deadline, at
 * least LATE_MS. */
static bool refuses_by(int port, int64_t deadline)
{
	for (;;) {
		struct client c;
		int64_t now;

		if (client_open_addr(&c, "127.0.0.1", port) != 0) {
			if (errno != ECONNREFUSED)
				return t_note("connect: %s", strerror(errno));
			return true;
		}
		now = mono_ms();
		if (!client_closed(&c, now + LATE_MS > deadline ?
					now + LATE_MS : deadline))
			t_prefix("a connection made after SIGTERM: ");
		else if (mono_ms() >= deadline)
			t_note("connections are still accepted (and closed) "
			       "2 s after SIGTERM");
		client_close(&c);
		if (t_noted())
			return false;
	}
}

/* A second SIGTERM, once the first has closed the listener, ends the
 * server at once with status 1, its stream unfinished.  The stream is one
 * that does not end by itself (a million events), so that only the signal
 * can end the server, and status 1 says that it did: no time is measured,
 * which a loaded machine, or the leak check that a sanitized build runs
 * at exit, would stretch.  The wait for the exit is only a bound. */
static void sigterm_twice(void)
{
	struct server s;
	struct client c = { .fd = -1 };
	struct response r = { 0 };

	if (!start(&s, "sigterm/second-signal-exits-1",
		   SERVER_ARGS("-n", "1000000", NULL)))
		return;
	/* The stream stays open throughout: without it the first signal
	 * alone would end the server. */
	if (client_open(&c, s.port) == 0 &&
	    client_send(&c, STREAM_REQ, strlen(STREAM_REQ), 0,
			mono_ms() + 1000) == 0 &&
	    client_more(&c, &r, mono_ms() + 1000, 1) == 0) {
		kill(s.pid, SIGTERM);
		refuses_by(s.port, mono_ms() + 2000);
	}
	if (!t_noted()) {
		int code = server_stop(&s, 10000);

		if (code < 0)
			t_note("still running 10 s after the second SIGTERM");
		else if (code != 1)
			t_note("exit status %d, expected 1", code);
	}
	server_stop(&s, 2000);
	client_close(&c);
	resp_free(&r);
	t_result("sigterm/second-signal-exits-1", true);
}

/* SIGTERM with a stream running: idle connections close, the stream runs
 * to its end, and the server exits 0. */
static void test_sigterm(void)
{
	struct server s;
	struct client idle = { .fd = -1 }, busy = { .fd = -1 };
	struct response r = { 0 }, r2 = { 0 };

	if (!start(&s, "sigterm/server", SERVER_ARGS(NULL)))
		return;
	int64_t wall0 = wall_ms(), deadline = stream_deadline();
	if (client_open(&idle, s.port) != 0 ||
	    send_read(&idle, PLAIN_REQ, &r2, deadline) != 0 ||
	    client_open(&busy, s.port) != 0 ||
	    client_send(&busy, STREAM_REQ, strlen(STREAM_REQ), 0,
			deadline) != 0 ||
	    client_more(&busy, &r, deadline, 1) != 0) {
		t_result("sigterm/setup", false);
		server_stop(&s, 2000);
		client_close(&idle);
		client_close(&busy);
		resp_free(&r2);
		return;
	}
	kill(s.pid, SIGTERM);
	refuses_by(s.port, mono_ms() + 2000);
	t_result("sigterm/refuses-new-connections", true);
	client_closed(&idle, mono_ms() + 1000);
	t_result("sigterm/closes-idle-connections", true);
	/* The stream has less than its 500 ms to go. */
	char line[256] = "";
	if (server_line(&s, line, sizeof line, mono_ms() + 2000) != 1 ||
	    !glob("sse: draining 1 connection for up to 0.# s; a second "
		  "signal exits at once", line, strlen(line)))
		t_note("the drain's line is %s, expected `sse: draining 1 "
		       "connection for up to 0.N s; a second signal exits at "
		       "once`", escs(line));
	t_result("sigterm/says-how-long-and-how-not-to-wait", true);
	if (client_more(&busy, &r, deadline, 0) == 0 &&
	    stream_ok(&r, EVENTS, wall0, EITHER, false))
		client_closed(&busy, mono_ms() + 1000);
	t_result("sigterm/stream-finishes", true);
	stopped(&s, "sigterm/exits-0", false);
	client_close(&idle);
	client_close(&busy);
	resp_free(&r);
	resp_free(&r2);
	sigterm_twice();
}

/* Once the server has closed a connection (it may linger until the
 * client closes too, so the client does), a new one is served.  The
 * server learns of the client's close and of the newcomer on the same
 * loopback at about the same time, so a newcomer turned away with a 503
 * just before is allowed; it tries again for a second. */
static void slot_reused(int port, struct client *c, struct response *r)
{
	int64_t deadline = mono_ms() + 1000;

	for (;;) {
		if (client_open(c, port) != 0 ||
		    send_read(c, PLAIN_REQ, r, deadline + 2000) != 0)
			return;
		if (r->status != 503 || mono_ms() >= deadline)
			break;
		client_close(c);
	}
	plain_ok(r, KEEP, false);
}

/* With -c 2 a third connection gets a 503 or is closed, while the first
 * two keep working, and a slot freed is used again. */
static void test_max_conns(void)
{
	struct server s;
	struct client c[4] = { { .fd = -1 }, { .fd = -1 }, { .fd = -1 },
			       { .fd = -1 } };
	struct response r = { 0 };
	int64_t deadline = mono_ms() + 5000;

	if (!start(&s, "max-conns/server", SERVER_ARGS("-c", "2", NULL)))
		return;
	for (int i = 0; i < 2; i++)
		if (client_open(&c[i], s.port) == 0 &&
		    send_read(&c[i], PLAIN_REQ, &r, deadline) == 0)
			plain_ok(&r, KEEP, false);
	t_result("max-conns/first-two-served", true);

	if (client_open(&c[2], s.port) == 0) {
		int64_t soon = mono_ms() + 2000;

		client_send(&c[2], PLAIN_REQ, strlen(PLAIN_REQ), 0, soon);
		t_clear();	/* the server may close before we write */
		if (client_read(&c[2], &r, soon) == 0) {
			if (error_ok(&r, 503, CLOSE))
				client_closed(&c[2], soon);
		} else if (c[2].eof && c[2].len == 0) {
			t_clear();	/* closed without a word: allowed */
		}
		client_close(&c[2]);
	}
	for (int i = 0; i < 2 && !t_noted(); i++) {
		if (send_read(&c[i], PLAIN_REQ, &r, deadline) == 0)
			plain_ok(&r, KEEP, false);
		t_prefix("connection %d, after the third: ", i + 1);
	}
	t_result("max-conns/third-refused", true);

	if (send_read(&c[0], CLOSE_REQ, &r, deadline) == 0 &&
	    plain_ok(&r, CLOSE, false) && client_closed(&c[0], deadline)) {
		client_close(&c[0]);
		slot_reused(s.port, &c[3], &r);
	}
	t_result("max-conns/slot-reused", true);
	for (int i = 0; i < 4; i++)
		client_close(&c[i]);
	resp_free(&r);
	server_stop(&s, 2000);
}

/* Finds the server's next access-log line for request, within 2 s, and
 * checks its shape: `127.0.0.1 - - [24/Nov/2026:15:33:27 +0000]
 * "request" status bytes ms`.  Returns the line's fields. */
static time_t log_stamp;	/* the time in the last line log_line() read */

static bool log_line(struct server *s, const char *request, int status,
		     long *bytes, long *ms)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char line[1024], quoted[256], pat[512], mon[4];
	int64_t deadline = mono_ms() + 2000;
	int day, year, hh, mm, ss, st;

	snprintf(quoted, sizeof quoted, "\"%s\"", request);
	for (;;) {
		int got = server_line(s, line, sizeof line, deadline);

		if (got != 1)
			return t_note("no access-log line for %s within 2 s",
				      request);
		if (strstr(line, quoted) != NULL)
			break;
	}
	snprintf(pat, sizeof pat, "127.0.0.1 - - [#/*/#:#:#:# +0000] %s # # #",
		 quoted);
	if (!glob(pat, line, strlen(line)) ||
	    sscanf(line, "127.0.0.1 - - [%2d/%3[A-Za-z]/%4d:%2d:%2d:%2d +0000]"
		   " \"%*[^\"]\" %d %ld %ld", &day, mon, &year, &hh, &mm,
		   &ss, &st, bytes, ms) != 9 ||
	    strlen(mon) != 3 || strstr(months, mon) == NULL ||
	    (strstr(months, mon) - months) % 3 != 0 ||
	    strchr(line, ']') - strchr(line, '[') != 27)
		return t_note("access-log line %s is not like `127.0.0.1 - - "
			      "[24/Nov/2026:15:33:27 +0000] %s %d BYTES MS`",
			      escs(line), quoted, status);
	if (st != status)
		return t_note("access-log status %d, expected %d: %s", st,
			      status, escs(line));
	struct tm tm = { .tm_mday = day, .tm_mon = (int)(strstr(months, mon) -
			 months) / 3, .tm_year = year - 1900, .tm_hour = hh,
			 .tm_min = mm, .tm_sec = ss };
	log_stamp = timegm(&tm);
	return true;
}

/* One access-log line per request, written when the response ends. */
static void test_access_log(void)
{
	struct server s;
	struct client c;
	struct response r = { 0 };
	static const char *const args[] = { "-b", "127.0.0.1", "-p", "0",
					    "-i", "100", "-n", "5", NULL };
	long bytes, ms;

	if (!start(&s, "access-log/server", args))
		return;
	if (client_open(&c, s.port) == 0) {
		if (send_read(&c, PLAIN_REQ, &r, mono_ms() + 2000) == 0 &&
		    log_line(&s, "POST /api HTTP/1.1", 200, &bytes, &ms) &&
		    (bytes != 27 || ms < 0 || ms > 1000))
			t_note("plain answer logged %ld bytes in %ld ms, "
			       "expected 27 bytes", bytes, ms);
		t_result("access-log/plain", true);

		if (send_read(&c, STREAM_REQ, &r, stream_deadline()) == 0 &&
		    log_line(&s, "POST /api HTTP/1.1", 200, &bytes, &ms) &&
		    ((size_t)bytes != r.body_len &&
		     (size_t)bytes != r.wire_body))
			t_note("stream logged %ld bytes, expected %zu (or %zu "
			       "with chunk framing)", bytes, r.body_len,
			       r.wire_body);
		if (!t_noted() && (ms < EVENTS * INTERVAL_MS - EARLY_MS ||
				   ms > EVENTS * INTERVAL_MS + 1000))
			t_note("stream logged %ld ms, expected about %d: the "
			       "line is written when the response ends", ms,
			       EVENTS * INTERVAL_MS);
		t_result("access-log/stream", true);

		if (send_read(&c, NOPE_REQ, &r, mono_ms() + 2000) == 0 &&
		    log_line(&s, "POST /nope HTTP/1.1", 404, &bytes, &ms) &&
		    (size_t)bytes != r.body_len)
			t_note("404 logged %ld bytes, expected %zu", bytes,
			       r.body_len);
		t_result("access-log/404", true);

		/* A stream of 2.4 s: its line is written when it ends, and
		 * stamped then, so that the log stays in order. */
		static const char slow[] = "POST /api?n=2&interval=1200 "
			"HTTP/1.1\r\nHost: t\r\nContent-Length: 15\r\n\r\n"
			"{\"stream\":true}";
		if (send_read(&c, slow, &r, mono_ms() + 5000) == 0 &&
		    log_line(&s, "POST /api?n=2&interval=1200 HTTP/1.1", 200,
			     &bytes, &ms)) {
			time_t end = time(NULL);

			if (log_stamp < end - 1 || log_stamp > end)
				t_note("a 2.4 s stream that ended at %lld is "
				       "stamped %lld: the log's time is the "
				       "response's end", (long long)end,
				       (long long)log_stamp);
		}
		t_result("access-log/stamped-at-the-end", true);
		client_close(&c);
	} else {
		t_result("access-log/plain", false);
	}
	resp_free(&r);
	server_stop(&s, 2000);
}

/* ------------------------------------------------------ command line -- */

/* A run of the server whose command line it refuses, or that asks only for
 * the usage: the arguments, the exit status and what comes out, stdout
 * and stderr each as a glob() pattern.  Nothing is listening after it. */
struct cli_row {
	int line;
	const char *name;
	const char *args[12];
	int code;
	const char *out, *err;
	const char *why;
};

#define USAGE "*-p*"		/* the usage, which names -p */
#define SAYS "sse: *"		/* a message from the server, and then
				 * perhaps the usage */
#define SERVE "-b", "127.0.0.1", "-p", "0", "-q"	/* a server's own */

static const struct cli_row cli_rows[] = {
	{ __LINE__, "cli/-h", { "-h" }, 0, USAGE, "",
	  "usage on stdout, exit 0" },
	{ __LINE__, "cli/--bogus", { "--bogus" }, 2, "", SAYS,
	  "an unknown flag" },
	{ __LINE__, "cli/-x", { "-x" }, 2, "", SAYS, "an unknown short flag" },
	{ __LINE__, "cli/-p-missing", { "-p" }, 2, "", SAYS,
	  "a flag without its value" },
	{ __LINE__, "cli/-p-abc", { "-b", "127.0.0.1", "-p", "abc" }, 2, "",
	  SAYS, "a port is a number" },
	{ __LINE__, "cli/-p-70000", { "-b", "127.0.0.1", "-p", "70000" }, 2,
	  "", SAYS, "a port is below 65536" },
	{ __LINE__, "cli/-n-abc", { "-b", "127.0.0.1", "-p", "0", "-n",
				    "abc" }, 2, "", SAYS,
	  "a count is a number" },
	{ __LINE__, "cli/-i-abc", { "-b", "127.0.0.1", "-p", "0", "-i",
				    "abc" }, 2, "", SAYS,
	  "an interval is a number" },
	{ __LINE__, "cli/--max-body-abc", { "-b", "127.0.0.1", "-p", "0",
					    "--max-body", "abc" }, 2, "", SAYS,
	  "a limit is a number" },
	{ __LINE__, "cli/-b-bogus", { "-b", "bogus", "-p", "0" }, 2, "", SAYS,
	  "an address is IPv4 or IPv6" },
	/* The command line is read as getopt_long() reads it. */
	{ __LINE__, "cli/-qh", { "-qh" }, 0, USAGE, "",
	  "flags may share an argument" },
	{ __LINE__, "cli/--hel", { "--hel" }, 0, USAGE, "",
	  "a long name cut short, but only --help starts so" },
	{ __LINE__, "cli/--he", { "--he" }, 2, "", SAYS,
	  "a long name cut short that --help and --heartbeat start with" },
	{ __LINE__, "cli/--quiet=1", { "--quiet=1" }, 2, "", SAYS,
	  "a flag given a value" },
	{ __LINE__, "cli/--cors-missing", { "--cors" }, 2, "", SAYS,
	  "a long option without its value" },
	{ __LINE__, "cli/--port=0", { "--port=0", "-h" }, 0, USAGE, "",
	  "--name=value is one option" },
	{ __LINE__, "cli/--por-0", { "--por", "0", "-h" }, 0, USAGE, "",
	  "a long name cut short, its value in the next argument" },
	{ __LINE__, "cli/-qp0", { "-qp0", "-h" }, 0, USAGE, "",
	  "a flag, then an option with its value, in one argument" },
	{ __LINE__, "cli/argument", { "-b", "127.0.0.1", "-p", "0", "x" }, 2,
	  "", SAYS, "an argument that is not an option" },
	{ __LINE__, "cli/after--", { "--", "-h" }, 2, "", SAYS,
	  "after --, -h is an argument" },
	/* Options that contradict each other: one line naming both. */
	{ __LINE__, "cli/heartbeat-under-min-interval",
	  { SERVE, "--heartbeat", "5", "--min-interval", "10" }, 2, "",
	  "sse: --heartbeat (5) must be 0 or at least --min-interval (10)\n",
	  "a heartbeat more often than events may come" },
	{ __LINE__, "cli/interval-under-min-interval",
	  { SERVE, "-i", "5", "--min-interval", "10" }, 2, "",
	  "sse: -i (5) must be at least --min-interval (10)\n",
	  "an interval under the floor set for clients" },
	{ __LINE__, "cli/events-over-max-events",
	  { SERVE, "-n", "2000000" }, 2, "",
	  "sse: -n (2000000) must be at most --max-events (1000000)\n",
	  "more events than the default ceiling" },
	{ __LINE__, "cli/events-over-small-max-events",
	  { SERVE, "--max-events", "10", "-n", "11" }, 2, "",
	  "sse: -n (11) must be at most --max-events (10)\n",
	  "more events than the ceiling given" },
	{ __LINE__, "cli/max-output-under-event-size",
	  { SERVE, "--max-output", "4096" }, 2, "",
	  "sse: --max-output (4096) must be at least --max-event-size "
	  "(65536)\n", "an output bound that one event would not fit" },
};

/* Runs the command-line rows: exit status and where the words go. */
static void test_cli_rows(void)
{
	char out[8192], err[8192];

	for (size_t i = 0; i < NELEM(cli_rows); i++) {
		const struct cli_row *row = &cli_rows[i];
		char *argv[14] = { (char *)sse };

		for (int k = 0; row->args[k] != NULL; k++)
			argv[k + 1] = (char *)row->args[k];
		int code = run_capture(argv, out, err, sizeof out,
				       mono_ms() + 3000);
		if (code < 0)
			t_note("still running after 3 s");
		else if (code != row->code)
			t_note("exit status %d, expected %d", code, row->code);
		else if (!glob(row->out, out, strlen(out)))
			t_note("stdout %s, expected %s", escs(out),
			       escs(row->out));
		else if (!glob(row->err, err, strlen(err)))
			t_note("stderr %s, expected %s", escs(err),
			       escs(row->err));
		t_prefix("wire.c:%d (%s): ", row->line, row->why);
		t_result(row->name, true);
	}
}

/* A second server on a taken port: one line on stderr, exit 1. */
static void test_port_in_use(void)
{
	struct server s;
	char out[8192], err[8192], port[16];

	if (!start(&s, "cli/port-in-use", SERVER_ARGS(NULL)))
		return;
	snprintf(port, sizeof port, "%d", s.port);
	char *argv[] = { (char *)sse, "-b", "127.0.0.1", "-p", port, "-q",
			 NULL };
	int code = run_capture(argv, out, err, sizeof out, mono_ms() + 3000);
	char *nl = strchr(err, '\n');
	if (code < 0)
		t_note("a second server on port %s kept running", port);
	else if (code != 1)
		t_note("exit status %d, expected 1", code);
	else if (nl == NULL || nl[1] != '\0')
		t_note("stderr %s, expected one line", escs(err));
	t_result("cli/port-in-use", true);
	server_stop(&s, 2000);
}

/* The start line and a plain exchange over IPv6, when the host has it. */
static void test_ipv6(void)
{
	struct server s;
	struct client c;
	struct response r = { 0 };
	static const char *const args[] = { "-b", "::1", "-p", "0", "-q",
					    NULL };
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 a = { .sin6_family = AF_INET6,
				  .sin6_addr = IN6ADDR_LOOPBACK_INIT };

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		if (fd >= 0)
			close(fd);
		t_skip("cli/ipv6", "this host has no ::1");
		return;
	}
	close(fd);
	if (!start(&s, "cli/ipv6", args))
		return;
	if (!glob("sse: listening on [::1]:#", s.first, strlen(s.first)))
		t_note("start line %s, expected `sse: listening on "
		       "[::1]:PORT`", escs(s.first));
	else if (client_open_addr(&c, "::1", s.port) != 0)
		t_note("connect to [::1]:%d: %s", s.port, strerror(errno));
	else {
		if (send_read(&c, PLAIN_REQ, &r, mono_ms() + 2000) == 0)
			plain_ok(&r, KEEP, false);
		client_close(&c);
	}
	resp_free(&r);
	t_result("cli/ipv6", true);
	server_stop(&s, 2000);
}

static void test_cli(void)
{
	test_cli_rows();
	test_port_in_use();
	test_ipv6();
}

/* ------------------------------------------------------------- main -- */

int main(int argc, char **argv)
{
	struct server s;
	int64_t deadline = mono_ms() + 55000;

	if (argc > 1)
		sse = argv[1];
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();

	run_in_child("stream-timing/default-interval", test_default_interval);
	run_in_child("stream-timing/drift-free", test_drift_free);
	run_in_child("timeout", test_timeouts);
	run_in_child("sigterm", test_sigterm);
	run_in_child("max-conns", test_max_conns);
	run_in_child("access-log", test_access_log);
	run_in_child("cli", test_cli);
	run_in_child("limits", test_limits);
	run_in_child("half-close", test_half_close);

	if (start(&s, "server", SERVER_ARGS(NULL))) {
		if (!glob("sse: listening on 127.0.0.1:#", s.first,
			  strlen(s.first)))
			t_note("start line %s, expected `sse: listening on "
			       "127.0.0.1:PORT`", escs(s.first));
		t_result("start-line", true);
		run_tables(s.port);
		stopped(&s, "sigterm/idle-server-exits-0", true);
	}
	collect_children(deadline);
	fprintf(stderr, "wire: %d passed, %d failed, %d skipped\n", t_passed,
		t_failed, t_skipped);
	return t_failed ? 1 : 0;
}
