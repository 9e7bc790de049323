/* test_smuggling.c - request smuggling: one framing per request, or none.
 *
 * Request smuggling (RFC 9112 11.2) needs two parsers that read the same
 * bytes two ways: a front end that thinks a request ends here, a back end
 * that thinks it ends there, and whatever lies between is taken as the
 * start of somebody else's request.  This server cannot see the front end,
 * so the property it can keep is the one below, checked for every row:
 *
 *	a request is either refused, with the status RFC 9112 asks for (400
 *	for ambiguous framing, 501 for a coding it does not know, 413 for a
 *	body over the limit), or framed exactly one way, and req.end is where
 *	that framing ends: the next request starts there.
 *
 * Each row is a request in the forms the literature attacks it with (CL.TE,
 * TE.CL, TE.TE obfuscations, odd lengths, chunk-size tricks, bare LF and
 * CR, folding, trailers, Host), the result the parser must reach, and a
 * line naming the attack.  A framed row is the request followed by the
 * next request, so an end one byte off shows.  tests/rows.c runs every
 * row whole, split in two at every offset and byte by byte, as it runs
 * tests/test_http.c's: all runs must reach the row's answer and find what
 * the whole run found, and an error must be sticky.  Bytes that have not
 * arrived yet are NUL or LF in the buffer, so a parser that reads past len
 * answers differently.
 *
 * Where the parser frames a request that RFC 9112, or the project's own
 * rule against bare CR, says to refuse, the row keeps the refusal and
 * fails until the parser is fixed.  A bare LF ends a line in the head
 * (RFC 9112 2.2 allows it, docs/protocol.md section 4 takes it), and the
 * rows with one there fix where that one framing ends; the lines of a
 * chunked body end in CRLF only, so every row with a bare LF in a chunk
 * line, after chunk data or in the trailers is refused.  A coding other
 * than chunked gets 501, as docs/protocol.md section 4 and RFC 9112 6.1
 * say, unless chunked comes before it (400, RFC 9112 6.3).
 *
 * Output: "pass NAME" or "FAIL NAME (line N): what differed" per row, the
 * input and the row's reason on the lines after a failure; then "N passed,
 * N failed".  The exit status is 1 if any row failed.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "rows.h"

/* The limits of docs/protocol.md section 4 are row_limits_default; the
 * overflow rows run without a body limit. */
static const struct http_limits limits_unbounded = {
	.max_target = 4096, .max_head = 8192, .max_body = SIZE_MAX,
};

struct row {
	int line;
	const char *name;
	struct bytes in;
	enum http_result want;
	int status;		/* HTTP_ERROR: the status */
	size_t end;		/* HTTP_DONE: the bytes this request used */
	struct bytes body;	/* HTTP_DONE: the decoded body */
	const char *why;	/* the attack the row guards against */
	const struct http_limits *limits;	/* NULL: row_limits_default */
	const char *path;	/* HTTP_DONE: checked unless NULL */
};

/* A request framed one way: req, then rest, which is not this request's;
 * refused with a status; or one still waiting for bytes. */
#define FRAMED(name_, req, rest, body_, why_)				\
	.line = __LINE__, .name = (name_), .in = B(req rest),		\
	.want = HTTP_DONE, .end = sizeof(req) - 1, .body = B(body_),	\
	.why = (why_)
#define REFUSED(name_, req, status_, why_)				\
	.line = __LINE__, .name = (name_), .in = B(req),		\
	.want = HTTP_ERROR, .status = (status_), .why = (why_)
#define WAITS(name_, req, why_)						\
	.line = __LINE__, .name = (name_), .in = B(req),		\
	.want = HTTP_MORE, .why = (why_)

#define NEXT	"GET /next HTTP/1.1\r\nHost: a\r\n\r\n"
#define POST	"POST /api HTTP/1.1\r\nHost: a\r\n"
#define CHUNKED	POST "Transfer-Encoding: chunked\r\n\r\n"
#define CL(n)	POST "Content-Length: " n "\r\n\r\n"
#define TE(v)	POST "Transfer-Encoding: " v "\r\n\r\n"
#define HELLO	"5\r\nhello\r\n0\r\n\r\n"	/* "hello", chunked */
#define SMUGGLED "GET /admin HTTP/1.1\r\nHost: a\r\n\r\n"

