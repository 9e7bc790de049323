/* routes.c - the routes beside POST /api, as a browser or a load tester
 * sees them.
 *
 * Usage: tests/routes [PATH-TO-SSE]		(default ./sse)
 *
 * The contract is docs/protocol.md sections 2 and 3, with the README's
 * "The routes", "/stats and /metrics" and "CORS"; tests/wire.c covers
 * POST /api and HTTP itself.  The cases, by the first part of their names:
 *
 *	es/	 GET /message-stream: its headers, `retry:` and `:ok` at once,
 *		 `id: k` and `data:` for each event on schedule, then the end;
 *		 resuming after each k by Last-Event-ID and by ?lastEventId=;
 *		 204 at and past the end; values that are no decimal number;
 *		 both at once (the header wins)
 *	route/	 GET / (the page, with its length), /stats and /metrics (their
 *		 form), HEAD, OPTIONS (204 with Allow; OPTIONS *), 404 for an
 *		 unknown path, 405 with Allow for each route and each method it
 *		 does not take, 400 for a bad stream shape; every error body
 *		 {"error":"..."} as JSON, with its length
 *	cors/	 every kind of answer from a server without --cors (no
 *		 Access-Control-* header at all), with --cors ORIGIN and with
 *		 --cors '*' (the origin on every answer, streams too), and the
 *		 preflights of fetch() POST /api and of an EventSource
 *	head/	 HEAD gets the status and headers GET gets, and no body;
 *		 HEAD /message-stream starts no stream
 *	page/	 the page served is web/index.min.html, byte for byte
 *	stats/	 /stats has its keys and counts exactly what a fresh server
 *		 was asked; asked as a stream (Accept: text/event-stream, or
 *		 ?stream), it sends the counters at once and then each
 *		 second on schedule, showing a stream run in between, counts
 *		 itself in neither streams nor events, and ends at its next
 *		 event after SIGTERM
 *	metrics/ /metrics is valid Prometheus text (names, HELP and TYPE
 *		 before each family, a cumulative histogram ending in +Inf
 *		 equal to its _count) and counts exactly too
 *
 * The tables run their rows all at once, each on a connection of its own
 * (testlib's xfer_run()); a counting case asks a fresh server one thing
 * after another, so that every count is known.  Streams here are five
 * events 50 ms apart (two rows take 400 ms, to see the schedule past the
 * lateness allowed), and the whole run takes about two seconds.
 *
 * Each case prints one line, `pass NAME`, `FAIL NAME: WHY` or `skip NAME:
 * WHY`; a FAIL of a table row names it (routes.c:LINE) and says why the
 * row expects what it does.  The exit status is 1 if any case failed.
 */
#include "testlib.h"

#include <math.h>

#define EVENTS 5		/* -n of the servers here */
#define INTERVAL_MS 50		/* -i of the servers here */
#define EARLY_MS 5		/* an event may seem this early (rounding) */
#define LATE_MS 300		/* or this late (a busy test machine) */
#define ORIGIN "http://127.0.0.1:8080"	/* --cors of one server */

#define STR(x) STR_(x)
#define STR_(x) #x
#define NELEM(a) (sizeof (a) / sizeof (a)[0])

/* The keys of /stats the README documents. */
static const char *const stats_keys[] = {
	"connections", "streams", "requests", "events", "streams_completed",
	"streams_aborted", "streams_dropped", "streams_stalled", "accepted",
	"shed", "responses", "lateness_us", "uptime_seconds",
};

static const char *sse = "./sse";

/* Starts a server on a free loopback port, quiet, with streams of EVENTS
 * events INTERVAL_MS apart, and with --cors origin unless that is NULL.
 * Returns false after printing name's FAIL. */
static bool start(struct server *s, const char *name, const char *origin)
{
	const char *const args[] = {
		"-b", "127.0.0.1", "-p", "0", "-q", "-n", STR(EVENTS),
		"-i", STR(INTERVAL_MS), origin ? "--cors" : NULL, origin, NULL,
	};

	if (server_start(s, sse, args) == 0)
		return true;
	t_result(name, false);
	return false;
}

/* `line` (a method and a target) as an HTTP/1.1 request with Host, the
 * header lines in headers (each ending in CRLF; NULL for none) and no
 * body.  Returns a string to free. */
static char *request(const char *line, const char *headers)
{
	char *req;

	if (asprintf(&req, "%s HTTP/1.1\r\nHost: t\r\n%s\r\n", line,
		     headers ? headers : "") < 0)
		abort();
	return req;
}

/* ----------------------------------------------------------- headers -- */

/* The status line and the headers, on one line for a FAIL. */
static const char *head_text(const struct response *r)
{
	static char text[2048];
	size_t len = (size_t)snprintf(text, sizeof text, "%s",
				      r->status_line);

	for (int i = 0; i < r->nh && len < sizeof text; i++)
		len += (size_t)snprintf(text + len, sizeof text - len,
					" | %s: %s", r->h[i].name,
					r->h[i].value);
	return text;
}

static bool status_is(const struct response *r, int status)
{
	if (r->status == status)
		return true;
	return t_note("status %d, expected %d; head: %s; body: %s", r->status,
		      status, head_text(r),
		      esc(r->body, r->body_len > 200 ? 200 : r->body_len));
}

/* Does the header name match the glob pat, both compared in lower case? */
static bool name_matches(const char *pat, const char *name)
{
	char p[64], n[64];
	size_t i;

	for (i = 0; pat[i] != '\0' && i < sizeof p - 1; i++)
		p[i] = (char)tolower((unsigned char)pat[i]);
	p[i] = '\0';
	for (i = 0; name[i] != '\0' && i < sizeof n - 1; i++)
		n[i] = (char)tolower((unsigned char)name[i]);
	n[i] = '\0';
	return glob(p, n, i);
}

/* Checks the headers against specs, up to a NULL: "Name: glob" wants
 * exactly one header Name, its value matching the glob; "!Glob" wants no
 * header whose name matches, as "!Access-Control-*". */
static bool headers_ok(const struct response *r, const char *const *specs)
{
	for (; *specs != NULL; specs++) {
		const char *spec = *specs, *colon = strchr(spec, ':');
		char name[64];

		if (spec[0] == '!') {
			for (int i = 0; i < r->nh; i++)
				if (name_matches(spec + 1, r->h[i].name))
					return t_note("unexpected %s: %s; head: "
						      "%s", r->h[i].name,
						      escs(r->h[i].value),
						      head_text(r));
			continue;
		}
		snprintf(name, sizeof name, "%.*s", (int)(colon - spec), spec);
		const char *v = resp_header(r, name);
		if (resp_header_count(r, name) != 1 ||
		    !glob(colon + 2, v, strlen(v)))
			return t_note("expected one `%s`; head: %s", spec,
				      head_text(r));
	}
	return true;
}

/* Is the header name there once, and is its value exactly want?  (A glob
 * cannot say this of `*`.) */
static bool header_equals(const struct response *r, const char *name,
			  const char *want)
{
	const char *v = resp_header(r, name);

	if (v != NULL && resp_header_count(r, name) == 1 &&
	    strcmp(v, want) == 0)
		return true;
	return t_note("%s: %s, expected %s; head: %s", name, escs(v), want,
		      head_text(r));
}

/* Splits a comma-separated header value into its items, blanks trimmed.
 * Returns how many. */
static int list_split(const char *list, char item[][32], int max)
{
	int n = 0;

	while (*list != '\0' && n < max) {
		list += strspn(list, " \t");
		size_t len = strcspn(list, ",");
		size_t keep = len;

		while (keep > 0 && strchr(" \t", list[keep - 1]) != NULL)
			keep--;
		if (keep > 0)
			snprintf(item[n++], 32, "%.*s", (int)keep, list);
		list += len + (list[len] == ',');
	}
	return n;
}

/* Does the list hold each item of want (a list too), without regard to
 * case or order?  With exact, nothing else either. */
static bool list_covers(const char *list, const char *want, bool exact)
{
	char have[16][32], need[16][32];
	int nh = list_split(list, have, 16), nn = list_split(want, need, 16);

	for (int i = 0; i < nn; i++) {
		int k = 0;

		while (k < nh && strcasecmp(have[k], need[i]) != 0)
			k++;
		if (k == nh)
			return false;
	}
	return !exact || nh == nn;
}

/* Is the header name, once, a list of the items of want (and with exact
 * of nothing else)?  Methods in Allow, headers in Access-Control-*. */
static bool list_header(const struct response *r, const char *name,
			const char *want, bool exact)
{
	const char *v = resp_header(r, name);

	if (v != NULL && resp_header_count(r, name) == 1 &&
	    list_covers(v, want, exact))
		return true;
	return t_note("%s: %s, expected %s%s; head: %s", name, escs(v),
		      exact ? "exactly " : "at least ", want, head_text(r));
}

/* ------------------------------------------------------------ bodies -- */

/* An error answer (docs/protocol.md section 3): JSON `{"error":"..."}`,
 * the string not empty, with no bare quote or control byte and no unknown
 * escape.  Its Content-Length is right when the response was framed by it
 * and nothing followed (answered() checks that).  A HEAD answer has the
 * same headers and no body. */
