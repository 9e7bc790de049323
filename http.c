/* http.c - an incremental HTTP/1.1 request parser and response helpers.
 *
 * The idea: a request head is short, so the parser first finds where it
 * ends, remembering how far it has searched, and only then parses it, once,
 * in one pass.  A client that sends a byte at a time therefore costs linear
 * work, and the line and header code never has to stop in the middle of a
 * token.  The body is different: it may be long and arrive in pieces, so
 * it has a resumable decoder that keeps its state in the request.
 *
 * Strictness follows RFC 9112: one framing per request, or an error.  A
 * message that two parsers could read two ways (both Content-Length and
 * Transfer-Encoding, two lengths, folded or oddly spaced headers, a bare
 * CR) is refused with 400, so that no proxy in front of the server can
 * disagree with it about where a request ends.
 *
 * What this file leaves to the server: sockets, buffers, timeouts, what to
 * answer.  It has no globals, reads no clock and allocates nothing.
 *
 * The file reads in the order of a request: the head, the body, then what
 * an answer needs (reason phrases, chunk-size lines, the Date header).
 * The last sections are not HTTP: a small formatter, addresses as text
 * and the log's time, with the calendar arithmetic that the Date header
 * shares.  The server calls them instead of snprintf(), inet_ntop() and
 * gmtime_r(), which in a static build bring stdio, locales and time zones
 * from libc for a few lines of output.  They live here, not in sse.c,
 * because this file has no sockets, clock or globals: tests/test_http.c
 * links it alone and checks each against the libc function it replaces
 * (http_log_time() and http_date() on every day of five centuries).
 */
#include "http.h"

#include <string.h>

/* RFC 9110 5.6.2: the characters of a token. */
static bool is_tchar(unsigned char c)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";

	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z'))
		return true;
	return c != '\0' && strchr(extra, c) != NULL;
}

int http_hex_value(char ch)
{
	unsigned char c = (unsigned char)ch;

	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;	/* 'A' to 'a' */
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

bool http_span_eq(struct http_span s, const char *lit)
{
	size_t n = strlen(lit);

	if (s.len != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)s.p[i]) != lower((unsigned char)lit[i]))
			return false;
	return true;
}

static enum http_result fail(struct http_request *req, int status,
			     const char *reason)
{
	req->status = status;
	req->reason = reason;
	return HTTP_ERROR;
}

void http_request_init(struct http_request *req,
		       const struct http_limits *limits)
{
	memset(req, 0, sizeof(*req));
	req->limits = limits;
}

/* ---- the head ---------------------------------------------------------- */

/* Where the head ends, just past its empty line; 0 if it has not arrived
 * yet, or if a line starts with a bare CR (then req->status is set: no
 * more bytes can mend that).  Searching resumes where the last call
 * stopped, less two bytes, for an end marker split across calls. */