static const struct row rows[] = {
	/* ---- Content-Length and Transfer-Encoding together (RFC 9112
	 * 6.1, 6.3 rule 3: "ought to be handled as an error"). */
	{ REFUSED("CL.TE: length, then chunked",
		  POST "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "0\r\n\r\nG", 400,
		  "CL.TE: by length the body is 6 bytes, by chunks 5, and "
		  "\"G\" starts the next request") },
	{ REFUSED("TE.CL: chunked, then length",
		  POST "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
		  "8\r\nSMUGGLED\r\n0\r\n\r\n", 400,
		  "TE.CL: by length the body is \"8\\r\\n\" and SMUGGLED is a "
		  "request; by chunks it is data") },
	{ REFUSED("content-length 0 and chunked",
		  POST "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n"
		  HELLO, 400,
		  "CL.TE with a zero length: a front end by length sees no "
		  "body and passes the chunks on as a request") },
	{ REFUSED("length and an unknown coding",
		  POST "Content-Length: 5\r\n"
		  "Transfer-Encoding: xchunked\r\n\r\nhello", 501,
		  "TE.CL: a parser that ignores a coding it does not know "
		  "falls back to the length") },
	{ REFUSED("length and the retired coding identity",
		  POST "Content-Length: 5\r\n"
		  "Transfer-Encoding: identity\r\n\r\nhello", 501,
		  "RFC 2616's identity, read as \"no coding\" by old parsers, "
		  "lets the length frame what others refuse") },
	{ REFUSED("length and an empty transfer-encoding",
		  POST "Content-Length: 5\r\nTransfer-Encoding:\r\n\r\nhello",
		  400,
		  "an empty Transfer-Encoding is absent to some parsers (the "
		  "length frames) and present to others (it does not)") },
	/* RFC 9112 6.1: HTTP/1.0 with Transfer-Encoding is faulty framing. */
	{ REFUSED("http/1.0 with chunked and a length",
		  "POST /api HTTP/1.0\r\nTransfer-Encoding: chunked\r\n"
		  "Content-Length: 5\r\n\r\n" HELLO, 400,
		  "an HTTP/1.0 hop ignores Transfer-Encoding and frames by "
		  "the length") },
	{ REFUSED("http/1.0 with chunked",
		  "POST /api HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
		  HELLO, 400,
		  "an HTTP/1.0 hop ignores Transfer-Encoding: no body, and "
		  "the chunks are a request") },

	/* ---- Transfer-Encoding obfuscations (TE.TE): the value is chunked
	 * to one parser only.  Codings are case-insensitive, blanks around
	 * them are OWS (RFC 9112 7, RFC 9110 5.6.1). */
	{ REFUSED("xchunked", TE("xchunked") HELLO, 501,
		  "TE.TE: a parser that looks for \"chunked\" inside the value "
		  "decodes chunks") },
	{ REFUSED("chunkedx", TE("chunkedx") HELLO, 501,
		  "TE.TE: a parser that compares a prefix decodes chunks") },
	{ REFUSED("chunk", TE("chunk") HELLO, 501,
		  "TE.TE: a parser that compares the value's length-worth of "
		  "\"chunked\" decodes chunks") },
	{ REFUSED("quoted chunked", TE("\"chunked\"") HELLO, 501,
		  "TE.TE: a parser that unquotes the value decodes chunks") },
	/* RFC 9112 7.1: "The chunked coding does not define any parameters.
	 * Their presence SHOULD be treated as an error." */
	{ REFUSED("chunked with a parameter", TE("chunked;q=1") HELLO, 501,
		  "TE.TE: a parser that drops parameters decodes chunks, one "
		  "that does not falls back") },
	{ REFUSED("chunked, then another coding",
		  TE("chunked, identity") HELLO, 400,
		  "RFC 9112 6.3: chunked not last leaves the length unknown") },
	{ REFUSED("chunked, then another coding on a second line",
		  POST "Transfer-Encoding: chunked\r\n"
		  "Transfer-Encoding: x\r\n\r\n" HELLO, 400,
		  "TE.TE: the first line says chunked, the list of both lines "
		  "ends in x; parsers that keep one line differ") },
	{ REFUSED("another coding, then chunked on a second line",
		  POST "Transfer-Encoding: x\r\n"
		  "Transfer-Encoding: chunked\r\n\r\n" HELLO, 501,
		  "TE.TE: parsers that keep the first line or the last "
		  "differ") },
	{ REFUSED("chunked twice on one line", TE("chunked, chunked") HELLO,
		  400,
		  "RFC 9112 6.1 forbids chunking twice: decode once or "
		  "twice?") },
	{ REFUSED("chunked twice on two lines",
		  POST "Transfer-Encoding: chunked\r\n"
		  "Transfer-Encoding: chunked\r\n\r\n" HELLO, 400,
		  "chunked twice, split over lines a proxy may merge or not") },
	/* RFC 9112 5.1: a server MUST answer 400. */
	{ REFUSED("space before the colon",
		  POST "Transfer-Encoding : chunked\r\n\r\n" HELLO, 400,
		  "TE.TE: \"Transfer-Encoding \" is no header to a strict "
		  "parser and Transfer-Encoding to a trimming one") },
	{ REFUSED("tab before the colon",
		  POST "Transfer-Encoding\t: chunked\r\n\r\n" HELLO, 400,
		  "TE.TE: as a space before the colon") },
	{ FRAMED("tab after the colon",
		 POST "Transfer-Encoding:\tchunked\r\n\r\n" HELLO, NEXT,
		 "hello",
		 "TE.TE: HTAB is OWS, so this is chunked; a parser that trims "
		 "only SP would not decode it") },
	{ FRAMED("no blank after the colon",
		 POST "Transfer-Encoding:chunked\r\n\r\n" HELLO, NEXT, "hello",
		 "OWS may be empty: chunked, not an unknown header") },
	{ FRAMED("name and value in mixed case",
		 POST "tRANSFER-eNCODING: cHUNKED\r\n\r\n" HELLO, NEXT, "hello",
		 "names and codings are case-insensitive: a case-sensitive "
		 "parser would fall back to no body") },
	{ FRAMED("blanks and empty list elements around chunked",
		 POST "Transfer-Encoding: , chunked ,\t\r\n\r\n" HELLO, NEXT,
		 "hello",
		 "#rule lists allow empty elements: still exactly chunked") },
	{ REFUSED("vertical tab before chunked",
		  POST "Transfer-Encoding:\x0b" "chunked\r\n\r\n" HELLO, 400,
		  "TE.TE: a parser that trims with isspace() decodes chunks") },
	{ REFUSED("form feed after chunked",
		  POST "Transfer-Encoding: chunked\x0c\r\n\r\n" HELLO, 400,
		  "TE.TE: a parser that trims with isspace() decodes chunks") },
	{ REFUSED("no-break space before chunked",
		  POST "Transfer-Encoding: \xa0" "chunked\r\n\r\n" HELLO, 501,
		  "TE.TE: a Unicode-aware trim makes U+00A0 a blank and the "
		  "value chunked") },
	{ REFUSED("NUL after chunked",
		  POST "Transfer-Encoding: chunked\0\r\n\r\n" HELLO, 400,
		  "a C-string parser stops at the NUL and sees chunked") },
	{ REFUSED("NUL before the colon",
		  POST "Transfer-Encoding\0: chunked\r\n\r\n" HELLO, 400,
		  "a C-string parser sees a name cut at the NUL") },
	{ REFUSED("long s in the name",
		  POST "Tran\xc5\xbf" "fer-Encoding: chunked\r\n\r\n" HELLO,
		  400,
		  "U+017F upper-cases to S: a Unicode case fold makes this "
		  "Transfer-Encoding") },
	{ FRAMED("underscore for the hyphen is another header",
		 POST "Transfer_Encoding: chunked\r\n\r\n", HELLO NEXT, "",
		 "CGI maps _ and - both to _, so a CGI back end sees chunked; "
		 "here it is an unknown header and there is no body") },
	/* RFC 9112 5.2: obs-fold MUST be refused or replaced by SP. */
	{ REFUSED("folded value",
		  POST "Transfer-Encoding:\r\n chunked\r\n\r\n" HELLO, 400,
		  "TE.TE: unfolded the value is chunked, line by line it is "
		  "empty") },
	{ REFUSED("transfer-encoding folded into the line before",
		  POST "X: y\r\n Transfer-Encoding: chunked\r\n\r\n" HELLO, 400,
		  "TE.TE: unfolded it is part of X's value, line by line a "
		  "header of its own") },
	/* RFC 9112 2.2: blanks before the first field: reject or skip. */
	{ REFUSED("blank-led first header line",
		  "POST /api HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: a"
		  "\r\n\r\n" HELLO, 400,
		  "a first line with leading blanks is skipped by some parsers "
		  "and a header to others") },
	/* RFC 9112 2.2: a recipient MAY take a bare LF as a line end;
	 * docs/protocol.md section 4 does, in the head.  A parser that
	 * keeps the LF inside X's value never sees the coding; this one
	 * frames by chunks. */
	{ FRAMED("bare LF before the transfer-encoding line",
		 POST "X: y\nTransfer-Encoding: chunked\r\n\r\n" HELLO, NEXT,
		 "hello",
		 "TE.TE: \"X: y\\nTransfer-Encoding\" is one line to a "
		 "CRLF-only parser; here it is two, and chunked") },
	/* RFC 9112 2.2: a bare CR is invalid (or SP). */
	{ REFUSED("bare CR before the transfer-encoding line",
		  POST "X: y\rTransfer-Encoding: chunked\r\n\r\n" HELLO, 400,
		  "a parser that ends lines at CR sees chunked, one that "
		  "replaces it by SP sees none") },
	{ REFUSED("NUL in a value before the transfer-encoding line",
		  POST "X: a\0\r\nTransfer-Encoding: chunked\r\n\r\n" HELLO,
		  400,
		  "a C-string parser ends the head at the NUL and frames "
		  "nothing") },

	/* ---- Content-Length values: 1*DIGIT and nothing else (RFC 9110
	 * 8.6, RFC 9112 6.3 rule 5: invalid is an unrecoverable 400). */
	{ REFUSED("content-length +5", CL("+5") "hello", 400,
		  "strtol() and atoi() accept a sign") },
	{ REFUSED("content-length -5", CL("-5") "hello", 400,
		  "a negative length read unsigned is huge, read signed "
		  "rewinds") },
	{ REFUSED("content-length 0x5", CL("0x5") "hello", 400,
		  "strtol() with base 0 reads 5, a decimal parser 0 or an "
		  "error") },
	{ FRAMED("content-length 010 is ten, not octal eight",
		 CL("010") "0123456789", NEXT, "0123456789",
		 "strtol() with base 0 reads 010 as 8 and the last two bytes "
		 "as the next request") },
	{ FRAMED("content-length with many leading zeros",
		 CL("0000000000000000000000005") "hello", NEXT, "hello",
		 "a parser that caps the digits it reads errs or reads 0") },
	/* RFC 9110 8.6: a list of one value repeated MAY be rejected. */
	{ REFUSED("content-length 5,5", CL("5,5") "hello", 400,
		  "a list of lengths: the first, the last, or their sum") },
	{ REFUSED("content-length 5, 5", CL("5, 5") "hello", 400,
		  "a list of lengths: the first, the last, or their sum") },
	{ REFUSED("content-length 5, 6", CL("5, 6") "hello!", 400,
		  "the front end takes 5, the back end 6") },
	{ REFUSED("content-length 5 5", CL("5 5") "hello", 400,
		  "a parser that stops at the blank reads 5, another 55") },
	{ REFUSED("content-length 5.0", CL("5.0") "hello", 400,
		  "a float parser reads 5") },
	{ REFUSED("content-length 5e0", CL("5e0") "hello", 400,
		  "a float parser reads 5") },
	{ REFUSED("content-length empty", CL("") "hello", 400,
		  "empty is 0 to some parsers, absent to others") },
	{ REFUSED("content-length with a vertical tab",
		  CL("5\x0b") "hello", 400,
		  "a parser that trims with isspace() reads 5") },
	{ REFUSED("content-length with a NUL", CL("5\0" "0") "hello", 400,
		  "a C-string parser reads 5, the rest read 50 or nothing") },
	{ REFUSED("content-length in Arabic-Indic digits",
		  CL("\xd9\xa5") "hello", 400,
		  "a Unicode digit parser reads U+0665 as 5") },
	{ REFUSED("content-length in fullwidth digits",
		  CL("\xef\xbc\x95") "hello", 400,
		  "a Unicode digit parser reads U+FF15 as 5") },
	{ REFUSED("content-length 2^64+5",
		  CL("18446744073709551621") "hello", 400,
		  "a 64-bit parser that wraps reads 5") },
	{ REFUSED("content-length 2^32+5", CL("4294967301") "hello", 413,
		  "a 32-bit parser that wraps reads 5; here it is over the "
		  "body limit") },
	{ WAITS("content-length 2^32+5, no body limit",
		CL("4294967301") "hello" NEXT,
		"a 32-bit parser reads 5 and then a request; here all of it "
		"is body"), .limits = &limits_unbounded },
	{ REFUSED("two differing lengths",
		  POST "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		  400,
		  "the front end takes the first line, the back end the "
		  "last") },
	{ REFUSED("a length, then an empty length",
		  POST "Content-Length: 5\r\nContent-Length:\r\n\r\nhello", 400,
		  "an empty second line may be skipped or read as 0") },
	{ FRAMED("the same length twice",
		 POST "Content-Length: 5\r\ncontent-length: 005\r\n\r\nhello",
		 NEXT, "hello",
		 "lines that agree in value frame one way, however they are "
		 "spelt") },
	{ REFUSED("space before the colon of the length",
		  POST "Content-Length : 5\r\n\r\nhello", 400,
		  "a length that only a trimming parser sees") },
	{ REFUSED("folded length",
		  POST "Content-Length: 5\r\n 0\r\n\r\nhello", 400,
		  "unfolded the length is \"5 0\", line by line 5") },
	{ REFUSED("bare CR after the length",
		  POST "Content-Length: 5\rX: 0\r\n\r\nhello", 400,
		  "a parser that ends lines at CR reads 5, one that replaces "
		  "it by SP reads nothing valid") },

	/* ---- Bodies that a server might not expect (CL.0). */
	{ FRAMED("GET with a body is framed by its length",
		 "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
		 NEXT, "hello",
		 "CL.0: a back end that ignores a GET's body reads it as the "
		 "next request") },
	{ FRAMED("HEAD with a body is framed by its length",
		 "HEAD / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
		 NEXT, "hello",
		 "CL.0 on HEAD, as on GET") },
	{ FRAMED("OPTIONS with a chunked body",
		 "OPTIONS * HTTP/1.1\r\nHost: a\r\n"
		 "Transfer-Encoding: chunked\r\n\r\n" HELLO, NEXT, "hello",
		 "CL.0 on OPTIONS, by chunks") },
	{ FRAMED("a body holding a request is data",
		 CL("32") SMUGGLED, NEXT, SMUGGLED,
		 "the classic payload: inside the length it is body bytes") },
	{ FRAMED("content-length 0 ends at the head",
		 CL("0"), SMUGGLED, "",
		 "what follows a zero length is the next request, never "
		 "body") },
	/* RFC 9112 6.3 rule 6: no framing in a request means no body. */
	{ FRAMED("no length and no coding: no body",
		 POST "\r\n", SMUGGLED, "",
		 "a parser that reads a request's body to the close swallows "
		 "the next request") },
	{ WAITS("body shorter than its length",
		CL("10") "hello",
		"the rest of the body is awaited, not read as a request") },

	/* ---- Chunk sizes: 1*HEXDIG (RFC 9112 7.1), no sign, no prefix,
	 * no overflow ("Recipients MUST anticipate potentially large
	 * hexadecimal numerals"). */
	{ FRAMED("chunk size with many leading zeros",
		 CHUNKED "00000000000000000005\r\nhello\r\n0\r\n\r\n", NEXT,
		 "hello",
		 "a parser that caps the digits of a size errs or reads 0") },
	{ FRAMED("last chunk of many zeros",
		 CHUNKED "5\r\nhello\r\n00000000000000000000\r\n\r\n", NEXT,
		 "hello",
		 "1*(\"0\") is the last chunk however long") },
	{ REFUSED("chunk size 0x5", CHUNKED "0x5\r\nhello\r\n0\r\n\r\n", 400,
		  "strtol() with base 16 skips 0x: 5 to it, 0 and junk here") },
	{ REFUSED("chunk size -5", CHUNKED "-5\r\nhello\r\n0\r\n\r\n", 400,
		  "strtoul() negates: a huge size to it") },
	{ REFUSED("chunk size +5", CHUNKED "+5\r\nhello\r\n0\r\n\r\n", 400,
		  "strtol() accepts a sign") },
	{ REFUSED("blank before the chunk size",
		  CHUNKED " 5\r\nhello\r\n0\r\n\r\n", 400,
		  "strtol() skips leading blanks") },
	{ REFUSED("underscore in the chunk size",
		  CHUNKED "1_0\r\n0123456789abcdef\r\n0\r\n\r\n", 400,
		  "Python's int(s, 16) reads 1_0 as 16") },
	{ REFUSED("junk after the chunk size",
		  CHUNKED "5z\r\nhello\r\n0\r\n\r\n", 400,
		  "a parser that reads the digits and skips to the line end "
		  "reads 5") },
	{ REFUSED("junk after blanks after the chunk size",
		  CHUNKED "5 z\r\nhello\r\n0\r\n\r\n", 400,
		  "only BWS \";\" may follow a size") },
	{ REFUSED("NUL after the chunk size",
		  CHUNKED "5\0\r\nhello\r\n0\r\n\r\n", 400,
		  "a C-string parser reads 5 and loses its place") },
	{ REFUSED("empty chunk size", CHUNKED "\r\nhello\r\n0\r\n\r\n", 400,
		  "an empty size is 0 to some parsers: the body ends early") },
	/* chunk-ext = *( BWS ";" ... ): a blank with no ";" after it is
	 * outside the grammar, but no parser reads another size. */
	{ FRAMED("blank after the chunk size",
		 CHUNKED "5 \r\nhello\r\n0\r\n\r\n", NEXT, "hello",
		 "trailing blanks: every reading that takes them gives 5") },
	{ REFUSED("chunk size 2^64+5",
		  CHUNKED "10000000000000005\r\nhello\r\n0\r\n\r\n", 400,
		  "a 64-bit parser that wraps reads 5"),
	  .limits = &limits_unbounded },
	{ REFUSED("chunk size 2^32+5",
		  CHUNKED "100000005\r\nhello\r\n0\r\n\r\n", 413,
		  "a 32-bit parser reads 5; here it is over the body limit") },
	{ WAITS("chunk size 2^32+5, no body limit",
		CHUNKED "100000005\r\nhello\r\n0\r\n\r\n" NEXT,
		"a 32-bit parser reads 5 and then a request; here all of it "
		"is chunk data"), .limits = &limits_unbounded },

	/* ---- Chunk lines and data: where each ends.  Chunk lines end in
	 * CRLF only (RFC 9112 2.2 lets a bare LF end the head's lines, not
	 * the body's framing), a bare CR is refused, data is exactly its
	 * size. */
	{ REFUSED("LF-only chunk lines",
		  CHUNKED "5\nhello\n0\n\n", 400,
		  "parsers that take LF as a chunk line's end and parsers "
		  "that wait for CRLF end the body in different places") },
	{ REFUSED("bare LF inside a chunk extension",
		  CHUNKED "5;a\nhello\r\n0\r\n\r\n", 400,
		  "TERM.EXT: a parser that skips an extension to CRLF reads "
		  "\"hello\" as extension, one that stops at LF reads data") },
	{ REFUSED("bare CR inside a chunk extension",
		  CHUNKED "5;a\rhello\r\n0\r\n\r\n", 400,
		  "a bare CR ends the line to some parsers and is extension "
		  "to others") },
	{ FRAMED("unterminated quote in a chunk extension",
		 CHUNKED "5;a=\"\r\nhello\r\n0\r\n\r\n", NEXT, "hello",
		 "a parser that skips quoted strings across lines reads the "
		 "data as extension") },
	{ REFUSED("chunk data longer than its size",
		  CHUNKED "5\r\nhelloX\r\n0\r\n\r\n", 400,
		  "SPILL: a parser that skips two bytes after the data "
		  "without looking desynchronises") },
	{ REFUSED("chunk data without its CRLF",
		  CHUNKED "5\r\nhello0\r\n\r\n", 400,
		  "a parser that does not check the CRLF after data reads "
		  "\"0\\r\" as framing") },
	{ REFUSED("CR CR LF after chunk data",
		  CHUNKED "5\r\nhello\r\r\n0\r\n\r\n", 400,
		  "a bare CR after the data") },
	{ REFUSED("LF after chunk data",
		  CHUNKED "5\r\nhello\n0\r\n\r\n", 400,
		  "a parser that skips two bytes after the data eats the 0; "
		  "one that takes the LF does not") },
	{ REFUSED("bare LF ending one chunk-size line",
		  CHUNKED "5\nhello\r\n0\r\n\r\n", 400,
		  "one LF among CRLFs: a parser that waits for CRLF reads "
		  "\"hello\" as the size line's extension") },
	{ REFUSED("bare LF as the final empty line",
		  CHUNKED "5\r\nhello\r\n0\r\n\n" NEXT, 400,
		  "a parser that waits for CRLF takes the next request for "
		  "trailers") },
	{ REFUSED("bare LF ending a trailer field",
		  CHUNKED "5\r\nhello\r\n0\r\nX: 1\n\r\n" NEXT, 400,
		  "an LF parser ends the body at the CRLF after it; a CRLF "
		  "parser reads on and takes the next request for trailers") },
	{ REFUSED("chunk size one over the data",
		  CHUNKED "6\r\nhello\r\n0\r\n\r\n", 400,
		  "\"hello\\r\" then a bare LF: data of 6 needs CRLF after "
		  "it, and one byte off is how bodies are smuggled") },
	{ FRAMED("chunk data holding a request is data",
		 CHUNKED "20\r\n" SMUGGLED "\r\n0\r\n\r\n", NEXT, SMUGGLED,
		 "inside its size a chunk is data, whatever it looks like") },
	{ WAITS("chunked body without its last chunk",
		CHUNKED "5\r\nhello\r\n",
		"a parser that ends the body at a blank line or at the read's "
		"end lets a request follow early") },
	{ WAITS("last chunk without the final line",
		CHUNKED "5\r\nhello\r\n0\r\n",
		"a parser that ends at \"0\\r\\n\" takes the trailers for the "
		"next request") },

	/* ---- Trailers: field lines (RFC 9112 7.1.2), then CRLF. */
	{ FRAMED("trailer fields are skipped",
		 CHUNKED "5\r\nhello\r\n0\r\nX-Sum: 1\r\nY: 2\r\n\r\n", NEXT,
		 "hello",
		 "a parser that knows no trailers ends at \"0\\r\\n\" and "
		 "reads X-Sum as a request") },
	{ FRAMED("framing fields in the trailers change nothing",
		 CHUNKED "5\r\nhello\r\n0\r\nContent-Length: 50\r\n"
		 "Transfer-Encoding: chunked\r\n\r\n", NEXT, "hello",
		 "a parser that merges trailers into the head reframes the "
		 "message (RFC 9110 6.5.1)") },
	{ REFUSED("LF-only last chunk and trailers",
		  CHUNKED "5\nhello\n0\nX: 1\n\n", 400,
		  "chunk lines end in CRLF: the body's end is not to be "
		  "guessed") },
	{ REFUSED("bare CR after the last chunk",
		  CHUNKED "5\r\nhello\r\n0\r\n\rX\r\n", 400,
		  "\"\\r\" then junk is no empty line: the body's end is "
		  "unclear") },
	/* RFC 9112 5.1 speaks of "any received request message": the
	 * trailer section is made of field lines too. */
	{ REFUSED("space before the colon in a trailer",
		  CHUNKED "5\r\nhello\r\n0\r\nX : 1\r\n\r\n", 400,
		  "RFC 9112 5.1: whitespace before the colon MUST be refused, "
		  "in trailers as in the head") },
	/* RFC 9112 2.2: a bare CR makes its element invalid (or is read as
	 * SP); the head refuses it, and the trailers are no safer. */
	{ REFUSED("bare CR in a trailer",
		  CHUNKED "5\r\nhello\r\n0\r\nX: a\r\r\n" SMUGGLED, 400,
		  "a parser that ends lines at CR ends the body at \"\\r\\n\" "
		  "and runs GET /admin; this one takes it as trailers") },
	/* RFC 9112 2.2: bytes that do not match the grammar SHOULD get 400;
	 * "GET /admin HTTP/1.1" is no field line. */
	{ REFUSED("a request line as a trailer",
		  CHUNKED "5\r\nhello\r\n0\r\n" SMUGGLED, 400,
		  "a parser that ends the body at \"0\\r\\n\" runs GET /admin; "
		  "this one swallows it as trailers") },

	/* ---- The head: line ends, Host and the target. */
	{ FRAMED("LF-only head with a length",
		 "POST /api HTTP/1.1\nHost: a\nContent-Length: 5\n\nhello",
		 NEXT, "hello",
		 "RFC 9112 2.2 MAY: the head ends at LF LF, the body is 5 "
		 "bytes after it") },
	{ REFUSED("bare CR as the empty line",
		  POST "Content-Length: 5\r\n\rhello", 400,
		  "a parser that ends lines at CR starts the body one byte "
		  "earlier") },
	{ REFUSED("two Host lines",
		  "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400,
		  "RFC 9112 3.2 MUST: one hop routes by the first, another by "
		  "the last") },
	/* RFC 9112 3.2: 400 MUST answer "a Host header field with an
	 * invalid field value"; Host = uri-host [ ":" port ]. */
	{ REFUSED("Host with a blank inside",
		  "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400,
		  "RFC 9112 3.2 MUST: one hop routes by \"a\", another by "
		  "\"a b\" or \"b\"") },
	{ REFUSED("Host with userinfo",
		  "GET / HTTP/1.1\r\nHost: evil@good\r\n\r\n", 400,
		  "RFC 9112 3.2 MUST: \"evil@good\" is no uri-host; a URL "
		  "parser routes it to good") },
	{ REFUSED("absolute-form without Host",
		  "GET http://a/ HTTP/1.1\r\n\r\n", 400,
		  "RFC 9112 3.2 MUST: HTTP/1.1 needs Host even with an "
		  "absolute target") },
	/* RFC 9110 4.2.1: an http URI with an empty host is invalid and
	 * MUST be rejected; 4.2.4: userinfo in an http URI is deprecated
	 * and the authority it hides behind is a phishing classic. */
	{ REFUSED("absolute-form with an empty host",
		  "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", 400,
		  "RFC 9110 4.2.1 MUST: no host to route by; one hop takes "
		  "Host, another the empty authority") },
	{ REFUSED("absolute-form with an empty host and a query",
		  "GET http://?a HTTP/1.1\r\nHost: a\r\n\r\n", 400,
		  "RFC 9110 4.2.1 MUST: an empty authority before the query") },
	{ REFUSED("absolute-form https with an empty host",
		  "GET https:///x HTTP/1.1\r\nHost: a\r\n\r\n", 400,
		  "RFC 9110 4.2.2: the same for https") },
	{ REFUSED("absolute-form with userinfo",
		  "GET http://u:p@h/x HTTP/1.1\r\nHost: h\r\n\r\n", 400,
		  "RFC 9110 4.2.4: userinfo in an http URI; a URL parser routes "
		  "\"good@evil\" to evil") },
	{ REFUSED("absolute-form with an empty userinfo",
		  "GET http://@h/x HTTP/1.1\r\nHost: h\r\n\r\n", 400,
		  "RFC 9110 4.2.4: an '@' in the authority is userinfo, even "
		  "empty") },
	{ FRAMED("absolute-form with '@' in the path",
		 "GET http://h/a@b HTTP/1.1\r\nHost: h\r\n\r\n", NEXT, "",
		 "an '@' after the authority is the path's, not userinfo"),
	  .path = "/a@b" },
	{ FRAMED("absolute-form with '@' in the query",
		 "GET http://h?u=a@b HTTP/1.1\r\nHost: h\r\n\r\n", NEXT, "",
		 "an '@' after the authority is the query's"), .path = "/" },
	/* RFC 9112 3.2.2: the target's authority wins over Host. */
	{ FRAMED("absolute-form target and another Host",
		 "GET http://a/admin HTTP/1.1\r\nHost: b\r\n\r\n", NEXT, "",
		 "one hop routes by Host, another by the target: the path is "
		 "the target's"), .path = "/admin" },
};