static bool json_error_ok(const struct response *r)
{
	static const char *const head[] = {
		"Content-Type: application/json*", "Content-Length: #",
		"!Transfer-Encoding", NULL,
	};
	static const char open[] = "{\"error\":\"";
	const char *b = r->body;
	size_t n = r->body_len, i = sizeof open - 1;

	if (!headers_ok(r, head) || r->head_only)
		return !t_noted();
	bool ok = n > i + 2 && memcmp(b, open, i) == 0 &&
		  memcmp(b + n - 2, "\"}", 2) == 0;
	for (; ok && i < n - 2; i++) {
		unsigned char ch = (unsigned char)b[i];

		if (ch == '\\')
			ok = strchr("\"\\/bfnrtu", b[++i]) != NULL;
		else
			ok = ch >= 0x20 && ch != '"';
	}
	if (!ok)
		return t_note("body %s, expected {\"error\":\"...\"}",
			      esc(b, n));
	return true;
}

/* The page as the server stores and sends it, gzipped, made text again
 * by gzip(1) into out (cap bytes, NUL-terminated).  Returns its length,
 * or -1 with a note. */
static ssize_t gunzip(const struct response *r, char *out, size_t cap)
{
	char path[] = "/tmp/sse-routes-page-XXXXXX", err[512];
	char *const argv[] = { "/bin/sh", "-c", "exec gzip -dc \"$0\"", path,
			       NULL };
	int fd = mkstemp(path), code = -1;

	if (fd < 0)
		return t_note("mkstemp: %s", strerror(errno)), -1;
	if (write(fd, r->body, r->body_len) == (ssize_t)r->body_len)
		code = run_capture(argv, out, err, cap, mono_ms() + 5000);
	close(fd);
	unlink(path);
	if (code != 0)
		return t_note("gzip -dc of the page's %zu bytes: exit %d: %s",
			      r->body_len, code, err), -1;
	return (ssize_t)strlen(out);
}

/* The page of docs/protocol.md section 3: the seed's EventSource client,
 * showing `user: text`, and a button that streams POST /api with fetch();
 * the chat on topic chat (section 8) and the live counters of
 * /stats?stream. */
static bool page_ok(const struct response *r)
{
	static const char *const anchors[] = {
		"new EventSource(", "\"/message-stream", ".user", ".text",
		"<button", "fetch(", "\"/api", "\"POST\"", "\"/topics/chat\"",
		"\"/stats?stream\"", "<link rel=\"icon\" href=\"data:,\">",
		"href=\"/stats\"", "href=\"/metrics\"",
	};
	static char page[1 << 16];
	ssize_t n = gunzip(r, page, sizeof page);

	for (size_t i = 0; n >= 0 && i < NELEM(anchors); i++)
		if (strstr(page, anchors[i]) == NULL)
			return t_note("the page has no %s: %s", anchors[i],
				      esc(page, (size_t)n));
	return n >= 0;
}

/* ---------------------------------------------------------- counters -- */

/* Numbers by name, as /stats or /metrics gave them, in their order:
 * "events" and "responses.200" from /stats (an object counts as the
 * number of its members), "sse_events_total" and
 * `sse_responses_total{code="200"}` from /metrics. */
struct counters {
	int n;
	struct {
		char key[128];
		double v;
	} e[128];
};

static const double *counters_get(const struct counters *k, const char *key)
{
	for (int i = 0; i < k->n; i++)
		if (strcmp(k->e[i].key, key) == 0)
			return &k->e[i].v;
	return NULL;
}

static bool counters_add(struct counters *k, const char *key, double v)
{
	if (counters_get(k, key) != NULL)
		return t_note("%s appears twice", key);
	if (k->n == (int)NELEM(k->e))
		return t_note("more than %zu numbers", NELEM(k->e));
	snprintf(k->e[k->n].key, sizeof k->e[0].key, "%s", key);
	k->e[k->n++].v = v;
	return true;
}

/* Checks each "key=value" of want (separated by spaces).  Every key that
 * starts with every (unless NULL) must be in want: responses by status,
 * say, where another status would be a miscount. */
static bool counters_expect(const struct counters *k, const char *want,
			    const char *every)
{
	char w[2048], *save, *tok;

	snprintf(w, sizeof w, "%s", want);
	for (tok = strtok_r(w, " ", &save); tok != NULL;
	     tok = strtok_r(NULL, " ", &save)) {
		char *eq = strrchr(tok, '=');
		const double *v;

		*eq = '\0';
		if ((v = counters_get(k, tok)) == NULL)
			return t_note("no %s", tok);
		if (*v != strtod(eq + 1, NULL))
			return t_note("%s is %g, expected %s", tok, *v, eq + 1);
	}
	for (int i = 0; every != NULL && i < k->n; i++) {
		char key[160];

		snprintf(key, sizeof key, "%s=", k->e[i].key);
		if (strncmp(k->e[i].key, every, strlen(every)) == 0 &&
		    strstr(want, key) == NULL)
			return t_note("unexpected %s%g", key, k->e[i].v);
	}
	return true;
}

/* ------------------------------------------------------ /stats, JSON -- */

static const char *json_blank(const char *p, const char *end)
{
	while (p < end && strchr(" \t\r\n", *p) != NULL)
		p++;
	return p;
}

/* Reads the JSON object at p, whose members are whole numbers or, one
 * level down, objects of them, into k: keys prefixed by prefix.  Keys
 * are taken to be plain ([A-Za-z0-9_], as /stats documents them).
 * Returns the byte after the object, or NULL with a note. */
static const char *json_counters(const char *p, const char *end,
				 const char *prefix, struct counters *k)
{
	if ((p = json_blank(p, end)) == end || *p != '{')
		return t_note("expected { at %s", esc(p, (size_t)(end - p))),
		       NULL;
	if ((p = json_blank(p + 1, end)) < end && *p == '}')
		return p + 1;
	for (;;) {
		char key[64], path[128];
		size_t n = 0;

		if (p == end || *p++ != '"')
			return t_note("expected a key"), NULL;
		while (p < end && (isalnum((unsigned char)*p) || *p == '_') &&
		       n < sizeof key - 1)
			key[n++] = *p++;
		key[n] = '\0';
		if (n == 0 || p == end || *p++ != '"' ||
		    (p = json_blank(p, end)) == end || *p++ != ':')
			return t_note("bad key near \"%s", key), NULL;
		snprintf(path, sizeof path, "%s%s", prefix, key);
		p = json_blank(p, end);
		if (p < end && *p == '{' && prefix[0] == '\0') {
			char sub[80];

			snprintf(sub, sizeof sub, "%s.", key);
			if ((p = json_counters(p, end, sub, k)) == NULL)
				return NULL;
			/* The object's count of members, filed under its
			 * name, says it is there. */
			int inner = 0;
			for (int i = 0; i < k->n; i++)
				inner += strncmp(k->e[i].key, sub,
						 strlen(sub)) == 0;
			counters_add(k, key, inner);
		} else {
			/* A whole number, no sign, no leading zero. */
			const char *d = p;

			while (p < end && isdigit((unsigned char)*p))
				p++;
			if (p == d || (*d == '0' && p - d > 1))
				return t_note("%s is not a whole number", path),
				       NULL;
			counters_add(k, path, strtod(d, NULL));
		}
		if ((p = json_blank(p, end)) < end && *p == ',') {
			p = json_blank(p + 1, end);
			continue;
		}
		if (p < end && *p == '}')
			return t_noted() ? NULL : p + 1;
		return t_note("expected , or } after %s", path), NULL;
	}
}

/* Reads a /stats body into k: one JSON object of counters with every
 * documented key, and nothing after it. */
static bool stats_parse(const struct response *r, struct counters *k)
{
	const char *end = r->body + r->body_len;
	const char *p;

	k->n = 0;
	if ((p = json_counters(r->body, end, "", k)) == NULL)
		return t_prefix("/stats %s: ", esc(r->body, r->body_len)),
		       false;
	if (json_blank(p, end) != end)
		return t_note("/stats has bytes after its object: %s",
			      esc(r->body, r->body_len));
	for (size_t i = 0; i < NELEM(stats_keys); i++)
		if (counters_get(k, stats_keys[i]) == NULL)
			return t_note("/stats has no \"%s\": %s", stats_keys[i],
				      esc(r->body, r->body_len));
	return true;
}

/* ------------------------------------------ /metrics, Prometheus text -- */

/* A metric family of a /metrics body, as its lines are read. */
struct family {
	char name[96];
	char type[16];		/* empty until its # TYPE */
	bool help;		/* its # HELP came */
	bool started, ended;	/* its samples began; another's followed */
};

struct exposition {
	struct family f[64];
	int nf;
	struct family *cur;	/* the family of the last sample */
	struct counters *k;	/* the samples */
};

/* The length of the name at p: [a-zA-Z_:][a-zA-Z0-9_:]* for a metric,
 * the same without ':' for a label. */
static size_t name_len(const char *p, const char *end, bool metric)
{
	size_t n = 0;

	while (p + n < end && (isalpha((unsigned char)p[n]) || p[n] == '_' ||
			       (metric && p[n] == ':') ||
			       (n > 0 && isdigit((unsigned char)p[n]))))
		n++;
	return n;
}

