/* wire.c - the server as its clients see it: transcripts and timings.
 *
 * Usage: tests/wire [PATH-TO-SSE]		(default ./sse)
 *
 * Most cases are transcripts: the bytes of a request, the answer the
 * contract (docs/protocol.md sections 1, 4 and 7) asks for, and a line
 * on why.  Two tables hold them: which POST bodies ask for a stream, and
 * how the server treats odd or hostile HTTP.  Every row runs on its own
 * connection, all rows at once, and each short row runs twice: once as one
 * write and once a byte per write, which must give the same answer.
 *
 * A third table, run against a server of its own, holds the limit flags.
 *
 * What a table cannot say is written as a function: the timing of events
 * (also across a server stopped and resumed), keep-alive and pipelining,
 * 100-continue, timeouts, the linger after a refusal, a client that
 * half-closes mid-stream, the graceful drain on SIGTERM, the connection
 * cap, the access log and the command line.  The slow ones run in child
 * processes beside the rest, each against its own server, so that the
 * whole run lasts about as long as the slowest case, a stream at the
 * default one-second interval.
 *
 * Each case prints one line, `pass NAME`, `FAIL NAME: WHY` or `skip NAME:
 * WHY`; a FAIL names the table row (wire.c:LINE) and shows the bytes that
 * differ.  The exit status is 1 if any case failed.
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

/* ------------------------------------------------------ transcripts -- */

enum want {
	PLAIN,		/* 200 and the plain answer */
	STREAM,		/* 200 and the stream */
	ERROR,		/* the row's status and a JSON error body */
};

/* Which bodies ask for a stream (docs/protocol.md section 1).  Each row
 * becomes `POST target HTTP/1.1` with Host, the Content-Type (NULL: none)
 * and the body with its Content-Length (NULL: neither); ERROR means 400.
 */
struct detect_row {
	int line;
	const char *name, *target, *type, *body;
	enum want want;
	const char *why;
	const char *says;	/* ERROR: the body's error, or NULL */
};

#define JSON "application/json"
#define FORM "application/x-www-form-urlencoded"
#define D(...) { .line = __LINE__, __VA_ARGS__ }