static size_t find_head_end(struct http_request *req, const char *buf,
			    size_t start, size_t len)
{
	size_t i = req->scanned > start + 2 ? req->scanned - 2 : start;

	for (; i < len; i++) {
		const char *lf = memchr(buf + i, '\n', len - i);

		if (lf == NULL)
			break;
		i = (size_t)(lf - buf);
		if (i + 1 < len && buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 >= len)
			break;	/* the marker may still be arriving */
		if (buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
		if (buf[i + 1] == '\r') {
			fail(req, 400, "bare CR in the header section");
			return 0;
		}
	}
	req->scanned = len;
	return 0;
}

/* Reads a line ending (CRLF or a bare LF) at *pos. */
static bool eat_eol(const char *buf, size_t *pos)
{
	if (buf[*pos] == '\r')
		(*pos)++;
	if (buf[*pos] != '\n')
		return false;
	(*pos)++;
	return true;
}

static enum http_method method_of(struct http_span m)
{
	static const struct {
		const char *name;
		enum http_method method;
	} known[] = {
		{ "GET", HTTP_GET },
		{ "HEAD", HTTP_HEAD },
		{ "POST", HTTP_POST },
		{ "OPTIONS", HTTP_OPTIONS },
	};

	/* Methods are case-sensitive (RFC 9110 9.1). */
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (m.len == strlen(known[i].name) &&
		    memcmp(m.p, known[i].name, m.len) == 0)
			return known[i].method;
	return HTTP_OTHER;
}

/* Splits the target into path and query.  Origin form "/p?q" is the usual
 * one; a server must also take the absolute form "http://host/p?q"
 * (RFC 9112 3.2.2), and OPTIONS may ask about "*".  The absolute form's
 * authority must not be empty (RFC 9110 4.2.1) nor hold userinfo (4.2.4),
 * so that no hop routes "http://a@b/" by a and another by b. */
static bool split_target(struct http_request *req)
{
	const char *p = req->target.p, *end = p + req->target.len;
	const char *q;

	if (req->target.len == 1 && *p == '*') {
		req->path = req->target;
		return req->method == HTTP_OPTIONS;
	}
	if (*p != '/') {
		size_t n = 0;

		if (req->target.len > 7 &&
		    http_span_eq((struct http_span){ p, 7 }, "http://"))
			n = 7;
		else if (req->target.len > 8 &&
			 http_span_eq((struct http_span){ p, 8 }, "https://"))
			n = 8;
		else
			return false;
		p += n;
		while (p < end && *p != '/' && *p != '?')
			p++;
		if (memchr(req->target.p, '#', req->target.len) != NULL)
			return false;	/* no fragment in a request target */
		if (p == req->target.p + n ||
		    memchr(req->target.p + n, '@', (size_t)(p - req->target.p)
			   - n) != NULL)
			return false;
		if (p == end || *p == '?') {
			/* An empty path is "/" (RFC 9110 4.2.3). */
			req->path.p = "/";
			req->path.len = 1;
			if (p < end) {
				req->query.p = p + 1;
				req->query.len = (size_t)(end - p - 1);
			}
			return true;
		}
	}
	q = memchr(p, '?', (size_t)(end - p));
	req->path.p = p;
	req->path.len = (size_t)((q ? q : end) - p);
	if (q != NULL) {
		req->query.p = q + 1;
		req->query.len = (size_t)(end - q - 1);
	}
	return memchr(req->target.p, '#', req->target.len) == NULL;
}

/* method SP request-target SP HTTP-version CRLF, from *pos; the head
 * ends at end, so every scan below stops at a LF by then. */
static enum http_result parse_request_line(struct http_request *req,
					   const char *buf, size_t *pos,
					   size_t end)
{
	size_t i = *pos;
	const char *v;

	req->method_name.p = buf + i;
	while (is_tchar((unsigned char)buf[i]))
		i++;
	req->method_name.len = (size_t)(buf + i - req->method_name.p);
	if (req->method_name.len == 0 || buf[i++] != ' ')
		return fail(req, 400, "malformed request line");
	req->method = method_of(req->method_name);

	req->target.p = buf + i;
	while ((unsigned char)buf[i] > ' ' && (unsigned char)buf[i] < 0x7f)
		i++;
	req->target.len = (size_t)(buf + i - req->target.p);
	if (req->target.len > req->limits->max_target)
		return fail(req, 414, "request target too long");
	if (req->target.len == 0 || buf[i++] != ' ')
		return fail(req, 400, "malformed request line");

	v = buf + i;
	if (end - i < 9 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' ||
	    v[6] != '.' || v[7] < '0' || v[7] > '9')
		return fail(req, 400, "malformed request line");
	i += 8;
	if (!eat_eol(buf, &i))
		return fail(req, 400, "malformed request line");
	if (v[5] != '1')
		return fail(req, 505, "HTTP version not supported");
	/* RFC 9110 2.5: HTTP/1.2 and up are answered as the highest minor
	 * version of 1 that the server speaks. */
	req->minor = v[7] == '0' ? 0 : 1;
	if (!split_target(req))
		return fail(req, 400, "malformed request target");
	*pos = i;
	return HTTP_DONE;
}

/* Calls fn for each element of a comma-separated list (RFC 9110 5.6.1),
 * blanks trimmed, empty elements skipped; stops at the first false. */
static bool each_element(struct http_span list,
			 bool (*fn)(struct http_request *, struct http_span),
			 struct http_request *req)
{
	const char *p = list.p, *end = list.p + list.len;

	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *e = comma ? comma : end;
		struct http_span el;

		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		el.p = p;
		while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		el.len = (size_t)(e - p);
		/* cppcheck-suppress knownConditionTrueFalse ; it is not: p < e
		 * when the element has anything but blanks */
		if (el.len > 0 && !fn(req, el))
			return false;
		p = comma ? comma + 1 : end;
	}
	return true;
}