static const char *blanks(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/* The family named name[0..n), made if new. */
static struct family *family_named(struct exposition *e, const char *name,
				   size_t n)
{
	for (int i = 0; i < e->nf; i++)
		if (strlen(e->f[i].name) == n &&
		    memcmp(e->f[i].name, name, n) == 0)
			return &e->f[i];
	if (e->nf == (int)NELEM(e->f) || n >= sizeof e->f[0].name)
		return t_note("too many families, or too long a name"), NULL;
	struct family *f = &e->f[e->nf++];
	snprintf(f->name, sizeof f->name, "%.*s", (int)n, name);
	return f;
}

/* The family a sample named name[0..n) belongs to: the one of that name,
 * else for a histogram X also X_bucket, X_sum and X_count, and for a
 * summary X_sum and X_count.  NULL if none has been declared. */
static struct family *family_of(struct exposition *e, const char *name,
				size_t n)
{
	static const struct {
		const char *suffix;
		bool summary;	/* a summary has it too */
	} parts[] = { { "_bucket", false }, { "_sum", true }, { "_count", true } };

	for (int i = 0; i < e->nf; i++)
		if (strlen(e->f[i].name) == n &&
		    memcmp(e->f[i].name, name, n) == 0)
			return &e->f[i];
	for (int i = 0; i < e->nf; i++) {
		struct family *f = &e->f[i];
		size_t len = strlen(f->name);
		bool hist = strcmp(f->type, "histogram") == 0;
		bool summ = strcmp(f->type, "summary") == 0;

		for (size_t s = 0; s < NELEM(parts) && (hist || summ); s++)
			if ((hist || parts[s].summary) &&
			    n == len + strlen(parts[s].suffix) &&
			    memcmp(name, f->name, len) == 0 &&
			    memcmp(name + len, parts[s].suffix, n - len) == 0)
				return f;
	}
	return NULL;
}

/* A line that starts with '#': `# HELP name text`, `# TYPE name type`,
 * or any other comment.  HELP and TYPE come at most once a family, and
 * before its samples. */
static bool expo_comment(struct exposition *e, const char *p, const char *end)
{
	static const char *const types[] = {
		"counter", "gauge", "histogram", "summary", "untyped",
	};

	p = blanks(p + 1, end);
	bool help = end - p > 5 && memcmp(p, "HELP ", 5) == 0;
	bool type = end - p > 5 && memcmp(p, "TYPE ", 5) == 0;
	if (!help && !type)
		return true;
	p = blanks(p + 5, end);
	size_t n = name_len(p, end, true);
	if (n == 0 || (p + n < end && p[n] != ' ' && p[n] != '\t'))
		return t_note("not a metric name");
	struct family *f = family_named(e, p, n);
	if (f == NULL)
		return false;
	if (f->started)
		return t_note("# %s after the samples of %s",
			      help ? "HELP" : "TYPE", f->name);
	const char *rest = blanks(p + n, end);
	if (help) {
		if (f->help)
			return t_note("a second # HELP for %s", f->name);
		for (const char *q = rest; q < end; q++)
			if (*q == '\\' && (++q == end || !strchr("\\n", *q)))
				return t_note("a bad escape in # HELP");
		f->help = true;
		return true;
	}
	if (f->type[0] != '\0')
		return t_note("a second # TYPE for %s", f->name);
	for (size_t i = 0; i < NELEM(types); i++)
		if ((size_t)(end - rest) == strlen(types[i]) &&
		    memcmp(rest, types[i], strlen(types[i])) == 0) {
			snprintf(f->type, sizeof f->type, "%s", types[i]);
			return true;
		}
	return t_note("%s is no metric type", esc(rest, (size_t)(end - rest)));
}

/* Reads the labels at p, `{name="value",...}` (a trailing comma
 * allowed), and appends them to key in one spelling, {a="x",b="y"}.
 * Returns the byte after the `}`, or NULL with a note. */
static const char *expo_labels(const char *p, const char *end, char *key,
			       size_t cap)
{
	size_t len = strlen(key);
	const char *sep = "";

	len += (size_t)snprintf(key + len, cap - len, "{");
	for (p++;; sep = ",") {
		p = blanks(p, end);
		if (p < end && *p == '}')
			break;
		size_t n = name_len(p, end, false);
		const char *name = p, *value;

		p = blanks(p + n, end);
		if (n == 0 || p == end || *p++ != '=' ||
		    (p = blanks(p, end)) == end || *p++ != '"')
			return t_note("a bad label"), NULL;
		for (value = p; p < end && *p != '"'; p++)
			if (*p == '\\' && (++p == end || !strchr("\\\"n", *p)))
				return t_note("a bad escape in a label"), NULL;
		if (p == end)
			return t_note("a label value without its end"), NULL;
		if (len >= cap)
			return t_note("labels too long"), NULL;
		len += (size_t)snprintf(key + len, cap - len,
					"%s%.*s=\"%.*s\"", sep, (int)n, name,
					(int)(p - value), value);
		p = blanks(p + 1, end);
		if (p < end && *p == '}')
			break;
		if (p == end || *p++ != ',')
			return t_note("expected , or } in the labels"), NULL;
	}
	if (len + 2 > cap)
		return t_note("labels too long"), NULL;
	strcat(key, "}");
	return p + 1;
}

/* A sample's value: a Go float, as Prometheus reads it, +Inf, -Inf or
 * NaN. */
static bool expo_value(const char *p, size_t n, double *v)
{
	char text[64], *end;

	if (n == 0 || n >= sizeof text)
		return false;
	snprintf(text, sizeof text, "%.*s", (int)n, p);
	if (strcmp(text, "+Inf") == 0 || strcmp(text, "-Inf") == 0) {
		*v = text[0] == '+' ? INFINITY : -INFINITY;
		return true;
	}
	if (strcmp(text, "NaN") == 0) {
		*v = NAN;
		return true;
	}
	if (strspn(text, "0123456789.eE+-") != n)
		return false;
	*v = strtod(text, &end);
	return *end == '\0';
}

/* A sample line: `name{labels} value [timestamp]`, in a family declared
 * before it by # HELP and # TYPE, whose samples all come together. */
static bool expo_sample(struct exposition *e, const char *p, const char *end)
{
	char key[128];
	size_t n = name_len(p, end, true);
	double v;

	if (n == 0 || n >= sizeof key)
		return t_note("no metric name at the start");
	struct family *f = family_of(e, p, n);
	if (f == NULL || !f->help || f->type[0] == '\0')
		return t_note("no # HELP and # TYPE before it");
	if (f->ended)
		return t_note("the samples of %s are not together", f->name);
	if (e->cur != NULL && e->cur != f)
		e->cur->ended = true;
	e->cur = f;
	f->started = true;
	snprintf(key, sizeof key, "%.*s", (int)n, p);
	p += n;
	if (p < end && *p == '{' &&
	    (p = expo_labels(p, end, key, sizeof key)) == NULL)
		return false;
	const char *value = blanks(p, end);
	if (value == p)
		return t_note("no blank before the value");
	for (p = value; p < end && *p != ' ' && *p != '\t'; p++)
		;
	if (!expo_value(value, (size_t)(p - value), &v))
		return t_note("the value is no number");
	if (strcmp(f->type, "counter") == 0 && !(v >= 0))
		return t_note("a counter below zero");
	p = blanks(p, end);
	if (p < end && *p == '-')	/* an optional timestamp, in ms */
		p++;
	while (p < end && isdigit((unsigned char)*p))
		p++;
	if (p != end)
		return t_note("bytes after the value");
	return counters_add(e->k, key, v);
}

/* A histogram's buckets, in order: `le` rising, counts cumulative, the
 * last `le="+Inf"` and equal to _count; and a _sum.  (One series: the
 * server's histograms have no other labels.) */
static bool expo_histogram(const struct counters *k, const char *name)
{
	char bucket[128], sum[128], count[128];
	double le = -INFINITY, total = 0;
	const double *c, *s;

	snprintf(bucket, sizeof bucket, "%s_bucket{le=\"", name);
	snprintf(sum, sizeof sum, "%s_sum", name);
	snprintf(count, sizeof count, "%s_count", name);
	for (int i = 0; i < k->n; i++) {
		const char *key = k->e[i].key;
		double b;

		if (strncmp(key, bucket, strlen(bucket)) != 0)
			continue;
		key += strlen(bucket);
		if (!expo_value(key, strlen(key) - 2, &b) || isnan(b) ||
		    strcmp(key + strlen(key) - 2, "\"}") != 0)
			return t_note("%s: le is no number", k->e[i].key);
		if (b <= le || k->e[i].v < total)
			return t_note("%s=%g after le=%g with %g: not rising "
				      "and cumulative", k->e[i].key,
				      k->e[i].v, le, total);
		le = b;
		total = k->e[i].v;
	}
	if (le != INFINITY)
		return t_note("%s has no last bucket le=\"+Inf\"", name);
	if ((c = counters_get(k, count)) == NULL ||
	    (s = counters_get(k, sum)) == NULL)
		return t_note("%s has no _count or no _sum", name);
	if (*c != total)
		return t_note("%s is %g, but the +Inf bucket %g", count, *c,
			      total);
	return true;
}

/* Reads a /metrics body into k, checking it against the Prometheus text
 * exposition format 0.0.4: each line a comment or `name{labels} value`,
 * names valid, every family declared by # HELP and # TYPE with a known
 * type before its samples, which come together; histograms whole; the
 * last line ended. */
static bool metrics_parse(const struct response *r, struct counters *k)
{
	struct exposition e = { .k = k };
	const char *body = r->body, *end = body + r->body_len;

	k->n = 0;
	if (r->body_len == 0 || end[-1] != '\n')
		return t_note("/metrics does not end with a newline: %s",
			      esc(body, r->body_len));
	for (const char *p = body, *eol; p < end; p = eol + 1) {
		eol = memchr(p, '\n', (size_t)(end - p));
		if (p != eol && !(*p == '#' ? expo_comment(&e, p, eol)
					    : expo_sample(&e, p, eol)))
			return t_prefix("/metrics line %s: ",
					esc(p, (size_t)(eol - p))), false;
	}
	for (int i = 0; i < e.nf; i++)
		if (strcmp(e.f[i].type, "histogram") == 0 &&
		    !expo_histogram(k, e.f[i].name))
			return t_prefix("/metrics: "), false;
	return true;
}

/* --------------------------------------------------- the event stream -- */

/* Event k of n as docs/protocol.md section 2 has it, as a glob() pattern. */
static void es_event(char *pat, size_t cap, int k, int n)
{
	snprintf(pat, cap, "id: %d\ndata: {\"user\":\"sse\",\"text\":"
		 "\"Hello, world! (%d/%d)\",\"timestamp\":#}\n\n", k, k, n);
}

/* Is r the EventSource stream of events first + 1 .. n, interval ms
 * apart?  Its headers; `retry:` and `:ok` at once, then each event in a
 * chunk of its own, on the drift-free schedule counted from sent_ms (when
 * the request was complete) and with a timestamp between wall0 (before
 * the request) and its arrival; then the zero-size chunk, and no more. */
static bool es_stream_ok(const struct response *r, int first, int n,
			 int interval, int64_t sent_ms, int64_t wall0)
{
	static const char *const head[] = {
		"Content-Type: text/event-stream", "Cache-Control: no-cache",
		"Transfer-Encoding: chunked", "Connection: keep-alive",
		"!Content-Length", NULL,
	};
	long long prev = wall0 - EARLY_MS;
	char pat[256];

	if (!status_is(r, 200) || !headers_ok(r, head))
		return false;
	if (r->nch != n - first + 1)
		return t_note("%d chunks, expected %d (retry and :ok, then "
			      "events %d to %d): %s", r->nch, n - first + 1,
			      first + 1, n, esc(r->body, r->body_len));
	for (int j = 0; j < r->nch; j++) {
		const struct chunk *ch = &r->ch[j];
		const char *p = r->body + ch->off;
		long long at = (long long)(ch->mono_ms - sent_ms), t;

		if (j == 0)
			snprintf(pat, sizeof pat, "retry: %d\n:ok\n\n",
				 interval);
		else
			es_event(pat, sizeof pat, first + j, n);
		if (!glob(pat, p, ch->len))
			return t_note("chunk %d is %s, expected %s", j,
				      esc(p, ch->len), escs(pat));
		if (at < j * interval - EARLY_MS ||
		    at > j * interval + LATE_MS)
			return t_note("chunk %d (%s) came %lld ms after the "
				      "request, expected %d (-%d, +%d)", j,
				      esc(p, ch->len), at, j * interval,
				      EARLY_MS, LATE_MS);
		if (j == 0)
			continue;
		t = strtoll(strstr(p, "\"timestamp\":") + 12, NULL, 10);
		if (t < prev || t > ch->wall_ms + EARLY_MS)
			return t_note("event %d's timestamp %lld is not "
				      "between the one before (or the request)"
				      ", %lld, and its arrival, %lld",
				      first + j, t, prev,
				      (long long)ch->wall_ms);
		prev = t;
	}
	if (!r->zero_chunk)
		return t_note("no zero-size chunk at the end");
	return true;
}

/* 204 No Content, which tells an EventSource to stop: no body, and no
 * header that would announce one; the connection stays open. */
static bool no_content_ok(const struct response *r)
{
	static const char *const head[] = {
		"!Content-Length", "!Transfer-Encoding", "!Content-Type",
		"Connection: keep-alive", NULL,
	};

	if (strcmp(r->status_line, "HTTP/1.1 204 No Content") != 0)
		return t_note("status line %s, expected HTTP/1.1 204 No "
			      "Content; body: %s", escs(r->status_line),
			      esc(r->body, r->body_len));
	return headers_ok(r, head);
}

/* ------------------------------------------------------------ tables -- */

/* Sends each request on a connection of its own, all at once, and reads
 * one answer to each (only its head to a HEAD).  Returns the exchanges,
 * for rows_free(). */
static struct xfer *rows_run(int port, char *const reqs[], int n)
{
	struct xfer *x = calloc((size_t)n, sizeof *x);

	for (int i = 0; i < n; i++) {
		x[i].out = reqs[i];
		x[i].out_len = strlen(reqs[i]);
		x[i].head_only = strncmp(reqs[i], "HEAD ", 5) == 0;
	}
	xfer_run(x, n, port, mono_ms() + 5000);	/* the longest row: 1 s */
	return x;
}

static void rows_free(struct xfer *x, char *reqs[], int n)
{
	for (int i = 0; i < n; i++) {
		xfer_free(&x[i]);
		free(reqs[i]);
	}
	free(x);
}

/* Did the exchange end with a whole answer, and nothing after it? */
static bool answered(const struct xfer *x)
{
	if (x->err[0] != '\0')
		return t_note("%s", x->err);
	if (x->c.len > 0)
		return t_note("bytes after the answer: %s",
			      esc(x->c.in, x->c.len));
	return true;
}

/* Prints the line of a table row; a FAIL names the row and its reason. */
static void row_result(const char *table, const char *name, int line,
		       const char *why)
{
	char full[128];

	snprintf(full, sizeof full, "%s/%s", table, name);
	t_prefix("routes.c:%d (%s): ", line, why);
	t_result(full, true);
}

/* ------------------------------------------------ GET /message-stream -- */

#define NO_CONTENT (-1)		/* first: 204 instead of a stream */
#define LEI(k) "Last-Event-ID: " k "\r\n"

/* One GET /message-stream: the answer is the events first + 1 .. n, or
 * 204.  Besides these rows, every k from 0 to EVENTS - 1 is asked for by
 * the header and by the query. */
struct es_row {
	int line;
	const char *name;
	const char *target;	/* /message-stream and its query */
	const char *headers;	/* more header lines, or NULL */
	int first, n, interval;
	const char *why;
};

#define E(name, target, headers, first, why) \
	{ __LINE__, name, target, headers, first, EVENTS, INTERVAL_MS, why }
#define MS "/message-stream"

static const struct es_row es_rows[] = {
	E("fresh", MS, NULL, 0, "a first visit: retry and :ok, then every "
	  "event with its id"),
	E("header-at-end", MS, LEI("5"), NO_CONTENT,
	  "every event seen: 204 stops the EventSource"),
	E("header-past-end", MS, LEI("6"), NO_CONTENT, "past the end: 204"),
	E("header-huge", MS, LEI("99999999999999999999"), NO_CONTENT,
	  "a decimal number past any counter is past the end too"),
	E("query-at-end", MS "?lastEventId=5", NULL, NO_CONTENT,
	  "the query means what the header means"),
	E("query-past-end", MS "?lastEventId=7", NULL, NO_CONTENT,
	  "past the end: 204"),
	E("query-at-shaped-end", MS "?n=2&lastEventId=2", NULL, NO_CONTENT,
	  "N is the stream's own n= when it has one"),
	E("header-leading-zero", MS, LEI("03"), 3, "03 is the number 3"),
	E("header-blanks", MS, "Last-Event-ID: \t2 \t\r\n", 2,
	  "blanks around a field value are not part of it (RFC 9110 5.5)"),
	E("header-name-case", MS, "last-event-id: 2\r\n", 2,
	  "field names are case-insensitive"),
	E("header-not-a-number", MS, LEI("abc"), 0,
	  "not a decimal number: as if absent (docs/protocol.md section 2)"),
	E("header-negative", MS, LEI("-1"), 0, "no sign in a decimal number"),
	E("header-fraction", MS, LEI("2.5"), 0, "no fraction either"),
	E("header-hex", MS, LEI("0x2"), 0, "nor hex"),
	E("header-empty", MS, LEI(""), 0, "an empty id is no id"),
	E("query-not-a-number", MS "?lastEventId=two", NULL, 0,
	  "not a decimal number: as if absent"),
	E("query-empty", MS "?lastEventId=", NULL, 0, "an empty id is no id"),
	E("query-among-others", MS "?a=b&lastEventId=2&c=d", NULL, 2,
	  "the parameter may come anywhere in the query"),
	E("both-header-wins", MS "?lastEventId=1", LEI("3"), 3,
	  "the header wins when both are present (docs/protocol.md section 2)"),
	E("both-header-wins-lower", MS "?lastEventId=4", LEI("1"), 1,
	  "the header wins even when it says less"),
	E("both-header-at-end", MS "?lastEventId=1", LEI("5"), NO_CONTENT,
	  "the header wins, and says the end"),
	E("both-bad-header", MS "?lastEventId=2", LEI("x"), 2,
	  "a header that is no number is absent: the query counts"),
	/* Intervals longer than LATE_MS: an event an interval off its
	 * schedule cannot pass for a late one. */
	{ __LINE__, "fresh-on-schedule", MS "?n=2&interval=400", NULL, 0, 2,
	  400, "event k is due k intervals after the request "
	  "(docs/protocol.md section 2)" },
	{ __LINE__, "resume-on-schedule", MS "?n=3&interval=400&lastEventId=1",
	  NULL, 1, 3, 400, "resumed, event 2 is due one interval after the "
	  "request, in the shape asked for: (2/3), (3/3), retry 400" },
};

/* A row made for one k: its name and strings live beside it. */
struct es_case {
	struct es_row row;
	char name[48], target[64], headers[48];
};

/* Every row of es_rows, and for each k < EVENTS one by Last-Event-ID and
 * one by ?lastEventId=.  Returns how many, in cases (which has room). */
static int es_cases(struct es_case *cases)
{
	int n = 0;

	for (int k = 0; k < EVENTS; k++) {
		struct es_case *h = &cases[n++], *q = &cases[n++];

		snprintf(h->name, sizeof h->name, "resume-header-%d", k);
		snprintf(h->headers, sizeof h->headers, LEI("%d"), k);
		h->row = (struct es_row)E(h->name, MS, h->headers, k,
			"Last-Event-ID: k resumes at event k + 1, due an "
			"interval after the request (docs/protocol.md "
			"section 2)");
		snprintf(q->name, sizeof q->name, "resume-query-%d", k);
		snprintf(q->target, sizeof q->target, MS "?lastEventId=%d", k);
		q->row = (struct es_row)E(q->name, q->target, NULL, k,
			"?lastEventId=k means what Last-Event-ID: k means");
	}
	for (size_t i = 0; i < NELEM(es_rows); i++)
		cases[n++].row = es_rows[i];
	return n;
}

/* Is the answer to the row's request what the row expects? */
static bool es_check(const struct es_row *row, const struct xfer *x)
{
	if (!answered(x))
		return false;
	if (row->first == NO_CONTENT)
		return no_content_ok(&x->r);
	return es_stream_ok(&x->r, row->first, row->n, row->interval,
			    x->sent_ms, x->wall0);
}

static void run_es_table(int port)
{
	struct es_case cases[2 * EVENTS + NELEM(es_rows)];
	char *reqs[NELEM(cases)] = { NULL };
	int n = es_cases(cases);

	for (int i = 0; i < n; i++) {
		char line[128];

		snprintf(line, sizeof line, "GET %s", cases[i].row.target);
		reqs[i] = request(line, cases[i].row.headers);
	}
	struct xfer *x = rows_run(port, reqs, n);
	for (int i = 0; i < n; i++) {
		const struct es_row *row = &cases[i].row;

		es_check(row, &x[i]);
		row_result("es", row->name, row->line, row->why);
	}
	rows_free(x, reqs, n);
}

/* ---------------------------------------------------- the other routes -- */

/* What a route answers with, besides its status and headers. */
enum body {
	NO_BODY,	/* nothing (what HEAD, 204 and 405 to HEAD get) */
	PAGE,		/* the demo page */
	STATS,		/* /stats: JSON with every documented key */
	METRICS,	/* /metrics: valid Prometheus text */
	JSON_ERROR,	/* {"error":"..."} */
};

struct route_row {
	int line;
	const char *name;
	const char *request;	/* the method and the target */
	int status;
	const char *allow;	/* the Allow list it must be, or NULL */
	enum body body;
	const char *says;	/* a word the body must hold, or NULL */
	const char *want[5];	/* header specs for headers_ok() */
	const char *why;
};

#define R(...) { __LINE__, __VA_ARGS__ }
#define HTML "Content-Type: text/html; charset=utf-8", \
	"Content-Encoding: gzip", "Vary: Accept-Encoding"
#define JSON "Content-Type: application/json; charset=utf-8"
#define PROMETHEUS "Content-Type: text/plain; version=0.0.4*"
#define LENGTH "Content-Length: #"
#define STREAM_HEAD "Content-Type: text/event-stream", \
	"Transfer-Encoding: chunked", "!Content-Length"

static const struct route_row route_rows[] = {
	R("page", "GET /", 200, NULL, PAGE, NULL, { HTML, LENGTH },
	  "the demo page, its length known (docs/protocol.md section 3)"),
	R("page-query", "GET /?x=1", 200, NULL, PAGE, NULL, { HTML, LENGTH },
	  "a query is not part of the path"),
	R("page-absolute-form", "GET http://t/", 200, NULL, PAGE, NULL,
	  { HTML, LENGTH }, "the absolute form names the same path"),
	R("stats", "GET /stats", 200, NULL, STATS, NULL, { JSON, LENGTH },
	  "the counters as JSON, with every documented key"),
	R("metrics", "GET /metrics", 200, NULL, METRICS, NULL,
	  { PROMETHEUS, LENGTH }, "the counters as Prometheus text"),
	R("head-page", "HEAD /", 200, NULL, NO_BODY, NULL, { HTML, LENGTH },
	  "HEAD: GET's headers, no body"),
	R("head-stats", "HEAD /stats", 200, NULL, NO_BODY, NULL,
	  { JSON, LENGTH }, "HEAD: GET's headers, no body"),
	R("head-metrics", "HEAD /metrics", 200, NULL, NO_BODY, NULL,
	  { PROMETHEUS, LENGTH }, "HEAD: GET's headers, no body"),
	R("head-message-stream", "HEAD " MS, 200, NULL, NO_BODY, NULL,
	  { STREAM_HEAD }, "HEAD: GET's headers, no body, no stream"),
	R("stats-stream-0", "GET /stats?stream=0", 200, NULL, STATS, NULL,
	  { JSON, LENGTH }, "stream=0 does not ask for the stream"),
	R("head-stats-stream", "HEAD /stats?stream", 200, NULL, NO_BODY, NULL,
	  { STREAM_HEAD }, "HEAD: the stream's headers, no body, no stream"),
	R("options-api", "OPTIONS /api", 204, "POST, OPTIONS", NO_BODY, NULL,
	  { "!Content-Length", "!Access-Control-*" },
	  "204 with Allow, and no CORS without --cors "
	  "(docs/protocol.md section 3)"),
	R("options-message-stream", "OPTIONS " MS, 204, "GET, HEAD, OPTIONS",
	  NO_BODY, NULL, { "!Content-Length", "!Access-Control-*" },
	  "204 with Allow, and no CORS without --cors "
	  "(docs/protocol.md section 3)"),
	R("options-asterisk", "OPTIONS *", 204, "GET, HEAD, POST, OPTIONS",
	  NO_BODY, NULL, { "!Content-Length" },
	  "OPTIONS * asks about the server: every method it knows"),
	R("404", "GET /nope", 404, NULL, JSON_ERROR, NULL, { NULL },
	  "an unknown path (docs/protocol.md section 3)"),
	R("404-post", "POST /nope", 404, NULL, JSON_ERROR, NULL, { NULL },
	  "an unknown path, whatever the method"),
	R("404-head", "HEAD /nope", 404, NULL, JSON_ERROR, NULL, { NULL },
	  "an unknown path, to HEAD: the headers alone"),
	R("404-options", "OPTIONS /nope", 404, NULL, JSON_ERROR, NULL,
	  { NULL }, "an unknown path, whatever the method"),
	R("404-unknown-method", "BREW /nope", 404, NULL, JSON_ERROR, NULL,
	  { NULL }, "an unknown path, whatever the method"),
	R("404-trailing-slash", "GET /stats/", 404, NULL, JSON_ERROR, NULL,
	  { NULL }, "paths compare whole"),
	R("404-case", "GET /Stats", 404, NULL, JSON_ERROR, NULL, { NULL },
	  "paths are case-sensitive (RFC 3986 6.2.2.1)"),
	R("404-below", "GET " MS "/1", 404, NULL, JSON_ERROR, NULL, { NULL },
	  "nothing lies below a route"),
	R("404-index-html", "GET /index.html", 404, NULL, JSON_ERROR, NULL,
	  { NULL }, "the page is at / only"),
	R("404-double-slash", "GET //stats", 404, NULL, JSON_ERROR, NULL,
	  { NULL }, "//stats is not /stats"),
	R("400-interval", "GET " MS "?interval=abc", 400, NULL, JSON_ERROR,
	  "interval", { NULL },
	  "a bad shape is a 400 naming the parameter "
	  "(docs/protocol.md section 6)"),
	R("400-size", "GET " MS "?size=1", 400, NULL, JSON_ERROR, "size",
	  { NULL }, "a size below the event's own is a 400 naming size"),
};

/* The routes and the methods each takes (docs/protocol.md section 3): a
 * GET route takes HEAD too, and the two that a page on another origin uses
 * take OPTIONS.  Any other method on the path is a 405 with this Allow. */
static const struct {
	const char *path, *allow;
} known_routes[] = {
	{ "/", "GET, HEAD" },
	{ "/api", "POST, OPTIONS" },
	{ MS, "GET, HEAD, OPTIONS" },
	{ "/stats", "GET, HEAD" },
	{ "/metrics", "GET, HEAD" },
};

/* "get" differs from GET: methods are case-sensitive (RFC 9110 9.1). */
static const char *const methods[] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "BREW",
	"get",
};