static const struct detect_row detect_rows[] = {
	D("json-true", "/api", JSON, "{\"stream\":true}", STREAM,
	  "the seed's own request"),
	D("json-1", "/api", JSON, "{\"stream\":1}", STREAM,
	  "the seed compared loosely: 1 == true"),
	D("json-string-1", "/api", JSON, "{\"stream\":\"1\"}", STREAM,
	  "loosely, \"1\" == true"),
	D("json-string-true", "/api", JSON, "{\"stream\":\"true\"}", STREAM,
	  "docs/protocol.md section 1 lists \"true\""),
	D("json-charset", "/api", JSON "; charset=utf-8",
	  "{\"stream\":true}", STREAM, "parameters do not change the type"),
	D("json-type-case", "/api", "Application/JSON", "{\"stream\":true}",
	  STREAM, "media types are case-insensitive (RFC 9110 8.3.1)"),
	D("plus-json", "/api", "application/vnd.x+json", "{\"stream\":true}",
	  STREAM, "any +json type is JSON"),
	D("sniffed-no-type", "/api", NULL, "{\"stream\":true}", STREAM,
	  "a body that starts with { is JSON"),
	D("sniffed-curl-d", "/api", FORM, "{\"stream\":true}", STREAM,
	  "curl -d sends JSON as a form: the { decides"),
	D("sniffed-text", "/api", "text/plain", "{\"stream\":true}", STREAM,
	  "the first non-blank byte decides, not the type"),
	D("sniffed-blanks", "/api", NULL, " \r\n\t{\"stream\":true}", STREAM,
	  "blanks before the { are skipped"),
	D("keys-in-any-order", "/api", JSON,
	  "{\"a\":1,\"b\":\"x\",\"stream\":true}", STREAM,
	  "the key need not come first"),
	D("nested-beside", "/api", JSON, "{\"a\":{\"b\":[1,{\"stream\":false}],"
	  "\"c\":{}},\"stream\":true,\"d\":[[],{}]}", STREAM,
	  "nested objects and arrays beside the key are skipped whole"),
	D("escaped-quote-before", "/api", JSON,
	  "{\"a\":\"x\\\"stream\\\":true\",\"stream\":true}", STREAM,
	  "an escaped quote does not end a string"),
	D("escapes", "/api", JSON,
	  "{\"a\":\"\\\\\\\"\\u00e9\\n\\/\",\"stream\":true}", STREAM,
	  "every JSON escape is skipped correctly"),
	D("whitespace", "/api", JSON, "\n{\n\t\"stream\" :\r\n true\n}\n",
	  STREAM, "JSON allows whitespace around every token"),
	D("unicode-escaped-key", "/api", JSON, "{\"\\u0073tream\":true}",
	  STREAM, "the key is \"stream\" once unescaped, as JSON.parse sees"),
	D("numbers-beside", "/api", JSON, "{\"n\":-1.5e+3,\"z\":0,"
	  "\"stream\":true,\"f\":false,\"u\":null}", STREAM,
	  "every JSON value kind beside the key"),
	D("json-1.0", "/api", JSON, "{\"stream\":1.0}", STREAM,
	  "1.0 is the number 1: JSON.parse gives 1, and 1 == true"),
	D("json-escaped-value", "/api", JSON, "{\"stream\":\"tru\\u0065\"}",
	  STREAM, "the string is \"true\" once unescaped"),
	D("form-true", "/api", FORM, "stream=true", STREAM,
	  "a form asks with stream=true"),
	D("form-1", "/api", FORM, "stream=1", STREAM, "or with stream=1"),
	D("form-among-others", "/api", FORM, "a=1&stream=true&b=2", STREAM,
	  "the field may come anywhere in the form"),
	D("form-encoded", "/api", FORM, "str%65am=tru%65", STREAM,
	  "names and values are percent-decoded (WHATWG URL 5.1)"),
	D("query-true", "/api?stream=true", NULL, NULL, STREAM,
	  "the query asks too"),
	D("query-1", "/api?stream=1", NULL, NULL, STREAM, "stream=1 as well"),
	D("query-among-others", "/api?a=b&stream=1", NULL, NULL, STREAM,
	  "the parameter may come anywhere in the query"),
	D("query-encoded", "/api?str%65am=%31", NULL, NULL, STREAM,
	  "names and values are percent-decoded (WHATWG URL 5.1)"),
	D("query-text-body", "/api?stream=true", "text/plain", "hello",
	  STREAM, "a body that is not JSON does not cancel the query"),

	D("json-false", "/api", JSON, "{\"stream\":false}", PLAIN,
	  "false does not ask"),
	D("json-0", "/api", JSON, "{\"stream\":0}", PLAIN, "0 == false"),
	D("json-yes", "/api", JSON, "{\"stream\":\"yes\"}", PLAIN,
	  "only \"1\" and \"true\" among strings"),
	D("json-2", "/api", JSON, "{\"stream\":2}", PLAIN,
	  "2 == true is false, even loosely"),
	D("json-null", "/api", JSON, "{\"stream\":null}", PLAIN,
	  "null does not ask"),
	D("json-string-0", "/api", JSON, "{\"stream\":\"0\"}", PLAIN,
	  "\"0\" does not ask"),
	D("json-string-TRUE", "/api", JSON, "{\"stream\":\"TRUE\"}", PLAIN,
	  "strings compare exactly"),
	D("json-empty-object", "/api", JSON, "{}", PLAIN, "no key"),
	D("json-empty-body", "/api", JSON, "", PLAIN,
	  "an empty body is no body, even declared JSON"),
	D("no-body", "/api", NULL, NULL, PLAIN, "the seed's answer"),
	D("json-array", "/api", JSON, "[1,2]", PLAIN,
	  "valid JSON, but not an object"),
	D("sniffed-array", "/api", NULL, "[1,2]", PLAIN,
	  "only a { makes an untyped body JSON"),
	D("text-hello", "/api", "text/plain", "hello", PLAIN,
	  "text is no JSON"),
	D("nested-stream", "/api", JSON, "{\"a\":{\"stream\":true}}", PLAIN,
	  "only the top-level object counts"),
	D("stream-in-string", "/api", JSON, "{\"a\":\"\\\"stream\\\":true\"}",
	  PLAIN, "text inside a string is no key"),
	D("stream-as-value", "/api", JSON, "{\"a\":\"stream\",\"b\":true}",
	  PLAIN, "a value that reads stream is no key"),
	D("nested-array-stream", "/api", JSON,
	  "{\"a\":[{\"stream\":true}],\"stream\":false}", PLAIN,
	  "the top-level key says false"),
	D("key-prefix-suffix", "/api", JSON,
	  "{\"streams\":true,\"xstream\":true}", PLAIN,
	  "keys compare whole"),
	D("key-case", "/api", JSON, "{\"Stream\":true}", PLAIN,
	  "keys compare exactly"),
	D("form-false", "/api", FORM, "stream=false", PLAIN,
	  "false does not ask"),
	D("form-yes", "/api", FORM, "stream=yes", PLAIN,
	  "only true and 1 ask"),
	D("form-other-key", "/api", FORM, "upstream=1", PLAIN,
	  "names compare whole"),
	D("query-false", "/api?stream=false", NULL, NULL, PLAIN,
	  "false does not ask"),
	D("query-other-key", "/api?upstream=1", NULL, NULL, PLAIN,
	  "names compare whole"),

	D("unterminated", "/api", JSON, "{\"stream\":true", ERROR,
	  "declared JSON that is not valid is a 400"),
	D("bad-literal", "/api", JSON, "{\"stream\":tru}", ERROR,
	  "tru is no literal"),
	D("trailing-comma", "/api", JSON, "{\"a\":1,}", ERROR,
	  "JSON has no trailing commas"),
	D("single-quotes", "/api", JSON, "{'a':1}", ERROR,
	  "JSON strings take double quotes"),
	D("trailing-garbage", "/api", JSON, "{\"stream\":true} x", ERROR,
	  "nothing but blanks may follow the value"),
	D("sniffed-invalid", "/api", NULL, "{\"stream\":true", ERROR,
	  "a body sniffed as JSON must be valid too"),
	D("json-type-form-body", "/api", JSON, "stream=true", ERROR,
	  "declared JSON decides over the look of the body"),
	D("declared-array-open", "/api", JSON, "[1,2", ERROR,
	  "invalid JSON of any shape"),
	D("leading-zero", "/api", JSON, "{\"a\":01}", ERROR,
	  "JSON numbers have no leading zeros"),
	D("bare-dot", "/api", JSON, "{\"a\":.5}", ERROR,
	  "a JSON number starts with a digit"),
	D("lone-minus", "/api", JSON, "{\"a\":-}", ERROR, "- is no number"),
	D("bad-exponent", "/api", JSON, "{\"a\":1e}", ERROR,
	  "an exponent needs digits"),
	D("nan", "/api", JSON, "{\"a\":NaN}", ERROR, "JSON has no NaN"),
	D("bad-escape", "/api", JSON, "{\"a\":\"\\x\"}", ERROR,
	  "\\x is no JSON escape"),
	D("bad-unicode-escape", "/api", JSON, "{\"a\":\"\\u12G4\"}", ERROR,
	  "\\u takes four hex digits"),
	D("control-in-string", "/api", JSON, "{\"a\":\"\001\"}", ERROR,
	  "control bytes must be escaped in JSON strings"),
	D("unterminated-string", "/api", JSON, "{\"a\":\"abc}", ERROR,
	  "the string never ends"),
	D("missing-colon", "/api", JSON, "{\"a\" 1}", ERROR,
	  "a key needs its colon"),
	D("missing-value", "/api", JSON, "{\"a\":}", ERROR,
	  "a key needs its value"),
	D("unquoted-key", "/api", JSON, "{stream:true}", ERROR,
	  "keys are strings"),
	D("extra-close", "/api", JSON, "{\"a\":1}}", ERROR,
	  "one value only"),
	D("two-objects", "/api", JSON, "{}{}", ERROR, "one value only"),
	D("deep-nesting", "/api", JSON, "{\"a\":$(65000*[)", ERROR,
	  "65,000 open arrays are invalid JSON, not a stack overflow"),
	/* The error names what it found, so that a user sees the mistake. */
	D("python-true", "/api", JSON, "{\"stream\":True}", ERROR,
	  "JSON's literals are lower case", "invalid literal 'True'"),
	D("cut-literal", "/api", JSON, "{\"stream\":tru}", ERROR,
	  "a literal cut short", "invalid literal 'tru'"),
	D("bare-word", "/api", JSON, "{\"stream\":yes}", ERROR,
	  "an unquoted word", "invalid literal 'yes'"),
	D("form-sent-as-json", "/api", JSON, "stream=true", ERROR,
	  "a form body declared JSON", "not JSON: starts with 's'"),
	D("quote-first", "/api", JSON, "'a'", ERROR,
	  "JSON strings take double quotes", "not JSON: starts with byte 39"),
	D("number-named", "/api", JSON, "{\"a\":1x}", ERROR,
	  "a number error stays one", "expected ',' or '}' in JSON object"),
};