/* "close" anywhere wins over "keep-alive" anywhere. */
static bool connection_option(struct http_request *req, struct http_span el)
{
	if (http_span_eq(el, "close"))
		req->close = true;
	else if (http_span_eq(el, "keep-alive"))
		req->keep_alive = true;
	return true;
}

/* Only "chunked" is a coding we can take, and only once (RFC 9112 6.1);
 * anything else is answered 501 by the caller. */
static bool transfer_coding(struct http_request *req, struct http_span el)
{
	if (!http_span_eq(el, "chunked") || req->chunked) {
		req->status = req->chunked ? 400 : 501;
		return false;
	}
	req->chunked = true;
	return true;
}

static bool parse_length(struct http_span v, uint64_t *out)
{
	uint64_t n = 0;

	if (v.len == 0)
		return false;
	for (size_t i = 0; i < v.len; i++) {
		unsigned d = (unsigned char)v.p[i] - '0';

		if (d > 9 || n > (UINT64_MAX - d) / 10)
			return false;
		n = n * 10 + d;
	}
	*out = n;
	return true;
}

/* RFC 9112 3.2: Host is uri-host [ ":" port ] (or empty): the characters
 * of a registered name or an IP literal, no blanks, no userinfo. */
static bool host_valid(struct http_span v)
{
	static const char extra[] = "-._~%!$&'()*+,;=:[]";

	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.p[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z') || strchr(extra, c) != NULL) ||
		    c == '\0')
			return false;
	}
	return true;
}

/* Reads what the server needs from one header; counts Host and lengths. */
static enum http_result interpret(struct http_request *req,
				  const struct http_header *h,
				  unsigned *hosts, unsigned *lengths)
{
	uint64_t n;

	if (http_span_eq(h->name, "host")) {
		if (!host_valid(h->value))
			return fail(req, 400, "invalid Host");
		(*hosts)++;
	} else if (http_span_eq(h->name, "content-length")) {
		if (!parse_length(h->value, &n) ||
		    (*lengths > 0 && n != req->content_length))
			return fail(req, 400, "bad Content-Length");
		req->content_length = n;
		(*lengths)++;
	} else if (http_span_eq(h->name, "transfer-encoding")) {
		if (!each_element(h->value, transfer_coding, req) ||
		    !req->chunked)
			return fail(req, req->status == 501 ? 501 : 400,
				    req->status == 501
				    ? "unsupported Transfer-Encoding"
				    : "bad Transfer-Encoding");
	} else if (http_span_eq(h->name, "connection")) {
		each_element(h->value, connection_option, req);
	} else if (http_span_eq(h->name, "expect")) {
		if (!http_span_eq(h->value, "100-continue"))
			return fail(req, 417, "unsupported Expect");
		req->expect_continue = true;
	} else if (http_span_eq(h->name, "content-type")) {
		req->content_type = h->value;
	}
	return HTTP_DONE;
}

/* One header line: field-name ":" OWS field-value OWS, from *pos. */
static enum http_result parse_header(struct http_request *req,
				     const char *buf, size_t *pos)
{
	struct http_header *h;
	size_t i = *pos;
	const char *v, *e;

	if (buf[i] == ' ' || buf[i] == '\t')
		return fail(req, 400, "obsolete line folding");
	if (req->n_headers == HTTP_MAX_HEADERS)
		return fail(req, 431, "too many header fields");
	h = &req->headers[req->n_headers];
	h->name.p = buf + i;
	while (is_tchar((unsigned char)buf[i]))
		i++;
	h->name.len = (size_t)(buf + i - h->name.p);
	if (h->name.len == 0 || buf[i++] != ':')
		return fail(req, 400, "malformed header field");

	while (buf[i] == ' ' || buf[i] == '\t')
		i++;
	v = buf + i;
	/* VCHAR, obs-text, SP and HTAB; a CR only just before the LF. */
	for (;; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c == '\n' || (c == '\r' && buf[i + 1] == '\n'))
			break;
		if ((c < ' ' && c != '\t') || c == 0x7f)
			return fail(req, 400, "control byte in header field");
	}
	e = buf + i;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	h->value.p = v;
	h->value.len = (size_t)(e - v);
	eat_eol(buf, &i);
	req->n_headers++;
	*pos = i;
	return HTTP_DONE;
}