/* Is method one of the list allow?  Case counts, as in methods. */
static bool takes(const char *allow, const char *method)
{
	char item[16][32];
	int n = list_split(allow, item, 16);

	for (int i = 0; i < n; i++)
		if (strcmp(item[i], method) == 0)
			return true;
	return false;
}

/* A row made for one route and method: its strings live beside it. */
struct route_case {
	struct route_row row;
	char name[64], line[64];
};

/* Every row of route_rows, and a 405 row for each route and each method
 * it does not take.  Returns how many, in cases (which has room). */
static int route_cases(struct route_case *cases)
{
	int n = 0;

	for (size_t i = 0; i < NELEM(route_rows); i++)
		cases[n++].row = route_rows[i];
	for (size_t i = 0; i < NELEM(known_routes); i++)
		for (size_t m = 0; m < NELEM(methods); m++) {
			struct route_case *c = &cases[n];

			if (takes(known_routes[i].allow, methods[m]))
				continue;
			c->row = (struct route_row)R(c->name, c->line, 405,
				known_routes[i].allow, JSON_ERROR, NULL,
				{ NULL }, "a known path, a method it does not "
				"take: 405 with Allow (docs/protocol.md "
				"section 3)");
			snprintf(c->name, sizeof c->name, "405-%s-%s",
				 methods[m], known_routes[i].path);
			snprintf(c->line, sizeof c->line, "%s %s", methods[m],
				 known_routes[i].path);
			n++;
		}
	return n;
}