/* How the server treats HTTP itself (docs/protocol.md section 4): the
 * request bytes as they go on the wire, `$(N*c)` standing for N copies of
 * the byte c. */
struct transcript_row {
	int line;
	const char *name;
	const char *req;
	size_t len;
	enum want want;
	int status;
	const char *header;	/* "Name: glob" for a header, or NULL */
	enum conn_want conn;
	const char *why;
};

#define RAW(s) s, sizeof s - 1
#define T(...) { __LINE__, __VA_ARGS__ }
#define H "Host: t\r\n"

static const struct transcript_row transcript_rows[] = {
	T("minimal", RAW("POST /api HTTP/1.1\r\n" H "Content-Length: 0\r\n"
			 "\r\n"), PLAIN, 200, NULL, KEEP,
	  "the plain answer, and the connection stays open"),
	T("no-length", RAW("POST /api HTTP/1.1\r\n" H "\r\n"), PLAIN, 200,
	  NULL, KEEP, "no Content-Length: no body (RFC 9112 6.3)"),
	T("bare-lf", RAW("POST /api HTTP/1.1\n" H "Content-Length: 15\n\n"
			 "{\"stream\":true}"), STREAM, 200, NULL, KEEP,
	  "RFC 9112 2.2 lets a server accept LF alone; docs/protocol.md "
	  "section 4 does"),
	T("header-name-case", RAW("POST /api HTTP/1.1\r\nHOST: t\r\n"
				  "content-type: application/json\r\n"
				  "content-length: 15\r\n\r\n"
				  "{\"stream\":true}"), STREAM, 200, NULL,
	  KEEP, "header names are case-insensitive"),
	T("chunked-body", RAW("POST /api HTTP/1.1\r\n" H "Content-Type: "
			      "application/json\r\nTransfer-Encoding: "
			      "chunked\r\n\r\n5\r\n{\"str\r\na\r\n"
			      "eam\":true}\r\n0\r\n\r\n"), STREAM, 200, NULL,
	  KEEP, "a chunked request body is decoded before it is read"),
	T("chunked-ext-trailer", RAW("POST /api HTTP/1.1\r\n" H
				     "Content-Type: application/json\r\n"
				     "Transfer-Encoding: chunked\r\n\r\n"
				     "5;x=y\r\n{\"str\r\nA\r\neam\":true}\r\n"
				     "0\r\nX-T: 1\r\n\r\n"), STREAM, 200,
	  NULL, KEEP, "chunk extensions and trailers are skipped"),
	T("chunked-empty", RAW("POST /api HTTP/1.1\r\n" H "Transfer-Encoding:"
			       " Chunked\r\n\r\n0\r\n\r\n"), PLAIN, 200, NULL,
	  KEEP, "coding names are case-insensitive; an empty body"),
	T("connection-close", RAW("POST /api HTTP/1.1\r\n" H "Connection: "
				  "close\r\n\r\n"), PLAIN, 200, NULL, CLOSE,
	  "the client asked to close: the answer says so, then closes"),
	T("connection-close-stream", RAW("POST /api?stream=1 HTTP/1.1\r\n" H
					 "Connection: close\r\n\r\n"),
	  STREAM, 200, NULL, CLOSE,
	  "a stream to a closing client says close and closes at its end"),
	T("http10", RAW("POST /api HTTP/1.0\r\n\r\n"), PLAIN, 200, NULL,
	  CLOSE, "HTTP/1.0 closes after the answer"),
	T("http10-stream", RAW("POST /api?stream=true HTTP/1.0\r\n\r\n"),
	  STREAM, 200, NULL, CLOSE,
	  "HTTP/1.0 has no chunks: the close ends the stream"),
	T("http10-json-stream", RAW("POST /api HTTP/1.0\r\nContent-Type: "
				    "application/json\r\nContent-Length: "
				    "15\r\n\r\n{\"stream\":true}"), STREAM,
	  200, NULL, CLOSE, "the body asks on HTTP/1.0 as well"),
	T("http10-keep-alive-stream", RAW("POST /api?stream=1 HTTP/1.0\r\n"
					  "Connection: keep-alive\r\n\r\n"),
	  STREAM, 200, NULL, CLOSE,
	  "an unchunked stream can only end with the close"),
	T("http10-expect", RAW("POST /api HTTP/1.0\r\nExpect: 100-continue"
			       "\r\nContent-Length: 2\r\n\r\n{}"), PLAIN,
	  200, NULL, CLOSE,
	  "no 100 Continue to HTTP/1.0 (RFC 9110 10.1.1)"),
	T("connection-close-case", RAW("POST /api HTTP/1.1\r\n" H
				       "Connection: Close\r\n\r\n"), PLAIN,
	  200, NULL, CLOSE, "connection options are case-insensitive"),
	T("absolute-form", RAW("POST http://t/api HTTP/1.1\r\n" H "\r\n"),
	  PLAIN, 200, NULL, KEEP,
	  "a server must accept the absolute form (RFC 9112 3.2.2)"),
	T("leading-crlf", RAW("\r\nPOST /api HTTP/1.1\r\n" H "\r\n"), PLAIN,
	  200, NULL, KEEP,
	  "RFC 9112 2.2: an empty line before the request line is ignored"),
	T("tab-in-value", RAW("POST /api HTTP/1.1\r\n" H "X-A: b\tc\r\n\r\n"),
	  PLAIN, 200, NULL, KEEP, "HTAB is allowed inside a field value"),
	T("obs-text-in-value", RAW("POST /api HTTP/1.1\r\n" H
				   "X-A: caf\303\251\r\n\r\n"), PLAIN, 200,
	  NULL, KEEP, "bytes 0x80-0xff are obs-text, allowed in values"),
	T("empty-value", RAW("POST /api HTTP/1.1\r\n" H "X-A:\r\n\r\n"),
	  PLAIN, 200, NULL, KEEP, "a field value may be empty"),
	T("target-4096", RAW("POST /api?$(4091*a) HTTP/1.1\r\n" H "\r\n"),
	  PLAIN, 200, NULL, KEEP, "a target of exactly 4 KiB is allowed"),
	T("head-7k", RAW("POST /api HTTP/1.1\r\n" H "X-Pad: $(7000*a)\r\n"
			 "\r\n"), PLAIN, 200, NULL, KEEP,
	  "a head under 8 KiB is allowed"),
	T("body-64k", RAW("POST /api HTTP/1.1\r\n" H "Content-Type: text/"
			  "plain\r\nContent-Length: 65536\r\n\r\n"
			  "$(65536*a)"), PLAIN, 200, NULL, KEEP,
	  "a body of exactly 64 KiB is allowed"),

	T("unknown-path", RAW(NOPE_REQ), ERROR, 404, NULL, KEEP,
	  "unknown path: 404, and the connection stays usable"),
	T("path-prefix", RAW("POST /apix HTTP/1.1\r\n" H "\r\n"), ERROR, 404,
	  NULL, KEEP, "paths compare whole"),
	T("get-api", RAW("GET /api HTTP/1.1\r\n" H "\r\n"), ERROR, 405,
	  "Allow: *POST*", EITHER, "known path, wrong method: 405 with Allow"),
	T("put-api", RAW("PUT /api HTTP/1.1\r\n" H "Content-Length: 0\r\n"
			 "\r\n"), ERROR, 405, "Allow: *POST*", EITHER,
	  "known path, wrong method: 405 with Allow"),

	T("no-version", RAW("POST /api\r\n" H "\r\n"), ERROR, 400, NULL,
	  CLOSE, "a request line has three parts"),
	T("double-space", RAW("POST  /api HTTP/1.1\r\n" H "\r\n"), ERROR, 400,
	  NULL, CLOSE, "single spaces separate the request line"),
	T("extra-token", RAW("POST /api HTTP/1.1 x\r\n" H "\r\n"), ERROR, 400,
	  NULL, CLOSE, "nothing follows the version"),
	T("garbage-line", RAW("hello\r\n\r\n"), ERROR, 400, NULL, CLOSE,
	  "no request line at all"),
	T("lowercase-version", RAW("POST /api http/1.1\r\n" H "\r\n"), ERROR,
	  400, NULL, CLOSE, "HTTP-name is case-sensitive (RFC 9112 2.3)"),
	T("no-host", RAW("POST /api HTTP/1.1\r\nContent-Length: 0\r\n\r\n"),
	  ERROR, 400, NULL, CLOSE, "HTTP/1.1 requires Host (RFC 9112 3.2)"),
	T("two-hosts", RAW("POST /api HTTP/1.1\r\nHost: a\r\nHost: b\r\n"
			   "\r\n"), ERROR, 400, NULL, CLOSE,
	  "more than one Host is a 400 (RFC 9112 3.2)"),
	T("cl-and-te", RAW("POST /api HTTP/1.1\r\n" H "Content-Length: 5\r\n"
			   "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
	  ERROR, 400, NULL, CLOSE, "both framings: a smuggling attempt"),
	T("differing-cl", RAW("POST /api HTTP/1.1\r\n" H "Content-Length: 1"
			      "\r\nContent-Length: 2\r\n\r\nab"), ERROR, 400,
	  NULL, CLOSE, "which length? a smuggling attempt"),
	T("cl-list", RAW("POST /api HTTP/1.1\r\n" H "Content-Length: 1, 2\r\n"
			 "\r\nab"), ERROR, 400, NULL, CLOSE,
	  "differing lengths in one field"),
	T("cl-non-numeric", RAW("POST /api HTTP/1.1\r\n" H "Content-Length: "
				"abc\r\n\r\n"), ERROR, 400, NULL, CLOSE,
	  "a length is digits"),
	T("cl-negative", RAW("POST /api HTTP/1.1\r\n" H "Content-Length: -1"
			     "\r\n\r\n"), ERROR, 400, NULL, CLOSE,
	  "a length is digits, no sign"),
	T("cl-plus", RAW("POST /api HTTP/1.1\r\n" H "Content-Length: +1\r\n"
			 "\r\na"), ERROR, 400, NULL, CLOSE,
	  "a length is digits, no sign"),
	T("cl-overflow", RAW("POST /api HTTP/1.1\r\n" H "Content-Length: "
			     "99999999999999999999999\r\n\r\n"), ERROR, 400,
	  NULL, CLOSE, "an overflowing length is a 400 (docs/protocol.md "
	  "section 4)"),
	T("cl-2-to-the-64", RAW("POST /api HTTP/1.1\r\n" H "Content-Length: "
				"18446744073709551616\r\n\r\n"), ERROR, 400,
	  NULL, CLOSE, "2^64 wraps to 0 in a careless parser"),
	T("obs-fold", RAW("POST /api HTTP/1.1\r\n" H "X-A: b\r\n c\r\n\r\n"),
	  ERROR, 400, NULL, CLOSE, "obs-fold is rejected (RFC 9112 5.2)"),
	T("space-before-colon", RAW("POST /api HTTP/1.1\r\nHost : t\r\n\r\n"),
	  ERROR, 400, NULL, CLOSE, "RFC 9112 5.1 requires a 400"),
	T("tab-before-colon", RAW("POST /api HTTP/1.1\r\n" H "X-A\t: b\r\n"
				  "\r\n"), ERROR, 400, NULL, CLOSE,
	  "any whitespace before the colon"),
	T("bare-cr", RAW("POST /api HTTP/1.1\r\n" H "X-A: b\rc\r\n\r\n"),
	  ERROR, 400, NULL, CLOSE, "a CR alone is no line end"),
	T("nul-in-value", RAW("POST /api HTTP/1.1\r\n" H "X-A: b\000c\r\n"
			      "\r\n"), ERROR, 400, NULL, CLOSE,
	  "NUL in a header"),
	T("ctl-in-value", RAW("POST /api HTTP/1.1\r\n" H "X-A: b\001c\r\n"
			      "\r\n"), ERROR, 400, NULL, CLOSE,
	  "a control byte in a header"),
	T("del-in-value", RAW("POST /api HTTP/1.1\r\n" H "X-A: b\177c\r\n"
			      "\r\n"), ERROR, 400, NULL, CLOSE,
	  "DEL is a control byte too"),
	T("nul-in-name", RAW("POST /api HTTP/1.1\r\n" H "X\000A: b\r\n\r\n"),
	  ERROR, 400, NULL, CLOSE, "a header name is a token"),
	T("empty-name", RAW("POST /api HTTP/1.1\r\n" H ": b\r\n\r\n"), ERROR,
	  400, NULL, CLOSE, "a header needs a name"),
	T("no-colon", RAW("POST /api HTTP/1.1\r\n" H "X-A b\r\n\r\n"), ERROR,
	  400, NULL, CLOSE, "a header needs its colon"),
	T("chunk-size-bad", RAW("POST /api HTTP/1.1\r\n" H "Transfer-Encoding"
				": chunked\r\n\r\nzz\r\n"), ERROR, 400, NULL,
	  CLOSE, "a chunk size is hex digits"),
	T("expect-other", RAW("POST /api HTTP/1.1\r\n" H "Expect: 200-ok\r\n"
			      "\r\n"), ERROR, 417, NULL, CLOSE,
	  "100-continue is the only expectation (RFC 9110 10.1.1)"),
	T("expect-other-body", RAW("POST /api HTTP/1.1\r\n" H "Expect: "
				   "x-wait\r\nContent-Type: application/"
				   "json\r\nContent-Length: 15\r\n\r\n"
				   "{\"stream\":true}"), ERROR, 417, NULL,
	  CLOSE, "refused from the head, whatever the body asks"),
	T("te-gzip", RAW("POST /api HTTP/1.1\r\n" H "Transfer-Encoding: gzip"
			 "\r\n\r\n"), ERROR, 501, NULL, CLOSE,
	  "only chunked is implemented"),
	T("te-gzip-chunked", RAW("POST /api HTTP/1.1\r\n" H "Transfer-"
				 "Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"),
	  ERROR, 501, NULL, CLOSE, "only chunked is implemented"),
	T("target-4097", RAW("POST /api?$(4092*a) HTTP/1.1\r\n" H "\r\n"),
	  ERROR, 414, NULL, CLOSE, "a target over 4 KiB"),
	T("head-9k", RAW("POST /api HTTP/1.1\r\n" H "X-Pad: $(9000*a)\r\n"
			 "\r\n"), ERROR, 431, NULL, CLOSE,
	  "a header section over 8 KiB"),
	T("body-over-64k", RAW("POST /api HTTP/1.1\r\n" H "Content-Length: "
			       "65537\r\n\r\n"), ERROR, 413, NULL, CLOSE,
	  "the length alone says too much: 413 without waiting for it"),
	T("chunk-over-64k", RAW("POST /api HTTP/1.1\r\n" H "Transfer-Encoding"
				": chunked\r\n\r\n10001\r\n"), ERROR, 413,
	  NULL, CLOSE, "a chunk size alone says too much: 413 at once"),
	T("chunks-over-64k", RAW("POST /api HTTP/1.1\r\n" H "Transfer-"
				 "Encoding: chunked\r\n\r\n8000\r\n"
				 "$(32768*a)\r\n8000\r\n$(32768*a)\r\n"
				 "1\r\na\r\n0\r\n\r\n"), ERROR, 413,
	  NULL, CLOSE, "chunks that add up to more than 64 KiB"),
	T("http-2.0", RAW("POST /api HTTP/2.0\r\n" H "\r\n"), ERROR, 505,
	  NULL, CLOSE, "only HTTP/1.0 and HTTP/1.1 are spoken"),
	T("http-1.2", RAW("POST /api HTTP/1.2\r\n" H "\r\n"), PLAIN, 200,
	  NULL, KEEP, "HTTP/1.2 is answered as HTTP/1.1 (RFC 9110 2.5)"),
	T("http-1.9-stream", RAW("POST /api HTTP/1.9\r\n" H "Content-Type: "
				 "application/json\r\nContent-Length: 15"
				 "\r\n\r\n{\"stream\":true}"), STREAM, 200,
	  NULL, KEEP, "HTTP/1.9 gets a chunked stream, as HTTP/1.1 does"),
	T("absolute-empty-host", RAW("POST http:///api HTTP/1.1\r\n" H
				     "\r\n"), ERROR, 400, NULL, CLOSE,
	  "an http URI with an empty host is invalid (RFC 9110 4.2.1)"),
	T("absolute-userinfo", RAW("POST http://u:p@t/api HTTP/1.1\r\n" H
				   "\r\n"), ERROR, 400, NULL, CLOSE,
	  "no userinfo in an http URI (RFC 9110 4.2.4)"),
	T("http-0.9", RAW("POST /api HTTP/0.9\r\n" H "\r\n"), ERROR, 505,
	  NULL, CLOSE, "only HTTP/1.0 and HTTP/1.1 are spoken"),
};

/* The limit flags of docs/protocol.md section 7, on a server started with
 * `--max-target 64 --max-header 256` (test_limits()): at each limit a
 * request is served, one byte past it refused.  The target counts from its
 * first byte to the space before the version; the head from the request
 * line to the blank line that ends it, both included. */
static const struct transcript_row limit_rows[] = {
	T("target-64", RAW("POST /api?$(59*a) HTTP/1.1\r\n" H "\r\n"), PLAIN,
	  200, NULL, KEEP, "a target of exactly --max-target bytes"),
	T("target-65", RAW("POST /api?$(60*a) HTTP/1.1\r\n" H "\r\n"), ERROR,
	  414, NULL, CLOSE, "a target one byte over --max-target"),
	T("head-256", RAW("POST /api HTTP/1.1\r\n" H "X-Pad: $(216*a)\r\n"
			  "\r\n"), PLAIN, 200, NULL, KEEP,
	  "a head of exactly --max-header bytes"),
	T("head-257", RAW("POST /api HTTP/1.1\r\n" H "X-Pad: $(217*a)\r\n"
			  "\r\n"), ERROR, 431, NULL, CLOSE,
	  "a head one byte over --max-header"),
	T("head-256-and-body", RAW("POST /api HTTP/1.1\r\n" H "Content-Type: "
				   "text/plain\r\nContent-Length: 100\r\n"
				   "X-Pad: $(169*a)\r\n\r\n$(100*b)"), PLAIN,
	  200, NULL, KEEP, "the body does not count towards the head"),
};

#define NELEM(a) (sizeof (a) / sizeof (a)[0])

/* One row of either table, ready to send. */
struct exchange {
	int line;
	const char *table, *name, *why;
	char *req;
	size_t len;
	enum want want;
	int status;
	const char *header;
	enum conn_want conn;
	bool http10;
	const char *says;	/* ERROR: the body's error, or NULL */
};

/* Expands each `$(N*c)` in p[0..n) into N copies of the byte c.  Returns
 * a malloc'd copy, NUL-terminated, and its length in *len. */
static char *expand(const char *p, size_t n, size_t *len)
{
	size_t cap = n + 1, out = 0;
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
		if (out + count + 1 > cap) {
			cap = (out + count + 1) * 2;
			b = realloc(b, cap);
		}
		memset(b + out, c, count);
		out += count;
	}
	b[out] = '\0';
	*len = out;
	return b;
}

