/* test_http.c - table-driven tests of the incremental HTTP/1.1 parser.
 *
 * Each row of the tables below is one request: its bytes (with their
 * length, so that NULs may appear), the result the parser must reach, and
 * for a good request the fields it must report.  tests/rows.c runs every
 * row three ways, as bytes may arrive from a socket: whole; split in two
 * at every offset k (the parser sees buf[0..k), then buf[0..n) of the
 * same, grown buffer); and one byte at a time.  Each run must agree with
 * the row and with the whole run (h2o/picohttpparser test.c).  A run's
 * buffer holds NULs or LFs where the bytes have not arrived yet, so a
 * parser that reads past len errs visibly.  An error must be sticky:
 * asking again gives it again.
 *
 * After the rows come small direct tests of the helpers: http_header(),
 * http_span_eq(), http_reason(), http_chunk_head(), http_format() (against
 * snprintf()), http_addr_text() (against inet_ntop()), http_date() and
 * http_log_time() (also against gmtime_r() over five centuries), and the
 * reuse of one request for pipelined requests.
 *
 * Statuses follow docs/protocol.md section 4; where it is silent, RFC
 * 9112 and RFC 9110 decide, and a comment on the row says so.
 *
 * Output: one line per row or case, "pass NAME" or "FAIL NAME (line N):
 * what differed", the input escaped on the next line; then "N passed, N
 * failed".  The exit status is 1 if any failed.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "rows.h"

static const struct http_limits limits_target8 = {
	.max_target = 8, .max_head = 8192, .max_body = 65536,
};
static const struct http_limits limits_head64 = {
	.max_target = 4096, .max_head = 64, .max_body = 65536,
};
static const struct http_limits limits_body10 = {
	.max_target = 4096, .max_head = 8192, .max_body = 10,
};
static const struct http_limits limits_body_max = {
	.max_target = 4096, .max_head = 8192, .max_body = SIZE_MAX,
};

/* Where size_t has 32 bits (ARM32), SIZE_MAX is itself a body limit that
 * a 64-bit chunk size passes: the answer is then 413, not overflow. */
#if SIZE_MAX < UINT64_MAX
#define HUGE_CHUNK_RESULT	HTTP_ERROR, .status = 413
#define OVERFLOW_STATUS		413
#else
#define HUGE_CHUNK_RESULT	HTTP_MORE
#define OVERFLOW_STATUS		400
#endif

/* One request and what the parser must make of it. */
struct row {
	int line;
	const char *name;
	struct bytes in;
	enum http_result want;		/* at the end of in */
	int status;			/* for HTTP_ERROR; else 0 */
	const struct http_limits *limits;	/* NULL: row_limits_default */

	/* HTTP_DONE, or HTTP_MORE with path set: the head's fields. */
	enum http_method method;
	const char *method_name;	/* NULL: not checked */
	const char *target;		/* NULL: not checked */
	const char *path;
	const char *query;		/* NULL: empty */
	int minor;
	bool keep_alive, chunked, expect_continue;
	uint64_t content_length;
	size_t n_headers;
	const char *hname, *hvalue;	/* a header to look up, or NULL */
	const char *content_type;	/* NULL: not checked */

	/* HTTP_DONE: the decoded body and the bytes used. */
	struct bytes body;		/* { NULL, 0 }: empty */
	size_t end;			/* 0: all of in */
};

/* Requests whose end is checked: what follows them is the next request. */
#define PIPE_POST "POST /api HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n" \
		  "\r\nhello"
#define PIPE_GET "GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
#define PIPE_CHUNKED "POST /api HTTP/1.1\r\nHost: a\r\n" \
		     "Transfer-Encoding: chunked\r\n\r\n" \
		     "5\r\nhello\r\n0\r\n\r\n"

/* Heads that many rows share: a chunked POST, a POST with a length, and
 * a GET with Host and the header lines v. */
#define POST_CHUNKED "POST /api HTTP/1.1\r\nHost: a\r\n" \
		     "Transfer-Encoding: chunked\r\n\r\n"
#define POST_CL(n) "POST /api HTTP/1.1\r\nHost: a\r\nContent-Length: " n \
		   "\r\n\r\n"
#define GET_HOST(v) "GET / HTTP/1.1\r\nHost: a\r\n" v "\r\n"