/* Checks one answer of the route table. */
static void route_check(const struct route_row *row, const struct response *r)
{
	struct counters k;

	if (!status_is(r, row->status) || !headers_ok(r, row->want))
		return;
	if (row->allow != NULL)
		list_header(r, "Allow", row->allow, true);
	if (row->says != NULL && !r->head_only &&
	    memmem(r->body, r->body_len, row->says, strlen(row->says)) == NULL)
		t_note("the body does not name %s: %s", row->says,
		       esc(r->body, r->body_len));
	switch (row->body) {
	case NO_BODY:
		if (r->body_len > 0)
			t_note("a body: %s", esc(r->body, r->body_len));
		break;
	case PAGE:
		page_ok(r);
		break;
	case STATS:
		stats_parse(r, &k);
		break;
	case METRICS:
		metrics_parse(r, &k);
		break;
	case JSON_ERROR:
		json_error_ok(r);
		break;
	}
}

static void run_route_table(int port)
{
	struct route_case cases[NELEM(route_rows) +
				NELEM(known_routes) * NELEM(methods)];
	char *reqs[NELEM(cases)] = { NULL };
	int n = route_cases(cases);

	for (int i = 0; i < n; i++)
		reqs[i] = request(cases[i].row.request, NULL);
	struct xfer *x = rows_run(port, reqs, n);
	for (int i = 0; i < n; i++) {
		if (answered(&x[i]))
			route_check(&cases[i].row, &x[i].r);
		row_result("route", cases[i].row.name, cases[i].row.line,
			   cases[i].row.why);
	}
	rows_free(x, reqs, n);
}