/* Parses a complete head, buf[start..end), whose last line is empty. */
static enum http_result parse_complete_head(struct http_request *req,
					    const char *buf, size_t start,
					    size_t end)
{
	unsigned hosts = 0, lengths = 0;
	size_t pos = start;

	if (parse_request_line(req, buf, &pos, end) != HTTP_DONE)
		return HTTP_ERROR;
	req->keep_alive = false;		/* "keep-alive" says so below */
	while (pos < end && buf[pos] != '\r' && buf[pos] != '\n') {
		if (parse_header(req, buf, &pos) != HTTP_DONE ||
		    interpret(req, &req->headers[req->n_headers - 1],
			      &hosts, &lengths) != HTTP_DONE)
			return HTTP_ERROR;
	}
	if (!eat_eol(buf, &pos) || pos != end)
		return fail(req, 400, "bare CR in the header section");

	req->keep_alive = !req->close && (req->minor == 1 || req->keep_alive);
	if (hosts > 1 || (hosts == 0 && req->minor == 1))
		return fail(req, 400, "exactly one Host header is required");
	if (req->chunked && lengths > 0)
		return fail(req, 400, "both Content-Length and "
				      "Transfer-Encoding");
	if (req->chunked && req->minor == 0)
		return fail(req, 400, "Transfer-Encoding in HTTP/1.0");
	if (req->content_length > req->limits->max_body)
		return fail(req, 413, "request body too large");
	if (req->expect_continue && req->minor == 0)
		req->expect_continue = false;	/* RFC 9110 10.1.1 */
	req->head_len = end;
	req->raw = end;
	return HTTP_DONE;
}

/* Before the head is complete, a request line that is already too long
 * for its target earns 414 at once rather than 431 later, and a method
 * longer than any method earns 400.  It reads the line as
 * parse_request_line() will, so that both give the same answer, and
 * remembers how far it has read, so that a client sending a byte at a
 * time costs linear work.  Returns 0, or the status to refuse with. */
static int line_check(struct http_request *req, const char *buf,
		      size_t start, size_t len)
{
	size_t i;

	if (req->line_ok)
		return 0;
	if (req->target_at == 0) {
		for (i = start; i < len && is_tchar((unsigned char)buf[i]); i++)
			if (i - start == HTTP_MAX_METHOD)
				return 400;
		if (i == start || i == len || buf[i] != ' ')
			return 0;	/* parse_request_line() will judge */
		req->target_at = req->line_pos = i + 1;
	}
	for (i = req->line_pos; i < len && (unsigned char)buf[i] > ' ' &&
	     (unsigned char)buf[i] < 0x7f; i++)
		;
	req->line_pos = i;
	if (i - req->target_at > req->limits->max_target)
		return 414;
	req->line_ok = i < len;		/* the target has ended in time */
	return 0;
}

enum http_result http_parse_head(struct http_request *req,
				 const char *buf, size_t len)
{
	size_t max = req->limits->max_head, start = req->start, end;
	int status;

	if (req->status != 0)
		return HTTP_ERROR;
	/* RFC 9112 2.2: empty lines before the request line are ignored,
	 * though they count towards the head's size. */
	while (start < len && (buf[start] == '\n' ||
			       (buf[start] == '\r' && start + 1 < len &&
				buf[start + 1] == '\n')))
		start += buf[start] == '\r' ? 2 : 1;
	req->start = start;
	if (start + 1 < len && buf[start] == '\r')
		return fail(req, 400, "bare CR before the request line");
	/* Each check looks only at what any longer input would show too, so
	 * the answer does not depend on how the bytes were split: the line
	 * first, then the head's end, searched for only within max_head. */
	status = line_check(req, buf, start, len);
	if (status != 0)
		return fail(req, status, status == 414
			    ? "request target too long" : "method too long");
	end = find_head_end(req, buf, start, len < max ? len : max);
	if (req->status != 0)
		return HTTP_ERROR;
	if (end == 0 && len >= max)
		return fail(req, 431, "request header section too large");
	if (end == 0)
		return HTTP_MORE;
	return parse_complete_head(req, buf, start, end);
}

/* ---- the body ---------------------------------------------------------- */

/* Where the chunked decoder stands, in the order the wire brings them.
 * Chunk lines end in CRLF only: RFC 9112 lets a bare LF end the head's
 * lines, not the body's framing, and two parsers that disagree on where a
 * chunk line ends disagree on where the request ends. */
