/* fuzz_http.c - a libFuzzer harness for the HTTP request parser.
 *
 * Whatever the bytes, the parser must neither crash nor touch memory
 * outside the buffer (AddressSanitizer watches), nor do anything undefined
 * (UBSan), and it must not care how the bytes arrive: the input is parsed
 * once whole and once in two pieces, split where the fuzzer's first byte
 * says, and both runs must agree on the result, every field and the body.
 * The limits are small so that the fuzzer reaches each of them.
 *
 *	make fuzz                   (each harness for $(FUZZ_SECONDS))
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

static const struct http_limits limits = {
	.max_target = 64, .max_head = 512, .max_body = 1024,
};

/* Parses buf as if its first len1 bytes came first, then the rest. */
static enum http_result parse(struct http_request *req, char *buf,
			      size_t len1, size_t len)
{
	size_t feeds[2] = { len1, len };
	enum http_result r = HTTP_MORE;
	bool head_done = false;

	http_request_init(req, &limits);
	for (int i = 0; i < 2; i++) {
		if (!head_done) {
			r = http_parse_head(req, buf, feeds[i]);
			if (r == HTTP_ERROR)
				return r;
			if (r == HTTP_MORE)
				continue;
			head_done = true;
		}
		r = http_parse_body(req, buf, feeds[i]);
		if (r != HTTP_MORE)
			return r;
	}
	return r;
}

/* Whether two spans hold the same text. */
static bool same_text(struct http_span a, struct http_span b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

#define SAME(what) do {							\
	if ((what##_a) != (what##_b)) {					\
		fprintf(stderr, "whole and split (at %zu) differ in %s\n",	\
			split, #what);					\
		abort();						\
	}								\
} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request a, b;
	enum http_result ra, rb;
	size_t split;
	char *wa, *wb;

	if (size < 1)
		return 0;
	split = data[0] % size;
	data++;
	size--;
	/* Exactly size bytes each, so that one byte too far is caught. */
	wa = malloc(size ? size : 1);
	wb = malloc(size ? size : 1);
	memcpy(wa, data, size);
	memcpy(wb, data, size);
	ra = parse(&a, wa, size, size);
	rb = parse(&b, wb, split, size);

	int result_a = ra, result_b = rb;
	SAME(result);
	if (ra == HTTP_ERROR) {
		int status_a = a.status, status_b = b.status;
		SAME(status);
		if (a.reason == NULL || a.reason[0] == '\0')
			abort();
	}
	if (ra == HTTP_DONE) {
		bool path_a = true, path_b = same_text(a.path, b.path);
		bool query_a = true, query_b = same_text(a.query, b.query);
		size_t headers_a = a.n_headers, headers_b = b.n_headers;
		size_t body_len_a = a.body_len, body_len_b = b.body_len;
		size_t end_a = a.end, end_b = b.end;
		int method_a = a.method, method_b = b.method;
		int minor_a = a.minor, minor_b = b.minor;
		int keep_a = a.keep_alive, keep_b = b.keep_alive;
		uint64_t length_a = a.content_length, length_b = b.content_length;

		SAME(path); SAME(query); SAME(headers); SAME(body_len);
		SAME(end); SAME(method); SAME(minor); SAME(keep);
		SAME(length);
		if (a.body_len > limits.max_body || a.end > size ||
		    memcmp(a.body, b.body, a.body_len) != 0)
			abort();
	}
	free(wa);
	free(wb);
	return 0;
}