/* -------------------------------------------------------------- CORS -- */

/* How a server was started. */
enum cors { CORS_OFF, CORS_ORIGIN, CORS_ANY };

/* One kind of answer, asked from a page on ORIGIN.  A preflight row names
 * the method the page means to use. */
struct cors_row {
	int line;
	const char *name;
	const char *request;	/* the method and the target */
	const char *headers;	/* beside Origin, or NULL */
	const char *preflight;	/* the method asked about, or NULL */
	const char *why;
};

#define C(...) { __LINE__, __VA_ARGS__ }
#define ASKS(method, headers) "Access-Control-Request-Method: " method \
	"\r\nAccess-Control-Request-Headers: " headers "\r\n"

static const struct cors_row cors_rows[] = {
	C("preflight-api", "OPTIONS /api", ASKS("POST", "content-type"),
	  "POST", "a page's fetch() POST /api with a JSON body"),
	C("preflight-message-stream", "OPTIONS " MS,
	  ASKS("GET", "last-event-id"), "GET",
	  "a page's EventSource, resuming with Last-Event-ID"),
	C("page", "GET /", NULL, NULL, "every answer"),
	C("stats", "GET /stats", NULL, NULL, "every answer"),
	C("metrics", "GET /metrics", NULL, NULL, "every answer"),
	C("stream", "GET " MS "?n=2", NULL, NULL, "every answer, streams too"),
	C("no-content", "GET " MS, LEI("5"), NULL,
	  "every answer, the 204 that ends an EventSource too"),
	C("api-plain", "POST /api", NULL, NULL, "every answer"),
	C("api-stream", "POST /api?stream=1&n=1", NULL, NULL,
	  "every answer, streams too"),
	C("head", "HEAD /", NULL, NULL, "every answer"),
	C("options-asterisk", "OPTIONS *", NULL, NULL, "every answer"),
	C("404", "GET /nope", NULL, NULL, "every answer, errors too"),
	C("405", "PUT /stats", NULL, NULL, "every answer, errors too"),
	C("400-refused", "GET /", "X-A : b\r\n", NULL,
	  "every answer, even a refusal (README: \"every answer\")"),
};

/* With CORS off no Access-Control-* header at all (docs/protocol.md
 * section 3: off by default); on, the origin on every answer, and on a
 * preflight the method asked about and both headers a page sends. */
static void cors_check(const struct cors_row *row, enum cors mode,
		       const struct response *r)
{
	static const char *const off[] = { "!Access-Control-*", NULL };
	static const char *const max_age[] = {
		"Access-Control-Max-Age: #", NULL,
	};

	if (row->preflight != NULL &&
	    (!status_is(r, 204) ||
	     !list_header(r, "Allow", row->preflight, false)))
		return;
	if (mode == CORS_OFF) {
		headers_ok(r, off);
		return;
	}
	if (!header_equals(r, "Access-Control-Allow-Origin",
			   mode == CORS_ORIGIN ? ORIGIN : "*") ||
	    row->preflight == NULL)
		return;
	if (list_header(r, "Access-Control-Allow-Methods", row->preflight,
			false) &&
	    list_header(r, "Access-Control-Allow-Headers",
			"Content-Type, Last-Event-ID", false))
		headers_ok(r, max_age);
}

static void run_cors_table(int port, enum cors mode)
{
	static const char *const table[] = {
		[CORS_OFF] = "cors/off", [CORS_ORIGIN] = "cors/origin",
		[CORS_ANY] = "cors/any",
	};
	char *reqs[NELEM(cors_rows)];
	int n = (int)NELEM(cors_rows);

	for (int i = 0; i < n; i++) {
		char headers[512];

		snprintf(headers, sizeof headers, "Origin: " ORIGIN "\r\n%s",
			 cors_rows[i].headers ? cors_rows[i].headers : "");
		reqs[i] = request(cors_rows[i].request, headers);
	}
	struct xfer *x = rows_run(port, reqs, n);
	for (int i = 0; i < n; i++) {
		if (answered(&x[i]))
			cors_check(&cors_rows[i], mode, &x[i].r);
		row_result(table[mode], cors_rows[i].name, cors_rows[i].line,
			   cors_rows[i].why);
	}
	rows_free(x, reqs, n);
}

/* -------------------------------------------------- one client at once -- */

/* Sends req on c and reads its answer into r, which a HEAD answer is when
 * head.  Returns false with a note. */
static bool ask(struct client *c, const char *req, struct response *r,
		bool head)
{
	int64_t deadline = mono_ms() + EVENTS * INTERVAL_MS + 3000;

	resp_init(r);
	r->head_only = head;
	return client_send(c, req, strlen(req), 0, deadline) == 0 &&
	       client_more(c, r, deadline, 0) == 0;
}

/* ask() for `line` with the header lines in headers (or NULL). */
static bool ask_line(struct client *c, const char *line, const char *headers,
		     struct response *r)
{
	char *req = request(line, headers);
	bool ok = ask(c, req, r, strncmp(line, "HEAD ", 5) == 0);

	free(req);
	return ok;
}

/* GET /stats or /metrics on c, read into k.  False with a note. */
static bool counters_ask(struct client *c, const char *path,
			 struct counters *k)
{
	struct response r = { 0 };
	char line[64];
	bool ok;

