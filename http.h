/* http.h - an incremental HTTP/1.1 request parser and response helpers.
 *
 * The caller owns the bytes: it reads from the socket into its own buffer
 * and calls the parser again each time more have arrived.  The parser only
 * looks (the one exception: a chunked body is decoded in place), keeps its
 * place in struct http_request, and answers with one of three names.  What
 * it finds it reports as pointer and length into the caller's buffer, which
 * must therefore neither move nor change below the parsed part while the
 * request is in use.  No allocation, no sockets, no clock, no globals.
 *
 * One request at a time:
 *
 *	http_request_init(&req, &limits);
 *	http_parse_head(&req, buf, len)   until HTTP_DONE or HTTP_ERROR
 *	http_parse_body(&req, buf, len)   until HTTP_DONE or HTTP_ERROR
 *	... answer it; req.end bytes of buf belong to this request and what
 *	follows them is the next (pipelined) request ...
 *
 * Errors are sticky: once a call returns HTTP_ERROR every later call does
 * too, and req.status and req.reason say what to answer.
 *
 * For the answer there are the reason phrases, chunk-size lines and the
 * Date header's value.  The last three functions are not HTTP at all:
 * http_format() (snprintf() for the few conversions the server uses),
 * http_addr_text() (an address as the log writes it) and http_log_time()
 * (the access log's time).  The server uses them in place of snprintf(),
 * inet_ntop() and gmtime_r(), which would bring most of a static build's
 * size from libc.  They live here because this module has no sockets,
 * clock or globals, so tests/test_http.c can check each against the libc
 * function it replaces, over every case the server meets.
 */
#ifndef SSE_HTTP_H
#define SSE_HTTP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum http_result {
	HTTP_MORE,	/* all input used; call again with more */
	HTTP_DONE,	/* this part of the request is complete */
	HTTP_ERROR,	/* answer req.status, then close the connection */
};

enum http_method {
	HTTP_OTHER,	/* a well-formed method we do not know; see req.method_name */
	HTTP_GET,
	HTTP_HEAD,
	HTTP_POST,
	HTTP_OPTIONS,
};

/* A piece of the caller's buffer: not NUL-terminated. */
struct http_span {
	const char *p;
	size_t len;
};

struct http_header {
	struct http_span name, value;	/* value without surrounding blanks */
};

#define HTTP_MAX_HEADERS 64
#define HTTP_MAX_METHOD 32	/* longer is no method anyone uses: 400 */

struct http_limits {
	size_t max_target;	/* longest request target: else 414 */
	size_t max_head;	/* longest request line plus headers: else 431 */
	size_t max_body;	/* longest (decoded) body: else 413 */
};

struct http_request {
	const struct http_limits *limits;

	/* The request line, valid once http_parse_head() returned HTTP_DONE. */
	enum http_method method;
	struct http_span method_name;
	struct http_span target;	/* as sent */
	struct http_span path;		/* target without the query */
	struct http_span query;		/* after '?', empty if none */
	int minor;			/* 0 for HTTP/1.0, 1 for HTTP/1.1 */

	/* Every header as sent, in order. */
	struct http_header headers[HTTP_MAX_HEADERS];
	size_t n_headers;

	/* What the headers say, read once by the parser. */
	struct http_span content_type;	/* empty if absent */
	uint64_t content_length;	/* 0 if absent or chunked */
	bool chunked;			/* Transfer-Encoding: chunked */
	bool keep_alive;		/* the client allows another request */
	bool expect_continue;		/* it waits for 100 Continue */
	size_t head_len;		/* bytes of request line and headers */

	/* The body, valid once http_parse_body() returned HTTP_DONE. */
	char *body;		/* decoded, inside the caller's buffer */
	size_t body_len;
	size_t end;		/* bytes of the buffer this request used */

	/* The error, once a call returned HTTP_ERROR. */
	int status;		/* 400, 413, 414, 417, 431, 501 or 505 */
	const char *reason;	/* a short phrase for the log and the body */