static struct exchange from_detect(const struct detect_row *d)
{
	struct exchange e = {
		.line = d->line, .table = "detect", .name = d->name,
		.why = d->why, .want = d->want, .conn = KEEP,
		.status = d->want == ERROR ? 400 : 200, .says = d->says,
	};
	size_t body_len = 0;
	char *body = d->body ? expand(d->body, strlen(d->body), &body_len)
			     : NULL;
	FILE *f = open_memstream(&e.req, &e.len);

	fprintf(f, "POST %s HTTP/1.1\r\nHost: t\r\n", d->target);
	if (d->type != NULL)
		fprintf(f, "Content-Type: %s\r\n", d->type);
	if (body != NULL)
		fprintf(f, "Content-Length: %zu\r\n", body_len);
	fputs("\r\n", f);
	if (body != NULL)
		fwrite(body, 1, body_len, f);
	fclose(f);
	free(body);
	if (e.want == ERROR)
		e.conn = EITHER;
	return e;
}

static struct exchange from_transcript(const struct transcript_row *t,
				       const char *table)
{
	struct exchange e = {
		.line = t->line, .table = table, .name = t->name,
		.why = t->why, .want = t->want, .status = t->status,
		.header = t->header, .conn = t->conn,
	};

	e.req = expand(t->req, t->len, &e.len);
	e.http10 = memmem(e.req, e.len, " HTTP/1.0\r\n", 11) != NULL;
	return e;
}