	snprintf(line, sizeof line, "GET %s", path);
	ok = ask_line(c, line, NULL, &r) && status_is(&r, 200) &&
	     (strcmp(path, "/stats") == 0 ? stats_parse(&r, k)
					  : metrics_parse(&r, k));
	resp_free(&r);
	return ok;
}

/* Does the HEAD answer h have the status line and the headers of the GET
 * answer g, in their order and with their values?  Date may have moved
 * on a second, and with varies (the counters have moved) the length. */
static bool same_head(const struct response *g, const struct response *h,
		      bool varies)
{
	if (strcmp(g->status_line, h->status_line) != 0 || g->nh != h->nh)
		return t_note("HEAD: %s; GET: %s", head_text(h), head_text(g));
	for (int i = 0; i < g->nh; i++) {
		bool free_value = strcasecmp(g->h[i].name, "Date") == 0 ||
			(varies && strcasecmp(g->h[i].name,
					      "Content-Length") == 0);

		if (strcasecmp(g->h[i].name, h->h[i].name) != 0 ||
		    (!free_value && strcmp(g->h[i].value, h->h[i].value) != 0))
			return t_note("HEAD has %s: %s where GET has %s: %s",
				      h->h[i].name, escs(h->h[i].value),
				      g->h[i].name, escs(g->h[i].value));
	}
	return true;
}

/* HEAD, then GET, of one target on one connection: the same status and
 * headers, and no body to HEAD (a body would spoil the GET's answer). */
static const struct {
	const char *name, *target, *headers;
	bool varies;
} head_rows[] = {
	{ "head/page", "/", NULL, false },
	{ "head/stats", "/stats", NULL, true },
	{ "head/metrics", "/metrics", NULL, true },
	{ "head/message-stream", MS, NULL, false },
	{ "head/message-stream-204", MS, LEI("5"), false },
	{ "head/message-stream-400", MS "?n=0", NULL, false },
	{ "head/404", "/nope", NULL, false },
	{ "head/405", "/api", NULL, false },
};

static void test_head(int port)
{
	struct response g = { 0 }, h = { 0 };

	for (size_t i = 0; i < NELEM(head_rows); i++) {
		struct client c;
		char head[128], get[128];

		snprintf(head, sizeof head, "HEAD %s", head_rows[i].target);
		snprintf(get, sizeof get, "GET %s", head_rows[i].target);
		if (client_open(&c, port) == 0) {
			if (ask_line(&c, head, head_rows[i].headers, &h) &&
			    ask_line(&c, get, head_rows[i].headers, &g))
				same_head(&g, &h, head_rows[i].varies);
			client_close(&c);
		}
		t_result(head_rows[i].name, true);
	}
	resp_free(&g);
	resp_free(&h);
}

/* HEAD /message-stream on a fresh server: the headers come, and then
 * /stats on the same connection counts no stream begun, none running, no
 * event sent. */
static void test_head_no_stream(void)
{
	struct server s;
	struct client c;
	struct response r = { 0 };
	struct counters k;

	if (!start(&s, "head/message-stream-starts-no-stream", NULL))
		return;
	if (client_open(&c, s.port) == 0) {
		if (ask_line(&c, "HEAD " MS, NULL, &r) && status_is(&r, 200) &&
		    counters_ask(&c, "/stats", &k))
			counters_expect(&k, "streams=0 events=0 "
					"streams_completed=0 requests=2 "
					"responses.200=1", "responses.");
		client_close(&c);
	}
	resp_free(&r);
	t_result("head/message-stream-starts-no-stream", true);
	server_stop(&s, 2000);
}

/* Accept-Encoding and the page: gzip when the client takes it, or says
 * nothing (then any coding will do, RFC 9110 section 12.5.3), else 406. */
static const struct {
	const char *name, *headers;
	int status;
} page_codings[] = {
	{ "page/gzip-without-accept-encoding", NULL, 200 },
	{ "page/gzip-as-browsers-ask", "Accept-Encoding: gzip, deflate, br, "
	  "zstd\r\n", 200 },
	{ "page/gzip-any-case", "Accept-Encoding: br;q=1.0, GZip;q=0.5\r\n",
	  200 },
	{ "page/gzip-by-asterisk", "Accept-Encoding: *\r\n", 200 },
	{ "page/406-identity", "Accept-Encoding: identity\r\n", 406 },
	{ "page/406-gzip-q0", "Accept-Encoding: gzip;q=0, br\r\n", 406 },
	{ "page/406-gzip-q0.000", "Accept-Encoding: gzip; Q=0.000\r\n", 406 },
};

/* The page served is web/index.min.html, byte for byte once gunzipped:
 * web/index.html as make minifies it (web/minify.awk, checked by
 * tests/minify.sh), found from this program's own
 * place in the source tree (tests/routes), whichever server binary is
 * under test.  Then the answers to each Accept-Encoding. */
static void test_page_file(int port)
{
	static char file[1 << 16], page[1 << 16];
	char path[4096];
	struct client c;
	struct response r = { 0 };
	ssize_t n = readlink("/proc/self/exe", path, sizeof path - 32);
	char *slash = n > 0 ? memrchr(path, '/', (size_t)n) : NULL;
	FILE *f = NULL;
	size_t len = 0;

	if (slash != NULL) {
		strcpy(slash, "/../web/index.min.html");
		f = fopen(path, "rb");
	}
	if (f != NULL) {
		len = fread(file, 1, sizeof file, f);
		fclose(f);
	}
	if (f == NULL)
		t_note("cannot read web/index.min.html beside this program");
	else if (client_open(&c, port) == 0) {
		if (ask_line(&c, "GET /", NULL, &r) && status_is(&r, 200) &&
		    (n = gunzip(&r, page, sizeof page)) >= 0 &&
		    ((size_t)n != len || memcmp(page, file, len) != 0))
			t_note("the page (%zd bytes gunzipped) differs from %s "
			       "(%zu bytes)", n, path, len);
		client_close(&c);
	}
	t_result("page/is-web-index-min-html", true);
	for (size_t i = 0; i < NELEM(page_codings); i++) {
		static const char *const gzipped[] = {
			"Content-Encoding: gzip", "Vary: Accept-Encoding",
			NULL,
		};
		if (client_open(&c, port) == 0) {
			if (ask_line(&c, "GET /", page_codings[i].headers, &r) &&
			    status_is(&r, page_codings[i].status) &&
			    headers_ok(&r, gzipped + (r.status == 406)))
				r.status == 406 ? json_error_ok(&r) : page_ok(&r);
			client_close(&c);
		}
		t_result(page_codings[i].name, true);
	}
	resp_free(&r);
}

/* ---------------------------------------------------------- counting -- */

/* Prints a counting step's line; once one has failed, those after it do
 * not run (they would count from a wrong start) and fail too. */
static bool step_result(const char *name, bool *ok)
{
	if (!*ok)
		t_note("not run: a step before it failed");
	*ok = t_result(name, *ok);
	return *ok;
}

/* /stats on a fresh server, from its first request: a stream in progress
 * beside a second connection, the stream done, a resumed stream, a 204,
 * a 404 and a 405; each time every counter as the requests so far make
 * it.  Both connections stay open, so that `connections` does not wait
 * on the server noticing a close. */
static void test_stats(void)
{
	struct server s;
	struct client c = { .fd = -1 }, c2 = { .fd = -1 };
	struct response r = { 0 };
	struct counters k;
	bool ok;

	if (!start(&s, "stats/server", NULL))
		return;
	ok = client_open(&c, s.port) == 0 && counters_ask(&c, "/stats", &k) &&
	     counters_expect(&k, "connections=1 streams=0 requests=1 events=0 "
			     "streams_completed=0 streams_aborted=0 "
			     "streams_dropped=0 streams_stalled=0 accepted=1 "
			     "shed=0 responses=0", "responses.") &&
	     (*counters_get(&k, "uptime_seconds") < 5 ||
	      t_note("uptime_seconds is %g on a fresh server",
		     *counters_get(&k, "uptime_seconds")));
	if (step_result("stats/fresh-server", &ok)) {
		char *req = request("GET " MS, NULL);

		resp_init(&r);
		ok = client_send(&c, req, strlen(req), 0, mono_ms() + 2000) == 0
		     && client_more(&c, &r, mono_ms() + 2000, 1) == 0 &&
		     client_open(&c2, s.port) == 0 &&
		     counters_ask(&c2, "/stats", &k) &&
		     counters_expect(&k, "connections=2 streams=1 requests=3 "
				     "events=0 streams_completed=0 accepted=2 "
				     "responses.200=1", "responses.");
		free(req);
	}
	if (step_result("stats/during-stream", &ok))
		ok = client_more(&c, &r, mono_ms() + 3000, 0) == 0 &&
		     counters_ask(&c2, "/stats", &k) &&
		     counters_expect(&k, "connections=2 streams=0 requests=4 "
				     "events=5 streams_completed=1 "
				     "streams_aborted=0 responses.200=3",
				     "responses.");
	if (step_result("stats/after-stream", &ok))
		ok = ask_line(&c, "GET " MS, LEI("3"), &r) &&
		     ask_line(&c, "GET " MS, LEI("5"), &r) &&
		     ask_line(&c, "GET /nope", NULL, &r) &&
		     ask_line(&c, "POST /stats", NULL, &r) &&
		     counters_ask(&c2, "/stats", &k) &&
		     counters_expect(&k, "connections=2 streams=0 requests=9 "
				     "events=7 streams_completed=2 "
				     "streams_aborted=0 responses.200=5 "
				     "responses.204=1 responses.404=1 "
				     "responses.405=1", "responses.");
	step_result("stats/after-resume-204-404-405", &ok);
	client_close(&c);
	client_close(&c2);
	resp_free(&r);
	server_stop(&s, 2000);
}