/* ---- Running a row ----------------------------------------------------- */

/* tests/rows.c runs each row whole, split and byte by byte, and checks the
 * result, the status and an error's stickiness.  A framed request must
 * also end where the row says, with its body inside it. */
static bool framing_differs(const struct row_run *r, char *why)
{
	const struct row *w = r->spec->row;
	const struct http_request *q = &r->req;
	char got[128], want[128];
	uintptr_t at;

	if (r->res != HTTP_DONE)
		return false;
	if (q->end != w->end)
		return row_fail(why, "end: expected %zu, got %zu", w->end,
				q->end);
	at = (uintptr_t)q->body - (uintptr_t)r->buf;
	if (q->body == NULL || (uintptr_t)q->body < (uintptr_t)r->buf ||
	    at > q->end || q->body_len > q->end - at)
		return row_fail(why, "body: %zu bytes outside the request",
				q->body_len);
	if (q->body_len != w->body.len ||
	    memcmp(q->body, w->body.p, w->body.len) != 0)
		return row_fail(why, "body: expected \"%s\", got \"%s\"",
				row_escape(want, sizeof want, w->body.p,
					   w->body.len),
				row_escape(got, sizeof got, q->body,
					   q->body_len));
	if (w->path && (q->path.len != strlen(w->path) ||
			memcmp(q->path.p, w->path, q->path.len) != 0))
		return row_fail(why, "path: expected \"%s\", got \"%s\"",
				w->path, row_escape(got, sizeof got, q->path.p,
						    q->path.len));
	return false;
}

int main(void)
{
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct row *w = &rows[i];
		struct row_spec s = {
			.line = w->line, .name = w->name, .in = w->in,
			.want = w->want, .status = w->status,
			.limits = w->limits, .why = w->why,
			.differs = framing_differs, .row = w,
		};

		row_test(&s);
	}
	return row_summary();
}