/* Checks what one run of an exchange got. */
static bool exchange_ok(const struct exchange *e, const struct xfer *x)
{
	if (x->err[0] != '\0')
		return t_note("%s", x->err);
	switch (e->want) {
	case PLAIN:
		plain_ok(&x->r, e->conn, e->http10);
		break;
	case STREAM:
		stream_ok(&x->r, EVENTS, x->wall0, e->conn, e->http10);
		break;
	case ERROR:
		if (error_ok(&x->r, e->status, e->conn) && e->says != NULL &&
		    (x->r.body_len != strlen(e->says) + 12 ||
		     memcmp(x->r.body + 10, e->says, strlen(e->says)) != 0))
			t_note("body %s, expected the error \"%s\"",
			       esc(x->r.body, x->r.body_len), e->says);
		break;
	}
	if (e->header != NULL)
		header_matches(&x->r, e->header);
	if (e->conn == CLOSE && !x->closed)
		t_note("the server did not close the connection");
	return !t_noted();
}

/* Prints the line of one run of a row; a FAIL names the row. */
static void exchange_report(const struct exchange *e, const struct xfer *x,
			    bool bytewise)
{
	char name[128];

	snprintf(name, sizeof name, "%s/%s%s", e->table, e->name,
		 bytewise ? "/bytewise" : "");
	exchange_ok(e, x);
	t_prefix("wire.c:%d (%s): ", e->line, e->why);
	t_result(name, true);
}

