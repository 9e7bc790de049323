/* rows.h - runs a parser table's row whole, split at every offset and
 * byte by byte, and says whether every run agrees.
 *
 * tests/test_http.c and tests/test_smuggling.c are tables whose rows are
 * requests: the bytes, the result http_parse_head() and http_parse_body()
 * must reach (and an error's status), and what else the table checks.
 * Bytes arrive from a socket in any pieces, so row_test() runs each row
 * n + 2 times (h2o/picohttpparser test.c):
 *
 *	whole		the parser sees all n bytes at once
 *	split at k	it sees buf[0..k), then buf[0..n) of the same buffer,
 *			for every k from 0 to n - 1
 *	byte by byte	buf[0..1), buf[0..2), ... while it asks for more
 *
 * Bytes not yet handed over are poison in the buffer (a NUL, which a head
 * refuses, or a LF, which ends lines), so a parser that reads past len
 * answers differently.  Every run must reach the row's result and status;
 * an error must be sticky (asking again, with the same bytes, answers the
 * same) and carry a reason; a run that is not whole must find what the
 * whole run found, at the same offsets of the buffer; and the table's own
 * check, if it has one, must find nothing.
 *
 * Output, on stdout: "pass NAME", or "FAIL NAME (line N): HOW: WHAT" with
 * the input and the row's why on indented lines after it; row_summary()
 * ends with "N passed, N failed".  test.sh counts the pass and FAIL lines.
 */
#ifndef SSE_TESTS_ROWS_H
#define SSE_TESTS_ROWS_H

#include <stdbool.h>
#include <stddef.h>

#include "http.h"

/* Bytes with their length, so that a row may hold NULs. */
struct bytes {
	const char *p;
	size_t len;
};

#define B(s)	{ (s), sizeof(s) - 1 }

/* Room for what differed, written by a check. */
#define ROW_WHY_CAP 640

/* The limits of docs/protocol.md section 4 (the server's defaults). */
extern const struct http_limits row_limits_default;

struct row_spec;

/* One run of a row: the parser's state and the buffer it was handed. */
struct row_run {
	const struct row_spec *spec;
	char how[48];		/* "whole", "split at 7", ... */
	struct http_request req;
	bool head_done;		/* http_parse_head() returned HTTP_DONE */
	char *buf;		/* the row's bytes so far, poison after them */
	size_t len;		/* how many of them the parser has seen */
	enum http_result res;	/* what the last call said */
	bool sticky;		/* an error was repeated by later calls */
};

/* A row as the runner sees it; the table's own row type keeps the rest and
 * is passed along in row. */
struct row_spec {
	int line;
	const char *name;
	struct bytes in;
	enum http_result want;			/* at the end of in */
	int status;				/* HTTP_ERROR: the status */
	const struct http_limits *limits;	/* NULL: row_limits_default */
	const char *why;	/* what the row guards against, or NULL */

	/* The table's own check of a run that reached want with the right
	 * status: true, with what differed written to why (ROW_WHY_CAP
	 * bytes), or false.  NULL: none. */
	bool (*differs)(const struct row_run *r, char *why);
	const void *row;	/* the table's row, for differs */
};

/* Runs the row every way, then prints its one line and counts it. */
void row_test(const struct row_spec *s);

/* Prints and counts a case that is not a row: pass when why is NULL,
 * else FAIL with why. */
void row_report(int line, const char *name, const char *why);

/* Prints "N passed, N failed" and returns the exit status: 1 if any
 * case failed, else 0. */
int row_summary(void);

/* Writes the message to why (ROW_WHY_CAP bytes) and returns true, so that
 * a check can end in `return row_fail(why, ...)`. */
bool row_fail(char *why, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Escapes the n bytes at p into dst (cap bytes) as a C string would show
 * them; what does not fit ends in "...".  Returns dst. */
const char *row_escape(char *dst, size_t cap, const char *p, size_t n);

/* "MORE", "DONE" or "ERROR". */
const char *row_result_name(enum http_result res);

/* Whether p[0..len) lies within the bytes the run has handed over (an
 * empty span always does). */
bool row_in_buffer(const struct row_run *r, const char *p, size_t len);

#endif
