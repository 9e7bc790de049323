/* fuzz_json.c - a libFuzzer harness for the server's JSON scanner.
 *
 * The scanner in sse.c decides whether a POST /api body asks for a stream
 * and refuses invalid JSON.  Whatever the bytes, it must not crash, read
 * past the body or recurse without bound, and its answer must be
 * consistent: a reason exactly when the JSON is refused, and the same
 * answer twice for the same bytes.
 */
#define SSE_NO_MAIN
#include "../sse.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body = malloc(size ? size : 1);	/* exactly size bytes */
	const char *why = NULL, *why2 = NULL;
	enum ask a, b;

	memcpy(body, data, size);
	a = json_asks_stream(body, size, &why);
	b = json_asks_stream(body, size, &why2);
	if (a != b || (a == ASK_BAD) != (why != NULL) || why != why2)
		abort();
	free(body);
	return 0;
}