enum {
	CHUNK_SIZE_FIRST,	/* the first hex digit of a size */
	CHUNK_SIZE,		/* more hex digits, or what ends them */
	CHUNK_EXT_START,	/* blanks, then ";" or the CR */
	CHUNK_EXT,		/* "name=value" up to the CR */
	CHUNK_SIZE_LF,		/* the LF of the size line */
	CHUNK_DATA,		/* chunk_left bytes of data */
	CHUNK_DATA_CR,		/* the CRLF after the data */
	CHUNK_DATA_LF,
	CHUNK_TRAILER,		/* a trailer field's first byte, or the CR */
	CHUNK_TRAILER_NAME,	/* its name, up to the colon */
	CHUNK_TRAILER_VALUE,	/* its value, up to the CR */
	CHUNK_TRAILER_LF,
	CHUNK_LAST_LF,		/* the LF of the final empty line */
	CHUNK_DONE,
};

/* Moves to state next if byte c is the one expected, else fails. */
static bool expect_byte(struct http_request *req, unsigned char c,
			unsigned char want, int next)
{
	if (c != want)
		return false;
	req->body_state = next;
	return true;
}

/* Decodes what has arrived of a chunked body, moving the data down over
 * the framing so that it ends up contiguous at buf + head_len.  Trailer
 * fields are checked as header fields are, then dropped. */
static enum http_result decode_chunked(struct http_request *req, char *buf,
				       size_t len)
{
	size_t max = req->limits->max_body;

	while (req->raw < len && req->body_state != CHUNK_DONE) {
		unsigned char c = (unsigned char)buf[req->raw];
		bool ctl = (c < ' ' && c != '\t') || c == 0x7f;
		int d;

		switch (req->body_state) {
		case CHUNK_SIZE_FIRST:
		case CHUNK_SIZE:
			d = http_hex_value((char)c);
			if (d >= 0) {
				if (req->chunk_left > UINT64_MAX >> 4)
					return fail(req, 400,
						    "chunk size overflows");
				req->chunk_left = req->chunk_left * 16 +
						  (uint64_t)d;
				if (req->chunk_left > max - req->body_len)
					return fail(req, 413,
						    "request body too large");
				req->body_state = CHUNK_SIZE;
				break;
			}
			if (req->body_state == CHUNK_SIZE_FIRST)
				return fail(req, 400, "bad chunk size");
			req->body_state = CHUNK_EXT_START;
			continue;	/* look at c again */
		case CHUNK_EXT_START:
			if (c == ' ' || c == '\t')
				break;
			if (c == ';') {
				req->body_state = CHUNK_EXT;
				break;
			}
			if (!expect_byte(req, c, '\r', CHUNK_SIZE_LF))
				return fail(req, 400, "bad chunk size");
			break;
		case CHUNK_EXT:
			if (c == '\r')
				req->body_state = CHUNK_SIZE_LF;
			else if (ctl)
				return fail(req, 400, "bad chunk extension");
			break;
		case CHUNK_SIZE_LF:
			if (!expect_byte(req, c, '\n', req->chunk_left
					 ? CHUNK_DATA : CHUNK_TRAILER))
				return fail(req, 400, "bad chunk size line");
			break;
		case CHUNK_DATA: {
			size_t n = len - req->raw;

			if (n > req->chunk_left)
				n = (size_t)req->chunk_left;
			memmove(buf + req->head_len + req->body_len,
				buf + req->raw, n);
			req->body_len += n;
			req->chunk_left -= n;
			req->raw += n;
			if (req->chunk_left == 0)
				req->body_state = CHUNK_DATA_CR;
			continue;
		}
		case CHUNK_DATA_CR:
			if (!expect_byte(req, c, '\r', CHUNK_DATA_LF))
				return fail(req, 400, "bad chunk framing");
			break;
		case CHUNK_DATA_LF:
			if (!expect_byte(req, c, '\n', CHUNK_SIZE_FIRST))
				return fail(req, 400, "bad chunk framing");
			break;
		case CHUNK_TRAILER:
			if (c == '\r')
				req->body_state = CHUNK_LAST_LF;
			else if (is_tchar(c))
				req->body_state = CHUNK_TRAILER_NAME;
			else
				return fail(req, 400, "malformed trailer field");
			break;
		case CHUNK_TRAILER_NAME:
			if (c == ':')
				req->body_state = CHUNK_TRAILER_VALUE;
			else if (!is_tchar(c))
				return fail(req, 400, "malformed trailer field");
			break;
		case CHUNK_TRAILER_VALUE:
			if (c == '\r')
				req->body_state = CHUNK_TRAILER_LF;
			else if (ctl)
				return fail(req, 400, "control byte in trailer");
			break;
		case CHUNK_TRAILER_LF:
			if (!expect_byte(req, c, '\n', CHUNK_TRAILER))
				return fail(req, 400, "bare CR in trailer");
			break;
		case CHUNK_LAST_LF:
			if (!expect_byte(req, c, '\n', CHUNK_DONE))
				return fail(req, 400, "bad chunk framing");
			break;
		}
		req->raw++;
	}
	return req->body_state == CHUNK_DONE ? HTTP_DONE : HTTP_MORE;
}

