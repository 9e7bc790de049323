/* testlib.h - what the live-server tests share: the server under test
 * started as a child, its clients, and a strict reader of what it sends.
 *
 * tests/wire.c, routes.c, shapes.c, swarm.c and faults.c see the server
 * only from the outside, as its clients do: each starts the binary as a
 * child process, learns its port from the one line it prints at start,
 * talks HTTP/1.1 to it over TCP and stops it with SIGTERM.  Each is linked
 * with tests/testlib.c.  What every function below keeps to:
 *
 *   - Nothing waits without a deadline.  A deadline is a mono_ms() value,
 *     every wait a poll() that ends there, so a server that hangs fails a
 *     case and never hangs the test; nothing sleeps to synchronise.
 *   - A failure is a note.  A function that fails returns false or -1 and
 *     says why with t_note(), whose first note in a case wins (later ones
 *     are mostly its consequences).  t_result() prints the case's one
 *     line, `pass NAME` or `FAIL NAME: WHY`, and t_skip() `skip NAME:
 *     WHY`; test.sh counts those lines.
 *   - The caller owns what it opens, until it gives it back: a struct
 *     server until server_stop() or server_wait(), a struct client until
 *     client_close(), a struct response's body until resp_free() (or the
 *     next resp_init()), a struct xfer until xfer_free().
 *   - A process started here dies with the test (PR_SET_PDEATHSIG) and
 *     gets SIGPIPE at its default, so a server that does not ignore it
 *     shows; it is stopped by its pid, never by name.
 *
 * The parts, in the order a test meets them:
 *
 *	clocks		mono_ms() for intervals, wall_ms() for dates
 *	reporting	t_note() keeps why a case fails, t_result() prints it
 *	bytes		esc() makes bytes printable, glob() compares them
 *	processes	server_start(), server_stop(), run_capture(),
 *			fd_count(), proc_cpu_ms(), proc_rss_kib(),
 *			run_in_child() and collect_children()
 *	responses	resp_feed(): an incremental parser that keeps every
 *			chunk of a chunked body and the moment it arrived
 *	clients		client_open(), client_send(), client_read()
 *	many clients	xfer_run(): many clients on one poll() loop
 *	topics		topic_publish() and topic_follow(): the hub's two
 *			sides, for tests/hub.c and tests/redis.c
 */
#ifndef SSE_TESTLIB_H
#define SSE_TESTLIB_H

/* The system headers every test program uses, so that each includes only
 * this one. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ clocks -- */

/* Milliseconds on a clock that only moves forward: for intervals. */
int64_t mono_ms(void);

/* Milliseconds since the Unix epoch: what the server's timestamps count. */
int64_t wall_ms(void);

/* The poll() timeout that ends at deadline (a mono_ms() value). */
int ms_until(int64_t deadline);

/* Waits until fd is ready for events or the deadline passes.  Returns
 * the revents, 0 at the deadline, -1 when poll() itself fails. */
int wait_fd(int fd, short events, int64_t deadline);

/* --------------------------------------------------------- reporting -- */

/* The cases counted so far; a program's main() prints them and exits 1
 * when t_failed is not 0. */
extern int t_passed, t_failed, t_skipped;

/* Why the current case fails, empty while nothing went wrong. */
#define T_WHY_CAP 4096
extern char t_why[T_WHY_CAP];

/* Keeps the first reason the current case fails; later reasons are
 * usually its consequences and add nothing.  Returns false, so that a
 * check can end in `return t_note(...)`. */
bool t_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Whether the current case has a note. */
bool t_noted(void);

/* Prints the case's line: pass when ok and nothing was noted, else FAIL
 * with the note.  The note is made one line, since test.sh counts lines. */
bool t_result(const char *name, bool ok);