/* Runs the n exchanges at once against the server on port: each as one
 * write and, when short, also a byte per write.  Prints their lines and
 * frees their requests. */
static void run_exchanges(struct exchange *e, size_t n, int port)
{
	struct xfer *x = calloc(2 * n, sizeof *x);
	int nx = 0;

	for (size_t i = 0; i < n; i++) {
		struct xfer one = { .out = e[i].req, .out_len = e[i].len,
				    .want_close = e[i].conn == CLOSE };

		x[nx++] = one;
		if (e[i].len <= BYTEWISE_MAX) {
			one.piece = 1;
			x[nx++] = one;
		}
	}
	xfer_run(x, nx, port, mono_ms() + 20000);
	for (size_t i = 0, k = 0; i < n; i++) {
		exchange_report(&e[i], &x[k++], false);
		if (e[i].len <= BYTEWISE_MAX)
			exchange_report(&e[i], &x[k++], true);
	}
	for (int i = 0; i < nx; i++)
		xfer_free(&x[i]);
	for (size_t i = 0; i < n; i++)
		free(e[i].req);
	free(x);
}

/* Runs every row of the detect and http tables against the server on
 * port. */
static void run_tables(int port)
{
	size_t n = NELEM(detect_rows) + NELEM(transcript_rows);
	struct exchange *e = calloc(n, sizeof *e);

	for (size_t i = 0; i < NELEM(detect_rows); i++)
		e[i] = from_detect(&detect_rows[i]);
	for (size_t i = 0; i < NELEM(transcript_rows); i++)
		e[NELEM(detect_rows) + i] =
			from_transcript(&transcript_rows[i], "http");
	run_exchanges(e, n, port);
	free(e);
}

/* ------------------------------------------------ one-client cases -- */

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

/* Two plain requests, one after the other, on one connection. */
static bool keep_alive_plain(struct client *c)
{
	struct response r = { 0 };

	for (int i = 0; i < 2 && !t_noted(); i++)
		if (send_read(c, PLAIN_REQ, &r, mono_ms() + 3000) == 0)
			plain_ok(&r, KEEP, false);
	resp_free(&r);
	return !t_noted();
}

/* After a stream's last chunk the connection serves the next request. */
static bool keep_alive_after_stream(struct client *c)
{
	struct response r = { 0 };

	if (send_read(c, STREAM_REQ, &r, stream_deadline()) == 0 &&
	    stream_ok(&r, EVENTS, 0, KEEP, false) &&
	    send_read(c, PLAIN_REQ, &r, mono_ms() + 3000) == 0)
		plain_ok(&r, KEEP, false);
	resp_free(&r);
	return !t_noted();
}

/* The same after an EventSource stream, whose body ends without ":done":
 * exactly one zero-size chunk ends it, and the next answer follows. */
static bool keep_alive_after_message_stream(struct client *c)
{
	static const char req[] =
		"GET /message-stream HTTP/1.1\r\nHost: t\r\n\r\n";
	struct response r = { 0 };

	if (send_read(c, req, &r, stream_deadline()) == 0 &&
	    send_read(c, PLAIN_REQ, &r, mono_ms() + 3000) == 0)
		plain_ok(&r, KEEP, false);
	resp_free(&r);
	return !t_noted();
}

/* A 404 leaves the connection open for the next request. */
static bool keep_alive_after_404(struct client *c)
{
	struct response r = { 0 };

	if (send_read(c, NOPE_REQ, &r, mono_ms() + 3000) == 0 &&
	    error_ok(&r, 404, KEEP) &&
	    send_read(c, PLAIN_REQ, &r, mono_ms() + 3000) == 0)
		plain_ok(&r, KEEP, false);
	resp_free(&r);
	return !t_noted();
}

/* A stream and a plain request in one write: the plain answer follows the
 * stream's zero-size chunk, and the stream keeps its schedule.  Reading
 * the two in order checks the first: a plain answer sent in the middle
 * of the stream would break its chunk framing. */