enum http_result http_parse_body(struct http_request *req, char *buf,
				 size_t len)
{
	if (req->status != 0)
		return HTTP_ERROR;
	req->body = buf + req->head_len;
	if (req->chunked) {
		if (decode_chunked(req, buf, len) != HTTP_DONE)
			return req->status ? HTTP_ERROR : HTTP_MORE;
		req->end = req->raw;
		return HTTP_DONE;
	}
	if (len - req->head_len < req->content_length)
		return HTTP_MORE;
	req->body_len = (size_t)req->content_length;
	req->end = req->head_len + req->body_len;
	return HTTP_DONE;
}

const struct http_header *http_header(const struct http_request *req,
				      const char *name)
{
	for (size_t i = 0; i < req->n_headers; i++)
		if (http_span_eq(req->headers[i].name, name))
			return &req->headers[i];
	return NULL;
}

/* ---- responses --------------------------------------------------------- */

const char *http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	}
	return "Unknown";
}

size_t http_chunk_head(char *dst, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[16];
	size_t n = 0, len = 0;

	do {
		tmp[n++] = hex[size & 15];
		size >>= 4;
	} while (size != 0);
	while (n > 0)
		dst[len++] = tmp[--n];
	dst[len++] = '\r';
	dst[len++] = '\n';
	return len;
}

/* ---- text for the log and the server's output (not HTTP) --------------- */

/* Where http_vformat() writes: len bytes so far, of room for cap - 1
 * and the NUL. */
struct sink {
	char *p;
	size_t len, cap;
};

static void put(struct sink *s, char c)
{
	if (s->len + 1 < s->cap)
		s->p[s->len++] = c;
}

/* What follows a '%' in a format, as far as http_vformat() knows it. */
struct conversion {
	char pad;			/* ' ', or '0' after a 0 flag */
	size_t width;
	enum { PLAIN, LONG_LONG, SIZE } length;	/* none, ll or z */
	char type;			/* s, d or u; 0 if not ours */
};

/* Reads the conversion that starts at fmt, just after its '%', into c,
 * and returns where the format goes on. */
static const char *conversion_read(const char *fmt, struct conversion *c)
{
	*c = (struct conversion){ .pad = ' ', .length = PLAIN };
	if (*fmt == '0') {
		c->pad = '0';
		fmt++;
	}
	while (*fmt >= '0' && *fmt <= '9')
		c->width = c->width * 10 + (size_t)(*fmt++ - '0');
	if (fmt[0] == 'l' && fmt[1] == 'l') {
		c->length = LONG_LONG;
		fmt += 2;
	} else if (fmt[0] == 'z') {
		c->length = SIZE;
		fmt++;
	}
	if ((*fmt == 's' || *fmt == 'd') && c->length == PLAIN)
		c->type = *fmt;
	else if (*fmt == 'u')
		c->type = 'u';
	return c->type != 0 ? fmt + 1 : fmt;
}

/* Text, right-aligned in the conversion's width. */
static void put_text(struct sink *s, const char *text,
		     const struct conversion *c)
{
	for (size_t len = strlen(text); len < c->width; len++)
		put(s, ' ');
	while (*text != '\0')
		put(s, *text++);
}

/* A number in decimal, right-aligned in the conversion's width as
 * printf() does it: zeros go after the sign, spaces before it. */