/* The events in /stats's lateness histogram: its buckets added up. */
static double lateness_count(const struct counters *k)
{
	double n = 0;

	for (int i = 0; i < k->n; i++)
		if (strncmp(k->e[i].key, "lateness_us.", 12) == 0)
			n += k->e[i].v;
	return n;
}

/* Is chunk j of r the event `data: {counters}`, within the schedule: due
 * j - 1 seconds after sent_ms (chunk 0 is retry and :ok)?  Its counters
 * go into k. */
static bool stats_event(const struct response *r, int j, int64_t sent_ms,
			struct counters *k)
{
	const struct chunk *ch = &r->ch[j];
	const char *p = r->body + ch->off;
	struct response data = { .body = (char *)p + 6, .body_len = ch->len - 8 };
	long long at = (long long)(ch->mono_ms - sent_ms);

	if (r->nch <= j)
		return t_note("%d chunks, expected at least %d: %s", r->nch,
			      j + 1, esc(r->body, r->body_len));
	if (ch->len < 8 || memcmp(p, "data: ", 6) != 0 ||
	    memcmp(p + ch->len - 2, "\n\n", 2) != 0 ||
	    memchr(p, '\n', ch->len - 2) != NULL)
		return t_note("chunk %d is %s, expected one data: line",
			      j, esc(p, ch->len));
	if (at < (j - 1) * 1000 - EARLY_MS || at > (j - 1) * 1000 + LATE_MS)
		return t_note("chunk %d came %lld ms after the request, "
			      "expected %d (-%d, +%d)", j, at, (j - 1) * 1000,
			      EARLY_MS, LATE_MS);
	return stats_parse(&data, k);
}

/* GET /stats as a stream on a fresh server: the counters at once, then a
 * second later, with a whole /message-stream run in between on another
 * connection; the same by ?stream; then SIGTERM ends both streams with
 * their next event, and the server exits. */
static void test_stats_stream(void)
{
	static const char *const head[] = {
		"Content-Type: text/event-stream", "Cache-Control: no-cache",
		"Transfer-Encoding: chunked", "!Content-Length", NULL,
	};
	struct server s;
	struct client c = { .fd = -1 }, c2 = { .fd = -1 }, c3 = { .fd = -1 };
	struct response r = { 0 }, r2 = { 0 }, r3 = { 0 };
	struct counters k;
	char *req = request("GET /stats", "Accept: text/html, "
			    "Text/Event-Stream; q=0.9\r\n");
	int64_t sent = mono_ms();
	bool ok;

	if (!start(&s, "stats/stream-server", NULL)) {
		free(req);
		return;
	}
	ok = client_open(&c, s.port) == 0 &&
	     client_send(&c, req, strlen(req), 0, sent + 2000) == 0 &&
	     client_more(&c, &r, sent + 2000, 2) == 0 &&
	     status_is(&r, 200) && headers_ok(&r, head) &&
	     (glob("retry: 1000\n:ok\n\n", r.body, r.ch[0].len) ||
	      t_note("chunk 0 is %s", esc(r.body, r.ch[0].len))) &&
	     stats_event(&r, 1, sent, &k) &&
	     counters_expect(&k, "connections=1 streams=0 requests=1 "
			     "events=0 responses=0", "responses.");
	free(req);
	if (step_result("stats/stream-by-accept", &ok)) {
		/* A whole stream, 250 ms, before the next second's counters. */
		ok = client_open(&c2, s.port) == 0 &&
		     ask_line(&c2, "GET " MS, NULL, &r2) &&
		     client_more(&c, &r, sent + 1000 + LATE_MS + 500, 3) == 0 &&
		     stats_event(&r, 2, sent, &k) &&
		     counters_expect(&k, "connections=2 streams=0 requests=2 "
				     "events=5 streams_completed=1 "
				     "streams_aborted=0 responses.200=1 "
				     "lateness_us=14", "responses.") &&
		     (lateness_count(&k) == 5 ||
		      t_note("lateness_us holds %g events, expected 5",
			     lateness_count(&k)));
	}
	if (step_result("stats/stream-each-second", &ok)) {
		req = request("GET /stats?stream", NULL);
		sent = mono_ms();
		ok = client_open(&c3, s.port) == 0 &&
		     client_send(&c3, req, strlen(req), 0, sent + 2000) == 0 &&
		     client_more(&c3, &r3, sent + 2000, 2) == 0 &&
		     status_is(&r3, 200) && headers_ok(&r3, head) &&
		     stats_event(&r3, 1, sent, &k) &&
		     counters_expect(&k, "connections=3 streams=0 requests=3",
				     NULL);
		free(req);
	}
	if (step_result("stats/stream-by-query", &ok)) {
		/* The drain ends each stream after its next event. */
		kill(s.pid, SIGTERM);
		ok = client_more(&c, &r, mono_ms() + 1000 + LATE_MS, 0) == 0 &&
		     client_more(&c3, &r3, mono_ms() + 1000 + LATE_MS, 0) == 0 &&
		     (server_wait(&s, 2000) == 0 ||
		      t_note("the server did not exit 0 after SIGTERM"));
	}
	step_result("stats/stream-ends-on-sigterm", &ok);
	client_close(&c);
	client_close(&c2);
	client_close(&c3);
	resp_free(&r);
	resp_free(&r2);
	resp_free(&r3);
	server_stop(&s, 2000);
}

/* /metrics on a fresh server, then after two streams (five events and,
 * resumed after 2, three more), a 404 and a /stats: each counter as
 * those make it, and the lateness histogram holding every event. */
static void test_metrics(void)
{
	struct server s;
	struct client c = { .fd = -1 };
	struct response r = { 0 };
	struct counters k;
	bool ok;

	if (!start(&s, "metrics/server", NULL))
		return;
	ok = client_open(&c, s.port) == 0 &&
	     counters_ask(&c, "/metrics", &k) &&
	     counters_expect(&k, "sse_connections=1 sse_streams=0 "
			     "sse_requests_total=1 sse_events_total=0 "
			     "sse_streams_completed_total=0 "
			     "sse_connections_accepted_total=1 "
			     "sse_event_lateness_seconds_count=0 "
			     "sse_event_lateness_seconds_sum=0",
			     "sse_responses_total{");
	if (step_result("metrics/fresh-server", &ok))
		ok = ask_line(&c, "GET " MS, NULL, &r) &&
		     ask_line(&c, "GET " MS, LEI("2"), &r) &&
		     ask_line(&c, "GET /nope", NULL, &r) &&
		     ask_line(&c, "GET /stats", NULL, &r) &&
		     counters_ask(&c, "/metrics", &k) &&
		     counters_expect(&k, "sse_connections=1 sse_streams=0 "
				     "sse_requests_total=6 sse_events_total=8 "
				     "sse_streams_completed_total=2 "
				     "sse_streams_aborted_total=0 "
				     "sse_responses_total{code=\"200\"}=4 "
				     "sse_responses_total{code=\"404\"}=1 "
				     "sse_event_lateness_seconds_count=8 "
				     "sse_event_lateness_seconds_bucket"
				     "{le=\"+Inf\"}=8", "sse_responses_total{");
	if (ok) {
		/* Eight events, none late by more than this test allows. */
		double sum = *counters_get(&k, "sse_event_lateness_seconds_sum");

		if (sum < 0 || sum > 8 * LATE_MS / 1000.0)
			ok = t_note("sse_event_lateness_seconds_sum is %g s "
				    "for 8 events", sum);
	}
	step_result("metrics/after-two-streams", &ok);
	client_close(&c);
	resp_free(&r);
	server_stop(&s, 2000);
}

/* ------------------------------------------------------------- main -- */

int main(int argc, char **argv)
{
	struct server s;

	if (argc > 1)
		sse = argv[1];
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);

	if (start(&s, "server", NULL)) {
		run_es_table(s.port);
		run_route_table(s.port);
		run_cors_table(s.port, CORS_OFF);
		test_head(s.port);
		test_page_file(s.port);
		server_stop(&s, 2000);
	}
	if (start(&s, "cors/origin/server", ORIGIN)) {
		run_cors_table(s.port, CORS_ORIGIN);
		server_stop(&s, 2000);
	}
	if (start(&s, "cors/any/server", "*")) {
		run_cors_table(s.port, CORS_ANY);
		server_stop(&s, 2000);
	}
	test_head_no_stream();
	test_stats();
	test_stats_stream();
	test_metrics();
	fprintf(stderr, "routes: %d passed, %d failed, %d skipped\n", t_passed,
		t_failed, t_skipped);
	return t_failed ? 1 : 0;
}