static bool pipeline_stream_plain(struct client *c)
{
	struct response r = { 0 }, r2 = { 0 };
	const char *req = STREAM_REQ PLAIN_REQ;
	int64_t wall0 = wall_ms(), deadline = stream_deadline();

	if (client_send(c, req, strlen(req), 0, deadline) == 0) {
		int64_t sent = mono_ms();

		if (client_read(c, &r, deadline) == 0 &&
		    stream_ok(&r, EVENTS, wall0, KEEP, false) &&
		    timing_ok(&r, sent, EVENTS, INTERVAL_MS) &&
		    client_read(c, &r2, deadline) == 0)
			plain_ok(&r2, KEEP, false);
	}
	resp_free(&r);
	resp_free(&r2);
	return !t_noted();
}

/* Several requests in one write get their answers in order. */
static bool pipeline(struct client *c, const char *const reqs[], int n)
{
	struct response r = { 0 };
	char all[4096] = "";
	int64_t deadline = stream_deadline();

	for (int i = 0; i < n; i++)
		strcat(all, reqs[i]);
	if (client_send(c, all, strlen(all), 0, deadline) != 0)
		return false;
	for (int i = 0; i < n && !t_noted(); i++) {
		if (client_read(c, &r, deadline) != 0)
			break;
		if (strstr(reqs[i], "stream") != NULL)
			stream_ok(&r, EVENTS, 0, KEEP, false);
		else
			plain_ok(&r, KEEP, false);
		t_prefix("answer %d: ", i + 1);
	}
	resp_free(&r);
	return !t_noted();
}

static bool pipeline_three_plain(struct client *c)
{
	static const char *const reqs[] = { PLAIN_REQ, PLAIN_REQ, PLAIN_REQ };

	return pipeline(c, reqs, 3);
}

static bool pipeline_plain_stream_plain(struct client *c)
{
	static const char *const reqs[] = { PLAIN_REQ, STREAM_REQ, PLAIN_REQ };

	return pipeline(c, reqs, 3);
}

/* After `Connection: close` the server answers nothing more, even a
 * request already sent behind it (RFC 9112 9.6). */
static bool pipeline_close_ends(struct client *c)
{
	struct response r = { 0 };
	const char *req = CLOSE_REQ PLAIN_REQ;
	int64_t deadline = mono_ms() + 3000;

	if (client_send(c, req, strlen(req), 0, deadline) == 0 &&
	    client_read(c, &r, deadline) == 0 && plain_ok(&r, CLOSE, false))
		client_closed(c, deadline);
	resp_free(&r);
	return !t_noted();
}

/* A good request, a bad one and a good one in one write: the first is
 * answered, the second refused, and the connection closed. */
static bool pipeline_error_ends(struct client *c)
{
	struct response r = { 0 };
	const char *req = PLAIN_REQ "hello\r\n\r\n" PLAIN_REQ;
	int64_t deadline = mono_ms() + 3000;

	if (client_send(c, req, strlen(req), 0, deadline) == 0 &&
	    client_read(c, &r, deadline) == 0 && plain_ok(&r, KEEP, false) &&
	    client_read(c, &r, deadline) == 0 && error_ok(&r, 400, CLOSE))
		client_closed(c, deadline);
	resp_free(&r);
	return !t_noted();
}

/* `Expect: 100-continue` (spelt as in expect: the value is case-insensitive,
 * RFC 9110 10.1.1): the client sends the head alone and waits for
 * `HTTP/1.1 100 Continue` before the body. */
static bool expect_continue(struct client *c, const char *expect,
			    const char *body)
{
	struct response r = { 0 };
	char head[256];
	int64_t deadline = mono_ms() + 2000, wall0 = wall_ms();

	snprintf(head, sizeof head, "POST /api HTTP/1.1\r\nHost: t\r\n"
		 "Content-Type: application/json\r\nContent-Length: %zu\r\n"
		 "Expect: %s\r\n\r\n", strlen(body), expect);
	if (client_send(c, head, strlen(head), 0, deadline) != 0 ||
	    client_read(c, &r, deadline) != 0 ||
	    !status_line_is(&r, "100 Continue", false))
		goto out;
	if (r.nh != 0)
		t_note("the 100 has headers: %s", resp_text(&r));
	deadline = stream_deadline();
	if (client_send(c, body, strlen(body), 0, deadline) != 0 ||
	    client_read(c, &r, deadline) != 0)
		goto out;
	if (strstr(body, "true") != NULL)
		stream_ok(&r, EVENTS, wall0, KEEP, false);
	else
		plain_ok(&r, KEEP, false);
out:
	resp_free(&r);
	return !t_noted();
}

static bool expect_continue_plain(struct client *c)
{
	return expect_continue(c, "100-continue", "{}");
}

static bool expect_continue_stream(struct client *c)
{
	return expect_continue(c, "100-continue", "{\"stream\":true}");
}

static bool expect_continue_case(struct client *c)
{
	return expect_continue(c, "100-Continue", "{}");
}

/* Runs fn on a fresh connection to port and prints its line. */
static void client_case(const char *name, int port,
			bool (*fn)(struct client *))
{
	struct client c;

	if (client_open(&c, port) == 0) {
		fn(&c);
		client_close(&c);
	}
	t_result(name, true);
}

static bool stream_timing_100(struct client *c)
{
	return stream_timing(c, INTERVAL_MS);
}