/* Puts the words before the note, if there is one: where it happened. */
void t_prefix(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* Forgets the note: the case accepts what went wrong after all. */
void t_clear(void);

/* Prints "skip NAME: WHY" and counts it; the note is forgotten. */
void t_skip(const char *name, const char *why);

/* ------------------------------------------------------------- bytes -- */

/* Bytes as a C string literal would show them, for a FAIL line: long runs
 * keep their first and last 200 bytes.  The result lives in one of eight
 * rotating buffers, so a few calls may share one printf. */
const char *esc(const char *p, size_t n);

/* esc() of a NUL-terminated string; "(none)" for NULL. */
const char *escs(const char *s);

/* Does s[0..n) match pat?  In pat `*` matches any run of bytes and `#` a
 * run of one or more decimal digits (all of them: it does not back off);
 * every other byte matches itself. */
bool glob(const char *pat, const char *s, size_t n);

/* --------------------------------------------------------- processes -- */

/* Raises the soft descriptor limit to the hard one, as the server does:
 * a test may hold many connections.  Returns the new limit. */
long raise_nofile(void);

/* Runs argv to its end, catching its stdout and stderr (NUL-terminated,
 * cut at cap bytes).  Returns its exit code, or -1 when it is still running
 * at the deadline: then it is killed. */
int run_capture(char *const argv[], char *out, char *err, size_t cap,
		int64_t deadline);

/* A server under test, running as our child. */
struct server {
	pid_t pid;
	int err_fd;		/* read end of the server's stderr */
	int port;
	char err[16384];	/* stderr read and not yet taken as lines */
	size_t err_len;
	char first[512];	/* the line the server printed at start */
};

/* Takes one line (without its newline) from the server's stderr, waiting
 * for it until the deadline.  Returns 1 for a line, 0 when the server has
 * closed its stderr, -1 at the deadline. */
int server_line(struct server *s, char *line, size_t cap,
		int64_t deadline);

/* Starts bin with args (NULL-terminated) and waits up to 5 s for its
 * `sse: listening on ADDR:PORT` line; PORT is what follows the last
 * colon.  Returns 0, or -1 with a note (the server is then gone). */
int server_start(struct server *s, const char *bin,
		 const char *const args[]);

/* server_start() with the server's standard input on in_fd (-1:
 * /dev/null, as server_start() has it). */
int server_start_stdin(struct server *s, const char *bin,
		       const char *const args[], int in_fd);

/* Waits up to wait_ms for the server to end by itself, reading (and
 * dropping) its stderr meanwhile.  Returns its exit code (128 + the signal
 * if one killed it), or -1 when it did not end: then it is killed. */
int server_wait(struct server *s, int wait_ms);

/* Sends SIGTERM and waits as server_wait() does. */
int server_stop(struct server *s, int wait_ms);

/* Waits until the child pid ends, meanwhile reading whatever arrives on
 * the n descriptors in fds (-1 to skip one) into the matching bufs, each
 * kept NUL-terminated within cap bytes (the rest is read and dropped;
 * bufs may be NULL to drop it all).  Returns the exit code, or -1 at the
 * deadline, when pid still runs and is the caller's to end. */
int wait_child(pid_t pid, int fds[], char *bufs[], size_t lens[],
	       size_t cap, int n, int64_t deadline);

/* How many descriptors the server holds: the entries of /proc/PID/fd
 * (the server is our child), or -1. */
int fd_count(pid_t pid);

/* Process pid's CPU time so far, user and system, in ms; -1 if unknown. */
int64_t proc_cpu_ms(pid_t pid);

/* Process pid's resident memory in KiB (VmRSS), or -1. */
long proc_rss_kib(pid_t pid);

/* Slow cases run in child processes beside one another, each against its
 * own server, so that a program lasts about as long as its slowest case.
 * Starts fn in a child process (at most 16 at once) that prints its own
 * lines and sends its pass, fail and skip counts home before it exits. */
void run_in_child(const char *name, void (*fn)(void));

/* Adds up the children's counts; a child that dies or hangs fails. */
void collect_children(int64_t deadline);

/* --------------------------------------------------------- responses -- */

#define RESP_HEADERS 32
#define RESP_CHUNKS 64
#define RESP_BODY_MAX (4 << 20)

/* One chunk of a chunked body: where its data lies in the de-chunked body
 * and when its last byte arrived. */
struct chunk {
	size_t off, len;
	int64_t mono_ms, wall_ms;
};

enum resp_state {
	RS_HEAD,	/* before the blank line that ends the head */
	RS_LENGTH,	/* in a body of Content-Length bytes */
	RS_SIZE,	/* before a chunk-size line */
	RS_DATA,	/* in a chunk's data */
	RS_DATA_END,	/* before the CRLF that ends a chunk's data */
	RS_TRAILER,	/* after the zero-size chunk, up to the blank line */
	RS_CLOSE,	/* in a body that ends when the server closes */
	RS_DONE,	/* complete */
	RS_BAD,		/* not a valid response: see bad */
};

struct response {
	enum resp_state state;
	size_t pos;		/* input bytes this response has used */
	bool head_only;		/* the request was HEAD: never a body */
	char status_line[256];
	int status;
	int nh;
	struct {
		char name[64];
		char value[512];
	} h[RESP_HEADERS];
	char *body;		/* the body, de-chunked; NUL-terminated */
	size_t body_len, body_cap;
	struct chunk ch[RESP_CHUNKS];
	int nch;		/* chunks seen; the first RESP_CHUNKS kept */
	bool chunked, zero_chunk;
	uint64_t left;		/* bytes left of the body or the chunk */
	size_t wire_body;	/* body bytes on the wire, framing included */
	int64_t head_ms;	/* mono_ms() when the head was complete */
	int64_t end_ms;		/* mono_ms() when the response ended */
	char bad[512];
};

/* Makes r ready for a new response, freeing the body r held (r must be
 * zeroed, or initialised before, the first time). */
void resp_init(struct response *r);

/* Frees r's body; r may be initialised again. */
void resp_free(struct response *r);

/* The value of the first header called name (any case), or NULL. */
const char *resp_header(const struct response *r, const char *name);

/* How many headers are called name (any case). */
int resp_header_count(const struct response *r, const char *name);

/* Feeds the response all input so far, in[0..len): bytes before r->pos
 * were used already, the rest is new; eof says the server has closed.
 * mono and wall say when the newest bytes arrived, and complete chunks are
 * stamped with them.  Returns RS_DONE, RS_BAD or the state it waits in;
 * input after r->pos belongs to the next response. */
enum resp_state resp_feed(struct response *r, const char *in,
			  size_t len, bool eof, int64_t mono,
			  int64_t wall);

/* ------------------------------------------------ the stream's form -- */

/* What POST /api streams (docs/protocol.md section 1), as glob()
 * patterns. */
#define SSE_OK ":ok\n\n"
#define SSE_EVENT "data: {\"message\":\"Hello, world!\",\"timestamp\":#}\n\n"
#define SSE_DONE ":done\n\n"

/* The whole de-chunked body of a stream of n events, as a pattern. */
const char *stream_glob(int n);

/* Is r's chunked body the stream of n events: `:ok`, the events and
 * `:done`, each in its own chunk, then the zero-size chunk?  Notes the
 * first difference. */
bool stream_chunks_ok(const struct response *r, int n);

/* ----------------------------------------------------------- clients -- */

/* One client connection and the bytes it has read and not yet given to
 * a response. */
struct client {
	int fd;
	char *in;
	size_t len, cap;
	bool eof;	/* the server closed its side (or reset) */
	int err;	/* errno of the read that failed, e.g. ECONNRESET */
};

/* Closes the connection, if open, and frees what it read; c->fd is -1
 * after. */
void client_close(struct client *c);

/* Connects to addr:port, waiting at most 2 s, and leaves the socket
 * non-blocking.  Returns 0, or -1 with errno (ECONNREFUSED when nothing
 * listens) and with c->fd closed. */
int client_open_addr(struct client *c, const char *addr, int port);

/* client_open_addr() to 127.0.0.1, with a note when it fails. */
int client_open(struct client *c, int port);

/* Starts connecting without waiting: the socket becomes writable when the
 * connection is up (or has failed: see SO_ERROR).  Returns 0 or -1. */
int client_open_nb(struct client *c, int port);

/* Sends p[0..n) in writes of at most piece bytes (0: as many as the
 * socket takes), by the deadline.  Returns 0, or -1 with a note. */
int client_send(struct client *c, const void *p, size_t n,
		size_t piece, int64_t deadline);

/* Makes room in c->in for at least 16 KiB more (and a NUL after them).
 * Returns -1 if there is no memory for it. */
int client_room(struct client *c);

/* Reads once, without waiting, whatever the socket holds.  Returns the
 * byte count, 0 when the server has closed (or reset) the connection,
 * -1 when nothing is there yet. */
ssize_t client_fill(struct client *c);

/* Drops the first n bytes read: a response used them. */
void client_take(struct client *c, size_t n);

/* Reads one response into r (which it initialises), by the deadline, and
 * takes its bytes; what follows stays for the next response.  With
 * want_chunks > 0 it returns as soon as that many chunks are complete,
 * leaving r to be continued by client_more().  Returns 0, or -1 with a
 * note. */
int client_more(struct client *c, struct response *r,
		int64_t deadline, int want_chunks);

/* client_more() of a whole response. */
int client_read(struct client *c, struct response *r,
		int64_t deadline);

/* Waits for the server to close the connection with nothing more to
 * say.  Returns true when it does; otherwise notes the bytes that came
 * instead, or that it stayed open past the deadline. */
bool client_closed(struct client *c, int64_t deadline);

/* ------------------------------------------------------ many clients -- */

enum xfer_state {
	X_CONNECT,	/* waiting for the connection */
	X_RUN,		/* sending the request, reading the response */
	X_CLOSE,	/* response complete, waiting for the server's close */
	X_DONE,
};

/* One client's exchange in a run of many: it connects, sends out (in
 * writes of piece bytes, 0: all at once), reads one response and, with
 * want_close, waits for the server to close. */
struct xfer {
	const char *out;
	size_t out_len, piece;
	bool want_close, head_only;

	enum xfer_state state;
	struct client c;
	struct response r;
	size_t sent;
	int64_t sent_ms;	/* mono_ms() when the last byte went out */
	int64_t wall0;		/* wall_ms() before the first byte */
	bool closed;		/* the server closed after the response */
	char err[1024];		/* what went wrong, or empty */
};

/* Ends the exchange with err saying why. */
void xfer_fail(struct xfer *x, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Moves one client on by what poll() said about its socket. */
void xfer_step(struct xfer *x, short revents);

/* What xfer_step() does with bytes just read into x->c: fed to the
 * response (its chunks stamped mono and wall), then the bytes after it
 * and the close checked.  For a caller that reads in its own way. */
void xfer_feed(struct xfer *x, int64_t mono, int64_t wall);

/* Runs the n exchanges at once on one poll() loop until all are done or
 * the deadline passes; each ends with x->err empty or saying what went
 * wrong.  The caller fills in out, out_len, piece, want_close and
 * head_only and leaves the rest zero; xfer_free() releases each after.
 * Returns how many went wrong. */
int xfer_run(struct xfer *x, int n, int port, int64_t deadline);

/* Closes the exchange's connection and frees its response. */
void xfer_free(struct xfer *x);

/* ---------------------------------------------------------- topics -- */

/* One request (len bytes) on a connection of its own, its answer read
 * into r within wait_ms (a HEAD's without a body). */
bool client_ask(int port, const char *req, size_t len, struct response *r,
		int wait_ms);

/* POST /topics/TARGET with body (len bytes) and extra header lines (or
 * ""): the status, or -1 without an answer; the id answered goes in id
 * (48 bytes at least; "" if none), if id is not NULL. */
int topic_publish(int port, const char *target, const char *body,
		  size_t len, const char *extra, char *id);

/* topic_publish() of text, a C string, without extra headers. */
int topic_publish_text(int port, const char *target, const char *text,
		       char *id);

/* Opens GET /topics/TARGET (extra: more header lines, or "") on c and
 * reads its head and first chunk (retry:, :ok, a gap if any) into r.
 * False, c closed, unless the answer is a 200. */
bool topic_follow(struct client *c, struct response *r, int port,
		  const char *target, const char *extra);

/* How many times needle occurs in r's body. */
int resp_count(const struct response *r, const char *needle);

/* Reads on from c until r's body holds want events ("id: " lines), the
 * stream ends or wait_ms pass (false, with a note). */
bool resp_until_events(struct client *c, struct response *r, int want,
		       int wait_ms);

#endif