static void put_number(struct sink *s, unsigned long long v, bool negative,
		       const struct conversion *c)
{
	char digits[20];		/* 2^64 - 1 has 20 */
	size_t n = 0;

	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	if (negative && c->pad == '0')
		put(s, '-');
	for (size_t len = n + negative; len < c->width; len++)
		put(s, c->pad);
	if (negative && c->pad == ' ')
		put(s, '-');
	while (n > 0)
		put(s, digits[--n]);
}

/* The analyzer takes ap for uninitialised when it follows a call from
 * http_format() (llvm-project issue 40656, a false positive); the NOLINT
 * pair holds exactly the function that reads ap. */
/* NOLINTBEGIN(clang-analyzer-valist.Uninitialized) */
size_t http_vformat(char *dst, size_t cap, const char *fmt, va_list ap)
{
	struct sink s = { dst, 0, cap };
	struct conversion c;

	while (*fmt != '\0') {
		if (*fmt != '%') {
			put(&s, *fmt++);
			continue;
		}
		fmt = conversion_read(fmt + 1, &c);
		if (c.type == 's') {
			put_text(&s, va_arg(ap, const char *), &c);
		} else if (c.type == 'd') {
			long long v = va_arg(ap, int);

			put_number(&s, (unsigned long long)(v < 0 ? -v : v),
				   v < 0, &c);
		} else if (c.type == 'u') {
			put_number(&s, c.length == LONG_LONG
				   ? va_arg(ap, unsigned long long)
				   : c.length == SIZE ? va_arg(ap, size_t)
				   : va_arg(ap, unsigned), false, &c);
		} else {
			/* Not ours: the types of the arguments left are
			 * unknown. */
			break;
		}
	}
	if (cap > 0)
		s.p[s.len] = '\0';
	return s.len;
}
/* NOLINTEND(clang-analyzer-valist.Uninitialized) */

size_t http_format(char *dst, size_t cap, const char *fmt, ...)
{
	va_list ap;
	size_t len;

	va_start(ap, fmt);
	len = http_vformat(dst, cap, fmt, ap);
	va_end(ap);
	return len;
}

/* A group of an IPv6 address in hex, without leading zeros. */
static void put_hex(struct sink *s, unsigned v)
{
	static const char hex[] = "0123456789abcdef";
	int shift = 12;

	while (shift > 0 && v >> shift == 0)
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		put(s, hex[v >> shift & 15]);
}

/* a.b.c.d up to the end of s, each part 0 to 255 in decimal without a
 * leading zero, as inet_pton() reads it. */
static bool addr_v4(const char *s, unsigned char *out)
{
	for (int i = 0; i < 4; i++) {
		unsigned v = 0, d = 0;

		while (d < 4 && s[d] >= '0' && s[d] <= '9')
			v = v * 10 + (unsigned)(s[d++] - '0');
		if (d == 0 || d > 3 || (d > 1 && *s == '0') || v > 255)
			return false;
		out[i] = (unsigned char)v;
		s += d;
		if (*s++ != (i < 3 ? '.' : '\0'))
			return false;
	}
	return true;
}

/* IPv6 (RFC 4291 2.2): eight groups of 1 to 4 hex digits, or fewer and
 * one "::" standing for one or more zero groups; the last two may be
 * written as IPv4.  The groups are read into a, and the ones after the
 * "::" then moved to the end. */
size_t http_addr_parse(const char *s, void *addr)
{
	unsigned char a[16], *out = addr;
	size_t n = 0, gap = SIZE_MAX;		/* bytes read; the "::" */

	if (addr_v4(s, out))
		return 4;
	if (s[0] == ':' && *++s != ':')
		return 0;		/* one ':' cannot begin the text */
	while (*s != '\0') {
		unsigned v = 0, d = 0;

		if (*s == ':') {
			if (gap != SIZE_MAX)
				return 0;	/* a second "::" */
			gap = n;
			if (*++s == '\0')
				break;
		}
		if (n <= 12 && addr_v4(s, a + n)) {
			n += 4;
			break;
		}
		while (d < 5 && http_hex_value(s[d]) >= 0)
			v = v << 4 | (unsigned)http_hex_value(s[d++]);
		if (d == 0 || d > 4 || n == 16)
			return 0;
		a[n++] = (unsigned char)(v >> 8);
		a[n++] = (unsigned char)v;
		s += d;
		if (*s != '\0' && (*s++ != ':' || *s == '\0'))
			return 0;	/* nor end it */
	}
	if (gap == SIZE_MAX ? n != 16 : n > 14)
		return 0;
	if (gap == SIZE_MAX)
		gap = n;
	memset(out, 0, 16);
	memcpy(out, a, gap);
	memcpy(out + 16 - (n - gap), a + gap, n - gap);
	return 16;
}