/* The cases on the main server, one connection each. */
static void run_client_cases(int port)
{
	static const struct {
		const char *name;
		bool (*fn)(struct client *);
	} cases[] = {
		{ "stream-timing", stream_timing_100 },
		{ "keep-alive/two-plain", keep_alive_plain },
		{ "keep-alive/after-stream", keep_alive_after_stream },
		{ "keep-alive/after-message-stream",
		  keep_alive_after_message_stream },
		{ "keep-alive/after-404", keep_alive_after_404 },
		{ "pipelining/stream-then-plain", pipeline_stream_plain },
		{ "pipelining/three-plain", pipeline_three_plain },
		{ "pipelining/plain-stream-plain",
		  pipeline_plain_stream_plain },
		{ "pipelining/close-ends-it", pipeline_close_ends },
		{ "pipelining/error-ends-it", pipeline_error_ends },
		{ "expect-100/plain", expect_continue_plain },
		{ "expect-100/stream", expect_continue_stream },
		{ "expect-100/mixed-case", expect_continue_case },
	};

	for (size_t i = 0; i < NELEM(cases); i++)
		client_case(cases[i].name, port, cases[i].fn);
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
	struct exchange e[NELEM(limit_rows)];
	char linger[16];

	snprintf(linger, sizeof linger, "%d", LINGER_MS);
	if (!start(&s, "limits/server",
		   SERVER_ARGS("--max-target", "64", "--max-header", "256",
			       "--linger-timeout", linger, NULL)))
		return;
	for (size_t i = 0; i < NELEM(limit_rows); i++)
		e[i] = from_transcript(&limit_rows[i], "limits");
	run_exchanges(e, NELEM(limit_rows), s.port);
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

struct cli_row {
	int line;
	const char *name;
	const char *args[8];
	int code;
	const char *why;
};

static const struct cli_row cli_rows[] = {
	{ __LINE__, "cli/-h", { "-h" }, 0, "usage on stdout, exit 0" },
	{ __LINE__, "cli/--bogus", { "--bogus" }, 2, "an unknown flag" },
	{ __LINE__, "cli/-x", { "-x" }, 2, "an unknown short flag" },
	{ __LINE__, "cli/-p-missing", { "-p" }, 2, "a flag without its value" },
	{ __LINE__, "cli/-p-abc", { "-b", "127.0.0.1", "-p", "abc" }, 2,
	  "a port is a number" },
	{ __LINE__, "cli/-p-70000", { "-b", "127.0.0.1", "-p", "70000" }, 2,
	  "a port is below 65536" },
	{ __LINE__, "cli/-n-abc", { "-b", "127.0.0.1", "-p", "0", "-n",
				    "abc" }, 2, "a count is a number" },
	{ __LINE__, "cli/-i-abc", { "-b", "127.0.0.1", "-p", "0", "-i",
				    "abc" }, 2, "an interval is a number" },
	{ __LINE__, "cli/--max-body-abc", { "-b", "127.0.0.1", "-p", "0",
					    "--max-body", "abc" }, 2,
	  "a limit is a number" },
	{ __LINE__, "cli/-b-bogus", { "-b", "bogus", "-p", "0" }, 2,
	  "an address is IPv4 or IPv6" },
	/* The command line is read as getopt_long() reads it. */
	{ __LINE__, "cli/-qh", { "-qh" }, 0, "flags may share an argument" },
	{ __LINE__, "cli/--hel", { "--hel" }, 0,
	  "a long name cut short, but only --help starts so" },
	{ __LINE__, "cli/--he", { "--he" }, 2,
	  "a long name cut short that --help and --heartbeat start with" },
	{ __LINE__, "cli/--quiet=1", { "--quiet=1" }, 2,
	  "a flag given a value" },
	{ __LINE__, "cli/--cors-missing", { "--cors" }, 2,
	  "a long option without its value" },
	{ __LINE__, "cli/--port=0", { "--port=0", "-h" }, 0,
	  "--name=value is one option" },
	{ __LINE__, "cli/--por-0", { "--por", "0", "-h" }, 0,
	  "a long name cut short, its value in the next argument" },
	{ __LINE__, "cli/-qp0", { "-qp0", "-h" }, 0,
	  "a flag, then an option with its value, in one argument" },
	{ __LINE__, "cli/argument", { "-b", "127.0.0.1", "-p", "0", "x" }, 2,
	  "an argument that is not an option" },
	{ __LINE__, "cli/after--", { "--", "-h" }, 2,
	  "after --, -h is an argument" },
};

/* Runs the command-line rows: exit status and where the words go. */
static void test_cli_rows(void)
{
	char out[8192], err[8192];

	for (size_t i = 0; i < NELEM(cli_rows); i++) {
		const struct cli_row *row = &cli_rows[i];
		char *argv[10] = { (char *)sse };

		for (int k = 0; row->args[k] != NULL; k++)
			argv[k + 1] = (char *)row->args[k];
		int code = run_capture(argv, out, err, sizeof out,
				       mono_ms() + 3000);
		if (code < 0)
			t_note("still running after 3 s");
		else if (code != row->code)
			t_note("exit status %d, expected %d", code, row->code);
		else if (row->code == 0 && strstr(out, "-p") == NULL)
			t_note("no usage (mentioning -p) on stdout: %s",
			       escs(out));
		else if (row->code == 2 && err[0] == '\0')
			t_note("nothing on stderr");
		t_prefix("wire.c:%d (%s; stderr %s): ", row->line, row->why,
			 escs(err));
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

/* Options that contradict each other: a start-up error, one line naming
 * both, exit 2, and no server. */
static const struct {
	int line;
	const char *name;
	const char *args[4];
	const char *says;
} conflict_rows[] = {
	{ __LINE__, "cli/heartbeat-under-min-interval",
	  { "--heartbeat", "5", "--min-interval", "10" },
	  "sse: --heartbeat (5) must be 0 or at least --min-interval (10)" },
	{ __LINE__, "cli/interval-under-min-interval",
	  { "-i", "5", "--min-interval", "10" },
	  "sse: -i (5) must be at least --min-interval (10)" },
	{ __LINE__, "cli/events-over-max-events", { "-n", "2000000" },
	  "sse: -n (2000000) must be at most --max-events (1000000)" },
	{ __LINE__, "cli/events-over-small-max-events",
	  { "--max-events", "10", "-n", "11" },
	  "sse: -n (11) must be at most --max-events (10)" },
	{ __LINE__, "cli/max-output-under-event-size",
	  { "--max-output", "4096" },
	  "sse: --max-output (4096) must be at least --max-event-size "
	  "(65536)" },
};

static void test_cli_conflicts(void)
{
	char out[8192], err[8192], want[256];

	for (size_t i = 0; i < NELEM(conflict_rows); i++) {
		char *argv[12] = { (char *)sse, "-b", "127.0.0.1", "-p", "0",
				   "-q" };
		int n = 6;

		for (int k = 0; k < 4 && conflict_rows[i].args[k]; k++)
			argv[n++] = (char *)conflict_rows[i].args[k];
		snprintf(want, sizeof want, "%s\n", conflict_rows[i].says);
		int code = run_capture(argv, out, err, sizeof out,
				       mono_ms() + 3000);
		if (code < 0)
			t_note("the server started and ran for 3 s");
		else if (code != 2)
			t_note("exit status %d, expected 2", code);
		else if (strcmp(err, want) != 0)
			t_note("stderr %s, expected the one line %s", escs(err),
			       escs(want));
		t_prefix("wire.c:%d: ", conflict_rows[i].line);
		t_result(conflict_rows[i].name, true);
	}
}

static void test_cli(void)
{
	test_cli_rows();
	test_cli_conflicts();
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
		run_client_cases(s.port);
		stopped(&s, "sigterm/idle-server-exits-0", true);
	}
	collect_children(deadline);
	fprintf(stderr, "wire: %d passed, %d failed, %d skipped\n", t_passed,
		t_failed, t_skipped);
	return t_failed ? 1 : 0;
}