	/* Progress between calls: how far the parser has looked. */
	bool close;		/* head: "Connection: close" was seen */
	size_t start;		/* head: where the request line starts */
	size_t target_at;	/* head: where its target starts, or 0 */
	size_t line_pos;	/* head: how far the target has been read */
	bool line_ok;		/* head: the target ended within bounds */
	size_t scanned;		/* head: bytes searched for its end */
	int body_state;		/* body: where the chunked decoder stands */
	size_t raw;		/* body: offset of the next undecoded byte */
	uint64_t chunk_left;	/* body: bytes left in the current chunk */
};

/* Prepares req for a new request parsed under the given limits, which must
 * outlive it.  Nothing else needs freeing afterwards. */
void http_request_init(struct http_request *req,
		       const struct http_limits *limits);

/* Parses the request line and headers at the start of buf[0..len).
 *   HTTP_MORE:  the head is not complete yet; len may grow by any amount
 *               (bytes already seen are not searched again).
 *   HTTP_DONE:  the fields above are set; the body starts at head_len.
 *               (One field may point outside buf: an absolute-form
 *               target with no path, "http://h", has the path "/".)
 *   HTTP_ERROR: status is 400, 413 (by Content-Length), 414, 417 (an
 *               Expect other than 100-continue), 431, 501 or 505.
 * The head must end within limits->max_head bytes, or 431. */
enum http_result http_parse_head(struct http_request *req,
				 const char *buf, size_t len);

/* Reads the body that follows the head in buf[0..len): Content-Length
 * bytes, or chunks decoded in place (their extensions and any trailers
 * skipped), or nothing.  Call it only after http_parse_head() returned
 * HTTP_DONE, with the same buf.
 *   HTTP_MORE:  more bytes are needed.
 *   HTTP_DONE:  body, body_len and end are set.
 *   HTTP_ERROR: status is 400 (bad chunk framing) or 413. */
enum http_result http_parse_body(struct http_request *req,
				 char *buf, size_t len);

/* The first header called name (compared without case), or NULL. */
const struct http_header *http_header(const struct http_request *req,
				      const char *name);

/* Whether span s equals the NUL-terminated string lit, ignoring ASCII case. */
bool http_span_eq(struct http_span s, const char *lit);

/* The reason phrase for a status code ("OK", "Not Found", ...). */
const char *http_reason(int status);

/* Formats a chunk's size line, "<hex>\r\n", into dst (at least 18 bytes,
 * not NUL-terminated) and returns its length. */
size_t http_chunk_head(char *dst, size_t size);

/* Formats like snprintf(), for the conversions the server uses and no
 * others: %s, %d, %u, %llu and %zu, each with an optional width, padded
 * with spaces or, after a 0 flag, with zeros ("%02d").  Writes at most
 * cap - 1 bytes and a NUL (nothing if cap is 0), and returns the length
 * written; unlike snprintf(), a text cut short returns its cut length.
 * At any other conversion it stops, because it cannot know the type of
 * that argument or of those after it. */
size_t http_format(char *dst, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
size_t http_vformat(char *dst, size_t cap, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* Writes an address for the log, given its bytes in network order: 4
 * for IPv4 ("192.0.2.1"), 16 for IPv6 in RFC 5952's canonical form
 * ("2001:db8::1", "::ffff:192.0.2.1").  Otherwise as http_format(): at
 * most cap - 1 bytes and a NUL, the length returned; 46 bytes
 * (INET6_ADDRSTRLEN) hold any address. */
size_t http_addr_text(char *dst, size_t cap, const void *addr, size_t len);

/* The value of hex digit c (0-9, a-f, A-F), or -1 if it is not one. */
int http_hex_value(char c);

/* Reads a numeric address as inet_pton() does, IPv4 ("192.0.2.1") or
 * IPv6 ("2001:db8::1", "::ffff:192.0.2.1"), into addr (16 bytes of room)
 * in network order.  Returns its length, 4 or 16, or 0 if text is
 * neither, addr then undefined. */
size_t http_addr_parse(const char *text, void *addr);

/* The Date header's value for a Unix time, formatted only when the second
 * changes: "Tue, 24 Nov 2026 15:33:27 GMT". */
struct http_date {
	time_t sec;
	char text[64];
};
const char *http_date(struct http_date *d, time_t now);

/* The time as the Common Log Format writes it, in UTC, into dst (cap
 * bytes, at least 27 for the whole of it): "24/Nov/2026:15:33:27 +0000". */
void http_log_time(char *dst, size_t cap, time_t t);

#endif