/* RFC 5952's canonical text: the groups in hex without leading zeros,
 * the longest run of two or more zero groups (the first of equals)
 * written "::", and an IPv4-mapped address's last 32 bits in dotted
 * decimal. */
size_t http_addr_text(char *dst, size_t cap, const void *addr, size_t len)
{
	static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };
	const unsigned char *b = addr;
	struct sink s = { dst, 0, cap };
	size_t run_at = 8, run_len = 1;		/* no run of two yet */
	unsigned group[8];

	if (len == 4)
		return http_format(dst, cap, "%u.%u.%u.%u", b[0], b[1], b[2],
				   b[3]);
	if (memcmp(b, mapped, sizeof(mapped)) == 0)
		return http_format(dst, cap, "::ffff:%u.%u.%u.%u", b[12],
				   b[13], b[14], b[15]);
	for (size_t i = 0; i < 8; i++)
		group[i] = (unsigned)b[2 * i] << 8 | b[2 * i + 1];
	for (size_t i = 0, zeros = 0; i < 8; i++) {
		zeros = group[i] == 0 ? zeros + 1 : 0;
		if (zeros > run_len) {
			run_at = i + 1 - zeros;
			run_len = zeros;
		}
	}
	for (size_t i = 0; i < 8; i++) {
		if (i == run_at) {
			put(&s, ':');
			put(&s, ':');
			i += run_len - 1;
			continue;
		}
		if (i > 0 && i != run_at + run_len)
			put(&s, ':');
		put_hex(&s, group[i]);
	}
	if (cap > 0)
		s.p[s.len] = '\0';
	return s.len;
}

/* ---- dates: the Date header, and the log's time ------------------------ */

static const char day_names[7][4] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
};
static const char month_names[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/* A Unix time's calendar fields in UTC, as struct tm counts them: mon
 * from 0 for January, wday from 0 for Sunday. */
struct civil {
	int year, mon, mday, wday, hour, min, sec;
};

/* The fields of Unix time t, by hand rather than by gmtime_r(), which
 * brings a static build the libc's time zone code for a zone that is
 * always UTC here.  The date is Howard Hinnant's civil_from_days
 * (howardhinnant.github.io/date_algorithms.html): counting years from
 * March puts the leap day last, and every 400 years (146097 days) the
 * calendar repeats. */
static struct civil civil_from_time(time_t t)
{
	int64_t days = t / 86400, secs = t % 86400;
	struct civil c;

	if (secs < 0) {		/* before 1970: the day starts earlier */
		secs += 86400;
		days--;
	}
	c.hour = (int)(secs / 3600);
	c.min = (int)(secs / 60 % 60);
	c.sec = (int)(secs % 60);
	c.wday = (int)((days % 7 + 11) % 7);	/* 1970-01-01: a Thursday */

	int64_t z = days + 719468;		/* from 0000-03-01 */
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;		/* day of era, 0-146096 */
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);	/* 0-365 */
	int64_t mp = (5 * doy + 2) / 153;	/* month from March, 0-11 */

	c.mday = (int)(doy - (153 * mp + 2) / 5 + 1);
	c.mon = (int)(mp < 10 ? mp + 2 : mp - 10);
	c.year = (int)(era * 400 + yoe + (c.mon < 2));
	return c;
}

/* IMF-fixdate, RFC 9110 5.6.7; by hand, so that no locale can change it. */
const char *http_date(struct http_date *d, time_t now)
{
	struct civil c;

	if (d->text[0] != '\0' && d->sec == now)
		return d->text;
	c = civil_from_time(now);
	http_format(d->text, sizeof(d->text),
		    "%s, %02d %s %04d %02d:%02d:%02d GMT", day_names[c.wday],
		    c.mday, month_names[c.mon], c.year, c.hour, c.min, c.sec);
	d->sec = now;
	return d->text;
}

void http_log_time(char *dst, size_t cap, time_t t)
{
	struct civil c = civil_from_time(t);

	http_format(dst, cap, "%02d/%s/%04d:%02d:%02d:%02d +0000", c.mday,
		    month_names[c.mon], c.year, c.hour, c.min, c.sec);
}
