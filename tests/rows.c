/* rows.c - runs a parser table's row every way a socket may deliver it;
 * see rows.h for what it checks and prints. */
#include "rows.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct http_limits row_limits_default = {
	.max_target = 4096, .max_head = 8192, .max_body = 65536,
};

static int passed, failed;

/* ---- Reporting --------------------------------------------------------- */

void row_report(int line, const char *name, const char *why)
{
	if (why == NULL) {
		passed++;
		printf("pass %s\n", name);
	} else {
		failed++;
		printf("FAIL %s (line %d): %s\n", name, line, why);
	}
}

int row_summary(void)
{
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

bool row_fail(char *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, ROW_WHY_CAP, fmt, ap);
	va_end(ap);
	return true;
}

const char *row_escape(char *dst, size_t cap, const char *p, size_t n)
{
	size_t used = 0, i;

	for (i = 0; i < n && used + 8 < cap; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\r')
			used += (size_t)sprintf(dst + used, "\\r");
		else if (c == '\n')
			used += (size_t)sprintf(dst + used, "\\n");
		else if (c == '\t')
			used += (size_t)sprintf(dst + used, "\\t");
		else if (c == '\\' || c == '"')
			used += (size_t)sprintf(dst + used, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			used += (size_t)sprintf(dst + used, "\\x%02x", c);
		else
			dst[used++] = (char)c;
	}
	strcpy(dst + used, i < n ? "..." : "");
	return dst;
}

const char *row_result_name(enum http_result res)
{
	switch (res) {
	case HTTP_MORE:
		return "MORE";
	case HTTP_DONE:
		return "DONE";
	case HTTP_ERROR:
		return "ERROR";
	}
	return "(not a result)";
}

/* ---- One run ----------------------------------------------------------- */

bool row_in_buffer(const struct row_run *r, const char *p, size_t len)
{
	uintptr_t lo = (uintptr_t)r->buf, at = (uintptr_t)p;

	if (len == 0)
		return true;
	return p != NULL && at >= lo && at - lo <= r->len &&
	       len <= r->len - (at - lo);
}

/* Whether, after an error, asking again gives the same error. */
static bool still_error(struct row_run *r)
{
	int status = r->req.status;

	if (r->head_done &&
	    http_parse_body(&r->req, r->buf, r->len) != HTTP_ERROR)
		return false;
	if (http_parse_head(&r->req, r->buf, r->len) != HTTP_ERROR)
		return false;
	return r->req.status == status;
}

/* Starts a run whose buffer holds poison where bytes have not arrived. */
static void run_start(struct row_run *r, const struct row_spec *s,
		      const char *how, char poison)
{
	size_t cap = s->in.len ? s->in.len : 1;

	r->spec = s;
	snprintf(r->how, sizeof r->how, "%s", how);
	/* Garbage first, so that a field init forgets shows. */
	memset(&r->req, 0xa5, sizeof r->req);
	http_request_init(&r->req,
			  s->limits ? s->limits : &row_limits_default);
	r->head_done = false;
	r->buf = malloc(cap);
	if (r->buf == NULL) {
		perror("rows: malloc");
		exit(2);
	}
	memset(r->buf, poison, cap);
	r->len = 0;
	r->res = HTTP_MORE;
	r->sticky = false;
}

/* Hands the parser the row's bytes up to offset to: the head until it is
 * done, then the body.  Returns whether it asks for more. */
static bool run_to(struct row_run *r, size_t to)
{
	memcpy(r->buf + r->len, r->spec->in.p + r->len, to - r->len);
	r->len = to;
	if (!r->head_done) {
		r->res = http_parse_head(&r->req, r->buf, to);
		r->head_done = r->res == HTTP_DONE;
	}
	if (r->head_done)
		r->res = http_parse_body(&r->req, r->buf, to);
	if (r->res == HTTP_ERROR)
		r->sticky = still_error(r);
	return r->res == HTTP_MORE;
}

static void run_whole(struct row_run *r, const struct row_spec *s)
{
	run_start(r, s, "whole", '\0');
	run_to(r, s->in.len);
}

static void run_split(struct row_run *r, const struct row_spec *s, size_t k)
{
	char how[48];

	snprintf(how, sizeof how, "split at %zu", k);
	run_start(r, s, how, k % 2 ? '\n' : '\0');
	if (run_to(r, k))
		run_to(r, s->in.len);
}

static void run_bytes(struct row_run *r, const struct row_spec *s)
{
	size_t to = s->in.len ? 1 : 0;

	run_start(r, s, "byte by byte", '\n');
	while (run_to(r, to) && to < s->in.len)
		to++;
	snprintf(r->how, sizeof r->how, "byte by byte, stopped at len %zu",
		 r->len);
}

/* ---- Judging a run ----------------------------------------------------- */

/* The result, the status and an error's stickiness, then the table's own
 * check: the first way run r differs from its row, written to why. */
static bool run_differs(const struct row_run *r, char *why)
{
	const struct row_spec *s = r->spec;
	const struct http_request *q = &r->req;

	if (r->res != s->want && r->res == HTTP_ERROR)
		return row_fail(why, "result: expected %s, got ERROR %d \"%s\"",
				row_result_name(s->want), q->status,
				q->reason ? q->reason : "(null)");
	if (r->res != s->want)
		return row_fail(why, "result: expected %s, got %s with end %zu",
				row_result_name(s->want),
				row_result_name(r->res),
				r->res == HTTP_DONE ? q->end : r->len);
	if (r->res == HTTP_ERROR) {
		if (q->status != s->status)
			return row_fail(why, "status: expected %d, got %d "
					"\"%s\"", s->status, q->status,
					q->reason ? q->reason : "(null)");
		if (q->reason == NULL || q->reason[0] == '\0')
			return row_fail(why, "reason: expected a phrase, got "
					"%s", q->reason ? "\"\"" : "NULL");
		if (!r->sticky)
			return row_fail(why, "error not sticky: a later call "
					"did not give ERROR %d", s->status);
	}
	return s->differs != NULL && s->differs(r, why);
}

/* Where a span starts in the run's buffer: empty spans all start at 0,
 * and spans outside the buffer at SIZE_MAX. */
static size_t offset(const struct row_run *r, const char *p, size_t len)
{
	if (len == 0)
		return 0;
	if (!row_in_buffer(r, p, len))
		return SIZE_MAX;
	return (size_t)((uintptr_t)p - (uintptr_t)r->buf);
}

static bool span_moved(char *why, const struct row_run *a,
		       const struct row_run *b, const char *field,
		       struct http_span sa, struct http_span sb)
{
	size_t oa = offset(a, sa.p, sa.len), ob = offset(b, sb.p, sb.len);

	if (oa == ob && sa.len == sb.len)
		return false;
	return row_fail(why, "%s: the whole run has bytes %zu+%zu, this run "
			"%zu+%zu", field, oa, sa.len, ob, sb.len);
}

static bool num_moved(char *why, const char *field, uint64_t whole,
		      uint64_t got)
{
	if (whole == got)
		return false;
	return row_fail(why, "%s: the whole run has %llu, this run %llu",
			field, (unsigned long long)whole,
			(unsigned long long)got);
}

#define SAME_SPAN(f)	span_moved(why, a, b, #f, p->f, q->f)
#define SAME_NUM(f)	num_moved(why, #f, (uint64_t)p->f, (uint64_t)q->f)

/* Whether run b found what the whole run a found, down to where. */
static bool runs_differ(const struct row_run *a, const struct row_run *b,
			char *why)
{
	const struct http_request *p = &a->req, *q = &b->req;
	struct http_span body_a = { p->body, p->body_len };
	struct http_span body_b = { q->body, q->body_len };

	if (a->res != b->res)
		return row_fail(why, "result: the whole run %s, this run %s",
				row_result_name(a->res),
				row_result_name(b->res));
	if (a->res == HTTP_ERROR)
		return SAME_NUM(status);
	if (a->res != HTTP_DONE)
		return false;
	if (SAME_SPAN(method_name) || SAME_SPAN(target) || SAME_SPAN(path) ||
	    SAME_SPAN(query) || SAME_SPAN(content_type) ||
	    SAME_NUM(head_len) || SAME_NUM(end) || SAME_NUM(n_headers) ||
	    span_moved(why, a, b, "body", body_a, body_b))
		return true;
	for (size_t i = 0; i < p->n_headers && i < HTTP_MAX_HEADERS; i++)
		if (SAME_SPAN(headers[i].name) || SAME_SPAN(headers[i].value))
			return true;
	return false;
}

/* What the runs of one row came to. */
struct tally {
	size_t runs, bad;
	char first[ROW_WHY_CAP + 64];	/* the first failure */
};

/* Checks run r against its row and against the whole run. */
static void judge(const struct row_run *whole, const struct row_run *r,
		  struct tally *t)
{
	char why[ROW_WHY_CAP];

	t->runs++;
	if (!run_differs(r, why) &&
	    (r == whole || !runs_differ(whole, r, why)))
		return;
	if (t->bad++ == 0)
		snprintf(t->first, sizeof t->first, "%s: %s", r->how, why);
}

static void report_row(const struct row_spec *s, const struct tally *t)
{
	static char input[4096];

	if (t->bad == 0) {
		row_report(s->line, s->name, NULL);
		return;
	}
	failed++;
	printf("FAIL %s (line %d): %s", s->name, s->line, t->first);
	if (t->bad > 1)
		printf(" (%zu of %zu runs failed)", t->bad, t->runs);
	printf("\n\tinput (%zu bytes): \"%s\"\n", s->in.len,
	       row_escape(input, sizeof input, s->in.p, s->in.len));
	if (s->why != NULL)
		printf("\twhy: %s\n", s->why);
}

void row_test(const struct row_spec *s)
{
	struct tally t = { 0, 0, "" };
	struct row_run whole, r;

	run_whole(&whole, s);
	judge(&whole, &whole, &t);
	for (size_t k = 0; k < s->in.len; k++) {
		run_split(&r, s, k);
		judge(&whole, &r, &t);
		free(r.buf);
	}
	run_bytes(&r, s);
	judge(&whole, &r, &t);
	free(r.buf);
	free(whole.buf);
	report_row(s, &t);
}