static const struct row good_rows[] = {
	{ __LINE__, "get", B("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_DONE,
	  .method = HTTP_GET, .target = "/", .path = "/", .minor = 1,
	  .keep_alive = true, .n_headers = 1, .hname = "host",
	  .hvalue = "a" },
	{ __LINE__, "get with query",
	  B("GET /search?q=sse&n=5 HTTP/1.1\r\nHost: example.com\r\n"
	    "User-Agent: t\r\nAccept: */*\r\n\r\n"), HTTP_DONE,
	  .method = HTTP_GET, .target = "/search?q=sse&n=5",
	  .path = "/search", .query = "q=sse&n=5", .minor = 1,
	  .keep_alive = true, .n_headers = 3, .hname = "user-agent",
	  .hvalue = "t" },
	{ __LINE__, "get with empty query",
	  B("GET /x? HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_DONE,
	  .method = HTTP_GET, .path = "/x", .query = "", .minor = 1,
	  .keep_alive = true, .n_headers = 1 },
	{ __LINE__, "get with percent-encoding",
	  B("GET /a%20b?c=%7B HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_DONE,
	  .method = HTTP_GET, .path = "/a%20b", .query = "c=%7B",
	  .minor = 1, .keep_alive = true, .n_headers = 1 },
	{ __LINE__, "head", B("HEAD /stats HTTP/1.1\r\nHost: a\r\n\r\n"),
	  HTTP_DONE, .method = HTTP_HEAD, .method_name = "HEAD",
	  .path = "/stats", .minor = 1, .keep_alive = true,
	  .n_headers = 1 },
	{ __LINE__, "options preflight",
	  B("OPTIONS /api HTTP/1.1\r\nHost: a\r\nOrigin: http://x\r\n"
	    "Access-Control-Request-Method: POST\r\n\r\n"), HTTP_DONE,
	  .method = HTTP_OPTIONS, .path = "/api", .minor = 1,
	  .keep_alive = true, .n_headers = 3,
	  .hname = "access-control-request-method", .hvalue = "POST" },
	/* The asterisk-form of RFC 9112 3.2.4: the path is the target. */
	{ __LINE__, "options asterisk",
	  B("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_DONE,
	  .method = HTTP_OPTIONS, .target = "*", .path = "*", .minor = 1,
	  .keep_alive = true, .n_headers = 1 },
	{ __LINE__, "unknown method PATCH",
	  B("PATCH /api HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_DONE,
	  .method = HTTP_OTHER, .method_name = "PATCH", .path = "/api",
	  .minor = 1, .keep_alive = true, .n_headers = 1 },
	{ __LINE__, "unknown method BREW",
	  B("BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_DONE,
	  .method = HTTP_OTHER, .method_name = "BREW", .path = "/pot",
	  .minor = 1, .keep_alive = true, .n_headers = 1 },
	/* Methods are case-sensitive (RFC 9110 9.1): "get" is not GET. */
	{ __LINE__, "lowercase get is another method",
	  B("get / HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_DONE,
	  .method = HTTP_OTHER, .method_name = "get", .path = "/",
	  .minor = 1, .keep_alive = true, .n_headers = 1 },
	{ __LINE__, "absolute-form target",
	  B("GET http://host/api?x=1 HTTP/1.1\r\nHost: host\r\n\r\n"),
	  HTTP_DONE, .method = HTTP_GET, .target = "http://host/api?x=1",
	  .path = "/api", .query = "x=1", .minor = 1, .keep_alive = true,
	  .n_headers = 1 },
	/* RFC 9110 2.5: a recipient takes a higher minor version of the
	 * major it speaks as the highest minor it speaks (docs/protocol.md
	 * section 4). */
	{ __LINE__, "HTTP/1.2 is read as HTTP/1.1",
	  B("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), HTTP_DONE,
	  .method = HTTP_GET, .path = "/", .minor = 1, .keep_alive = true,
	  .n_headers = 1 },
	{ __LINE__, "HTTP/1.9 is read as HTTP/1.1, Host required",
	  B("GET / HTTP/1.9\r\nX: a\r\n\r\n"), HTTP_ERROR, .status = 400 },
	{ __LINE__, "HTTP/1.9 with chunked body, as HTTP/1.1",
	  B("POST /api HTTP/1.9\r\nHost: a\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n1\r\nx\r\n0\r\n\r\n"), HTTP_DONE,
	  .method = HTTP_POST, .path = "/api", .minor = 1, .keep_alive = true,
	  .chunked = true, .n_headers = 2, .body = B("x") },
	{ __LINE__, "absolute-form target with port",
	  B("GET https://h:8443/message-stream HTTP/1.1\r\nHost: h\r\n\r\n"),
	  HTTP_DONE, .method = HTTP_GET, .path = "/message-stream",
	  .minor = 1, .keep_alive = true, .n_headers = 1 },
	/* RFC 9112 2.2: a server should ignore an empty line before the
	 * request line. */
	{ __LINE__, "leading CRLF", B("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
	  HTTP_DONE, .method = HTTP_GET, .path = "/", .minor = 1,
	  .keep_alive = true, .n_headers = 1 },
	{ __LINE__, "leading LF", B("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
	  HTTP_DONE, .method = HTTP_GET, .path = "/", .minor = 1,
	  .keep_alive = true, .n_headers = 1 },

	/* Bodies by Content-Length. */
	{ __LINE__, "post json",
	  B("POST /api HTTP/1.1\r\nHost: localhost:3000\r\n"
	    "Content-Type: application/json\r\nContent-Length: 15\r\n\r\n"
	    "{\"stream\":true}"), HTTP_DONE,
	  .method = HTTP_POST, .method_name = "POST", .path = "/api",
	  .minor = 1, .keep_alive = true, .content_length = 15,
	  .n_headers = 3, .content_type = "application/json",
	  .body = B("{\"stream\":true}") },
	{ __LINE__, "post with content-length 0", B(POST_CL("0")), HTTP_DONE,
	  .method = HTTP_POST, .path = "/api", .minor = 1,
	  .keep_alive = true, .n_headers = 2 },
	/* RFC 9112 6.3 rule 7: a request without framing has no body. */
	{ __LINE__, "post without a length",
	  B("POST /api HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_DONE,
	  .method = HTTP_POST, .path = "/api", .minor = 1,
	  .keep_alive = true, .n_headers = 1 },
	/* Content-Length = 1*DIGIT (RFC 9110 8.6): leading zeros are fine. */
	{ __LINE__, "lowercase content-length with leading zeros",
	  B("POST /api HTTP/1.1\r\nhost: a\r\ncontent-length: 007\r\n\r\n"
	    "abcdefg"), HTTP_DONE,
	  .method = HTTP_POST, .path = "/api", .minor = 1,
	  .keep_alive = true, .content_length = 7, .n_headers = 2,
	  .body = B("abcdefg") },
	{ __LINE__, "content-length with blanks",
	  B(POST_CL(" \t 5 \t") "hello"), HTTP_DONE,
	  .method = HTTP_POST, .path = "/api", .minor = 1,
	  .keep_alive = true, .content_length = 5, .n_headers = 2,
	  .hname = "Content-Length", .hvalue = "5", .body = B("hello") },
	{ __LINE__, "repeated identical content-length",
	  B("POST /api HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	    "Content-Length: 5\r\n\r\nhello"), HTTP_DONE,
	  .method = HTTP_POST, .path = "/api", .minor = 1,
	  .keep_alive = true, .content_length = 5, .n_headers = 3,
	  .body = B("hello") },
	{ __LINE__, "body holding NUL and CRLF",
	  B(POST_CL("6") "a\0\r\n\r\n"), HTTP_DONE,
	  .method = HTTP_POST, .path = "/api", .minor = 1,
	  .keep_alive = true, .content_length = 6, .n_headers = 2,
	  .body = B("a\0\r\n\r\n") },
	{ __LINE__, "content-length of max_body",
	  B(POST_CL("10") "0123456789"), HTTP_DONE, .limits = &limits_body10,
	  .method = HTTP_POST, .path = "/api", .minor = 1,
	  .keep_alive = true, .content_length = 10, .n_headers = 2,
	  .body = B("0123456789") },
	{ __LINE__, "pipelined after a body",
	  B(PIPE_POST "GET / HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_DONE,
	  .method = HTTP_POST, .path = "/api", .minor = 1,
	  .keep_alive = true, .content_length = 5, .n_headers = 2,
	  .body = B("hello"), .end = sizeof(PIPE_POST) - 1 },
	{ __LINE__, "pipelined after a get",
	  B(PIPE_GET "GET /b HTTP/1.1\r\n"), HTTP_DONE,
	  .method = HTTP_GET, .path = "/a", .minor = 1, .keep_alive = true,
	  .n_headers = 1, .end = sizeof(PIPE_GET) - 1 },

	/* Chunked bodies, decoded in place. */
	{ __LINE__, "chunked, several chunks",
	  B(POST_CHUNKED "5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n"),
	  HTTP_DONE, .method = HTTP_POST, .path = "/api", .minor = 1,
	  .keep_alive = true, .chunked = true, .n_headers = 2,
	  .body = B("hello world") },
	{ __LINE__, "chunked with extensions",
	  B(POST_CHUNKED "5;ext=1\r\nhello\r\n6;a=b;c\r\n world\r\n"
	    "0;last\r\n\r\n"), HTTP_DONE,
	  .method = HTTP_POST, .path = "/api", .minor = 1,
	  .keep_alive = true, .chunked = true, .n_headers = 2,
	  .body = B("hello world") },
	{ __LINE__, "chunk extension with a quoted value",
	  B(POST_CHUNKED "5;n=\"x; y\"\r\nhello\r\n0\r\n\r\n"), HTTP_DONE,
	  .method = HTTP_POST, .path = "/api", .minor = 1,
	  .keep_alive = true, .chunked = true, .n_headers = 2,
	  .body = B("hello") },
	/* chunk-ext = *( BWS ";" BWS chunk-ext-name ...), RFC 9112 7.1.1. */
	{ __LINE__, "chunk extension after blanks",
	  B(POST_CHUNKED "5 ; ext=1\r\nhello\r\n0\r\n\r\n"), HTTP_DONE,
	  .method = HTTP_POST, .path = "/api", .minor = 1,
	  .keep_alive = true, .chunked = true, .n_headers = 2,
	  .body = B("hello") },
	{ __LINE__, "chunk sizes in uppercase hex",
	  B(POST_CHUNKED "1A\r\nabcdefghijklmnopqrstuvwxyz\r\nB\r\n"
	    "hello world\r\n0\r\n\r\n"), HTTP_DONE,
	  .method = HTTP_POST, .path = "/api", .minor = 1,
	  .keep_alive = true, .chunked = true, .n_headers = 2,
	  .body = B("abcdefghijklmnopqrstuvwxyzhello world") },
	{ __LINE__, "chunk sizes with leading zeros",
	  B(POST_CHUNKED "005\r\nhello\r\n0000\r\n\r\n"), HTTP_DONE,
	  .method = HTTP_POST, .path = "/api", .minor = 1,
	  .keep_alive = true, .chunked = true, .n_headers = 2,
	  .body = B("hello") },
	{ __LINE__, "chunked with trailers",
	  B(POST_CHUNKED "5\r\nhello\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\n"),
	  HTTP_DONE, .method = HTTP_POST, .path = "/api", .minor = 1,
	  .keep_alive = true, .chunked = true, .n_headers = 2,
	  .body = B("hello") },
	{ __LINE__, "chunked, zero length",
	  B(POST_CHUNKED "0\r\n\r\n"), HTTP_DONE,
	  .method = HTTP_POST, .path = "/api", .minor = 1,
	  .keep_alive = true, .chunked = true, .n_headers = 2 },
	{ __LINE__, "chunk data holding CRLF and NUL",
	  B(POST_CHUNKED "5\r\n\r\n\0\r\n\r\n2\r\n0\n\r\n0\r\n\r\n"),
	  HTTP_DONE, .method = HTTP_POST, .path = "/api", .minor = 1,
	  .keep_alive = true, .chunked = true, .n_headers = 2,
	  .body = B("\r\n\0\r\n0\n") },
	{ __LINE__, "transfer-encoding Chunked",
	  B("POST /api HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n"
	    "\r\n3\r\nabc\r\n0\r\n\r\n"), HTTP_DONE,
	  .method = HTTP_POST, .path = "/api", .minor = 1,
	  .keep_alive = true, .chunked = true, .n_headers = 2,
	  .body = B("abc") },
	{ __LINE__, "transfer-encoding CHUNKED with blanks",
	  B("POST /api HTTP/1.1\r\nHost: a\r\ntransfer-encoding: \tCHUNKED "
	    "\r\n\r\n3\r\nabc\r\n0\r\n\r\n"), HTTP_DONE,
	  .method = HTTP_POST, .path = "/api", .minor = 1,
	  .keep_alive = true, .chunked = true, .n_headers = 2,
	  .body = B("abc") },
	{ __LINE__, "chunked of max_body",
	  B(POST_CHUNKED "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n"), HTTP_DONE,
	  .limits = &limits_body10, .method = HTTP_POST, .path = "/api",
	  .minor = 1, .keep_alive = true, .chunked = true, .n_headers = 2,
	  .body = B("helloworld") },
	{ __LINE__, "pipelined after a chunked body",
	  B(PIPE_CHUNKED "GET / HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_DONE,
	  .method = HTTP_POST, .path = "/api", .minor = 1,
	  .keep_alive = true, .chunked = true, .n_headers = 2,
	  .body = B("hello"), .end = sizeof(PIPE_CHUNKED) - 1 },

	/* HTTP/1.0 and Connection. */
	{ __LINE__, "http/1.0", B("GET / HTTP/1.0\r\n\r\n"), HTTP_DONE,
	  .method = HTTP_GET, .path = "/", .minor = 0 },
	{ __LINE__, "http/1.0 keep-alive",
	  B("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), HTTP_DONE,
	  .method = HTTP_GET, .path = "/", .minor = 0, .keep_alive = true,
	  .n_headers = 1 },
	{ __LINE__, "http/1.0 Keep-Alive",
	  B("GET / HTTP/1.0\r\nHost: a\r\nConnection: Keep-Alive\r\n\r\n"),
	  HTTP_DONE, .method = HTTP_GET, .path = "/", .minor = 0,
	  .keep_alive = true, .n_headers = 2 },
	{ __LINE__, "http/1.0 close",
	  B("GET / HTTP/1.0\r\nHost: a\r\nConnection: close\r\n\r\n"),
	  HTTP_DONE, .method = HTTP_GET, .path = "/", .minor = 0,
	  .n_headers = 2 },
	/* "close" wins over "keep-alive" (RFC 9112 9.6). */
	{ __LINE__, "http/1.0 close, keep-alive",
	  B("GET / HTTP/1.0\r\nConnection: close, keep-alive\r\n\r\n"),
	  HTTP_DONE, .method = HTTP_GET, .path = "/", .minor = 0,
	  .n_headers = 1 },
	{ __LINE__, "close", B(GET_HOST("Connection: close\r\n")), HTTP_DONE,
	  .method = HTTP_GET, .path = "/", .minor = 1, .n_headers = 2 },
	{ __LINE__, "close uppercase", B(GET_HOST("Connection: CLOSE\r\n")),
	  HTTP_DONE, .method = HTTP_GET, .path = "/", .minor = 1,
	  .n_headers = 2 },
	{ __LINE__, "close in a list",
	  B(GET_HOST("Connection: foo, close\r\n")), HTTP_DONE,
	  .method = HTTP_GET, .path = "/", .minor = 1, .n_headers = 2 },
	/* #rule lists allow blanks and empty elements (RFC 9110 5.6.1). */
	{ __LINE__, "close in a list with blanks and empty elements",
	  B(GET_HOST("Connection: foo ,\t, close \r\n")), HTTP_DONE,
	  .method = HTTP_GET, .path = "/", .minor = 1, .n_headers = 2 },
	{ __LINE__, "keep-alive, close",
	  B(GET_HOST("Connection: keep-alive, close\r\n")), HTTP_DONE,
	  .method = HTTP_GET, .path = "/", .minor = 1, .n_headers = 2 },
	{ __LINE__, "close in a second connection line",
	  B(GET_HOST("Connection: upgrade\r\nConnection: close\r\n")),
	  HTTP_DONE, .method = HTTP_GET, .path = "/", .minor = 1,
	  .n_headers = 3 },
	{ __LINE__, "closed is not close",
	  B(GET_HOST("Connection: closed\r\n")), HTTP_DONE,
	  .method = HTTP_GET, .path = "/", .minor = 1, .keep_alive = true,
	  .n_headers = 2 },

	/* Expect. */
	{ __LINE__, "expect 100-continue",
	  B("POST /api HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
	    "Content-Length: 2\r\n\r\nhi"), HTTP_DONE,
	  .method = HTTP_POST, .path = "/api", .minor = 1,
	  .keep_alive = true, .expect_continue = true, .content_length = 2,
	  .n_headers = 3, .body = B("hi") },
	{ __LINE__, "expect 100-Continue, body not sent yet",
	  B("POST /api HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n"
	    "Content-Length: 2\r\n\r\n"), HTTP_MORE,
	  .method = HTTP_POST, .path = "/api", .minor = 1,
	  .keep_alive = true, .expect_continue = true, .content_length = 2,
	  .n_headers = 3 },
	/* RFC 9110 10.1.1: a server MUST ignore 100-continue from an
	 * HTTP/1.0 client, which does not wait for it. */
	{ __LINE__, "expect ignored in http/1.0",
	  B("POST /api HTTP/1.0\r\nExpect: 100-continue\r\n"
	    "Content-Length: 2\r\n\r\nhi"), HTTP_DONE,
	  .method = HTTP_POST, .path = "/api", .minor = 0,
	  .content_length = 2, .n_headers = 2, .body = B("hi") },

	/* Line endings and header values. */
	{ __LINE__, "bare LF", B("GET /x?y HTTP/1.1\nHost: a\nX: b\n\n"),
	  HTTP_DONE, .method = HTTP_GET, .path = "/x", .query = "y",
	  .minor = 1, .keep_alive = true, .n_headers = 2, .hname = "x",
	  .hvalue = "b" },
	{ __LINE__, "mixed line endings",
	  B("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\n"), HTTP_DONE,
	  .method = HTTP_GET, .path = "/", .minor = 1, .keep_alive = true,
	  .n_headers = 2, .hname = "X", .hvalue = "b" },
	{ __LINE__, "bare LF with a body",
	  B("POST /api HTTP/1.1\nHost: a\nContent-Length: 2\n\nhi"),
	  HTTP_DONE, .method = HTTP_POST, .path = "/api", .minor = 1,
	  .keep_alive = true, .content_length = 2, .n_headers = 2,
	  .body = B("hi") },
	/* docs/protocol.md section 4 accepts bare LF in the head; chunk
	 * lines end in CRLF only, as RFC 9112 7.1 writes them (see
	 * test_smuggling.c). */
	{ __LINE__, "bare LF in the head, CRLF in the chunks",
	  B("POST /api HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\n\n"
	    "5\r\nhello\r\n0\r\nX: 1\r\n\r\n"), HTTP_DONE,
	  .method = HTTP_POST, .path = "/api", .minor = 1,
	  .keep_alive = true, .chunked = true, .n_headers = 2,
	  .body = B("hello") },
	{ __LINE__, "bare LF in a chunked body",
	  B("POST /api HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\n\n"
	    "5\nhello\n0\nX: 1\n\n"), HTTP_ERROR, .status = 400 },
	{ __LINE__, "value trimmed", B(GET_HOST("X-Pad: \t a b \t\r\n")),
	  HTTP_DONE, .method = HTTP_GET, .path = "/", .minor = 1,
	  .keep_alive = true, .n_headers = 2, .hname = "x-pad",
	  .hvalue = "a b" },
	{ __LINE__, "empty value",
	  B(GET_HOST("X-Empty:\r\nX-Blank: \t \r\n")), HTTP_DONE,
	  .method = HTTP_GET, .path = "/", .minor = 1, .keep_alive = true,
	  .n_headers = 3, .hname = "X-Blank", .hvalue = "" },
	/* RFC 9110 7.2: Host may be empty. */
	{ __LINE__, "empty host", B("GET / HTTP/1.1\r\nHost:\r\n\r\n"),
	  HTTP_DONE, .method = HTTP_GET, .path = "/", .minor = 1,
	  .keep_alive = true, .n_headers = 1, .hname = "Host",
	  .hvalue = "" },
	{ __LINE__, "value with colon and tab",
	  B(GET_HOST("X: a:b\tc\r\n")), HTTP_DONE, .method = HTTP_GET,
	  .path = "/", .minor = 1, .keep_alive = true, .n_headers = 2,
	  .hname = "X", .hvalue = "a:b\tc" },
	{ __LINE__, "no blank after colon", B(GET_HOST("X:b\r\n")),
	  HTTP_DONE, .method = HTTP_GET, .path = "/", .minor = 1,
	  .keep_alive = true, .n_headers = 2, .hname = "X", .hvalue = "b" },
	{ __LINE__, "obs-text in a value",
	  B(GET_HOST("X: caf\xc3\xa9 \xff\r\n")), HTTP_DONE,
	  .method = HTTP_GET, .path = "/", .minor = 1, .keep_alive = true,
	  .n_headers = 2, .hname = "X", .hvalue = "caf\xc3\xa9 \xff" },
	{ __LINE__, "every tchar in a name",
	  B(GET_HOST("!#$%&'*+-.^_`|~09AZaz: v\r\n")), HTTP_DONE,
	  .method = HTTP_GET, .path = "/", .minor = 1, .keep_alive = true,
	  .n_headers = 2, .hname = "!#$%&'*+-.^_`|~09azAZ", .hvalue = "v" },
	{ __LINE__, "first of repeated headers",
	  B(GET_HOST("Accept: a\r\naccept: b\r\n")), HTTP_DONE,
	  .method = HTTP_GET, .path = "/", .minor = 1, .keep_alive = true,
	  .n_headers = 3, .hname = "ACCEPT", .hvalue = "a" },
	{ __LINE__, "host with port",
	  B("GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n"), HTTP_DONE,
	  .method = HTTP_GET, .path = "/", .minor = 1, .keep_alive = true,
	  .n_headers = 1, .hname = "host", .hvalue = "example.com:8080" },
	{ __LINE__, "target of max_target",
	  B("GET /1234567 HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_DONE,
	  .limits = &limits_target8, .method = HTTP_GET, .path = "/1234567",
	  .minor = 1, .keep_alive = true, .n_headers = 1 },
};

/* Requests cut short: the parser must ask for more. */
static const struct row more_rows[] = {
	{ __LINE__, "nothing", B(""), HTTP_MORE, .status = 0 },
	{ __LINE__, "only an empty line", B("\r\n"), HTTP_MORE, .status = 0 },
	{ __LINE__, "method only", B("GET"), HTTP_MORE, .status = 0 },
	{ __LINE__, "request line only", B("GET / HTTP/1.1\r\n"),
	  HTTP_MORE, .status = 0 },
	{ __LINE__, "head without its last LF",
	  B("GET / HTTP/1.1\r\nHost: a\r\n\r"), HTTP_MORE, .status = 0 },
	{ __LINE__, "body cut short", B(POST_CL("10") "hello"), HTTP_MORE,
	  .method = HTTP_POST, .path = "/api", .minor = 1,
	  .keep_alive = true, .content_length = 10, .n_headers = 2 },
	{ __LINE__, "chunk size unfinished", B(POST_CHUNKED "5;ext=1"),
	  HTTP_MORE, .method = HTTP_POST, .path = "/api", .minor = 1,
	  .keep_alive = true, .chunked = true, .n_headers = 2 },
	{ __LINE__, "chunk data cut short", B(POST_CHUNKED "5\r\nhel"),
	  HTTP_MORE, .status = 0 },
	{ __LINE__, "chunk data without CRLF", B(POST_CHUNKED "5\r\nhello"),
	  HTTP_MORE, .status = 0 },
	{ __LINE__, "last chunk without the empty line",
	  B(POST_CHUNKED "5\r\nhello\r\n0\r\n"), HTTP_MORE, .status = 0 },
	{ __LINE__, "last chunk, empty line unfinished",
	  B(POST_CHUNKED "5\r\nhello\r\n0\r\n\r"), HTTP_MORE, .status = 0 },
	{ __LINE__, "in the trailers", B(POST_CHUNKED "0\r\nX: 1\r\n"),
	  HTTP_MORE, .status = 0 },
	/* With no body limit the largest chunk size is valid framing. */
	{ __LINE__, "largest chunk size, no body limit",
	  B(POST_CHUNKED "ffffffffffffffff\r\nabc"), HUGE_CHUNK_RESULT,
	  .limits = &limits_body_max },
};

/* Malformed or refused requests and their statuses (docs/protocol.md
 * section 4). */
static const struct row error_rows[] = {
	/* The request line. */
	{ __LINE__, "missing version", B("GET /\r\nHost: a\r\n\r\n"),
	  HTTP_ERROR, .status = 400 },
	/* The line ends at "/x": what follows is no part of the target, so
	 * this is 400 however the bytes arrive. */
	{ __LINE__, "missing version, a long header after it",
	  B("GET /x\r\nHost-Long-Name: a\r\n\r\n"), HTTP_ERROR,
	  .status = 400, .limits = &limits_target8 },
	{ __LINE__, "missing target and version", B("GET\r\nHost: a\r\n\r\n"),
	  HTTP_ERROR, .status = 400 },
	{ __LINE__, "two spaces before target",
	  B("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_ERROR, .status = 400 },
	{ __LINE__, "two spaces before version",
	  B("GET /  HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_ERROR, .status = 400 },
	/* request-line = method SP request-target SP HTTP-version
	 * (RFC 9112 3): nothing may follow the version. */
	{ __LINE__, "space after version",
	  B("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), HTTP_ERROR, .status = 400 },
	{ __LINE__, "empty method", B(" / HTTP/1.1\r\nHost: a\r\n\r\n"),
	  HTTP_ERROR, .status = 400 },
	{ __LINE__, "bad byte in method",
	  B("G(T / HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_ERROR, .status = 400 },
	{ __LINE__, "lowercase http", B("GET / http/1.1\r\nHost: a\r\n\r\n"),
	  HTTP_ERROR, .status = 400 },
	{ __LINE__, "garbage", B("\x01\x02\x03\r\n\r\n"),
	  HTTP_ERROR, .status = 400 },
	{ __LINE__, "NUL in target", B("GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n"),
	  HTTP_ERROR, .status = 400 },
	{ __LINE__, "DEL in target",
	  B("GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n"),
	  HTTP_ERROR, .status = 400 },
	/* The asterisk-form is for OPTIONS only (RFC 9112 3.2.4). */
	{ __LINE__, "asterisk target for get",
	  B("GET * HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_ERROR,
	  .status = 400 },
	/* No form of RFC 9112 3.2 has a fragment. */
	{ __LINE__, "fragment in target",
	  B("GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_ERROR,
	  .status = 400 },
	/* Not one of the four forms of RFC 9112 3.2. */
	{ __LINE__, "target without a slash",
	  B("GET foo HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_ERROR, .status = 400 },
	{ __LINE__, "HTTP/1.1x", B("GET / HTTP/1.1x\r\nHost: a\r\n\r\n"),
	  HTTP_ERROR, .status = 400 },
	{ __LINE__, "HTTP/11", B("GET / HTTP/11\r\nHost: a\r\n\r\n"),
	  HTTP_ERROR, .status = 400 },
	{ __LINE__, "HTTP/1.", B("GET / HTTP/1.\r\nHost: a\r\n\r\n"),
	  HTTP_ERROR, .status = 400 },
	{ __LINE__, "HTTP/1.1.1", B("GET / HTTP/1.1.1\r\nHost: a\r\n\r\n"),
	  HTTP_ERROR, .status = 400 },
	/* RFC 9112 2.2 ignores empty lines (CRLF or LF) before the request
	 * line; a bare CR is no empty line, and docs/protocol.md section 4
	 * refuses it. */
	{ __LINE__, "bare CR before the request line",
	  B("\rGET / HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_ERROR,
	  .status = 400 },
	{ __LINE__, "bare CR after request line",
	  B("GET / HTTP/1.1\rHost: a\r\n\r\n"), HTTP_ERROR, .status = 400 },

	/* Well-formed versions we do not speak. */
	{ __LINE__, "HTTP/2.0", B("GET / HTTP/2.0\r\nHost: a\r\n\r\n"),
	  HTTP_ERROR, .status = 505 },
	{ __LINE__, "HTTP/0.9", B("GET / HTTP/0.9\r\nHost: a\r\n\r\n"),
	  HTTP_ERROR, .status = 505 },
	{ __LINE__, "HTTP/3.0", B("GET / HTTP/3.0\r\nHost: a\r\n\r\n"),
	  HTTP_ERROR, .status = 505 },

	/* Host. */
	{ __LINE__, "http/1.1 without host",
	  B("GET / HTTP/1.1\r\nX: a\r\n\r\n"), HTTP_ERROR, .status = 400 },
	{ __LINE__, "two hosts", B(GET_HOST("Host: a\r\n")),
	  HTTP_ERROR, .status = 400 },
	{ __LINE__, "two hosts, other case", B(GET_HOST("host: b\r\n")),
	  HTTP_ERROR, .status = 400 },

	/* Framing. */
	{ __LINE__, "content-length and transfer-encoding",
	  B("POST /api HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
	  HTTP_ERROR, .status = 400 },
	{ __LINE__, "transfer-encoding and content-length",
	  B("POST /api HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	    "Content-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
	  HTTP_ERROR, .status = 400 },
	{ __LINE__, "differing content-lengths",
	  B("POST /api HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	    "Content-Length: 6\r\n\r\nhello!"), HTTP_ERROR, .status = 400 },
	{ __LINE__, "content-length abc", B(POST_CL("abc")),
	  HTTP_ERROR, .status = 400 },
	{ __LINE__, "content-length -1", B(POST_CL("-1")),
	  HTTP_ERROR, .status = 400 },
	{ __LINE__, "content-length empty", B(POST_CL("")),
	  HTTP_ERROR, .status = 400 },
	{ __LINE__, "content-length 1 2", B(POST_CL("1 2")),
	  HTTP_ERROR, .status = 400 },
	{ __LINE__, "content-length +5", B(POST_CL("+5")),
	  HTTP_ERROR, .status = 400 },
	{ __LINE__, "content-length 5a", B(POST_CL("5a")),
	  HTTP_ERROR, .status = 400 },
	{ __LINE__, "content-length 0x10", B(POST_CL("0x10")), HTTP_ERROR,
	  .status = 400 },
	{ __LINE__, "content-length overflowing",
	  B(POST_CL("99999999999999999999999")), HTTP_ERROR, .status = 400 },
	{ __LINE__, "content-length 2^64",
	  B(POST_CL("18446744073709551616")), HTTP_ERROR, .status = 400 },
	/* 2^64 - 1 does not overflow: it is merely too large. */
	{ __LINE__, "content-length 2^64-1",
	  B(POST_CL("18446744073709551615")), HTTP_ERROR, .status = 413 },
	{ __LINE__, "transfer-encoding gzip",
	  B("POST /api HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
	    "\r\n"), HTTP_ERROR, .status = 501 },
	{ __LINE__, "transfer-encoding gzip, chunked",
	  B("POST /api HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: gzip, chunked\r\n\r\n"),
	  HTTP_ERROR, .status = 501 },
	/* A coding the server does not know is a 501, but RFC 9112 6.3
	 * says a request whose last coding is not chunked MUST get 400,
	 * and docs/protocol.md section 4 follows it. */
	{ __LINE__, "transfer-encoding chunked, gzip",
	  B("POST /api HTTP/1.1\r\nHost: a\r\n"
	    "Transfer-Encoding: chunked, gzip\r\n\r\n"),
	  HTTP_ERROR, .status = 400 },
	/* RFC 9112 6.1: HTTP/1.0 framing with Transfer-Encoding is faulty. */
	{ __LINE__, "transfer-encoding in http/1.0",
	  B("POST /api HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "0\r\n\r\n"), HTTP_ERROR, .status = 400 },

	/* Header syntax. */
	{ __LINE__, "obs-fold", B(GET_HOST("X: b\r\n c\r\n")), HTTP_ERROR,
	  .status = 400 },
	{ __LINE__, "obs-fold with a tab", B(GET_HOST("X: b\r\n\tc\r\n")),
	  HTTP_ERROR, .status = 400 },
	/* RFC 9112 2.2: a blank-led line right after the request line. */
	{ __LINE__, "blank-led first header",
	  B("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), HTTP_ERROR, .status = 400 },
	{ __LINE__, "space before colon",
	  B("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), HTTP_ERROR, .status = 400 },
	{ __LINE__, "tab before colon", B(GET_HOST("X\t: a\r\n")),
	  HTTP_ERROR, .status = 400 },
	{ __LINE__, "bare CR in a value", B(GET_HOST("X: a\rb\r\n")),
	  HTTP_ERROR, .status = 400 },
	{ __LINE__, "CR CR LF", B(GET_HOST("X: a\r\r\n")),
	  HTTP_ERROR, .status = 400 },
	{ __LINE__, "bare CR ending the head",
	  B("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n"), HTTP_ERROR, .status = 400 },
	{ __LINE__, "NUL in a value", B(GET_HOST("X: a\0b\r\n")), HTTP_ERROR,
	  .status = 400 },
	{ __LINE__, "0x01 in a value", B(GET_HOST("X: a\x01" "b\r\n")),
	  HTTP_ERROR, .status = 400 },
	{ __LINE__, "DEL in a value", B(GET_HOST("X: a\x7f" "b\r\n")),
	  HTTP_ERROR, .status = 400 },
	{ __LINE__, "ESC in a value", B(GET_HOST("X: \x1b" "[0m\r\n")),
	  HTTP_ERROR, .status = 400 },
	{ __LINE__, "0x01 in a name", B(GET_HOST("X\x01" "Y: a\r\n")),
	  HTTP_ERROR, .status = 400 },
	{ __LINE__, "NUL in a name", B(GET_HOST("X\0Y: a\r\n")), HTTP_ERROR,
	  .status = 400 },
	{ __LINE__, "bad byte in a name", B(GET_HOST("a@b: c\r\n")),
	  HTTP_ERROR, .status = 400 },
	{ __LINE__, "no colon", B(GET_HOST("NoColon\r\n")),
	  HTTP_ERROR, .status = 400 },
	{ __LINE__, "empty name", B(GET_HOST(": a\r\n")),
	  HTTP_ERROR, .status = 400 },

	/* Limits. */
	{ __LINE__, "target over max_target",
	  B("GET /12345678 HTTP/1.1\r\nHost: a\r\n\r\n"),
	  HTTP_ERROR, .status = 414,
	  .limits = &limits_target8 },
	/* The limit is on the target as sent, not on its path. */
	{ __LINE__, "absolute target over max_target",
	  B("GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n"),
	  HTTP_ERROR, .status = 414,
	  .limits = &limits_target8 },
	/* Known as soon as the target passes the limit. */
	{ __LINE__, "target over max_target, line unfinished",
	  B("GET /123456789012345"), HTTP_ERROR, .status = 414,
	  .limits = &limits_target8 },
	{ __LINE__, "head over max_head",
	  B("GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: 0123456789abcdef0123"
	    "456789\r\n\r\n"),
	  HTTP_ERROR, .status = 431, .limits = &limits_head64 },
	{ __LINE__, "head over max_head, unfinished",
	  B("GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: 0123456789abcdef0123"
	    "456789abcdef"),
	  HTTP_ERROR, .status = 431, .limits = &limits_head64 },
	/* The head "must end within max_head bytes" (http.h), and head_len
	 * counts the empty lines before it; unbounded, they would cost a
	 * byte-a-time client quadratic work and never earn a 431. */
	{ __LINE__, "empty lines before the request line over max_head",
	  B("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n"
	    "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n"
	    "GET / HTTP/1.1\r\nHost: a\r\n\r\n"), HTTP_ERROR,
	  .status = 431, .limits = &limits_head64 },
	/* Decided from the header: the body never arrives. */
	{ __LINE__, "content-length over max_body", B(POST_CL("65537")),
	  HTTP_ERROR, .status = 413 },
	{ __LINE__, "content-length far over max_body",
	  B(POST_CL("10000000000")), HTTP_ERROR, .status = 413 },
	{ __LINE__, "content-length over max_body with expect",
	  B("POST /api HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
	    "Content-Length: 100000\r\n\r\n"), HTTP_ERROR, .status = 413 },
	{ __LINE__, "content-length one over max_body",
	  B(POST_CL("11") "0123456789a"), HTTP_ERROR, .status = 413,
	  .limits = &limits_body10 },
	{ __LINE__, "chunked one over max_body",
	  B(POST_CHUNKED "6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n"),
	  HTTP_ERROR, .status = 413, .limits = &limits_body10 },
	{ __LINE__, "one chunk over max_body",
	  B(POST_CHUNKED "b\r\nhello world\r\n0\r\n\r\n"),
	  HTTP_ERROR, .status = 413,
	  .limits = &limits_body10 },
	{ __LINE__, "chunk size 2^64-1", B(POST_CHUNKED "ffffffffffffffff\r\n"),
	  HTTP_ERROR, .status = 413 },

	/* Chunk framing. */
	{ __LINE__, "chunk size not hex",
	  B(POST_CHUNKED "z\r\nhello\r\n0\r\n\r\n"),
	  HTTP_ERROR, .status = 400 },
	{ __LINE__, "chunk size 0x5",
	  B(POST_CHUNKED "0x5\r\nhello\r\n0\r\n\r\n"),
	  HTTP_ERROR, .status = 400 },
	{ __LINE__, "chunk size -5",
	  B(POST_CHUNKED "-5\r\nhello\r\n0\r\n\r\n"),
	  HTTP_ERROR, .status = 400 },
	{ __LINE__, "chunk size empty",
	  B(POST_CHUNKED "\r\nhello\r\n0\r\n\r\n"), HTTP_ERROR, .status = 400 },
	{ __LINE__, "blank before chunk size",
	  B(POST_CHUNKED " 5\r\nhello\r\n0\r\n\r\n"),
	  HTTP_ERROR, .status = 400 },
	{ __LINE__, "junk after chunk size",
	  B(POST_CHUNKED "5x\r\nhello\r\n0\r\n\r\n"),
	  HTTP_ERROR, .status = 400 },
	/* After the size only BWS ";" may start an extension (RFC 9112
	 * 7.1.1). */
	{ __LINE__, "junk after blanks after chunk size",
	  B(POST_CHUNKED "5 x\r\nhello\r\n0\r\n\r\n"), HTTP_ERROR,
	  .status = 400 },
	{ __LINE__, "bare CR in a chunk extension",
	  B(POST_CHUNKED "5;a\rb\r\nhello\r\n0\r\n\r\n"), HTTP_ERROR,
	  .status = 400 },
	{ __LINE__, "NUL in a chunk extension",
	  B(POST_CHUNKED "5;a\0\r\nhello\r\n0\r\n\r\n"), HTTP_ERROR,
	  .status = 400 },
	{ __LINE__, "bare CR after chunk size",
	  B(POST_CHUNKED "5\rhello\r\n0\r\n\r\n"), HTTP_ERROR, .status = 400 },
	{ __LINE__, "chunk data longer than its size",
	  B(POST_CHUNKED "5\r\nhelloX\r\n0\r\n\r\n"),
	  HTTP_ERROR, .status = 400 },
	{ __LINE__, "chunk data shorter than its size",
	  B(POST_CHUNKED "7\r\nhello\r\n0\r\n\r\n"),
	  HTTP_ERROR, .status = 400 },
	{ __LINE__, "bare CR after chunk data",
	  B(POST_CHUNKED "5\r\nhello\rX0\r\n\r\n"), HTTP_ERROR, .status = 400 },
	/* Without a body limit only the overflow itself can refuse these. */
	{ __LINE__, "chunk size overflowing",
	  B(POST_CHUNKED "fffffffffffffffff\r\nhello\r\n0\r\n\r\n"),
	  HTTP_ERROR, .status = OVERFLOW_STATUS, .limits = &limits_body_max },
	{ __LINE__, "chunk size 2^64",
	  B(POST_CHUNKED "10000000000000000\r\nhello\r\n0\r\n\r\n"),
	  HTTP_ERROR, .status = OVERFLOW_STATUS, .limits = &limits_body_max },
};

/* ---- Running a row ---------------------------------------------------- */

/* tests/rows.c runs each row whole, split and byte by byte, and checks the
 * result, the status and an error's stickiness; what follows checks the
 * fields a row names. */

static bool num_differs(char *why, const char *field, uint64_t got,
			uint64_t want)
{
	if (got == want)
		return false;
	return row_fail(why, "%s: expected %llu, got %llu", field,
			(unsigned long long)want, (unsigned long long)got);
}

/* Whether p[0..len), which must lie in the run's buffer, differs from the
 * want_len bytes at want. */
static bool bytes_differ(char *why, const struct row_run *r,
			 const char *field, const char *p, size_t len,
			 const char *want, size_t want_len)
{
	char g[200], w[200];

	row_escape(w, sizeof w, want, want_len);
	if (!row_in_buffer(r, p, len))
		return row_fail(why, "%s: expected \"%s\", got %zu bytes "
				"outside the buffer", field, w, len);
	if (len == want_len && (len == 0 || memcmp(p, want, len) == 0))
		return false;
	return row_fail(why, "%s: expected \"%s\", got \"%s\"", field, w,
			row_escape(g, sizeof g, p, len));
}

static bool span_differs(char *why, const struct row_run *r,
			 const char *field, struct http_span s,
			 const char *want)
{
	return bytes_differ(why, r, field, s.p, s.len, want, strlen(want));
}

/* The request line's fields. */
static bool line_differs(const struct row_run *r, const struct row *w,
			 char *why)
{
	const struct http_request *q = &r->req;

	return num_differs(why, "method", q->method, w->method) ||
	       (w->method_name &&
		span_differs(why, r, "method_name", q->method_name,
			     w->method_name)) ||
	       (w->target &&
		span_differs(why, r, "target", q->target, w->target)) ||
	       span_differs(why, r, "path", q->path, w->path) ||
	       span_differs(why, r, "query", q->query,
			    w->query ? w->query : "") ||
	       num_differs(why, "minor", (uint64_t)q->minor,
			   (uint64_t)w->minor);
}

/* What the headers say, and the bytes of the head left as they came. */
static bool headers_differ(const struct row_run *r, const struct row *w,
			   char *why)
{
	const struct http_request *q = &r->req;
	const struct http_header *h;

	if (num_differs(why, "keep_alive", q->keep_alive, w->keep_alive) ||
	    num_differs(why, "chunked", q->chunked, w->chunked) ||
	    num_differs(why, "expect_continue", q->expect_continue,
			w->expect_continue) ||
	    num_differs(why, "content_length", q->content_length,
			w->content_length) ||
	    num_differs(why, "n_headers", q->n_headers, w->n_headers) ||
	    (w->content_type &&
	     span_differs(why, r, "content_type", q->content_type,
			  w->content_type)))
		return true;
	if (w->hname) {
		h = http_header(q, w->hname);
		if (h == NULL)
			return row_fail(why, "header %s: expected \"%s\", got "
					"none", w->hname, w->hvalue);
		if (span_differs(why, r, w->hname, h->value, w->hvalue))
			return true;
	}
	if (q->head_len > r->len)
		return row_fail(why, "head_len %zu is past the %zu bytes given",
				q->head_len, r->len);
	if (memcmp(r->buf, w->in.p, q->head_len) != 0)
		return row_fail(why, "the parser changed bytes of the head");
	return false;
}

/* The body, where the request ends, and the bytes left alone. */
static bool body_differs(const struct row_run *r, const struct row *w,
			 char *why)
{
	const struct http_request *q = &r->req;
	size_t end = w->end ? w->end : w->in.len;

	if (num_differs(why, "end", q->end, end) ||
	    bytes_differ(why, r, "body", q->body, q->body_len,
			 w->body.p, w->body.len))
		return true;
	if (q->head_len > q->end)
		return row_fail(why, "head_len %zu is past end %zu",
				q->head_len, q->end);
	if (!q->chunked && memcmp(r->buf, w->in.p, r->len) != 0)
		return row_fail(why, "the parser changed bytes of a request "
				"that is not chunked");
	return false;
}

/* The fields of a run that reached its row's result: a head parsed (or,
 * for HTTP_MORE, a head whose path the row names), then its body. */
static bool fields_differ(const struct row_run *r, char *why)
{
	const struct row *w = r->spec->row;

	if (r->res == HTTP_ERROR)
		return false;
	if (r->res == HTTP_MORE && w->path == NULL)
		return false;
	if (!r->head_done)
		return row_fail(why, "head: expected parsed, got not parsed");
	if (line_differs(r, w, why) || headers_differ(r, w, why))
		return true;
	return r->res == HTTP_DONE && body_differs(r, w, why);
}

static void test_rows(const struct row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct row *w = &rows[i];
		struct row_spec s = {
			.line = w->line, .name = w->name, .in = w->in,
			.want = w->want, .status = w->status,
			.limits = w->limits, .differs = fields_differ,
			.row = w,
		};

		row_test(&s);
	}
}

/* ---- Rows too long to write out ---------------------------------------- */

/* Memory for the long rows, freed when they have run. */
static char *owned[32];
static size_t n_owned;

/* head, then count copies of unit, then tail: NUL-terminated. */
static struct bytes repeat(const char *head, const char *unit, size_t count,
			   const char *tail)
{
	size_t h = strlen(head), u = strlen(unit), t = strlen(tail);
	size_t len = h + u * count + t, i;
	char *p = malloc(len + 1);

	if (p == NULL || n_owned == sizeof owned / sizeof owned[0]) {
		fprintf(stderr, "test_http: out of memory for long rows\n");
		exit(2);
	}
	owned[n_owned++] = p;
	memcpy(p, head, h);
	for (i = 0; i < count; i++)
		memcpy(p + h + i * u, unit, u);
	memcpy(p + h + u * count, tail, t + 1);
	return (struct bytes){ p, len };
}

/* A good head of exactly len bytes: its X header takes up the slack. */
static struct bytes head_of(size_t len)
{
	static const char head[] = "GET / HTTP/1.1\r\nHost: a\r\nX: ";
	static const char tail[] = "\r\n\r\n";

	return repeat(head, "x", len - strlen(head) - strlen(tail), tail);
}

#define TARGET_TAIL " HTTP/1.1\r\nHost: a\r\n\r\n"

static void test_long_rows(void)
{
	const struct row rows[] = {
		{ __LINE__, "target of max_target",
		  repeat("GET /", "a", 4095, TARGET_TAIL), HTTP_DONE,
		  .method = HTTP_GET, .path = repeat("/", "a", 4095, "").p,
		  .minor = 1, .keep_alive = true, .n_headers = 1 },
		{ __LINE__, "target one over max_target",
		  repeat("GET /", "a", 4096, TARGET_TAIL),
		  HTTP_ERROR, .status = 414 },
		/* The target passes its limit before the head passes its
		 * own, and docs/protocol.md section 4 names 414 for it. */
		{ __LINE__, "target over max_target and head over max_head",
		  repeat("GET /", "a", 9000, TARGET_TAIL),
		  HTTP_ERROR, .status = 414 },
		{ __LINE__, "target over max_target, line unfinished",
		  repeat("GET /", "a", 5000, ""), HTTP_ERROR, .status = 414 },
		{ __LINE__, "HTTP_MAX_HEADERS headers",
		  repeat("GET / HTTP/1.1\r\nHost: a\r\n", "X: 1\r\n", 62,
			 "Last: z\r\n\r\n"), HTTP_DONE,
		  .method = HTTP_GET, .path = "/", .minor = 1,
		  .keep_alive = true, .n_headers = HTTP_MAX_HEADERS,
		  .hname = "last", .hvalue = "z" },
		/* RFC 9112 is silent; 431 (RFC 6585 5) names exactly this,
		 * and docs/protocol.md section 4 leaves no other fit. */
		{ __LINE__, "one header over HTTP_MAX_HEADERS",
		  repeat("GET / HTTP/1.1\r\nHost: a\r\n", "X: 1\r\n", 63,
			 "Last: z\r\n\r\n"), HTTP_ERROR, .status = 431 },
		/* head_len counts the empty line, since the body starts
		 * there; a head "must end within max_head bytes". */
		{ __LINE__, "head of max_head", head_of(8192), HTTP_DONE,
		  .method = HTTP_GET, .path = "/", .minor = 1,
		  .keep_alive = true, .n_headers = 2 },
		{ __LINE__, "head one over max_head", head_of(8193),
		  HTTP_ERROR, .status = 431 },
		{ __LINE__, "head of a small max_head", head_of(64),
		  HTTP_DONE, .limits = &limits_head64, .method = HTTP_GET,
		  .path = "/", .minor = 1, .keep_alive = true,
		  .n_headers = 2 },
		{ __LINE__, "head one over a small max_head", head_of(65),
		  HTTP_ERROR, .status = 431, .limits = &limits_head64 },
		{ __LINE__, "head over max_head, unfinished",
		  repeat("GET / HTTP/1.1\r\nHost: a\r\nX: ", "x", 9000, ""),
		  HTTP_ERROR, .status = 431 },
		{ __LINE__, "a thousand small chunks",
		  repeat(POST_CHUNKED, "1\r\nx\r\n", 1000, "0\r\n\r\n"),
		  HTTP_DONE, .method = HTTP_POST, .path = "/api",
		  .minor = 1, .keep_alive = true, .chunked = true,
		  .n_headers = 2, .body = repeat("", "x", 1000, "") },
	};

	test_rows(rows, sizeof rows / sizeof rows[0]);
	while (n_owned > 0)
		free(owned[--n_owned]);
}

/* ---- The helpers ------------------------------------------------------- */

static bool span_is(struct http_span s, const char *lit)
{
	return s.len == strlen(lit) &&
	       (s.len == 0 || memcmp(s.p, lit, s.len) == 0);
}

/* Parses a head that must be good, for the helpers to look at. */
static void parse_good(struct http_request *req, const char *text)
{
	http_request_init(req, &row_limits_default);
	if (http_parse_head(req, text, strlen(text)) != HTTP_DONE)
		row_report(__LINE__, "http_header setup",
			   "the head did not parse");
}

static void test_header(void)
{
	static const struct {
		int line;
		const char *name, *want;	/* want NULL: none */
	} rows[] = {
		{ __LINE__, "x-a", "1" },
		{ __LINE__, "X-AB", "3" },
		{ __LINE__, "host", "h" },
		{ __LINE__, "X", NULL },
		{ __LINE__, "X-A-", NULL },
		{ __LINE__, "", NULL },
		{ __LINE__, "Missing", NULL },
	};
	struct http_request req;
	const struct http_header *h;
	char name[96], why[ROW_WHY_CAP];
	size_t i;

	parse_good(&req, "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\n"
		   "X-AB: 3\r\n\r\n");
	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		snprintf(name, sizeof name, "http_header(\"%s\")",
			 rows[i].name);
		h = http_header(&req, rows[i].name);
		why[0] = '\0';
		if (rows[i].want == NULL && h != NULL)
			row_fail(why, "expected NULL, got a header");
		else if (rows[i].want != NULL && h == NULL)
			row_fail(why, "expected \"%s\", got NULL", rows[i].want);
		else if (h != NULL && !span_is(h->value, rows[i].want))
			row_fail(why, "expected \"%s\", got \"%.*s\"",
			     rows[i].want, (int)h->value.len, h->value.p);
		row_report(rows[i].line, name, why[0] ? why : NULL);
	}
}

static void test_span_eq(void)
{
	static const struct {
		int line;
		struct bytes span;
		const char *lit;
		bool want;
	} rows[] = {
		{ __LINE__, B("Host"), "host", true },
		{ __LINE__, B("HOST"), "host", true },
		{ __LINE__, B("100-CONTINUE"), "100-continue", true },
		{ __LINE__, B("hos"), "host", false },
		{ __LINE__, B("hostx"), "host", false },
		{ __LINE__, B(""), "", true },
		{ __LINE__, B(""), "a", false },
		{ __LINE__, B("a"), "", false },
		{ __LINE__, B("a\0"), "a", false },
		/* Only ASCII letters fold: these differ by 0x20 too. */
		{ __LINE__, B("["), "{", false },
		{ __LINE__, B("@"), "`", false },
		{ __LINE__, B("\xc4"), "\xe4", false },
	};
	struct http_span s;
	char name[128], a[32], b[32], why[64];
	size_t i;
	bool got;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		s.p = rows[i].span.p;
		s.len = rows[i].span.len;
		snprintf(name, sizeof name, "http_span_eq(\"%s\", \"%s\")",
			 row_escape(a, sizeof a, s.p, s.len),
			 row_escape(b, sizeof b, rows[i].lit,
				strlen(rows[i].lit)));
		got = http_span_eq(s, rows[i].lit);
		snprintf(why, sizeof why, "expected %s, got %s",
			 rows[i].want ? "true" : "false",
			 got ? "true" : "false");
		row_report(rows[i].line, name, got == rows[i].want ? NULL : why);
	}
}

static void test_reason(void)
{
	/* RFC 9110 section 15's phrases; 413 was "Payload Too Large" in
	 * RFC 7231, and either is right.  want NULL: any phrase. */
	static const struct {
		int line;
		int status;
		const char *want, *also;
	} rows[] = {
		{ __LINE__, 100, "Continue", NULL },
		{ __LINE__, 200, "OK", NULL },
		{ __LINE__, 204, "No Content", NULL },
		{ __LINE__, 400, "Bad Request", NULL },
		{ __LINE__, 401, "Unauthorized", NULL },
		{ __LINE__, 403, "Forbidden", NULL },
		{ __LINE__, 404, "Not Found", NULL },
		{ __LINE__, 405, "Method Not Allowed", NULL },
		{ __LINE__, 406, "Not Acceptable", NULL },
		{ __LINE__, 408, "Request Timeout", NULL },
		{ __LINE__, 413, "Content Too Large", "Payload Too Large" },
		{ __LINE__, 414, "URI Too Long", NULL },
		{ __LINE__, 417, "Expectation Failed", NULL },
		{ __LINE__, 431, "Request Header Fields Too Large", NULL },
		{ __LINE__, 500, "Internal Server Error", NULL },
		{ __LINE__, 501, "Not Implemented", NULL },
		{ __LINE__, 503, "Service Unavailable", NULL },
		{ __LINE__, 505, "HTTP Version Not Supported", NULL },
		{ __LINE__, 799, NULL, NULL },
		{ __LINE__, 0, NULL, NULL },
		{ __LINE__, -1, NULL, NULL },
	};
	char name[64], why[160];
	const char *got;
	size_t i;
	bool ok;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		snprintf(name, sizeof name, "http_reason(%d)",
			 rows[i].status);
		got = http_reason(rows[i].status);
		ok = got != NULL && (rows[i].want == NULL ||
		     strcmp(got, rows[i].want) == 0 ||
		     (rows[i].also && strcmp(got, rows[i].also) == 0));
		snprintf(why, sizeof why, "expected \"%s\", got %s%s%s",
			 rows[i].want ? rows[i].want : "(any string)",
			 got ? "\"" : "", got ? got : "NULL", got ? "\"" : "");
		row_report(rows[i].line, name, ok ? NULL : why);
	}
}

static void test_chunk_head(void)
{
	static const struct {
		int line;
		size_t size;
		const char *want;
	} rows[] = {
		{ __LINE__, 0, "0\r\n" },
		{ __LINE__, 1, "1\r\n" },
		{ __LINE__, 15, "f\r\n" },
		{ __LINE__, 16, "10\r\n" },
		{ __LINE__, 27, "1b\r\n" },
		{ __LINE__, 65536, "10000\r\n" },
		{ __LINE__, 0xdeadbeef, "deadbeef\r\n" },
#if SIZE_MAX >= UINT64_MAX
		{ __LINE__, (size_t)0x123456789abcdef0u,
		  "123456789abcdef0\r\n" },
		{ __LINE__, SIZE_MAX, "ffffffffffffffff\r\n" },
#endif
	};
	char dst[32], name[64], got[80], why[160], want[40];
	size_t i, len, j;
	bool ok;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		snprintf(name, sizeof name, "http_chunk_head(%zu)",
			 rows[i].size);
		memset(dst, 'Z', sizeof dst);
		len = http_chunk_head(dst, rows[i].size);
		ok = len == strlen(rows[i].want) && len <= 18 &&
		     memcmp(dst, rows[i].want, len) == 0;
		for (j = 18; j < sizeof dst; j++)
			ok = ok && dst[j] == 'Z';
		snprintf(why, sizeof why, "expected \"%s\", got \"%s\" "
			 "(%zu bytes), or wrote past 18 bytes",
			 row_escape(want, sizeof want, rows[i].want,
				strlen(rows[i].want)),
			 row_escape(got, sizeof got, dst, len < 18 ? len : 18),
			 len);
		row_report(rows[i].line, name, ok ? NULL : why);
	}
}

/* http_format() with cap bytes of room against snprintf() with room to
 * spare, on the same format and arguments: http_format() must write the
 * first cap - 1 bytes of snprintf()'s text (all of it if shorter) and
 * return their length. */
static char format_want[128], format_got[128];

#define FORMAT_ROW(cap, ...) \
	format_row(__LINE__, #__VA_ARGS__, (cap), \
		   snprintf(format_want, sizeof format_want, __VA_ARGS__), \
		   http_format(format_got, (cap), __VA_ARGS__))

static void format_row(int line, const char *call, size_t cap, int full,
		       size_t len)
{
	size_t want_len = cap == 0 ? 0 : (size_t)full < cap ? (size_t)full
							    : cap - 1;
	char name[160], why[ROW_WHY_CAP] = "";

	format_want[want_len] = '\0';
	snprintf(name, sizeof name, "http_format(%zu, %s)", cap, call);
	if (cap == 0 && format_got[0] != '?')
		row_fail(why, "wrote into a buffer of 0 bytes");
	else if (cap > 0 && strcmp(format_got, format_want) != 0)
		row_fail(why, "expected \"%s\", got \"%s\"", format_want,
		     format_got);
	else if (len != want_len)
		row_fail(why, "returned %zu, expected %zu", len, want_len);
	row_report(line, name, why[0] ? why : NULL);
}

/* Every conversion the server uses, the edges of each type, padding,
 * and texts cut short. */
static void test_format(void)
{
	FORMAT_ROW(128, "plain text, no conversion");
	FORMAT_ROW(128, "%s", "");
	FORMAT_ROW(128, "[%s] [%s]", "a", "text");
	FORMAT_ROW(128, "%5s|%2s", "ab", "abc");
	FORMAT_ROW(128, "%d %d %d %d", 0, 7, -7, 404);
	FORMAT_ROW(128, "%d %d", INT_MAX, INT_MIN);
	FORMAT_ROW(128, "%02d %02d %02d %02d", 0, 5, 59, 123);
	FORMAT_ROW(128, "%04d %04d %04d", 1970, 12345, 7);
	FORMAT_ROW(128, "%04d|%5d|%05d", -12, -42, -42);
	FORMAT_ROW(128, "%u %u %u", 0u, 200u, UINT_MAX);
	FORMAT_ROW(128, "%llu %llu", 0ull, ULLONG_MAX);
	FORMAT_ROW(128, "%llu.%06llu", 1234ull, 5600ull);
	FORMAT_ROW(128, "%06llu %06llu", 0ull, 1234567ull);
	FORMAT_ROW(128, "%zu %zu %zu", (size_t)0, (size_t)27, SIZE_MAX);
	FORMAT_ROW(128, "%s, %02d %s %04d %02d:%02d:%02d GMT", "Thu", 1,
		   "Jan", 1970, 0, 0, 0);
	FORMAT_ROW(128, "%s - - [%s] \"", "::1", "24/Nov/2026:15:46:35 +0000");
	FORMAT_ROW(128, "\" %u %llu %llu\n", 200u, 317ull, 5000ull);
	FORMAT_ROW(128, "HTTP/1.1 %d %s\r\n", 200, "OK");
	FORMAT_ROW(8, "0123456789");
	FORMAT_ROW(8, "%s", "0123456789");
	FORMAT_ROW(8, "abc%d", 123456);
	FORMAT_ROW(8, "%llu", 123456789ull);
	FORMAT_ROW(8, "%012d", 5);
	FORMAT_ROW(1, "%s", "x");
	memset(format_got, '?', sizeof format_got);
	FORMAT_ROW(0, "%s", "x");

	/* A conversion it does not know stops it: the arguments after it
	 * could not be read as their types. */
	memset(format_got, '?', sizeof format_got);
	size_t len = http_format(format_got, sizeof format_got, "a%xb%s", 255u,
				 "c");
	row_report(__LINE__, "http_format stops at a conversion it does not know",
	       len == 1 && strcmp(format_got, "a") == 0 ? NULL
	       : "expected \"a\"");
}

/* http_addr_text(): RFC 5952's examples and edges as rows, then random
 * addresses, rich in zero groups, against the C library's inet_ntop(). */
static void test_addr_text(void)
{
	static const struct {
		int line;
		int family;
		const char *in, *want;
	} rows[] = {
		{ __LINE__, AF_INET, "127.0.0.1", "127.0.0.1" },
		{ __LINE__, AF_INET, "0.0.0.0", "0.0.0.0" },
		{ __LINE__, AF_INET, "255.255.255.255", "255.255.255.255" },
		{ __LINE__, AF_INET6, "::", "::" },
		{ __LINE__, AF_INET6, "::1", "::1" },
		{ __LINE__, AF_INET6, "1::", "1::" },
		{ __LINE__, AF_INET6, "2001:0db8:0000:0000:0000:0000:0000:0001",
		  "2001:db8::1" },
		/* One zero group stays as it is. */
		{ __LINE__, AF_INET6, "2001:db8:0:1:1:1:1:1",
		  "2001:db8:0:1:1:1:1:1" },
		/* Of two runs, the longer is shortened, else the first. */
		{ __LINE__, AF_INET6, "2001:0:0:1:0:0:0:1", "2001:0:0:1::1" },
		{ __LINE__, AF_INET6, "2001:db8:0:0:1:0:0:1",
		  "2001:db8::1:0:0:1" },
		{ __LINE__, AF_INET6, "0:0:1:0:0:0:1:0", "0:0:1::1:0" },
		{ __LINE__, AF_INET6, "ABCD:EF01:2345:6789:ABCD:EF01:2345:6789",
		  "abcd:ef01:2345:6789:abcd:ef01:2345:6789" },
		{ __LINE__, AF_INET6, "fe80:0:0:0:1:0:0:0", "fe80::1:0:0:0" },
		{ __LINE__, AF_INET6, "1:0:0:2:3:0:0:0", "1:0:0:2:3::" },
		{ __LINE__, AF_INET6, "::ffff:192.0.2.1", "::ffff:192.0.2.1" },
		{ __LINE__, AF_INET6, "::ffff:0.0.0.0", "::ffff:0.0.0.0" },
		{ __LINE__, AF_INET6, "::ffff:0:0:1", "::ffff:0:0:1" },
	};
	unsigned char bytes[16];
	char got[64], want[64], name[96], why[ROW_WHY_CAP] = "";
	uint32_t seed = 1;

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		size_t len = rows[i].family == AF_INET ? 4 : 16, n;

		snprintf(name, sizeof name, "http_addr_text(%s)", rows[i].in);
		if (inet_pton(rows[i].family, rows[i].in, bytes) != 1) {
			row_report(rows[i].line, name, "inet_pton() refused it");
			continue;
		}
		n = http_addr_text(got, sizeof got, bytes, len);
		if (strcmp(got, rows[i].want) != 0 || n != strlen(got))
			row_fail(why, "expected \"%s\", got \"%s\" (%zu)",
			     rows[i].want, got, n);
		row_report(rows[i].line, name, why[0] ? why : NULL);
		why[0] = '\0';
	}

	for (int k = 0; k < 100000 && !why[0]; k++) {
		/* Each group zero one time in three, else of 1 to 4 hex
		 * digits at most. */
		static const unsigned digits[6] = { 0, 0, 0xf, 0xff, 0xfff,
						    0xffff };

		for (size_t g = 0; g < 8; g++) {
			seed = seed * 1103515245 + 12345;
			unsigned v = (seed >> 8) & digits[(seed >> 24) % 6];

			bytes[2 * g] = (unsigned char)(v >> 8);
			bytes[2 * g + 1] = (unsigned char)v;
		}
		/* glibc writes ::a.b.c.d for the deprecated IPv4-compatible
		 * addresses, musl and RFC 5952 hex: leave those out. */
		static const unsigned char zeros[12];
		if (memcmp(bytes, zeros, 12) == 0 && (bytes[12] | bytes[13]))
			continue;
		inet_ntop(AF_INET6, bytes, want, sizeof want);
		http_addr_text(got, sizeof got, bytes, 16);
		if (strcmp(got, want) != 0)
			row_fail(why, "expected \"%s\", got \"%s\"", want, got);
	}
	row_report(__LINE__, "http_addr_text against inet_ntop, 100,000 random "
	       "addresses", why[0] ? why : NULL);
}

/* What inet_pton() makes of text, IPv6 first as the server asks: the
 * length (4, 16 or 0) and the bytes. */
static size_t pton(const char *text, unsigned char *bytes)
{
	if (inet_pton(AF_INET6, text, bytes) == 1)
		return 16;
	return inet_pton(AF_INET, text, bytes) == 1 ? 4 : 0;
}

/* http_addr_parse() agrees with inet_pton() on text: writes why if not. */
static void addr_parse_check(const char *text, char *why)
{
	unsigned char want[16], got[16];
	size_t wn = pton(text, want), gn = http_addr_parse(text, got);

	if (gn != wn || memcmp(got, want, wn) != 0)
		row_fail(why, "\"%s\": inet_pton() reads %zu bytes, "
			 "http_addr_parse() %zu%s", text, wn, gn,
			 gn == wn ? ", others" : "");
}

/* http_addr_parse(): what -b takes, as rows of addresses the C library's
 * inet_pton() reads and refuses, then random texts made of the
 * characters of addresses, against it. */
static void test_addr_parse(void)
{
	static const struct {
		int line;
		const char *in;
		size_t want;		/* 4, 16 or 0: refused */
	} rows[] = {
		{ __LINE__, "127.0.0.1", 4 },
		{ __LINE__, "0.0.0.0", 4 },
		{ __LINE__, "255.255.255.255", 4 },
		{ __LINE__, "256.0.0.1", 0 },
		{ __LINE__, "01.2.3.4", 0 },	/* no leading zero */
		{ __LINE__, "1.2.3", 0 },
		{ __LINE__, "1.2.3.4.", 0 },
		{ __LINE__, "1.2.3.4.5", 0 },
		{ __LINE__, "1..3.4", 0 },
		{ __LINE__, "1.2.3.0004", 0 },
		{ __LINE__, "localhost", 0 },
		{ __LINE__, "", 0 },
		{ __LINE__, "::", 16 },
		{ __LINE__, "::1", 16 },
		{ __LINE__, "1::", 16 },
		{ __LINE__, "2001:db8::1", 16 },
		{ __LINE__, "2001:0db8:0000:0000:0000:0000:0000:0001", 16 },
		{ __LINE__, "ABCD:EF01:2345:6789:abcd:ef01:2345:6789", 16 },
		{ __LINE__, "1:2:3:4:5:6:7::", 16 },
		{ __LINE__, "::2:3:4:5:6:7:8", 16 },
		{ __LINE__, "::ffff:192.0.2.1", 16 },
		{ __LINE__, "::192.0.2.1", 16 },
		{ __LINE__, "1:2:3:4:5:6:1.2.3.4", 16 },
		{ __LINE__, "1:2:3:4:5::1.2.3.4", 16 },
		{ __LINE__, "1:2:3:4:5:6:7:8:9", 0 },
		{ __LINE__, "1:2:3:4:5:6:7", 0 },
		{ __LINE__, "1::2:3:4:5:6:7:8", 0 },	/* "::" is a group */
		{ __LINE__, "1:2:3:4:5:6:7:1.2.3.4", 0 },
		{ __LINE__, "::1.2.3.4:5", 0 },
		{ __LINE__, "1:::2", 0 },
		{ __LINE__, "1::2::3", 0 },
		{ __LINE__, ":1::2", 0 },
		{ __LINE__, "1::2:", 0 },
		{ __LINE__, "12345::", 0 },
		{ __LINE__, "g::", 0 },
		{ __LINE__, "::ffff:1.2.3", 0 },
		{ __LINE__, "fe80::1%eth0", 0 },
		{ __LINE__, "[::1]", 0 },
	};
	char why[ROW_WHY_CAP] = "", name[96];
	uint32_t seed = 1;

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		unsigned char bytes[16];

		snprintf(name, sizeof name, "http_addr_parse(%s)", rows[i].in);
		if (pton(rows[i].in, bytes) != rows[i].want)
			row_fail(why, "inet_pton() does not read it so");
		else
			addr_parse_check(rows[i].in, why);
		row_report(rows[i].line, name, why[0] ? why : NULL);
		why[0] = '\0';
	}
	for (int k = 0; k < 200000 && !why[0]; k++) {
		/* 1 to 24 characters, most of them hex digits and colons,
		 * some dots and decimal digits. */
		static const char chars[] = "0123456789abcdefABCDEF::::...0g";
		char text[32];
		size_t n;

		seed = seed * 1103515245 + 12345;
		n = 1 + (seed >> 8) % 24;
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245 + 12345;
			text[i] = chars[(seed >> 8) % (sizeof chars - 1)];
		}
		text[n] = '\0';
		addr_parse_check(text, why);
	}
	for (int k = 0; k < 100000 && !why[0]; k++) {
		/* Addresses as inet_ntop() writes them, so valid ones too. */
		unsigned char bytes[16];
		char text[64];

		for (size_t i = 0; i < 16; i++) {
			seed = seed * 1103515245 + 12345;
			bytes[i] = (seed >> 24) % 3 ? 0 : (unsigned char)(seed >> 8);
		}
		inet_ntop(k % 4 ? AF_INET6 : AF_INET, bytes, text, sizeof text);
		addr_parse_check(text, why);
	}
	row_report(__LINE__, "http_addr_parse against inet_pton, 200,000 random "
	       "texts and 100,000 addresses", why[0] ? why : NULL);
}

/* Whether http_date(d, now) gives want, written to why if not. */
static bool date_differs(struct http_date *d, time_t now, const char *want,
			 char *why)
{
	const char *got = http_date(d, now);

	if (got != NULL && strcmp(got, want) == 0)
		return false;
	return row_fail(why, "at %lld: expected \"%s\", got %s%s%s",
		    (long long)now, want, got ? "\"" : "",
		    got ? got : "NULL", got ? "\"" : "");
}

static void test_date(void)
{
	/* Checked with date -u -d @T.  Each row starts from a zeroed
	 * struct, as a static one would be; 0 makes sure the zeroed sec
	 * is not taken for "already formatted". */
	static const struct {
		int line;
		time_t now;
		const char *want;
	} rows[] = {
		{ __LINE__, 0, "Thu, 01 Jan 1970 00:00:00 GMT" },
		{ __LINE__, 1795000000, "Wed, 18 Nov 2026 11:06:40 GMT" },
		{ __LINE__, 1000000000, "Sun, 09 Sep 2001 01:46:40 GMT" },
		{ __LINE__, 951782400, "Tue, 29 Feb 2000 00:00:00 GMT" },
		{ __LINE__, 2147483648, "Tue, 19 Jan 2038 03:14:08 GMT" },
		{ __LINE__, 4102444799, "Thu, 31 Dec 2099 23:59:59 GMT" },
		/* Year boundaries, leap days, and the years that end a
		 * century without one (1900, 2100). */
		{ __LINE__, -1, "Wed, 31 Dec 1969 23:59:59 GMT" },
		{ __LINE__, 946684799, "Fri, 31 Dec 1999 23:59:59 GMT" },
		{ __LINE__, 946684800, "Sat, 01 Jan 2000 00:00:00 GMT" },
		{ __LINE__, 951868800, "Wed, 01 Mar 2000 00:00:00 GMT" },
		{ __LINE__, 1709164800, "Thu, 29 Feb 2024 00:00:00 GMT" },
		{ __LINE__, 1709251199, "Thu, 29 Feb 2024 23:59:59 GMT" },
		{ __LINE__, 4107456000, "Sun, 28 Feb 2100 00:00:00 GMT" },
		{ __LINE__, 4107542400, "Mon, 01 Mar 2100 00:00:00 GMT" },
		{ __LINE__, -2203891200, "Thu, 01 Mar 1900 00:00:00 GMT" },
		{ __LINE__, 253402300799, "Fri, 31 Dec 9999 23:59:59 GMT" },
	};
	struct http_date d;
	char name[64], why[ROW_WHY_CAP];
	size_t i;
	bool bad;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		snprintf(name, sizeof name, "http_date(%lld)",
			 (long long)rows[i].now);
		memset(&d, 0, sizeof d);
		bad = date_differs(&d, rows[i].now, rows[i].want, why);
		row_report(rows[i].line, name, bad ? why : NULL);
	}

	/* One struct through several calls, as the server uses it. */
	memset(&d, 0, sizeof d);
	bad = date_differs(&d, 1795000000, rows[1].want, why) ||
	      date_differs(&d, 1795000000, rows[1].want, why) ||
	      date_differs(&d, 1000000000, rows[2].want, why) ||
	      date_differs(&d, 1000000000, rows[2].want, why) ||
	      date_differs(&d, 1795000000, rows[1].want, why) ||
	      date_differs(&d, 1795000001, "Wed, 18 Nov 2026 11:06:41 GMT",
			   why);
	row_report(__LINE__, "http_date twice a second, then other seconds",
	       bad ? why : NULL);
}

/* http_date() and http_log_time() against the C library's gmtime_r()
 * for three instants of every day from 1890 to 2410: midnight, the last
 * second, and one between that moves through the day.  That crosses
 * every month's end, the leap days, 2000 and 2400, which have one, and
 * 1900, 2100, 2200 and 2300, which have none. */
static void test_date_sweep(void)
{
	static const char days[7][4] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
	};
	static const char months[12][4] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
	};
	/* Days since 1970: 1890-01-01 and 2410-12-31. */
	const int64_t first = -29219, last = 161071;
	char want[64], got[64], why[ROW_WHY_CAP] = "";
	struct http_date d = { 0 };
	struct tm tm;

	for (int64_t day = first; day <= last && !why[0]; day++) {
		int64_t start = day * 86400;
		int64_t moving = (day * 7919 % 86400 + 86400) % 86400;
		const time_t at[] = { start, start + 86399, start + moving };

		for (size_t i = 0; i < 3 && !why[0]; i++) {
			time_t t = at[i];

			gmtime_r(&t, &tm);
			snprintf(want, sizeof want,
				 "%s, %02d %s %04d %02d:%02d:%02d GMT",
				 days[tm.tm_wday], tm.tm_mday,
				 months[tm.tm_mon], tm.tm_year + 1900,
				 tm.tm_hour, tm.tm_min, tm.tm_sec);
			if (strcmp(http_date(&d, t), want) != 0)
				row_fail(why, "http_date(%lld): expected \"%s\", "
				     "got \"%s\"", (long long)t, want,
				     http_date(&d, t));
			snprintf(want, sizeof want,
				 "%02d/%s/%04d:%02d:%02d:%02d +0000",
				 tm.tm_mday, months[tm.tm_mon],
				 tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
				 tm.tm_sec);
			http_log_time(got, sizeof got, t);
			if (!why[0] && strcmp(got, want) != 0)
				row_fail(why, "http_log_time(%lld): expected "
				     "\"%s\", got \"%s\"", (long long)t, want,
				     got);
		}
	}
	row_report(__LINE__, "http_date and http_log_time match gmtime_r on "
	       "every day from 1890 to 2410", why[0] ? why : NULL);
}

/* An absolute-form target without a path has the path "/" (RFC 9110
 * 4.2.3), which the buffer may not hold: only the text is checked. */
static void test_absolute_no_path(void)
{
	static const struct {
		int line;
		const char *in, *path, *query;
	} rows[] = {
		{ __LINE__, "GET http://h HTTP/1.1\r\nHost: h\r\n\r\n",
		  "/", "" },
		/* absolute-URI allows a query after an empty path. */
		{ __LINE__, "GET http://h?x=1 HTTP/1.1\r\nHost: h\r\n\r\n",
		  "/", "x=1" },
	};
	struct http_request req;
	char name[96], why[ROW_WHY_CAP];
	enum http_result res;
	size_t i;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		snprintf(name, sizeof name, "absolute-form without a path: "
			 "%.*s", (int)strcspn(rows[i].in + 4, " "),
			 rows[i].in + 4);
		http_request_init(&req, &row_limits_default);
		res = http_parse_head(&req, rows[i].in, strlen(rows[i].in));
		if (res != HTTP_DONE)
			row_fail(why, "expected DONE, got %s %d", row_result_name(res),
			     req.status);
		else if (!span_is(req.path, rows[i].path) ||
			 !span_is(req.query, rows[i].query))
			row_fail(why, "expected path \"%s\" query \"%s\", got "
			     "\"%.*s\" \"%.*s\"", rows[i].path, rows[i].query,
			     (int)req.path.len, req.path.p,
			     (int)req.query.len, req.query.p);
		row_report(rows[i].line, name, res == HTTP_DONE &&
		       span_is(req.path, rows[i].path) &&
		       span_is(req.query, rows[i].query) ? NULL : why);
	}
}

/* Parses one request at buf[*off..len) in req, which the server reuses:
 * returns the result and moves *off past it when done. */
static enum http_result parse_next(struct http_request *req, char *buf,
				   size_t len, size_t *off)
{
	enum http_result res;

	http_request_init(req, &row_limits_default);
	res = http_parse_head(req, buf + *off, len - *off);
	if (res == HTTP_DONE)
		res = http_parse_body(req, buf + *off, len - *off);
	if (res == HTTP_DONE)
		*off += req->end;
	return res;
}

/* One request reused for pipelined requests, and after an error. */
static void test_reuse(void)
{
	static const char in[] =
		"GET /a HTTP/1.1\r\nHost: a\r\nX: 1\r\nY: 2\r\n\r\n"
		"POST /b HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
		"\r\n2\r\nhi\r\n0\r\n\r\n"
		"GET /c HTTP/1.0\r\n\r\n"
		"GET /d HTTP/1.1\r\n\r\n"
		"GET /e HTTP/1.1\r\nHost: a\r\n\r\n";
	static const char *paths[] = { "/a", "/b", "/c" };
	struct http_request req;
	char buf[sizeof in], why[ROW_WHY_CAP] = "";
	size_t off = 0, i;

	memcpy(buf, in, sizeof in);
	for (i = 0; i < 3 && !why[0]; i++) {
		if (parse_next(&req, buf, sizeof in - 1, &off) != HTTP_DONE)
			row_fail(why, "request %zu did not parse", i + 1);
		else if (!http_span_eq(req.path, paths[i]))
			row_fail(why, "request %zu: expected path %s", i + 1,
			     paths[i]);
	}
	if (!why[0] && (req.n_headers != 0 || req.keep_alive || req.chunked ||
	    req.body_len != 0))
		row_fail(why, "request 3 kept fields of requests 1 and 2");
	if (!why[0] && (parse_next(&req, buf, sizeof in - 1, &off) !=
	    HTTP_ERROR || req.status != 400))
		row_fail(why, "request 4, without Host: expected ERROR 400");
	off += strlen("GET /d HTTP/1.1\r\n\r\n");
	if (!why[0] && (parse_next(&req, buf, sizeof in - 1, &off) !=
	    HTTP_DONE || !http_span_eq(req.path, "/e")))
		row_fail(why, "request 5, after init: expected DONE for /e");
	row_report(__LINE__, "one request reused for pipelined requests",
	       why[0] ? why : NULL);
}

int main(void)
{
	test_rows(good_rows, sizeof good_rows / sizeof good_rows[0]);
	test_rows(more_rows, sizeof more_rows / sizeof more_rows[0]);
	test_rows(error_rows, sizeof error_rows / sizeof error_rows[0]);
	test_long_rows();
	test_header();
	test_span_eq();
	test_reason();
	test_chunk_head();
	test_format();
	test_addr_text();
	test_addr_parse();
	test_date();
	test_date_sweep();
	test_absolute_no_path();
	test_reuse();
	return row_summary();
}
