/* sse.c - a single-threaded HTTP/1.1 server that streams Server-Sent Events.
 *
 * One thread runs one epoll loop over four kinds of thing: the listening
 * socket, the connections, one timerfd and one signalfd.  Every connection
 * is a small state machine (see enum conn_state) that runs until it must
 * wait for the socket or the clock, and says which.  Every deadline, from a
 * stream's next event to a slow client's timeout, is a timer in one timer
 * wheel (timerwheel.c) and the timerfd is armed for the wheel's earliest;
 * http.c parses requests.  This file owns everything else: sockets,
 * buffers, routes, the streams and their schedule, the command line, and
 * with -w N a parent process that keeps N such servers on one port.
 *
 * The file reads from the top down, in the order a request goes, each
 * section under a banner that says what it is for: the structures; the
 * forward declarations, which list the functions section by section;
 * main(); the loop and the connection's state machine, with the table of
 * who moves a connection into which state, how timeouts work and where
 * unsent output is written (loop_turn() -> listener_accept() ->
 * conn_open(); then for each event conn_event() -> conn_run(), which
 * calls the function of the current state: conn_idle() and conn_head()
 * read and parse, conn_body() reads the body, route() answers or starts a
 * stream, conn_stream() runs the stream's own state, conn_flush() waits
 * for a slow reader, and conn_linger() closes politely; conn_close() is
 * the one place a connection ends); the connection's bytes (reading,
 * output, the access log); streams (stream_events() sends what is due
 * when the wheel calls it back); routes; the hub, then Redis.  Last, what
 * is off the request's path: request bodies and JSON, the counters
 * (/stats, /metrics), the command line, the workers of -w N, and the
 * memory and small helpers that every section uses.  Along the request's
 * path a function comes before the functions it calls; the hub, Redis and
 * the sections off the path are built up from their parts, as C usually
 * is, a function after those it calls.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "timerwheel.h"
#include "web/page.h"		/* page_html[]: web/index.html, made by make */

#define SSE_VERSION "0.1.0"

/* The Redis client (see "Redis" below) is built in unless SSE_REDIS is 0,
 * as the static builds for small boxes have it: one box needs no broker,
 * and the client is some 12 KB of their 64.  The code is compiled either
 * way; with 0, REDIS_ON is false where the hub would call it, and the
 * compiler drops it. */
#ifndef SSE_REDIS
#define SSE_REDIS 1
#endif
#define REDIS_ON (SSE_REDIS && srv.cfg.redis != NULL)

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

/* ==== structures ======================================================== */

/* The server's objects, each described once: the command line, what epoll
 * reports on, a request buffer, a stream and a connection, the counters
 * shared by the workers, and the server itself; then the limits, each
 * with its reason. */

/* The command line, once parsed. */
struct config {
	const char *addr;
	unsigned port;
	unsigned events;		/* -n: events per stream */
	unsigned interval_ms;		/* -i: between events */
	size_t max_conns;		/* -c: 0 means what the fd limit allows */
	struct http_limits limits;
	unsigned request_timeout_ms;	/* first byte to complete request */
	unsigned idle_timeout_ms;	/* keep-alive connection, no request */
	unsigned send_timeout_ms;	/* unsent output that does not move */
	unsigned linger_timeout_ms;	/* waiting for the client to close */
	unsigned drain_timeout_ms;	/* after a signal; 0: no limit */
	size_t max_output;		/* unsent output per connection */
	bool quiet;			/* -q: no access log */
	unsigned max_events;		/* bounds of the shape parameters */
	unsigned min_interval_ms;
	unsigned max_event_size;
	unsigned heartbeat_ms;		/* default heartbeat; 0: none */
	const char *cors;		/* --cors: the origin allowed, or NULL */
	size_t workers;			/* -w: worker processes */
	unsigned retry_ms;		/* --retry: the hub's retry: base */
	unsigned history;		/* per topic: events kept */
	size_t history_bytes;		/* per topic: bytes kept */
	size_t hub_memory;		/* all topics: ring and index */
	unsigned max_topics;
	const char *token_file;		/* --publish-token-file */
	bool publish_open;		/* --publish-open */
	const char *stdin_topic;	/* --stdin TOPIC */
	const char *redis;		/* --redis HOST:PORT */
	const char *redis_password_file;
	unsigned redis_db;		/* --redis-db */
};

/* Whatever epoll reports on starts with one of these: data.ptr points to
 * it, and the kind says what the object around it is. */
enum kind {
	KIND_FREE, KIND_LISTENER, KIND_TIMERFD, KIND_SIGNALFD, KIND_CONN,
	KIND_HUB,			/* the hub's wake-up, or --stdin */
	KIND_REDIS,			/* a connection to Redis */
};

struct source {
	enum kind kind;
	int fd;
};

/* A request buffer with the parser's state, lent to a connection from the
 * first byte of a request until the request is answered.  Streams and idle
 * keep-alive connections hold none. */
struct inbuf {
	struct inbuf *next_free;
	struct http_request req;
	size_t len;
	size_t cap;			/* srv.in_cap, or less when held */
	char data[];
};

/* Output the socket did not take yet, kept in order until it does. */
struct tail {
	char *p;
	uint32_t off, len, cap;		/* unsent bytes are p[off..len) */
};

/* What a stream's events look like on the wire. */
enum stream_format {
	FORMAT_API,			/* POST /api: data only, then ":done" */
	FORMAT_EVENTSOURCE,		/* GET /message-stream: id and data */
	FORMAT_STATS,			/* GET /stats as a stream: the counters */
	FORMAT_HUB,			/* GET /topics/...: see the hub */
};

/* A stream's own state machine, inside the connection's CONN_STREAM. */
enum stream_state {	/* its timer			*/
	STREAM_EVENTS,	/* the next event or heartbeat	*/
	STREAM_FAILING,	/* its reset (drop or stall)	*/
	STREAM_STATS,	/* the next second's counters	*/
	STREAM_HUB,	/* a heartbeat, if any		*/
};

#define NO_EVENT UINT32_MAX	/* drop or stall: not asked for */
/* Room for an event's frame besides its data and padding: its chunk's
 * size line, id:, data: and the object's other members. */
#define EVENT_ROOM 256

/* What a request may ask of its stream (docs/protocol.md section 6):
 * n, interval, size, heartbeat, drop and stall. */
struct shape {
	uint32_t count, interval_ms, size, heartbeat_ms, drop, stall;
};

/* A subscriber of the hub: a position in its ring, no queue. */
struct hub_sub {
	uint64_t live_from;		/* the head when it came: later is live */
	uint64_t cursor;		/* its topics' events up to it are sent */
	uint64_t after;			/* with Redis: ids up to it are sent */
	uint32_t gen;			/* which subscription, in topic lists */
	uint32_t heartbeat_ms;
	uint16_t topic[8];
};

/* A stream: events first+1 .. count, event k due at
 * t0_ms + (k - first) * interval_ms; or the hub's subscriber. */
struct stream {
	uint64_t quiet_since_ms;	/* its last bytes, for heartbeats */
	union {
		struct {
			uint64_t t0_ms;	/* when the request was complete */
			struct shape shape;
			uint32_t first;	/* resumed after this event id */
			uint32_t last;	/* the id of the last event sent */
		};
		struct hub_sub hub;	/* FORMAT_HUB */
	};
	uint8_t state;			/* enum stream_state */
	uint8_t format;			/* enum stream_format */
	bool chunked;			/* HTTP/1.1 framing, else close-delimited */
	uint8_t hub_topics, hub_flags;	/* FORMAT_HUB */
};

/* A connection's states, each named for what it waits on; who moves a
 * connection into which state is in the table under "the loop and the
 * connection's state machine". */
enum conn_state {	/* wakes on	timer		holds		*/
	CONN_IDLE,	/* readable	idle timeout	nothing		*/
	CONN_HEAD,	/* readable	request timeout	in buffer	*/
	CONN_BODY,	/* readable	request timeout	in buffer	*/
	CONN_STREAM,	/* timer	next event	stream		*/
	CONN_FLUSH,	/* writable	(send timer)	out tail	*/
	CONN_LINGER,	/* readable	linger timeout	nothing		*/
	CONN_REDIS,	/* Redis	its timeout	in buffer	*/
};

/* What a state function asks for: to run the new state at once, to wait
 * (the table below gives epoll's mask), or nothing, the connection being
 * closed. */
enum wait {
	WAIT_NONE, WAIT_READ, WAIT_TIMER, WAIT_WRITE, WAIT_YIELD, WAIT_GONE
};

static const uint32_t wait_events[] = {
	[WAIT_NONE] = 0,
	[WAIT_READ] = EPOLLIN | EPOLLRDHUP,
	[WAIT_TIMER] = EPOLLRDHUP,	/* only to see the client leave */
	[WAIT_WRITE] = EPOLLOUT | EPOLLRDHUP,
	/* Its share of the turn is used up, with work in hand: epoll is
	 * level-triggered, and a socket with room to write is reported at
	 * once, so the connection runs again next turn. */
	[WAIT_YIELD] = EPOLLIN | EPOLLOUT | EPOLLRDHUP,
	[WAIT_GONE] = 0,
};

/* How a read went. */
enum read_result { READ_SOME, READ_WAIT, READ_FULL, READ_EOF };

/* How a request body answers "stream?". */
enum ask { ASK_PLAIN, ASK_STREAM, ASK_BAD };

/* Where a client came from, for the access log. */
struct peer {
	sa_family_t family;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
};

struct conn {
	struct source src;		/* first: epoll's data.ptr */
	enum conn_state state;
	uint32_t events;		/* what epoll watches now */
	struct tw_timer timer;		/* the state's deadline */
	struct tw_timer send_timer;	/* armed while the tail does not move */
	struct inbuf *in;		/* borrowed while reading a request */
	struct tail out;
	struct stream stream;
	uint64_t start_ms;		/* the request's first byte */
	uint64_t bytes;			/* body bytes of this response */
	char *log_line;			/* its request line; NULL with -q */
	uint16_t status;		/* of this response */
	bool keep_alive;		/* another request may follow */
	bool peer_eof;			/* the client sent FIN */
	struct peer peer;
};

/* The upper bounds of the event lateness histogram's buckets, 0.1 ms to
 * 1 s, and each as /metrics writes it, in seconds; one more bucket counts
 * the rest. */
static const struct {
	uint64_t us;
	const char *seconds;
} lateness_le[] = {
	{ 100, "0.0001" }, { 250, "0.00025" }, { 500, "0.0005" },
	{ 1000, "0.001" }, { 2500, "0.0025" }, { 5000, "0.005" },
	{ 10000, "0.01" }, { 25000, "0.025" }, { 50000, "0.05" },
	{ 100000, "0.1" }, { 250000, "0.25" }, { 500000, "0.5" },
	{ 1000000, "1" },
};
#define LATENESS_BUCKETS (sizeof(lateness_le) / sizeof(lateness_le[0]))

/* What a load tester counts: plain counters, bumped as things happen.
 * Every field is a uint64_t, so that stats_total() can add them up. */
struct stats {
	uint64_t connections, streams_active;	/* gauges */
	uint64_t accepted, shed, requests, events;
	uint64_t streams_completed, streams_aborted;
	uint64_t streams_dropped, streams_stalled;	/* on purpose */
	uint64_t by_status[600];	/* responses, by status code */
	uint64_t lateness[LATENESS_BUCKETS + 1];
	uint64_t lateness_sum_us;
	uint64_t delay[LATENESS_BUCKETS + 1];	/* hub: publish to send */
	uint64_t delay_sum_us;
};

#define MAX_WORKERS	64

/* The counters of every worker process, in one shared mapping made before
 * they are forked: each adds only to its own slot, and /stats adds the
 * slots up.  Reads take no lock: a sum may be a moment old. */
struct shared {
	uint64_t started_ms;		/* CLOCK_MONOTONIC, for the uptime */
	size_t workers;
	/* A draining worker's connections and when its drain ends at the
	 * latest (CLOCK_MONOTONIC; 0 until it knows), for the parent's one
	 * line about the drain. */
	uint64_t drain_conns[MAX_WORKERS], drain_end_ms[MAX_WORKERS];
	struct stats slot[];
};

static struct server {
	struct config cfg;
	int epfd;
	struct source listener, timerfd, signalfd;
	int spare_fd;			/* given up to accept past EMFILE */
	struct tw_wheel wheel;
	uint64_t now_ms;		/* CLOCK_MONOTONIC, read each turn */
	uint64_t armed_ms;		/* the timerfd's; UINT64_MAX: off */
	int wait_ms;			/* epoll_wait()'s limit: -1, or the
					 * next deadline when the timerfd
					 * could not be armed for it */
	struct conn *conns;		/* indexed by fd */
	size_t conn_cap, nconns, max_conns;
	struct inbuf *free_bufs;
	size_t n_free_bufs, in_cap;
	char *scratch;			/* where all output is formatted */
	size_t scratch_cap;
	struct http_date date;
	bool draining;			/* a signal came: finish and exit */
	bool worker;			/* one of -w N: the parent decides */
	struct tw_timer drain_timer;	/* --drain-timeout */
	struct tw_timer accept_timer;	/* accepting paused: try again */
	struct stats *stats;		/* this process's slot in shared */
	struct shared *shared;
} srv;

/* Output is formatted into srv.scratch and sent from there at once. */
struct out {
	char *p;
	size_t len, cap;
};

#define MAX_EVENTS	256	/* epoll events per turn */
#define ACCEPT_BUDGET	64	/* connections accepted per turn */
/* Requests one connection has answered in a turn before it yields to the
 * others (conn_run()).  An answer costs about 10 us of CPU (the "plain"
 * benchmark: 86,000 a second on one core), so a client that keeps its
 * pipeline full delays the other streams' events by some 0.2 ms a turn,
 * while its pipelining still saves the epoll round trip of 15 requests in
 * 16.  It bounds the bytes too: at most 16 request buffers read a turn. */
#define TURN_REQUESTS	16
#define FREE_BUFS_MAX	16	/* request buffers kept for reuse */
/* Bytes pipelined behind a stream's request that wait in memory for the
 * stream's end: room for a few requests.  More, and the stream's answer
 * says Connection: close and they are dropped (stream_start()). */
#define HOLD_MAX	1024
#define CHUNK_ROOM	20	/* room for a chunk's size line */
#define SCRATCH_SIZE	((size_t)256 * 1024)
#define PAD_MEMBER_LEN	9	/* ,"pad":"" */
#define DAY_MS		86400000ull
#define MIB		(1024ull * 1024)

#define RID_BITS 20		/* a Redis id MS-SEQ as MS << 20 | SEQ */

/* ==== forward declarations ============================================== */

/* The file reads from the top down: along the request's path a function
 * comes before the functions it calls, so these are used before they are
 * defined.  Here they are declared, section by section in the file's
 * order: a table of contents. */

struct route;
struct redis_conn;
struct json;

/* main */
static struct shared *shared_map(size_t workers);
static int open_listener(const char *addr, unsigned port, bool reuseport,
			 bool listening);
static unsigned announce(int fd);
static int serve(int fd, size_t w);
static void server_init(int fd, size_t w);
static void watch(struct source *s, enum kind kind, int fd);

/* the loop and the connection's state machine */
static void loop_turn(void);
static void timerfd_event(void);
static void timer_arm(void);
static void signal_event(void);
static void server_drain(void);
static uint64_t drain_end(void);
static void drain_line(uint64_t conns, size_t workers, uint64_t ms);
static void drain_expired(struct tw_timer *t);
static void listener_accept(void);
static bool accept_error_passes(int e);
static void shed_at_fd_limit(void);
static void shed(int fd);
static void listener_pause(void);
static void accept_retry(struct tw_timer *t);
static void listener_resume(void);
static void conn_open(int fd, const struct sockaddr_storage *sa);
static void conn_event(struct conn *c, uint32_t events);
static void conn_on_timer(struct tw_timer *t);
static void conn_on_send_timer(struct tw_timer *t);
static enum wait conn_run(struct conn *c);
static void conn_update(struct conn *c, enum wait w);
static enum wait conn_idle(struct conn *c);
static enum wait conn_begin_request(struct conn *c);
static enum wait conn_head(struct conn *c);
static enum wait conn_body(struct conn *c);
static bool conn_read_more(struct conn *c, int full, const char *reason,
			   enum wait *w);
static enum wait conn_stream(struct conn *c);
static enum wait conn_flush(struct conn *c);
static enum wait conn_linger(struct conn *c);
static enum wait refuse(struct conn *c, int status, const char *reason);
static enum wait conn_reset(struct conn *c);
static enum wait conn_close(struct conn *c);
static enum wait conn_drop(struct conn *c);

/* the connection's bytes */
static enum read_result conn_read(struct conn *c);
static struct inbuf *inbuf_get(void);
static void conn_release_in(struct conn *c);
static bool conn_unhold_in(struct conn *c);
static bool conn_send(struct conn *c, const char *p, size_t n);
static bool conn_send_out(struct conn *c, const struct out *o);
static bool conn_flush_tail(struct conn *c);
static bool conn_tail_pending(const struct conn *c);
static struct out out_begin(void);
static void out_printf(struct out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void out_head(struct out *o, const struct conn *c, int status,
		     const char *content_type, const char *extra);
static void log_line_keep(struct conn *c, const char *p, size_t n);
static void log_line_put(struct conn *c);
static void response_log(struct conn *c);
static void conn_log(const struct conn *c);

/* streams */
static enum wait stream_events(struct conn *c);
static uint64_t stream_due(const struct stream *s, uint32_t k);
static enum wait stream_wait(struct conn *c);
static void stream_chunk(struct conn *c, struct out *o,
			 void (*fn)(const struct conn *, struct out *));
static void stream_open_chunk(const struct conn *c, struct out *o);
static void stream_event_data(const struct conn *c, struct out *o,
			      uint32_t k, uint64_t wall_ms);
static void stream_done_chunk(const struct conn *c, struct out *o);
static void stream_heartbeat_chunk(const struct conn *c, struct out *o);
static bool stream_send(struct conn *c, struct out *o);
static void stream_sent(const struct stream *s, uint32_t from);
static void lateness_add(uint64_t late_us);
static uint32_t stream_fail_at(const struct stream *s, uint32_t k);
static enum wait stream_fail(struct conn *c, uint64_t due_ms);
static enum wait stream_stats(struct conn *c);

/* routes */
static enum wait route(struct conn *c);
static enum wait answer_options(struct conn *c, struct http_request *req,
				const struct route *r);
static enum wait route_api(struct conn *c, struct http_request *req);
static enum wait route_message_stream(struct conn *c,
				      struct http_request *req);
static enum wait route_page(struct conn *c, struct http_request *req);
static bool stream_shape(const struct http_request *req,
			 enum stream_format format, struct shape *sh,
			 char *why, size_t cap);
static bool shape_param(struct http_span query, const char *key,
			uint32_t min, uint64_t max, uint32_t *v,
			char *why, size_t cap);
static bool decimal_u32(const char *s, size_t n, uint32_t *value);
static enum wait answer(struct conn *c, const struct http_request *req,
			int status, const char *type, const char *extra,
			const char *body, size_t len);
static enum wait answer_json(struct conn *c, const struct http_request *req,
			     int status, const char *extra, const char *body);
static enum wait answer_error(struct conn *c, const struct http_request *req,
			      int status, const char *extra, const char *why);

/* the hub */
static void hub_leave(struct conn *c);
static enum wait hub_stream(struct conn *c);
static enum wait route_topics(struct conn *c, struct http_request *req);
static void hub_event(const struct source *src);
static void hub_drain(void);
static void hub_setup(size_t workers);
static void hub_init(size_t w);

/* Redis */
static uint64_t rid_pack(uint64_t ms, uint64_t seq);
static bool rid_fits(uint64_t ms, uint64_t seq);
static uint64_t redis_now_id(void);
static void redis_poke(void);
static bool redis_resume(const uint16_t *topics, unsigned nt, uint64_t x,
			 uint64_t *cursor);
static void redis_replay(struct conn *c);
static enum wait redis_publish(struct conn *c, struct http_request *req,
			       const char *name, size_t len, const char *type);
static enum wait redis_published(struct conn *c);
static void redis_stdin(const char *line, size_t n, uint64_t number);
static const char *redis_refuses(void);
static void redis_down(struct redis_conn *r, const char *why);
struct redis_wait;
static void redis_answer(struct redis_conn *r, struct redis_wait w,
			 const char *p, const char *end);
static void redis_event(struct source *src, uint32_t events);
static void redis_setup(void);
static void redis_init(size_t w);
static void redis_metrics(struct out *o);

/* request bodies, queries and JSON */
static bool query_value(struct http_span q, const char *key, char *out,
			size_t cap);
static bool json_value(struct json *j);
static bool flag_true(const char *v);
static bool header_lists(const struct http_request *req, const char *name,
			 const char *item);
static enum ask api_asks_stream(const struct http_request *req,
				const char **why);

/* counters */
static size_t stats_json(char *p, size_t cap);
static enum wait route_stats(struct conn *c, struct http_request *req);
static enum wait route_metrics(struct conn *c, struct http_request *req);

/* the command line */
static void parse_args(int argc, char **argv, struct config *cfg);

/* workers */
static int supervise(size_t n);

/* memory */
static void *mem_map(size_t n);
static void *mem_get(size_t n);
static void mem_put(void *p, size_t n);
static void *mem_resize(void *p, size_t old, size_t n);

/* small helpers */
static uint64_t clock_ms(clockid_t id);
static void write_text(int fd, const char *text);
static void stderr_line(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static const char *error_text(int e);
static void die(const char *what);
static uint64_t clock_us(clockid_t id);

/* ==== main ============================================================== */

/* Start-up: the command line, the shared counters and the hub's ring
 * mapped before any fork, the listening socket; then one server
 * (serve(): server_init() and the loop) or, with -w N, a parent that
 * keeps N of them (supervise(), under "workers"). */

#ifndef SSE_NO_MAIN
int main(int argc, char **argv)
{
	parse_args(argc, argv, &srv.cfg);
	if (srv.cfg.workers > 1)
		return supervise(srv.cfg.workers);
	srv.shared = shared_map(1);
	hub_setup(1);
	int fd = open_listener(srv.cfg.addr, srv.cfg.port, false, true);

	announce(fd);
	return serve(fd, 0);
}
#endif

/* The shared mapping of counters, one slot per worker. */
static struct shared *shared_map(size_t workers)
{
	size_t size = sizeof(struct shared) + workers * sizeof(struct stats);
	struct shared *sh = mmap(NULL, size, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (sh == MAP_FAILED)
		die("mmap");
	sh->started_ms = clock_ms(CLOCK_MONOTONIC);
	sh->workers = workers;
	return sh;
}

/* Opens a socket bound to addr:port, listening unless told not to.  With
 * reuseport several processes may bind the same port, and the kernel
 * spreads new connections over those that listen. */
static int open_listener(const char *addr, unsigned port, bool reuseport,
			 bool listening)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6,
				   .sin6_port = htons((uint16_t)port) };
	struct sockaddr_in a4 = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port) };
	struct sockaddr *sa = (struct sockaddr *)&a4;
	socklen_t len = sizeof(a4);
	int fd, one = 1;

	/* A numeric address only: no resolver, no DNS at start. */
	switch (http_addr_parse(addr, &a6.sin6_addr)) {
	case 16:
		sa = (struct sockaddr *)&a6;
		len = sizeof(a6);
		break;
	case 4:
		memcpy(&a4.sin_addr, &a6.sin6_addr, 4);
		break;
	default:
		stderr_line("sse: -b %s: not an IPv4 or IPv6 address", addr);
		exit(2);
	}
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, sa, len) < 0) {
		stderr_line(sa->sa_family == AF_INET6
			    ? "sse: cannot listen on [%s]:%u: %s"
			    : "sse: cannot listen on %s:%u: %s", addr, port,
			    error_text(errno));
		exit(1);
	}
	/* The kernel caps the backlog at net.core.somaxconn. */
	if (listening && listen(fd, 4096) < 0)
		die("listen");
	return fd;
}

/* The port a socket is bound to: with -p 0, the kernel chose it. */
static unsigned bound_port(int fd)
{
	union {
		struct sockaddr any;
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} a = { 0 };
	socklen_t len = sizeof(a);

	if (getsockname(fd, &a.any, &len) < 0)
		die("getsockname");
	return ntohs(a.any.sa_family == AF_INET6 ? a.v6.sin6_port
						 : a.v4.sin_port);
}

/* Says where the server listens, and returns the port (port 0 asks the
 * kernel for a free one: this is where the caller learns which). */
static unsigned announce(int fd)
{
	union {
		struct sockaddr any;
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} a = { 0 };
	socklen_t len = sizeof(a);
	char host[INET6_ADDRSTRLEN];
	unsigned port;

	if (getsockname(fd, &a.any, &len) < 0)
		die("getsockname");
	if (a.any.sa_family == AF_INET6) {
		http_addr_text(host, sizeof(host), &a.v6.sin6_addr,
			       sizeof(a.v6.sin6_addr));
		port = ntohs(a.v6.sin6_port);
		stderr_line("sse: listening on [%s]:%u", host, port);
	} else {
		http_addr_text(host, sizeof(host), &a.v4.sin_addr,
			       sizeof(a.v4.sin_addr));
		port = ntohs(a.v4.sin_port);
		stderr_line("sse: listening on %s:%u", host, port);
	}
	return port;
}

/* Serves until a drain is over; the exit status of a worker process. */
static int serve(int fd, size_t w)
{
	server_init(fd, w);
	while (!srv.draining || srv.nconns > 0)
		loop_turn();
	return 0;
}

/* Descriptors the server keeps besides connections: stdio, epoll, the
 * listener, the timerfd, the signalfd and the spare. */
#define RESERVED_FDS 16

/* Sets up one serving process on the listening socket fd, counting into
 * slot w of the shared counters. */
static void server_init(int fd, size_t w)
{
	struct rlimit rl;
	sigset_t mask;

	/* As many connections as the system lets this process have.  prlimit
	 * rather than setrlimit, which musl makes stop every thread in turn:
	 * code a single-threaded server would carry for nothing. */
	if (prlimit(0, RLIMIT_NOFILE, NULL, &rl) == 0 &&
	    rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		prlimit(0, RLIMIT_NOFILE, &rl, NULL);
	}
	if (prlimit(0, RLIMIT_NOFILE, NULL, &rl) < 0)
		die("prlimit");
	srv.conn_cap = rl.rlim_cur > 1 << 24 ? 1 << 24 : (size_t)rl.rlim_cur;
	srv.max_conns = srv.conn_cap - RESERVED_FDS;
	if (srv.cfg.max_conns != 0 && srv.cfg.max_conns < srv.max_conns)
		srv.max_conns = srv.cfg.max_conns;
	/* Untouched pages cost nothing: the table is paid for as used. */
	srv.conns = mem_map(srv.conn_cap * sizeof(*srv.conns));
	srv.in_cap = srv.cfg.limits.max_head + srv.cfg.limits.max_body + 4096;
	/* Room for a response's head and at least one event of the largest
	 * size: conn_stream() sends a batch before it could overflow. */
	srv.scratch_cap = SCRATCH_SIZE;
	if (srv.scratch_cap < srv.cfg.max_event_size + 4096 + EVENT_ROOM)
		srv.scratch_cap = srv.cfg.max_event_size + 4096 + EVENT_ROOM;
	/* A resume that Redis serves formats each event there: a body's
	 * lines each get "data: " and a line end, 7 bytes for the shortest
	 * line, one line end. */
	if (REDIS_ON && srv.scratch_cap < 7 * srv.cfg.limits.max_body + 4096)
		srv.scratch_cap = 7 * srv.cfg.limits.max_body + 4096;
	srv.scratch = mem_map(srv.scratch_cap);
	if (srv.conns == NULL || srv.scratch == NULL)
		die("mmap");

	/* SIGPIPE blocked rather than ignored: a write to a client (or a
	 * stderr) that has gone fails with EPIPE either way, and blocking
	 * needs no sigaction(), some 800 bytes of a static build. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGPIPE);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);

	srv.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (srv.epfd < 0)
		die("epoll_create1");
	srv.stats = &srv.shared->slot[w];
	/* Its connections died with the worker that had this slot before. */
	srv.stats->connections = srv.stats->streams_active = 0;
	watch(&srv.listener, KIND_LISTENER, fd);
	watch(&srv.timerfd, KIND_TIMERFD,
	      timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
	watch(&srv.signalfd, KIND_SIGNALFD,
	      signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
	srv.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	srv.now_ms = clock_ms(CLOCK_MONOTONIC);
	srv.armed_ms = UINT64_MAX;
	srv.wait_ms = -1;
	tw_init(&srv.wheel, srv.now_ms);
	hub_init(w);
}

/* Adds a descriptor to epoll, with its source as data.ptr. */
static void watch(struct source *s, enum kind kind, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = s };

	s->kind = kind;
	s->fd = fd;
	if (epoll_ctl(srv.epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll_ctl");
}

/* ==== the loop and the connection's state machine ======================= */

/* One thread waits in epoll_wait() and hands each event to its owner
 * (loop_turn()): the listener accepts, the timerfd lets the wheel run the
 * timers that are due, the signalfd starts a drain, and a connection runs
 * its state machine.  Accepting at the descriptor limit and the drain
 * after a signal live here too.  Then the connection, from conn_open() to
 * conn_close(): conn_run() calls the function of its state until one says
 * what it waits for (enum wait), and conn_update() tells epoll.  The
 * states (enum conn_state gives what each waits for), who moves a
 * connection into each and where it goes next:
 *
 *   state        entered from (by)              leaves to (by)
 *   CONN_IDLE    accept (conn_open()),          HEAD on a byte (conn_idle()
 *                FLUSH (conn_flush())           -> conn_begin_request())
 *   CONN_HEAD    IDLE, FLUSH: a request begins  BODY, the head parsed
 *                (conn_begin_request())         (conn_head()); FLUSH (refuse())
 *   CONN_BODY    HEAD (conn_head())             FLUSH, answered (route() ->
 *                                               answer(), refuse()); STREAM
 *                                               (stream_start(), the hub's
 *                                               hub_route_subscribe()); REDIS
 *                                               (redis_publish())
 *   CONN_STREAM  BODY (stream_start(),          FLUSH at its end
 *                hub_route_subscribe())         (conn_response_end())
 *   CONN_FLUSH   HEAD, BODY, STREAM, REDIS      HEAD, a request pipelined
 *                (conn_response_end(),          (conn_begin_request()); IDLE;
 *                refuse())                      LINGER (all three conn_flush())
 *   CONN_LINGER  FLUSH (conn_flush())           closed (conn_linger())
 *   CONN_REDIS   BODY (redis_publish())         FLUSH, Redis's answer or its
 *                                               timeout (redis_published())
 *
 * Nine functions assign c->state: conn_open(), conn_begin_request(),
 * conn_head(), stream_start(), hub_route_subscribe(), redis_publish(),
 * conn_response_end(), refuse() and conn_flush().  From any state a
 * connection may end instead: conn_close() is the one place it does;
 * conn_drop() (the client left, or must go) and conn_reset() (drop=,
 * stall=) end in it.
 *
 * Timeouts: a connection has one timer, c->timer, due at its state's
 * deadline (idle, request, linger, Redis's answer, a stream's next event
 * or reset).  The timer's callback, conn_on_timer(), only runs conn_run()
 * again; the state function compares srv.now_ms with c->timer.due_ms and
 * acts on a deadline that has come (conn_idle() closes, conn_read_more()
 * answers 408, conn_linger() closes, stream_events() sends what is due),
 * while a socket event before then runs the same function, which finds
 * that it has not come.  The second timer, c->send_timer, runs while
 * output waits unsent; it fires only for a client that took nothing for
 * --send-timeout, and conn_on_send_timer() drops it.
 *
 * Unsent output: bytes are written as soon as they exist (conn_send());
 * what the socket refuses waits in the connection's tail, and while it
 * does conn_update() adds EPOLLOUT, whatever the state.  The tail is
 * written by conn_event(), through conn_flush_tail(), before it runs the
 * state; conn_flush() writes nothing: in CONN_FLUSH it waits until the
 * tail is empty before the next request. */

/* One turn of the loop:
 *  1. Wait for events, for as long as it takes: timers arrive as events
 *     of the timerfd, so a server with nothing to do never wakes.  (Only
 *     if the kernel would not arm the timerfd does the wait end at the
 *     next deadline by itself.)
 *  2. Read the clock; everything this turn does happens "now".
 *  3. Hand each event to its owner, by the kind at data.ptr.  Reads come
 *     as they are ready; a connection closed earlier in this batch has a
 *     free slot and its stale event is skipped.
 *  4. Fire the timers that are due by now (the clock read again): their
 *     callbacks run the connections whose deadline came.
 *  5. Arm the timerfd for the wheel's next deadline. */
static void loop_turn(void)
{
	struct epoll_event events[MAX_EVENTS];
	int n = epoll_wait(srv.epfd, events, MAX_EVENTS, srv.wait_ms);

	if (n < 0 && errno != EINTR) {
		stderr_line("sse: epoll_wait: %s", error_text(errno));
		exit(1);
	}
	srv.now_ms = clock_ms(CLOCK_MONOTONIC);
	for (int i = 0; i < n; i++) {
		struct source *s = events[i].data.ptr;

		switch (s->kind) {
		case KIND_LISTENER:
			if (!srv.draining)
				listener_accept();
			break;
		case KIND_TIMERFD:
			timerfd_event();
			break;
		case KIND_SIGNALFD:
			signal_event();
			break;
		case KIND_CONN:
			conn_event((struct conn *)s, events[i].events);
			break;
		case KIND_HUB:
			hub_event(s);
			break;
		case KIND_REDIS:	/* only where REDIS_ON */
			if (SSE_REDIS)
				redis_event(s, events[i].events);
			break;
		case KIND_FREE:
			break;
		}
	}
	srv.now_ms = clock_ms(CLOCK_MONOTONIC);
	tw_advance(&srv.wheel, srv.now_ms);
	timer_arm();
}

static void timerfd_event(void)
{
	uint64_t expirations;

	if (read(srv.timerfd.fd, &expirations, sizeof(expirations)) > 0)
		srv.armed_ms = UINT64_MAX;	/* it fired: no longer armed */
}

/* Arms the timerfd for the wheel's next deadline, if that changed.  If
 * the kernel refuses, the loop's next wait ends at that deadline instead,
 * and the next turn tries again: no timer is lost. */
static void timer_arm(void)
{
	uint64_t next = tw_next(&srv.wheel);
	struct itimerspec its = { 0 };

	srv.wait_ms = -1;
	if (next == srv.armed_ms)
		return;
	if (next != UINT64_MAX) {
		its.it_value.tv_sec = (time_t)(next / 1000);
		its.it_value.tv_nsec = (long)(next % 1000) * 1000000 + 1;
	}
	if (timerfd_settime(srv.timerfd.fd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
		if (next != UINT64_MAX)
			srv.wait_ms = next - srv.now_ms >= INT_MAX
				      ? INT_MAX : (int)(next - srv.now_ms) + 1;
		return;
	}
	srv.armed_ms = next;
}

static void signal_event(void)
{
	struct signalfd_siginfo si;

	while (read(srv.signalfd.fd, &si, sizeof(si)) == sizeof(si))
		server_drain();
}

/* The first SIGINT or SIGTERM: stop listening at once, close idle
 * connections, and let every request and stream in progress finish; the
 * loop ends when the last connection has (or at --drain-timeout).  A
 * second signal exits at once. */
static void server_drain(void)
{
	size_t w = (size_t)(srv.stats - srv.shared->slot);

	if (srv.draining && srv.worker)
		return;		/* the parent says when to stop at once */
	if (srv.draining) {
		stderr_line("sse: second signal, exiting now");
		exit(1);
	}
	srv.draining = true;
	hub_drain();
	close(srv.listener.fd);
	srv.listener.fd = -1;
	for (size_t fd = 0; fd < srv.conn_cap; fd++) {
		struct conn *c = &srv.conns[fd];

		if (c->src.kind == KIND_CONN && c->state == CONN_IDLE)
			conn_close(c);
	}
	if (srv.worker) {	/* the parent says it, for all */
		srv.shared->drain_conns[w] = srv.nconns;
		__atomic_store_n(&srv.shared->drain_end_ms[w], drain_end(),
				 __ATOMIC_RELEASE);
	} else {
		drain_line(srv.nconns, 1, drain_end() - srv.now_ms);
	}
	if (srv.cfg.drain_timeout_ms != 0) {
		tw_timer_init(&srv.drain_timer, drain_expired);
		tw_add(&srv.wheel, &srv.drain_timer,
		       srv.now_ms + srv.cfg.drain_timeout_ms);
	}
}

/* When a drain that starts now is over at the latest: at the end of the
 * last stream (its last event, or its reset), or at the deadline of what
 * another connection waits for; --drain-timeout may come first. */
static uint64_t drain_end(void)
{
	uint64_t end = srv.now_ms, due;

	for (size_t fd = 0; fd < srv.conn_cap; fd++) {
		const struct conn *c = &srv.conns[fd];

		if (c->src.kind != KIND_CONN)
			continue;
		due = c->state == CONN_STREAM &&
		      c->stream.state == STREAM_EVENTS
			? stream_due(&c->stream, c->stream.shape.count)
			: c->timer.due_ms;
		end = due > end ? due : end;
	}
	due = srv.now_ms + srv.cfg.drain_timeout_ms;
	return srv.cfg.drain_timeout_ms != 0 && due < end ? due : end;
}

/* The line that says a drain has begun, how long it may take and how not
 * to wait: one for the whole server, with -w N the parent's. */
static void drain_line(uint64_t conns, size_t workers, uint64_t ms)
{
	char in[32] = "";

	if (workers > 1)
		http_format(in, sizeof(in), " in %zu workers", workers);
	stderr_line("sse: draining %llu connection%s%s for up to %llu.%llu s; "
		    "a second signal exits at once", (unsigned long long)conns,
		    conns == 1 ? "" : "s", in, (unsigned long long)ms / 1000,
		    (unsigned long long)ms % 1000 / 100);
}

/* --drain-timeout has passed since the signal: what is still open is
 * closed, and the loop ends. */
static void drain_expired(struct tw_timer *t)
{
	(void)t;
	stderr_line("sse: drain timeout: closing %zu connection%s",
		    srv.nconns, srv.nconns == 1 ? "" : "s");
	for (size_t fd = 0; fd < srv.conn_cap; fd++)
		if (srv.conns[fd].src.kind == KIND_CONN)
			conn_drop(&srv.conns[fd]);
}

static void listener_accept(void)
{
	for (int i = 0; i < ACCEPT_BUDGET; i++) {
		struct sockaddr_storage sa = { 0 };
		socklen_t len = sizeof(sa);
		int fd = accept4(srv.listener.fd, (struct sockaddr *)&sa, &len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EAGAIN)
				return;	/* no more for now */
			if (accept_error_passes(errno))
				continue;
			shed_at_fd_limit();
			return;
		}
		if (srv.nconns >= srv.max_conns || (size_t)fd >= srv.conn_cap)
			shed(fd);
		else
			conn_open(fd, &sa);
	}
}

/* Errors of accept4() that concern one newcomer only, which the next
 * accept4() does not meet: it left before it was accepted, or it brought
 * a network error along (accept(2) lists them). */
static bool accept_error_passes(int e)
{
	return e == EINTR || e == ECONNABORTED || e == EPERM || e == EPROTO ||
	       e == ENETDOWN || e == ENETUNREACH || e == EHOSTDOWN ||
	       e == EHOSTUNREACH || e == ENONET || e == ENOPROTOOPT ||
	       e == EOPNOTSUPP;
}

/* accept4() failed with errno, and would fail again at once while epoll
 * reported the newcomer again and again.  Out of descriptors (EMFILE,
 * ENFILE), the spare one, kept open for this moment, is given up to accept
 * the newcomer and turn it away, so that it does not wait in the backlog.
 * If even that fails, or for any other such error (ENOMEM, ENOBUFS),
 * accepting pauses until a connection closes. */
static void shed_at_fd_limit(void)
{
	if ((errno == EMFILE || errno == ENFILE) && srv.spare_fd >= 0) {
		close(srv.spare_fd);
		int fd = accept4(srv.listener.fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd >= 0)
			shed(fd);
		srv.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && srv.spare_fd >= 0)
			return;
	}
	listener_pause();
}

/* Turns a newcomer away: 503 if the socket takes it at once, then close.
 * Its request may be there already, and closing a socket with unread bytes
 * sends a reset, which can reach the client before the 503 and destroy
 * it: what has come is read and dropped first, up to 16 KiB (twice the
 * default --max-header: a turn's share for one newcomer), so that the
 * close is a FIN.  Bytes still to come are not waited for: the descriptor
 * is needed back now. */
static void shed(int fd)
{
	static const char body[] = "{\"error\":\"server is full\"}";
	char msg[256], sink[4096];
	size_t n = http_format(msg, sizeof(msg),
		"HTTP/1.1 503 Service Unavailable\r\n"
		"Content-Type: application/json; charset=utf-8\r\n"
		"Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		sizeof(body) - 1, body);

	if (send(fd, msg, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		errno = 0;	/* the close below is answer enough */
	for (int i = 0; i < 4; i++)
		if (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) <
		    (ssize_t)sizeof(sink))
			break;
	close(fd);
	srv.stats->shed++;
}

static bool accept_paused;

/* Stops watching the listener until a connection closes, or for a second
 * at most (the descriptors or the kernel's memory may be short
 * system-wide, not here). */
static void listener_pause(void)
{
	struct epoll_event ev = { .events = 0, .data.ptr = &srv.listener };

	if (!accept_paused && srv.listener.fd >= 0 &&
	    epoll_ctl(srv.epfd, EPOLL_CTL_MOD, srv.listener.fd, &ev) == 0) {
		accept_paused = true;
		tw_timer_init(&srv.accept_timer, accept_retry);
		tw_add(&srv.wheel, &srv.accept_timer, srv.now_ms + 1000);
	}
}

static void accept_retry(struct tw_timer *t)
{
	(void)t;
	listener_resume();
	if (accept_paused)	/* epoll_ctl() failed: in a second, again */
		tw_add(&srv.wheel, &srv.accept_timer, srv.now_ms + 1000);
}

static void listener_resume(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &srv.listener };

	if (accept_paused && srv.listener.fd >= 0 &&
	    epoll_ctl(srv.epfd, EPOLL_CTL_MOD, srv.listener.fd, &ev) == 0) {
		accept_paused = false;
		tw_cancel(&srv.wheel, &srv.accept_timer);
	}
}

static void conn_open(int fd, const struct sockaddr_storage *sa)
{
	struct conn *c = &srv.conns[fd];
	struct epoll_event ev = { .events = wait_events[WAIT_READ] };
	int one = 1, lowat = (int)srv.cfg.max_output;

	memset(c, 0, sizeof(*c));
	c->src.kind = KIND_CONN;
	c->src.fd = fd;
	c->state = CONN_IDLE;
	c->events = ev.events;
	c->peer.family = sa->ss_family;
	if (sa->ss_family == AF_INET) {
		c->peer.addr.v4 = ((const struct sockaddr_in *)sa)->sin_addr;
	} else if (sa->ss_family == AF_INET6) {
		const struct in6_addr *a6 =
			&((const struct sockaddr_in6 *)sa)->sin6_addr;

		/* On a dual-stack socket (-b ::) an IPv4 client arrives as
		 * ::ffff:a.b.c.d; the log names it as itself. */
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			c->peer.family = AF_INET;
			memcpy(&c->peer.addr.v4, &a6->s6_addr[12], 4);
		} else {
			c->peer.addr.v6 = *a6;
		}
	}
	tw_timer_init(&c->timer, conn_on_timer);
	tw_timer_init(&c->send_timer, conn_on_send_timer);
	/* Events are small and must leave at once, not wait for an ACK. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* The kernel would take megabytes from a client that does not read
	 * before refusing a write; this caps what it holds unsent at
	 * --max-output, so that the server's own cap and send timeout see
	 * a stuck client soon. */
	setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat));
	ev.data.ptr = &c->src;
	if (epoll_ctl(srv.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		stderr_line("sse: epoll_ctl: %s", error_text(errno));
		c->src.kind = KIND_FREE;
		close(fd);
		return;
	}
	srv.nconns++;
	srv.stats->connections++;
	srv.stats->accepted++;
	tw_add(&srv.wheel, &c->timer, srv.now_ms + srv.cfg.idle_timeout_ms);
}

/* epoll reported on a connection. */
static void conn_event(struct conn *c, uint32_t events)
{
	if (events & (EPOLLERR | EPOLLHUP)) {
		conn_drop(c);	/* reset, or closed both ways: nobody to answer */
		return;
	}
	if (events & EPOLLRDHUP)
		c->peer_eof = true;
	if ((events & EPOLLOUT) && !conn_flush_tail(c)) {
		conn_drop(c);
		return;
	}
	conn_update(c, conn_run(c));
}

/* The wheel calls these when a connection's deadline comes. */
static void conn_on_timer(struct tw_timer *t)
{
	struct conn *c = container_of(t, struct conn, timer);

	conn_update(c, conn_run(c));
}

static void conn_on_send_timer(struct tw_timer *t)
{
	/* The client has not taken a byte for --send-timeout: drop it. */
	conn_drop(container_of(t, struct conn, send_timer));
}

/* Runs the connection's state functions until one must wait, or until it
 * has answered TURN_REQUESTS requests and has the next one in hand: then
 * it yields, and the others get their turn before it goes on. */
static enum wait conn_run(struct conn *c)
{
	enum wait w = WAIT_NONE;
	unsigned answered = 0;

	while (w == WAIT_NONE) {
		switch (c->state) {
		case CONN_IDLE:
			w = conn_idle(c);
			break;
		case CONN_HEAD:
			w = conn_head(c);
			break;
		case CONN_BODY:
			w = conn_body(c);
			break;
		case CONN_STREAM:
			w = conn_stream(c);
			break;
		case CONN_FLUSH:
			w = conn_flush(c);
			if (w == WAIT_NONE && c->state == CONN_HEAD &&
			    ++answered == TURN_REQUESTS)
				w = WAIT_YIELD;
			break;
		case CONN_LINGER:
			w = conn_linger(c);
			break;
		case CONN_REDIS:	/* only where REDIS_ON */
			w = SSE_REDIS ? redis_published(c) : conn_drop(c);
			break;
		}
	}
	return w;
}

/* Tells epoll what the connection now waits for, if that changed.  Any
 * unsent output adds EPOLLOUT, whatever the state. */
static void conn_update(struct conn *c, enum wait w)
{
	struct epoll_event ev;

	if (w == WAIT_GONE)
		return;
	ev.events = wait_events[w] | (conn_tail_pending(c) ? EPOLLOUT : 0);
	if (c->peer_eof)
		ev.events &= ~(uint32_t)EPOLLRDHUP;	/* it stays set: once */
	ev.data.ptr = &c->src;
	if (ev.events != c->events &&
	    epoll_ctl(srv.epfd, EPOLL_CTL_MOD, c->src.fd, &ev) == 0)
		c->events = ev.events;
}

/* CONN_IDLE: a keep-alive connection between requests, holding no buffer. */
static enum wait conn_idle(struct conn *c)
{
	if (srv.now_ms >= c->timer.due_ms || srv.draining)
		return conn_close(c);
	switch (conn_read(c)) {
	case READ_SOME:
		return conn_begin_request(c);
	case READ_WAIT:
		conn_release_in(c);
		return WAIT_READ;
	case READ_FULL:
	case READ_EOF:
		break;
	}
	return conn_close(c);
}

/* Starts reading a request, with the request timeout from now. */
static enum wait conn_begin_request(struct conn *c)
{
	if (c->in != NULL && !conn_unhold_in(c))
		return conn_close(c);
	c->state = CONN_HEAD;
	c->start_ms = srv.now_ms;
	c->bytes = 0;
	tw_add(&srv.wheel, &c->timer,
	       srv.now_ms + srv.cfg.request_timeout_ms);
	return WAIT_NONE;
}

/* CONN_HEAD: the request line and headers are arriving. */
static enum wait conn_head(struct conn *c)
{
	enum wait w;

	for (;;) {
		struct http_request *req = &c->in->req;

		switch (http_parse_head(req, c->in->data, c->in->len)) {
		case HTTP_DONE:
			c->state = CONN_BODY;
			if (!srv.cfg.quiet)
				log_line_keep(c, req->method_name.p,
					(size_t)(req->target.p + req->target.len
						 + strlen(" HTTP/1.1") -
						 req->method_name.p));
			if (req->expect_continue &&
			    c->in->len == req->head_len &&
			    (req->chunked || req->content_length > 0)) {
				static const char cont[] =
					"HTTP/1.1 100 Continue\r\n\r\n";

				if (!conn_send(c, cont, sizeof(cont) - 1))
					return conn_close(c);
			}
			return WAIT_NONE;
		case HTTP_ERROR:
			return refuse(c, req->status, req->reason);
		case HTTP_MORE:
			break;
		}
		if (!conn_read_more(c, 431, "request header section too large", &w))
			return w;
	}
}

/* CONN_BODY: the body is arriving (or there is none). */
static enum wait conn_body(struct conn *c)
{
	enum wait w;

	for (;;) {
		struct http_request *req = &c->in->req;

		switch (http_parse_body(req, c->in->data, c->in->len)) {
		case HTTP_DONE:
			srv.stats->requests++;
			return route(c);
		case HTTP_ERROR:
			return refuse(c, req->status, req->reason);
		case HTTP_MORE:
			break;
		}
		if (!conn_read_more(c, 413, "request body too large", &w))
			return w;
	}
}

/* CONN_HEAD and CONN_BODY, the request not whole yet: past its deadline a
 * 408, else a read.  True if bytes came, to parse again; false with *w,
 * what the connection waits for now.  full and reason: the answer if the
 * buffer fills first. */
static bool conn_read_more(struct conn *c, int full, const char *reason,
			   enum wait *w)
{
	if (srv.now_ms >= c->timer.due_ms) {
		*w = refuse(c, 408, "request timeout");
		return false;
	}
	switch (conn_read(c)) {
	case READ_SOME:
		return true;
	case READ_WAIT:
		*w = WAIT_READ;
		break;
	case READ_FULL:
		*w = refuse(c, full, reason);
		break;
	case READ_EOF:
		*w = conn_close(c);
		break;
	}
	return false;
}

/* CONN_STREAM: runs the stream's own state. */
static enum wait conn_stream(struct conn *c)
{
	if (c->peer_eof)
		return conn_drop(c);	/* the client left: stop at once */
	switch ((enum stream_state)c->stream.state) {
	case STREAM_EVENTS:
		return stream_events(c);
	case STREAM_FAILING:
		if (srv.now_ms < c->timer.due_ms)
			return WAIT_TIMER;
		if (conn_tail_pending(c))
			return WAIT_WRITE;	/* event K whole, then the reset */
		return conn_reset(c);
	case STREAM_STATS:
		return stream_stats(c);
	case STREAM_HUB:
		return hub_stream(c);
	}
	return WAIT_TIMER;
}

/* Ends the response in hand: the next request, or closing. */
static enum wait conn_response_end(struct conn *c)
{
	tw_cancel(&srv.wheel, &c->timer);
	response_log(c);
	c->state = CONN_FLUSH;
	return WAIT_NONE;
}

/* CONN_FLUSH: a response has ended.  Once the client has taken all of it,
 * read the next request (perhaps already in the buffer), or close. */
static enum wait conn_flush(struct conn *c)
{
	if (conn_tail_pending(c))
		return WAIT_WRITE;
	if (!c->keep_alive) {
		/* Say we are done (FIN), then wait for the client to close. */
		shutdown(c->src.fd, SHUT_WR);
		c->state = CONN_LINGER;
		tw_add(&srv.wheel, &c->timer,
		       srv.now_ms + srv.cfg.linger_timeout_ms);
		return WAIT_NONE;
	}
	if (c->in != NULL)
		return conn_begin_request(c);
	c->state = CONN_IDLE;
	tw_add(&srv.wheel, &c->timer, srv.now_ms + srv.cfg.idle_timeout_ms);
	return WAIT_NONE;
}

/* CONN_LINGER: the server has sent FIN after its last answer.  It reads and
 * drops whatever the client still sends until the client closes too, or
 * the linger timeout: closing with unread bytes would make the kernel
 * reset the connection, and a reset can destroy the answer before the
 * client has read it. */
static enum wait conn_linger(struct conn *c)
{
	char sink[4096];

	if (srv.now_ms >= c->timer.due_ms)
		return conn_close(c);
	for (int i = 0; i < 16; i++) {
		ssize_t n = read(c->src.fd, sink, sizeof(sink));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return WAIT_READ;
		if (n <= 0)
			return conn_close(c);
	}
	return WAIT_READ;	/* more next turn: others get their share */
}

/* Answers a request that cannot be served, and closes the connection
 * after the answer is out: the rest of what the client sent can no longer
 * be trusted to start a request. */
static enum wait refuse(struct conn *c, int status, const char *reason)
{
	struct out o = out_begin();
	size_t at;

	c->keep_alive = false;
	c->status = (uint16_t)status;
	tw_cancel(&srv.wheel, &c->timer);
	out_head(&o, c, status, "application/json; charset=utf-8", NULL);
	out_printf(&o, "Content-Length: %zu\r\n\r\n",
		   strlen("{\"error\":\"\"}") + strlen(reason));
	at = o.len;
	out_printf(&o, "{\"error\":\"%s\"}", reason);
	c->bytes = o.len - at;
	response_log(c);
	conn_release_in(c);
	if (!conn_send_out(c, &o))
		return conn_close(c);
	c->state = CONN_FLUSH;
	return WAIT_NONE;
}

/* The request has been answered (or its stream set up): its bytes are no
 * longer needed.  Bytes of a pipelined request that came behind it move to
 * the front of the buffer; with none, the buffer goes back to the pool. */
static void conn_request_done(struct conn *c)
{
	struct inbuf *in = c->in;
	size_t end = in->req.end;

	memmove(in->data, in->data + end, in->len - end);
	in->len -= end;
	http_request_init(&in->req, &srv.cfg.limits);
	if (in->len == 0)
		conn_release_in(c);
}

/* Ends the connection with a reset rather than a FIN, and no final chunk:
 * what a client sees when a server crashes. */
static enum wait conn_reset(struct conn *c)
{
	struct linger hard = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(c->src.fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
	srv.stats->streams_active--;
	response_log(c);
	return conn_close(c);
}

/* The one place a connection ends: it closes the descriptor, cancels the
 * timers, returns the buffers and frees the slot.  Returns WAIT_GONE so
 * that a state function can end with "return conn_close(c);". */
static enum wait conn_close(struct conn *c)
{
	tw_cancel(&srv.wheel, &c->timer);
	tw_cancel(&srv.wheel, &c->send_timer);
	if (c->stream.format == FORMAT_HUB)
		hub_leave(c);
	conn_release_in(c);
	mem_put(c->out.p, c->out.cap);
	log_line_put(c);
	close(c->src.fd);	/* also takes it out of epoll */
	c->src.kind = KIND_FREE;
	srv.nconns--;
	srv.stats->connections--;
	listener_resume();	/* a descriptor is free again */
	return WAIT_GONE;
}

/* The client is gone, or must go: a stream it had is cut short, logged
 * with what it sent and counted as aborted; then the connection closes.
 * A stream failing on purpose (drop=, stall=) was counted when it began to
 * fail: a client leaving before the reset does not count it twice. */
static enum wait conn_drop(struct conn *c)
{
	if (c->state == CONN_STREAM) {
		if (c->stream.format != FORMAT_STATS) {
			if (c->stream.state != STREAM_FAILING)
				srv.stats->streams_aborted++;
			srv.stats->streams_active--;
		}
		response_log(c);
	}
	return conn_close(c);
}

/* ==== the connection's bytes ============================================ */

/* What a connection reads and writes: request buffers lent from a free
 * list and given back when the request is answered; reading until
 * EAGAIN; output formatted in the one scratch buffer (out_*(), chunk_*())
 * and sent at once, keeping only what the socket refused (the tail); and
 * the access log, written when a response ends. */

/* Reads what the client sent into the borrowed buffer, borrowing one if
 * needed.  A failed read or allocation counts as the client leaving. */
static enum read_result conn_read(struct conn *c)
{
	ssize_t n;

	if (c->in == NULL && (c->in = inbuf_get()) == NULL)
		return READ_EOF;
	if (c->in->len == c->in->cap)
		return READ_FULL;
	do
		n = read(c->src.fd, c->in->data + c->in->len,
			 c->in->cap - c->in->len);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		c->in->len += (size_t)n;
		return READ_SOME;
	}
	if (n < 0 && errno == EAGAIN)
		return READ_WAIT;
	c->peer_eof = true;
	return READ_EOF;
}

static struct inbuf *inbuf_get(void)
{
	struct inbuf *b = srv.free_bufs;

	if (b != NULL) {
		srv.free_bufs = b->next_free;
		srv.n_free_bufs--;
	} else {
		b = mem_get(sizeof(*b) + srv.in_cap);
		if (b == NULL)
			return NULL;
	}
	b->len = 0;
	b->cap = srv.in_cap;
	http_request_init(&b->req, &srv.cfg.limits);
	return b;
}

static void inbuf_put(struct inbuf *b)
{
	if (srv.n_free_bufs >= FREE_BUFS_MAX || b->cap != srv.in_cap) {
		mem_put(b, sizeof(*b) + b->cap);
		return;
	}
	b->next_free = srv.free_bufs;
	srv.free_bufs = b;
	srv.n_free_bufs++;
}

static void conn_release_in(struct conn *c)
{
	if (c->in != NULL) {
		inbuf_put(c->in);
		c->in = NULL;
	}
}

/* A stream may last for hours: bytes a client pipelined behind its
 * request wait in a block of their own size, not in a request buffer.
 * (If that allocation fails, the buffer is kept: nothing is lost.) */
static void conn_hold_in(struct conn *c)
{
	struct inbuf *held = mem_get(sizeof(*held) + c->in->len);

	if (held == NULL)
		return;
	memcpy(held->data, c->in->data, c->in->len);
	held->len = held->cap = c->in->len;
	http_request_init(&held->req, &srv.cfg.limits);
	inbuf_put(c->in);
	c->in = held;
}

/* The held bytes go back into a whole request buffer, to be parsed and
 * read after; nothing points into them yet.  False if none is to be had. */
static bool conn_unhold_in(struct conn *c)
{
	struct inbuf *b;

	if (c->in->cap == srv.in_cap)
		return true;
	if ((b = inbuf_get()) == NULL)
		return false;
	memcpy(b->data, c->in->data, c->in->len);
	b->len = c->in->len;
	mem_put(c->in, sizeof(*c->in) + c->in->cap);
	c->in = b;
	return true;
}

/* Sends bytes at once; what the socket refuses waits in the tail, for
 * conn_update() to have epoll watch for room.  Returns false when the
 * connection is lost: the client is gone, or its tail would pass
 * --max-output.  The caller then closes it. */
static bool conn_send(struct conn *c, const char *p, size_t n)
{
	struct tail *t = &c->out;
	ssize_t w = 0;

	if (t->len == t->off) {
		do
			w = send(c->src.fd, p, n, MSG_NOSIGNAL);
		while (w < 0 && errno == EINTR);
		if (w < 0 && errno != EAGAIN)
			return false;
		if (w < 0)
			w = 0;
		if ((size_t)w == n)
			return true;
	}
	p += w;
	n -= (size_t)w;
	if (t->off > 0) {	/* slide the unsent part to the front */
		memmove(t->p, t->p + t->off, t->len - t->off);
		t->len -= t->off;
		t->off = 0;
	}
	if (n > srv.cfg.max_output - t->len)
		return false;
	if (t->len + n > t->cap) {
		size_t cap = t->len + n < 4096 ? 4096 : t->len + n;
		char *q = mem_resize(t->p, t->cap, cap);

		if (q == NULL)
			return false;
		t->p = q;
		t->cap = (uint32_t)cap;
	}
	memcpy(t->p + t->len, p, n);
	t->len += (uint32_t)n;
	if (!tw_pending(&c->send_timer))
		tw_add(&srv.wheel, &c->send_timer,
		       srv.now_ms + srv.cfg.send_timeout_ms);
	return true;
}

static bool conn_send_out(struct conn *c, const struct out *o)
{
	return conn_send(c, o->p, o->len);
}

/* Writes what the tail holds.  Returns false when the client is gone. */
static bool conn_flush_tail(struct conn *c)
{
	struct tail *t = &c->out;

	while (t->off < t->len) {
		ssize_t w = send(c->src.fd, t->p + t->off, t->len - t->off,
				 MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno == EAGAIN;
		t->off += (uint32_t)w;
		/* It moved: the client is slow, not stuck. */
		tw_add(&srv.wheel, &c->send_timer,
		       srv.now_ms + srv.cfg.send_timeout_ms);
	}
	mem_put(t->p, t->cap);
	*t = (struct tail){ 0 };
	tw_cancel(&srv.wheel, &c->send_timer);
	return true;
}

static bool conn_tail_pending(const struct conn *c)
{
	return c->out.off < c->out.len;
}

static struct out out_begin(void)
{
	return (struct out){ srv.scratch, 0, srv.scratch_cap };
}

static void out_add(struct out *o, const char *s, size_t n)
{
	if (n > o->cap - o->len)
		n = o->cap - o->len;	/* cannot happen: scratch fits a reply */
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	o->len += http_vformat(o->p + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
}

/* The status line and the headers every response has, in the seed's
 * order: Content-Type, more lines (extra, if not NULL), Connection, Date. */
static void out_head(struct out *o, const struct conn *c, int status,
		     const char *content_type, const char *extra)
{
	out_printf(o, "HTTP/1.1 %d %s\r\n", status, http_reason(status));
	if (content_type != NULL)
		out_printf(o, "Content-Type: %s\r\n", content_type);
	if (extra != NULL)
		out_add(o, extra, strlen(extra));
	if (srv.cfg.cors != NULL)
		out_printf(o, "Access-Control-Allow-Origin: %s\r\n%s",
			   srv.cfg.cors, strcmp(srv.cfg.cors, "*") == 0
			   ? "" : "Vary: Origin\r\n");
	out_printf(o, "Connection: %s\r\nDate: %s\r\n",
		   c->keep_alive ? "keep-alive" : "close",
		   http_date(&srv.date, time(NULL)));
}

/* A chunk is formatted in two steps, because its size comes first on the
 * wire but is known last: chunk_open() leaves room for the size line,
 * the body is added, and chunk_close() writes the size line and closes
 * the gap.  Without chunking (HTTP/1.0) the body goes out as it is. */
static size_t chunk_open(struct out *o)
{
	size_t at = o->len;

	o->len += CHUNK_ROOM;
	return at;
}

static void chunk_close(struct out *o, size_t at, bool chunked)
{
	size_t n = o->len - at - CHUNK_ROOM;
	size_t head;

	if (n == 0) {
		/* Nothing to send; and an empty chunk would end the body. */
		o->len = at;
		return;
	}
	head = chunked ? http_chunk_head(o->p + at, n) : 0;

	memmove(o->p + at + head, o->p + at + CHUNK_ROOM, n);
	o->len = at + head + n;
	if (chunked)
		out_add(o, "\r\n", 2);
}

/* The request line, kept for the access log until the response ends: a
 * string, as the parser admits no NUL in it, so that strlen() tells its
 * block's size when it is given back.  (With no room for it, the log
 * says "-".) */
static void log_line_keep(struct conn *c, const char *p, size_t n)
{
	if ((c->log_line = mem_get(n + 1)) != NULL) {
		memcpy(c->log_line, p, n);
		c->log_line[n] = '\0';
	}
}

static void log_line_put(struct conn *c)
{
	if (c->log_line != NULL)
		mem_put(c->log_line, strlen(c->log_line) + 1);
	c->log_line = NULL;
}

/* A response has ended: log it and count it. */
static void response_log(struct conn *c)
{
	srv.stats->by_status[c->status < 600 ? c->status : 0]++;
	conn_log(c);
	log_line_put(c);
}

/* The access log: Common Log Format, then the duration in milliseconds.
 * The line is written when the response ends and stamped with that time
 * (as nginx stamps its log), so that the log stays in order however long
 * a stream lasts; its start is the stamp less the duration.  The request
 * line may be long (--max-target), so the line goes out in three pieces
 * around it, in one writev() as write_text() would. */
static void conn_log(const struct conn *c)
{
	char host[INET6_ADDRSTRLEN], when[32], head[96], tail[80];
	const char *request = c->log_line ? c->log_line : "-";
	uint64_t took = srv.now_ms - c->start_ms;

	if (srv.cfg.quiet)
		return;
	http_addr_text(host, sizeof(host), &c->peer.addr,
		       c->peer.family == AF_INET ? sizeof(c->peer.addr.v4)
						 : sizeof(c->peer.addr.v6));
	http_log_time(when, sizeof(when), time(NULL));
	struct iovec line[] = {
		{ head, http_format(head, sizeof(head), "%s - - [%s] \"",
				    host, when) },
		{ (char *)request, strlen(request) },
		{ tail, http_format(tail, sizeof(tail), "\" %u %llu %llu\n",
				    c->status, (unsigned long long)c->bytes,
				    (unsigned long long)took) },
	};
	if (writev(STDERR_FILENO, line, 3) < 0)
		errno = 0;	/* as in write_text() */
}

/* ==== streams =========================================================== */

/* A stream is the connection's CONN_STREAM with a small state machine of
 * its own (enum stream_state).  stream_start() sends the headers and the
 * opening; stream_events() sends every event due by now in one write and
 * sets the timer for the next, on a schedule that does not drift. */

/* Starts a stream of events first + 1 .. count: the headers and the
 * opening chunk go out at once.  HEAD gets the headers alone. */
static enum wait stream_start(struct conn *c, struct http_request *req,
			      enum stream_format format,
			      const struct shape *shape, uint32_t first)
{
	struct stream *s = &c->stream;
	struct out o = out_begin();
	bool head = req->method == HTTP_HEAD;

	*s = (struct stream){
		.t0_ms = srv.now_ms,
		.quiet_since_ms = srv.now_ms,
		.shape = *shape,
		.first = first,
		.last = first,
		.state = format == FORMAT_STATS ? STREAM_STATS : STREAM_EVENTS,
		.format = (uint8_t)format,
		.chunked = req->minor == 1,
	};
	if (!s->chunked)
		c->keep_alive = false;	/* the close ends the body */
	/* A stream may last for hours, and the server does not read while
	 * it runs; but the read that brought its request may have brought
	 * up to a request buffer's worth of requests behind it.  Past
	 * HOLD_MAX those are not kept: the stream says Connection: close,
	 * and the client sends them again on a new connection, as RFC 9112
	 * 9.3.2 asks of a client that pipelines. */
	if (!head && c->in->len - req->end > HOLD_MAX)
		c->keep_alive = false;
	c->status = 200;
	out_head(&o, c, 200, "text/event-stream", "Cache-Control: no-cache\r\n");
	out_printf(&o, "%sX-Accel-Buffering: no\r\n\r\n",
		   s->chunked ? "Transfer-Encoding: chunked\r\n" : "");
	if (!head)
		stream_chunk(c, &o, stream_open_chunk);
	conn_request_done(c);
	if (c->in != NULL && !head && !c->keep_alive)
		conn_release_in(c);	/* nothing will read them */
	if (c->in != NULL && !head)
		conn_hold_in(c);
	if (!conn_send_out(c, &o)) {
		response_log(c);
		return conn_close(c);
	}
	if (head)
		return conn_response_end(c);
	c->state = CONN_STREAM;
	if (format != FORMAT_STATS)	/* a view of the counters, not events */
		srv.stats->streams_active++;
	return WAIT_NONE;
}

/* STREAM_EVENTS: sends every event that is due, in one write (events that
 * fell behind, because the server was busy, go out together), or a
 * heartbeat if the stream has been silent too long; then sleeps until the
 * next.  After the last comes the end of the body.  drop= and stall= cut
 * it short on purpose: the batch then ends at their event, and one branch
 * after it fails the stream. */
static enum wait stream_events(struct conn *c)
{
	struct stream *s = &c->stream;
	struct out o = out_begin();
	uint64_t wall_ms = clock_ms(CLOCK_REALTIME);
	uint32_t from = s->last;	/* events after it go out now */
	uint32_t drop = stream_fail_at(s, s->shape.drop);
	uint32_t stall = stream_fail_at(s, s->shape.stall);
	uint32_t fail = drop < stall ? drop : stall, end = s->last;

	/* The batch: what is due by now, up to the stream's end or its
	 * fail point, whichever comes first. */
	while (end < s->shape.count && end < fail &&
	       stream_due(s, end + 1) <= srv.now_ms)
		end++;
	while (s->last < end) {
		size_t at;

		/* Keep room for one more event of the largest size. */
		if (o.cap - o.len < srv.cfg.max_event_size + EVENT_ROOM &&
		    !stream_send(c, &o))
			return conn_drop(c);
		at = chunk_open(&o);
		s->last++;
		stream_event_data(c, &o, s->last, wall_ms);
		c->bytes += o.len - at - CHUNK_ROOM;
		chunk_close(&o, at, s->chunked);
	}
	if (s->last == fail) {
		if (!stream_send(c, &o))
			return conn_drop(c);
		stream_sent(s, from);
		if (fail == drop) {
			/* A crash between two events: the reset comes when
			 * event K + 1 would have been due.  Sent at once, it
			 * could overtake event K in a client that had not read
			 * it yet (a browser may lose the bytes it had not
			 * handed to the page when the reset arrives); this way
			 * the client has a whole interval to take them. */
			srv.stats->streams_dropped++;
			return stream_fail(c, stream_due(s, s->last + 1));
		}
		/* Silent from here until the stream would have ended. */
		srv.stats->streams_stalled++;
		return stream_fail(c, stream_due(s, s->shape.count));
	}
	if (o.len == 0 && s->shape.heartbeat_ms != 0 &&
	    srv.now_ms >= s->quiet_since_ms + s->shape.heartbeat_ms)
		stream_chunk(c, &o, stream_heartbeat_chunk);
	if (s->last == s->shape.count) {
		stream_chunk(c, &o, stream_done_chunk);
		if (s->chunked)
			out_add(&o, "0\r\n\r\n", 5);
	}
	if (!stream_send(c, &o))
		return conn_drop(c);
	stream_sent(s, from);
	if (s->last < s->shape.count)
		return stream_wait(c);
	srv.stats->streams_completed++;
	srv.stats->streams_active--;
	return conn_response_end(c);
}

/* Event k is due (k - first) intervals after the request was complete:
 * never "an interval after the last one went out", so lateness does not
 * add up. */
static uint64_t stream_due(const struct stream *s, uint32_t k)
{
	return s->t0_ms + (uint64_t)(k - s->first) * s->shape.interval_ms;
}

/* The stream's timer: the next event, or a heartbeat if that comes first
 * (the heartbeat's deadline moves each time bytes go out). */
static enum wait stream_wait(struct conn *c)
{
	const struct stream *s = &c->stream;
	uint64_t due = stream_due(s, s->last + 1);

	if (s->shape.heartbeat_ms != 0 &&
	    s->quiet_since_ms + s->shape.heartbeat_ms < due)
		due = s->quiet_since_ms + s->shape.heartbeat_ms;
	tw_add(&srv.wheel, &c->timer, due);
	return WAIT_TIMER;
}

/* Appends a piece of the body to o as its own chunk, formatted by fn. */
static void stream_chunk(struct conn *c, struct out *o,
			 void (*fn)(const struct conn *, struct out *))
{
	size_t at = chunk_open(o), start = o->len;

	fn(c, o);
	c->bytes += o->len - start;
	chunk_close(o, at, c->stream.chunked);
}

/* One stream engine, two wire formats: the seed's POST /api, and the
 * EventSource one of GET /message-stream, with ids, a retry delay and no
 * ":done" (the end of the body is the end). */
static void stream_open_chunk(const struct conn *c, struct out *o)
{
	if (c->stream.format != FORMAT_API)
		out_printf(o, "retry: %u\n:ok\n\n", c->stream.shape.interval_ms);
	else
		out_add(o, ":ok\n\n", 5);
}

/* Event k, padded when the stream has a size: a "pad" member, generated
 * here and never stored, makes the event exactly that many bytes. */
static void stream_event_data(const struct conn *c, struct out *o,
			      uint32_t k, uint64_t wall_ms)
{
	const struct stream *s = &c->stream;
	size_t start = o->len, len, pad;

	if (s->format == FORMAT_EVENTSOURCE)
		out_printf(o, "id: %u\ndata: {\"user\":\"sse\",\"text\":"
			   "\"Hello, world! (%u/%u)\",\"timestamp\":%llu}\n\n",
			   k, k, s->shape.count, (unsigned long long)wall_ms);
	else
		out_printf(o, "data: {\"message\":\"Hello, world!\","
			   "\"timestamp\":%llu}\n\n", (unsigned long long)wall_ms);
	len = o->len - start + PAD_MEMBER_LEN;
	if (s->shape.size == 0 || s->shape.size < len)
		return;		/* checked at the start: cannot happen */
	pad = s->shape.size - len;
	o->len -= 3;		/* reopen the object: "}\n\n" */
	out_add(o, ",\"pad\":\"", 8);
	memset(o->p + o->len, 'x', pad);
	o->len += pad;
	out_add(o, "\"}\n\n", 4);
}

static void stream_done_chunk(const struct conn *c, struct out *o)
{
	if (c->stream.format == FORMAT_API)
		out_add(o, ":done\n\n", 7);
}

static void stream_heartbeat_chunk(const struct conn *c, struct out *o)
{
	(void)c;
	out_add(o, ":\n\n", 3);
}

/* Sends o; false when the client is gone (the stream is then aborted). */
static bool stream_send(struct conn *c, struct out *o)
{
	if (o->len == 0)
		return true;
	c->stream.quiet_since_ms = srv.now_ms;
	if (conn_send_out(c, o)) {
		o->len = 0;
		return true;
	}
	return false;
}

/* Events from + 1 .. s->last have just been written (or queued for a
 * client that is slow to read): they are counted, and how late each went
 * out goes into the /metrics histogram. */
static void stream_sent(const struct stream *s, uint32_t from)
{
	uint64_t now_us = clock_us(CLOCK_MONOTONIC);

	for (uint32_t k = from + 1; k <= s->last; k++) {
		srv.stats->events++;
		lateness_add(now_us - stream_due(s, k) * 1000);
	}
}

/* Counts how late an event went out, in the /metrics histogram. */
static void lateness_add(uint64_t late_us)
{
	size_t b = 0;

	while (b < LATENESS_BUCKETS && late_us > lateness_le[b].us)
		b++;
	srv.stats->lateness[b]++;
	srv.stats->lateness_sum_us += late_us;
}

/* The event after which the stream fails on purpose at request K (drop=
 * or stall=), or NO_EVENT.  K counts event ids, so a stream resumed past
 * K, or at it, runs to its end; K = 0 means right after the opening. */
static uint32_t stream_fail_at(const struct stream *s, uint32_t k)
{
	return k > s->first || (k == 0 && s->first == 0) ? k : NO_EVENT;
}

/* Sends nothing more; at due_ms the connection is reset. */
static enum wait stream_fail(struct conn *c, uint64_t due_ms)
{
	c->stream.state = STREAM_FAILING;
	tw_add(&srv.wheel, &c->timer, due_ms);
	return WAIT_TIMER;
}

/* STREAM_STATS: GET /stats as a stream, for watching a load live: the
 * counters as one event at once, then every interval on the drift-free
 * schedule (here s->last counts the events sent, and event k is due k
 * intervals after the request; one that a busy server missed is not sent
 * late), until the client leaves, or the next one after a signal ends
 * the stream.  /stats counts it in neither streams nor events. */
static enum wait stream_stats(struct conn *c)
{
	struct stream *s = &c->stream;
	struct out o = out_begin();
	size_t at;

	if (stream_due(s, s->last) > srv.now_ms)
		goto wait;
	while (stream_due(s, s->last) <= srv.now_ms)
		s->last++;
	at = chunk_open(&o);
	out_add(&o, "data: ", 6);
	o.len += stats_json(o.p + o.len, o.cap - o.len);
	out_add(&o, "\n\n", 2);
	c->bytes += o.len - at - CHUNK_ROOM;
	chunk_close(&o, at, s->chunked);
	if (srv.draining && s->chunked)
		out_add(&o, "0\r\n\r\n", 5);
	if (!stream_send(c, &o))
		return conn_drop(c);
	if (srv.draining)
		return conn_response_end(c);
wait:
	tw_add(&srv.wheel, &c->timer, stream_due(s, s->last));
	return WAIT_TIMER;
}

/* ==== routes ============================================================ */

/* A whole request meets the route table: route() finds its path and
 * method, and each route answers at once or starts a stream.  The shape
 * parameters (docs/protocol.md section 6) are read here; what a body
 * means is decided off the request's path, under "request bodies". */

#define M(method) (1u << (method))

static const struct route {
	const char *path;
	unsigned methods;	/* M(HTTP_GET) also allows HEAD */
	const char *allow;	/* for 405 and OPTIONS */
	enum wait (*answer)(struct conn *c, struct http_request *req);
} routes[] = {
	{ "/", M(HTTP_GET), "GET, HEAD", route_page },
	{ "/api", M(HTTP_POST) | M(HTTP_OPTIONS), "POST, OPTIONS", route_api },
	{ "/message-stream", M(HTTP_GET) | M(HTTP_OPTIONS),
	  "GET, HEAD, OPTIONS", route_message_stream },
	{ "/stats", M(HTTP_GET), "GET, HEAD", route_stats },
	{ "/metrics", M(HTTP_GET), "GET, HEAD", route_metrics },
	/* A path ending in '/' (not "/") is a prefix. */
	{ "/topics/", M(HTTP_GET) | M(HTTP_POST) | M(HTTP_OPTIONS),
	  "GET, HEAD, POST, OPTIONS", route_topics },
};

/* A complete request: finds its route and answers it. */
static enum wait route(struct conn *c)
{
	struct http_request *req = &c->in->req;
	unsigned m = M(req->method == HTTP_HEAD ? HTTP_GET : req->method);
	char allow[96];

	c->keep_alive = req->keep_alive && !srv.draining;
	if (req->path.len == 1 && req->path.p[0] == '*')	/* OPTIONS * */
		return answer(c, req, 204, NULL,
			      "Allow: GET, HEAD, POST, OPTIONS\r\n", NULL, 0);
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct route *r = &routes[i];
		size_t n = strlen(r->path);

		if (req->path.len < n || (req->path.len > n && (n == 1 ||
					  r->path[n - 1] != '/')) ||
		    memcmp(req->path.p, r->path, n) != 0)
			continue;
		if (req->method == HTTP_OTHER || !(r->methods & m)) {
			http_format(allow, sizeof(allow), "Allow: %s\r\n",
				    r->allow);
			return answer_error(c, req, 405, allow,
					    "method not allowed");
		}
		if (req->method == HTTP_OPTIONS)
			return answer_options(c, req, r);
		return r->answer(c, req);
	}
	return answer_error(c, req, 404, NULL, "not found");
}

/* OPTIONS: 204 with Allow, and with --cors the answer to a browser's
 * preflight: the methods, and the request headers a page may send (the
 * JSON Content-Type of a fetch(), the Last-Event-ID of an EventSource). */
static enum wait answer_options(struct conn *c, struct http_request *req,
				const struct route *r)
{
	char extra[512];

	if (srv.cfg.cors == NULL)
		http_format(extra, sizeof(extra), "Allow: %s\r\n", r->allow);
	else
		http_format(extra, sizeof(extra), "Allow: %s\r\n"
			    "Access-Control-Allow-Methods: %s\r\n"
			    "Access-Control-Allow-Headers: Content-Type, "
			    "Last-Event-ID, Authorization\r\n"
			    "Access-Control-Max-Age: 86400\r\n",
			    r->allow, r->allow);
	return answer(c, req, 204, NULL, extra, NULL, 0);
}

/* POST /api: the seed's route.  A JSON hello, or a stream when asked;
 * the stream's shape comes from the query string only, as the body keeps
 * the seed's meaning. */
static enum wait route_api(struct conn *c, struct http_request *req)
{
	const char *why = NULL;
	char bad[128];
	struct shape shape;

	switch (api_asks_stream(req, &why)) {
	case ASK_STREAM:
		if (!stream_shape(req, FORMAT_API, &shape, bad, sizeof(bad)))
			return answer_error(c, req, 400, NULL, bad);
		return stream_start(c, req, FORMAT_API, &shape, 0);
	case ASK_BAD:
		return answer_error(c, req, 400, NULL, why);
	case ASK_PLAIN:
		break;
	}
	return answer_json(c, req, 200, NULL, "{\"message\":\"Hello, world!\"}");
}

/* GET /message-stream: the EventSource stream.  A reconnecting browser
 * sends the last id it saw as Last-Event-ID (a first visit can only say
 * ?lastEventId=), and the stream resumes after it, in the same shape;
 * once all events were delivered, 204 tells the browser to stop
 * reconnecting. */
static enum wait route_message_stream(struct conn *c,
				      struct http_request *req)
{
	const struct http_header *h = http_header(req, "Last-Event-ID");
	uint32_t last = 0;
	struct shape shape;
	char bad[128];

	if (!stream_shape(req, FORMAT_EVENTSOURCE, &shape, bad, sizeof(bad)))
		return answer_error(c, req, 400, NULL, bad);
	if (h == NULL || !decimal_u32(h->value.p, h->value.len, &last)) {
		char v[16];

		last = 0;
		if (query_value(req->query, "lastEventId", v, sizeof(v)) &&
		    !decimal_u32(v, strlen(v), &last))
			last = 0;
	}
	if (last >= shape.count)
		return answer(c, req, 204, NULL, NULL, NULL, 0);
	return stream_start(c, req, FORMAT_EVENTSOURCE, &shape, last);
}

/* GET /: the demo page, web/index.html, built into the binary gzipped
 * (make runs gzip -9n): a third of its bytes, in a binary meant for small
 * boxes.  Every browser takes gzip, and a client that sends no
 * Accept-Encoding takes any coding (RFC 9110 section 12.5.3); one that
 * lists codings without gzip gets 406 and how to ask. */
static enum wait route_page(struct conn *c, struct http_request *req)
{
	if (http_header(req, "Accept-Encoding") != NULL &&
	    !header_lists(req, "Accept-Encoding", "gzip") &&
	    !header_lists(req, "Accept-Encoding", "*"))
		return answer_error(c, req, 406, "Vary: Accept-Encoding\r\n",
				    "the page is stored gzipped: ask with "
				    "Accept-Encoding: gzip (curl --compressed)");
	return answer(c, req, 200, "text/html; charset=utf-8",
		      "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n",
		      (const char *)page_html, sizeof(page_html));
}

/* The shape a stream request asks for (docs/protocol.md section 6),
 * from the query string over the command line's defaults.  False, with
 * why naming the parameter, if one is out of bounds. */
static bool stream_shape(const struct http_request *req,
			 enum stream_format format, struct shape *sh,
			 char *why, size_t cap)
{
	const struct config *cfg = &srv.cfg;
	struct http_span q = req->query;
	struct conn probe;
	char sample[512];
	struct out o = { sample, 0, sizeof(sample) };
	size_t natural;

	*sh = (struct shape){
		.count = cfg->events, .interval_ms = cfg->interval_ms,
		.heartbeat_ms = cfg->heartbeat_ms,
		.drop = NO_EVENT, .stall = NO_EVENT,
	};
	if (!shape_param(q, "n", 1, cfg->max_events, &sh->count, why, cap) ||
	    !shape_param(q, "interval", cfg->min_interval_ms, DAY_MS,
			 &sh->interval_ms, why, cap) ||
	    !shape_param(q, "size", 1, cfg->max_event_size, &sh->size,
			 why, cap) ||
	    !shape_param(q, "heartbeat", 0, DAY_MS, &sh->heartbeat_ms,
			 why, cap) ||
	    !shape_param(q, "drop", 0, cfg->max_events, &sh->drop, why, cap) ||
	    !shape_param(q, "stall", 0, cfg->max_events, &sh->stall, why, cap))
		return false;
	if (sh->heartbeat_ms != 0 && sh->heartbeat_ms < cfg->min_interval_ms) {
		http_format(why, cap, "heartbeat must be 0 or from %u to %llu",
			    cfg->min_interval_ms, DAY_MS);
		return false;
	}
	if (sh->size == 0)
		return true;	/* not asked for: events as they are */
	/* The largest event unpadded: the last id, today's timestamp. */
	memset(&probe, 0, sizeof(probe));
	probe.stream.format = (uint8_t)format;
	probe.stream.shape.count = sh->count;
	stream_event_data(&probe, &o, sh->count, clock_ms(CLOCK_REALTIME));
	natural = o.len + PAD_MEMBER_LEN;
	if (sh->size < natural) {
		http_format(why, cap,
			    "size must be at least %zu for this stream",
			    natural);
		return false;
	}
	return true;
}

/* Reads one shape parameter from the query: absent leaves *v as it is;
 * present, it must be a whole number in [min, max], else why says so,
 * naming the parameter. */
static bool shape_param(struct http_span query, const char *key,
			uint32_t min, uint64_t max, uint32_t *v,
			char *why, size_t cap)
{
	char text[64];		/* a longer value is cut: refused below */
	size_t len;
	uint32_t n;

	if (!query_value(query, key, text, sizeof(text)))
		return true;
	len = strlen(text);
	/* decimal_u32() saturates at UINT32_MAX, past every max here. */
	if (len < sizeof(text) - 1 && decimal_u32(text, len, &n) &&
	    n >= min && n <= max) {
		*v = n;
		return true;
	}
	http_format(why, cap, "%s must be a whole number from %u to %llu", key,
		    min, (unsigned long long)max);
	return false;
}

/* A whole number in decimal, every byte of s a digit: false if s is not
 * one.  Past UINT32_MAX it reads as UINT32_MAX, which is past the end of
 * any stream and above every bound the server checks. */
static bool decimal_u32(const char *s, size_t n, uint32_t *value)
{
	uint64_t v = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > UINT32_MAX)
			v = UINT32_MAX;
	}
	*value = (uint32_t)v;
	return true;
}

/* ---- answers ----------------------------------------------------------- */

/* A whole response with a known length: status, headers (extra, if not
 * NULL, is more header lines), len bytes of body (none if body is NULL).
 * HEAD gets the same without the body.  Then the connection moves on to
 * the next request. */
static enum wait answer(struct conn *c, const struct http_request *req,
			int status, const char *type, const char *extra,
			const char *body, size_t len)
{
	struct out o = out_begin();

	c->status = (uint16_t)status;
	out_head(&o, c, status, body ? type : NULL, extra);
	if (status != 204)
		out_printf(&o, "Content-Length: %zu\r\n", len);
	out_add(&o, "\r\n", 2);
	if (req->method != HTTP_HEAD && body != NULL) {
		out_add(&o, body, len);
		c->bytes = len;
	}
	conn_request_done(c);
	if (!conn_send_out(c, &o)) {
		response_log(c);
		return conn_close(c);
	}
	return conn_response_end(c);
}

static enum wait answer_json(struct conn *c, const struct http_request *req,
			     int status, const char *extra, const char *body)
{
	return answer(c, req, status, "application/json; charset=utf-8", extra,
		      body, strlen(body));
}

/* An error answer on a connection that stays usable: {"error":"..."}. */
static enum wait answer_error(struct conn *c, const struct http_request *req,
			      int status, const char *extra, const char *why)
{
	char body[160];

	http_format(body, sizeof(body), "{\"error\":\"%s\"}", why);
	return answer_json(c, req, status, extra, body);
}

/* ==== the hub =========================================================== */

/* Publish/subscribe (docs/protocol.md section 8): one copy of each event, many
 * cursors.  Every event of every topic is formatted once, chunk framing
 * included, into ONE ring shared by all topics and, with -w N, by all
 * workers: a mapping made before the fork.  One ring rather than one per
 * topic because an id is then a ring position (epoch-seq), so that a
 * resume is an index computation, seq & (slots - 1), for any topic or set
 * of topics; the hub's memory is one bound (--hub-memory), the oldest
 * event goes first whatever its topic; and the workers share one writer
 * lock and one order.
 *
 *   slots (seq & mask)    tail                                   head
 *                           v                                      v
 *        ... | evicted | 41 a | 42 b | 43 a | 44 c | 45 a | 46 b | free ...
 *                               ^prev/next links of topic a: 41<->43<->45
 *   data (pos % size)   [hdr id: data: \r\n][hdr ...]...   (bytes, in order)
 *
 *   subscriber X (topic a): cursor 43 -> next is slot(43).next = 45
 *   subscriber Y (a,b):     cursor 41 -> 42, 43, 45, 46, found through each
 *                           topic's first/last/links, or by a walk
 *
 * (A walk, slot by slot past other topics' events, is needed only by a
 * stream of several topics with a backlog on more than one; it looks at
 * HUB_WALK slots at most a step, a compare each.)
 *
 * A slot holds an event's seq, where its bytes are, when it was published,
 * its topic and the previous and next event of that topic.  A topic holds
 * its first and last kept events, what it keeps (count, bytes: --history,
 * --history-bytes evict its oldest) and "evicted", its newest event no
 * longer kept.  A subscriber is its connection's stream plus a cursor:
 * every event of its topics up to the cursor was sent.  So "fell behind"
 * is one comparison, cursor < evicted, for a subscriber (closed and
 * counted) and for a resume id (the gap event); both cost O(topics of the
 * stream), never a walk of the history.  Sending is writev() of iovecs
 * that point into the ring: K subscribers cost K sends, no copy, except
 * what a socket refuses, which waits in the connection's tail (bounded by
 * --max-output, past which the subscriber is closed as behind).
 *
 * Workers: the writer of a publish (any worker) holds a lock word in the
 * mapping, bumps a sequence counter to odd, writes the slot, the bytes and
 * the topic, bumps it to even, and writes 1 to each worker's eventfd.  A
 * reader reads topics and slots between two even, equal reads of that
 * counter (seqlock), and after sending checks that the bytes it sent were
 * not overwritten meanwhile (an event too near the tail to be safe counts
 * as lost).  A publish costs each worker one eventfd write and one wake,
 * and each worker then fans the event out to its own subscribers: one loop
 * over the topic's subscriber list, one writev each.
 *
 * The budget: a wake runs at most HUB_TURN_SUBS subscribers (each one
 * writev of up to HUB_BATCH events) and fans out HUB_TURN_EVENTS new
 * events, then yields to the loop by waking itself again.  A send to a
 * loopback socket took 8 us on the development machine (bench/hub-fanout),
 * so a turn's share is about 2 ms: /api streams on the same process stay
 * well within their lateness tolerance (tests/hub.c's fair case) while
 * 19,000 subscribers are served over some 75 turns, and the turns are few
 * enough that the last send is not delayed much by the loop itself. */

#define HUB_TURN_SUBS	256	/* subscribers run per loop turn */
#define HUB_TURN_EVENTS	64	/* new events fanned out per loop turn */
#define HUB_BATCH	64	/* events per writev */
#define HUB_WALK	4096	/* slots looked at per walk step */
#define HUB_STREAM_TOPICS 8
#define HUB_NAME	64
#define HUB_STDIN_SLICE	65536	/* read from a regular file per turn */
#define HUB_UNKNOWN	UINT64_MAX

enum { HUB_JOINED = 1, HUB_QUEUED = 2,
       HUB_WAIT = 8,		/* with Redis: its history is coming */
       HUB_ASKED = 16, HUB_BADID = 32 };	/* its resume id; not one */

struct hub_slot {
	uint64_t seq;		/* 0 while it is written */
	uint64_t pos;		/* its bytes' position (mod the data size) */
	uint64_t prev, next;	/* its topic's events before and after */
	uint64_t pub_us;	/* CLOCK_MONOTONIC, when published */
	uint64_t rid;		/* with Redis, its id (packed); else seq */
	uint32_t len;		/* the event, without chunk framing */
	uint16_t topic;
	uint8_t head;		/* its chunk-size line, before it */
};

struct hub_topic {
	uint64_t born;		/* the head when made: its events follow */
	uint64_t first, last;	/* kept events, 0: none */
	uint64_t evicted;	/* its newest event no longer kept */
	uint64_t kept, kept_bytes;
	uint64_t published, deliveries, behind, gaps, replayed;
	uint64_t floor, last_id;	/* with Redis: see its section */
	bool follow;
	bool not_stream;	/* with Redis: its key holds something else, */
	bool ids_past;		/* or ids past the year 2527 */
	int32_t subs[MAX_WORKERS];	/* subscribers, by worker: a worker
					 * replaced clears its predecessor's */
	int32_t chain;		/* the next topic in its hash bucket */
	uint8_t len;		/* 0: a free entry */
	char name[HUB_NAME];
};

/* What the workers share, laid out before the fork. */
struct hub_shared {
	uint32_t lock;		/* the writer's pid, 0 when free */
	uint32_t ntopics;	/* entries in use */
	uint64_t sl;		/* the seqlock counter: odd while writing */
	uint64_t head, tail;	/* newest and oldest kept seq */
	uint64_t pos;		/* the byte position after head */
	uint64_t epoch;		/* the server's start, in microseconds */
	uint64_t follow;	/* with Redis: topics followed anew */
	int32_t redis_up;	/* connections, of every worker */
	uint64_t redis_lost;
	int wake[MAX_WORKERS];	/* an eventfd per worker */
};

/* A subscriber as a topic's list holds it: the connection and which of
 * its subscriptions (a closed one's slot may hold a new connection). */
struct hub_ref {
	uint32_t fd, gen;
};

struct hub_list {
	struct hub_ref *v;
	uint32_t n, cap;
};

static struct hub {
	struct hub_shared *sh;
	struct hub_topic *topics;
	int32_t *buckets;
	struct hub_slot *slots;
	char *data;
	uint64_t nslots, size, guard;	/* slots, data bytes, safety */
	uint32_t nbuckets, gen, rng;
	size_t workers, w;
	uint64_t seen;			/* the newest event fanned out here */
	struct hub_list *lists;		/* this worker's subscribers by topic */
	struct hub_ref *queue;		/* subscribers to run, a ring */
	size_t qhead, qlen, qcap;
	struct source wake, in;
	char *line;			/* --stdin: the line so far */
	size_t line_len;
	bool line_long, in_file, in_eof;
	bool in_paused;			/* --stdin: not read until Redis can
					 * store its lines */
	uint64_t in_lines;
	char in_buf[8192];		/* --stdin: the last read, */
	size_t in_pos, in_end;		/* [in_pos, in_end) not yet taken */
	char token[256];
	size_t token_len;
} hub;

/* -- the shared ring: writing, under the lock ------------------------------ */

static struct hub_slot *hub_slot(uint64_t seq)
{
	return &hub.slots[seq & (hub.nslots - 1)];
}

static void hub_lock(void)
{
	uint32_t me = (uint32_t)getpid(), owner = 0;

	for (unsigned spins = 0; !__atomic_compare_exchange_n(&hub.sh->lock,
		&owner, me, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
	     owner = 0) {
		/* A writer that died holding it gives it up. */
		if (++spins % 1024 == 0 && owner != 0 &&
		    kill((pid_t)owner, 0) < 0 && errno == ESRCH &&
		    __atomic_compare_exchange_n(&hub.sh->lock, &owner, me,
			false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
			hub.sh->sl |= 1;	/* its write is suspect */
			break;
		}
		sched_yield();
	}
	__atomic_store_n(&hub.sh->sl, (hub.sh->sl | 1), __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void hub_unlock(void)
{
	__atomic_store_n(&hub.sh->sl, hub.sh->sl + 1, __ATOMIC_RELEASE);
	__atomic_store_n(&hub.sh->lock, 0, __ATOMIC_RELEASE);
}

/* Event seq of topic t is no longer kept. */
static void hub_forget(struct hub_topic *t, uint64_t seq)
{
	struct hub_slot *s = hub_slot(seq);

	if (t->evicted < seq)
		t->evicted = seq;
	if (t->floor < s->rid)	/* with Redis: older ids are Redis's */
		t->floor = s->rid;
	t->kept--;
	t->kept_bytes -= s->len;
	t->first = s->next;
	if (t->first == 0)
		t->last = 0;
}

/* The ring's oldest event goes, whatever its topic. */
static void hub_evict_tail(void)
{
	uint64_t seq = hub.sh->tail++;
	struct hub_slot *s = hub_slot(seq);
	struct hub_topic *t = &hub.topics[s->topic];

	if (s->seq == seq && seq > t->born && t->first != 0 &&
	    seq >= t->first)
		hub_forget(t, seq);
}

/* A topic's subscribers in every worker. */
static uint64_t hub_subscribers(const struct hub_topic *t)
{
	int64_t n = 0;

	for (size_t w = 0; w < hub.workers; w++)
		n += __atomic_load_n(&t->subs[w], __ATOMIC_RELAXED);
	return n > 0 ? (uint64_t)n : 0;
}

static uint32_t hub_hash(const char *name, size_t len)
{
	uint32_t h = 2166136261u;

	while (len-- > 0)
		h = (h ^ (uint8_t)*name++) * 16777619u;
	return h & (hub.nbuckets - 1);
}

/* The topic called name, made if need be; -1 when --max-topics exist
 * and none can go (one exists while it has subscribers or events). */
static int hub_topic_get(const char *name, size_t len)
{
	int32_t *link = &hub.buckets[hub_hash(name, len)];
	uint32_t max = srv.cfg.max_topics;
	int32_t i;

	for (i = *link; i >= 0; i = hub.topics[i].chain)
		if (hub.topics[i].len == len &&
		    memcmp(hub.topics[i].name, name, len) == 0)
			return i;
	if (hub.sh->ntopics < max) {
		i = (int32_t)hub.sh->ntopics++;
	} else {
		for (i = 0; (uint32_t)i < max; i++)
			if (hub_subscribers(&hub.topics[i]) == 0 &&
			    hub.topics[i].first == 0)
				break;
		if ((uint32_t)i == max)
			return -1;
		/* Unlink the old one from its bucket. */
		struct hub_topic *old = &hub.topics[i];
		int32_t *l = &hub.buckets[hub_hash(old->name, old->len)];

		while (*l != i)
			l = &hub.topics[*l].chain;
		*l = old->chain;
	}
	struct hub_topic *t = &hub.topics[i];
	bool reused = t->len != 0;

	*t = (struct hub_topic){ .born = hub.sh->head, .chain = *link,
				 .len = (uint8_t)len };
	/* A name that had an entry before may have lost events then; a
	 * fresh entry's name never existed (entries are reused only once
	 * all were taken). */
	t->evicted = reused ? t->born : 0;
	memcpy(t->name, name, len);
	*link = i;
	return i;
}

/* Wakes every worker, this one too: there is news in the ring. */
static void hub_wake_all(void)
{
	uint64_t one = 1;

	for (size_t w = 0; w < hub.workers; w++)
		if (write(hub.sh->wake[w], &one, sizeof(one)) < 0)
			errno = 0;	/* full: it is awake anyway */
}

static void hub_wake_self(void)
{
	uint64_t one = 1;

	if (write(hub.wake.fd, &one, sizeof(one)) < 0)
		errno = 0;
}

/* Copies n bytes to to; returns the end of what it wrote (the ring holds
 * no NUL-terminated text). */
static char *hub_put(char *to, const void *p, size_t n)
{
	memcpy(to, p, n);
	return to + n;
}

/* The lines of a body: ended by CRLF, LF or CR; a line end at the very
 * end adds none; an empty body is one empty line.  Each becomes "data: "
 * LINE LF, written at to (if not NULL); returns their length. */
static size_t hub_lines(const char *p, size_t n, char *to)
{
	size_t total = 0;
	const char *end = p + n;

	do {
		const char *e = p;

		while (e < end && *e != '\n' && *e != '\r')
			e++;
		if (to != NULL)
			*hub_put(hub_put(to + total, "data: ", 6), p,
				 (size_t)(e - p)) = '\n';
		total += 7 + (size_t)(e - p);
		if (e < end && *e == '\r' && e + 1 < end && e[1] == '\n')
			e++;
		p = e + 1;
	} while (p < end);
	return total;
}

/* Publishes body (valid UTF-8, no NUL) as one event of topic t, with
 * event type type (NULL: none) and, with Redis, its id rid (else 0: the
 * hub's own).  Returns its seq; 0 if it is too large for the ring,
 * UINT64_MAX if the topic cannot be made. */
static uint64_t hub_publish(const char *name, size_t namelen,
			    const char *type, const char *body, size_t n,
			    uint64_t rid)
{
	char idl[64], hdr[24];
	size_t idn, typen = type ? strlen(type) : 0, len, head, need;
	struct hub_topic *tp;
	struct hub_slot *s;
	int t;
	uint64_t seq, pos;
	char *to;

	hub_lock();
	if ((t = hub_topic_get(name, namelen)) < 0) {
		hub_unlock();
		return UINT64_MAX;
	}
	tp = &hub.topics[t];
	seq = hub.sh->head + 1;
	idn = http_format(idl, sizeof(idl), "id: %llu-%llu\n",
			  (unsigned long long)(rid ? rid >> RID_BITS
						   : hub.sh->epoch),
			  (unsigned long long)(rid ? rid & ((1u << RID_BITS)
							   - 1) : seq));
	len = idn + (type ? typen + 8 : 0) + hub_lines(body, n, NULL) + 1;
	head = http_chunk_head(hdr, len);
	need = head + len + 2;
	if (need > hub.size / 4) {
		hub_unlock();
		return 0;
	}
	pos = hub.sh->pos;
	if (pos % hub.size + need > hub.size)
		pos += hub.size - pos % hub.size;	/* wrap to the start */
	while (hub.sh->tail <= hub.sh->head &&
	       (hub.sh->head - hub.sh->tail + 2 > hub.nslots ||
		hub_slot(hub.sh->tail)->pos + hub.size < pos + need))
		hub_evict_tail();
	s = hub_slot(seq);
	s->seq = 0;
	to = hub_put(hub_put(hub.data + pos % hub.size, hdr, head), idl, idn);
	if (type != NULL) {
		to = hub_put(hub_put(to, "event: ", 7), type, typen);
		*to++ = '\n';
	}
	to += hub_lines(body, n, to);
	hub_put(to, "\n\r\n", 3);
	*s = (struct hub_slot){ .pos = pos, .prev = tp->last,
		.pub_us = clock_us(CLOCK_MONOTONIC), .len = (uint32_t)len,
		.rid = rid ? rid : seq,
		.topic = (uint16_t)t, .head = (uint8_t)head };
	if (tp->last != 0)
		hub_slot(tp->last)->next = seq;
	else
		tp->first = seq;
	tp->last = seq;
	tp->kept++;
	tp->kept_bytes += len;
	tp->published++;
	while (tp->kept > srv.cfg.history ||
	       (tp->kept > 1 && tp->kept_bytes > srv.cfg.history_bytes))
		hub_forget(tp, tp->first);
	hub.sh->pos = pos + need;
	__atomic_store_n(&s->seq, seq, __ATOMIC_RELEASE);
	__atomic_store_n(&hub.sh->head, seq, __ATOMIC_RELEASE);
	hub_unlock();
	hub_wake_all();
	return seq;
}

/* -- the shared ring: reading ---------------------------------------------- */

static uint64_t hub_read_begin(void)
{
	uint64_t v;

	while ((v = __atomic_load_n(&hub.sh->sl, __ATOMIC_ACQUIRE)) & 1)
		sched_yield();
	return v;
}

static bool hub_read_end(uint64_t v)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return __atomic_load_n(&hub.sh->sl, __ATOMIC_RELAXED) == v;
}

static bool hub_is(uint64_t seq, unsigned t)
{
	const struct hub_slot *s = hub_slot(seq);

	return s->seq == seq && s->topic == t && seq > hub.topics[t].born;
}

/* The next event of topic t after cursor c: its seq, 0 if none yet,
 * HUB_UNKNOWN if only a walk can tell.  *lost when t lost one after c. */
static uint64_t hub_next_of(unsigned t, uint64_t c, bool *lost)
{
	const struct hub_topic *tp = &hub.topics[t];

	if (c < tp->evicted)
		*lost = true;
	if (tp->last <= c)
		return 0;
	if (tp->first > c)
		return tp->first;
	if (hub_is(c, t))
		return hub_slot(c)->next;
	if (hub_slot(tp->last)->prev <= c)
		return tp->last;
	return HUB_UNKNOWN;
}

/* The next event after c for subscriber s, 0 if none; *lost if one of its
 * topics lost an event it had not sent.  With several topics a link may
 * not tell: then the slots after c are walked, HUB_WALK at most, and a
 * walk that found nothing returns how far it went with bit 63 set. */
static uint64_t hub_next(const struct stream *s, uint64_t c, bool *lost)
{
	uint64_t best = 0, limit, n;
	bool unknown = false;

	for (unsigned i = 0; i < s->hub_topics; i++) {
		n = hub_next_of(s->hub.topic[i], c, lost);
		if (n == HUB_UNKNOWN)
			unknown = true;
		else if (n != 0 && (best == 0 || n < best))
			best = n;
	}
	if (!unknown || *lost)
		return best;
	limit = best != 0 ? best : hub.sh->head;
	if (limit > c + HUB_WALK)
		limit = c + HUB_WALK;
	for (n = c + 1; n <= limit; n++)
		for (unsigned j = 0; j < s->hub_topics; j++)
			if (hub_is(n, s->hub.topic[j]))
				return n;
	return limit | 1ull << 63;
}

/* -- subscribers ----------------------------------------------------------- */

static bool hub_sub_valid(struct hub_ref r)
{
	const struct conn *c = &srv.conns[r.fd];

	return c->src.kind == KIND_CONN && c->state == CONN_STREAM &&
	       c->stream.format == FORMAT_HUB &&
	       (c->stream.hub_flags & HUB_JOINED) && c->stream.hub.gen == r.gen;
}

/* Queues subscriber c to run in a coming turn (once). */
static void hub_queue(struct conn *c)
{
	struct stream *s = &c->stream;

	if (s->hub_flags & HUB_QUEUED)
		return;
	if (hub.qlen == hub.qcap) {
		size_t cap = hub.qcap ? hub.qcap * 2 : 1024;
		struct hub_ref *q = mem_get(cap * sizeof(*q));

		if (q == NULL)
			return;	/* it runs when its socket or timer says */
		for (size_t i = 0; i < hub.qlen; i++)
			q[i] = hub.queue[(hub.qhead + i) % hub.qcap];
		mem_put(hub.queue, hub.qcap * sizeof(*q));
		hub.queue = q;
		hub.qcap = cap;
		hub.qhead = 0;
	}
	hub.queue[(hub.qhead + hub.qlen++) % hub.qcap] =
		(struct hub_ref){ (uint32_t)c->src.fd, s->hub.gen };
	s->hub_flags |= HUB_QUEUED;
}

/* Adds r to topic t's list of this worker; entries of subscriptions that
 * ended are dropped on the way (the list is never longer than twice its
 * live entries plus 16). */
static bool hub_list_add(unsigned t, struct hub_ref r)
{
	struct hub_list *l = &hub.lists[t];

	if (l->n == l->cap) {
		uint32_t k = 0;

		for (uint32_t i = 0; i < l->n; i++)
			if (hub_sub_valid(l->v[i]))
				l->v[k++] = l->v[i];
		l->n = k;
	}
	if (l->n == l->cap || l->n * 2 + 16 > l->cap) {
		uint32_t cap = l->n * 2 + 16;
		struct hub_ref *v = mem_resize(l->v, l->cap * sizeof(*v),
					       cap * sizeof(*v));

		if (v == NULL)
			return false;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = r;
	return true;
}

/* Fans the events published since the last call out to this worker's
 * subscribers: each subscriber of their topics is queued once. */
static void hub_fan_out(void)
{
	uint64_t head = __atomic_load_n(&hub.sh->head, __ATOMIC_ACQUIRE);
	unsigned budget = HUB_TURN_EVENTS;

	while (hub.seen < head && budget-- > 0) {
		uint64_t seq = hub.seen + 1, v = hub_read_begin();
		unsigned t = hub_slot(seq)->topic;
		bool is = hub_is(seq, t);

		if (!hub_read_end(v))
			continue;	/* a writer was there: again */
		hub.seen = seq;
		if (!is)
			continue;
		struct hub_list *l = &hub.lists[t];
		uint32_t k = 0;

		for (uint32_t i = 0; i < l->n; i++) {
			if (!hub_sub_valid(l->v[i]))
				continue;
			l->v[k++] = l->v[i];
			hub_queue(&srv.conns[l->v[i].fd]);
		}
		l->n = k;
	}
}

static void hub_count(const struct stream *s, size_t field, uint64_t n)
{
	for (unsigned i = 0; i < s->hub_topics; i++)
		__atomic_fetch_add((uint64_t *)(void *)((char *)
			&hub.topics[s->hub.topic[i]] + field), n,
			__ATOMIC_RELAXED);
}

/* The subscription ends: its topics have one subscriber less. */
static void hub_leave(struct conn *c)
{
	struct stream *s = &c->stream;

	if (!(s->hub_flags & HUB_JOINED))
		return;
	s->hub_flags = 0;
	for (unsigned i = 0; i < s->hub_topics; i++)
		__atomic_fetch_sub(&hub.topics[s->hub.topic[i]].subs[hub.w], 1,
				   __ATOMIC_RELAXED);
}

/* Counts the delivery delay of an event, publish to send. */
static void hub_delay_add(uint64_t us)
{
	size_t b = 0;

	while (b < LATENESS_BUCKETS && us > lateness_le[b].us)
		b++;
	srv.stats->delay[b]++;
	srv.stats->delay_sum_us += us;
}

/* Writes iov[0..n) to the subscriber: what the socket refuses waits in
 * the tail.  Says whether it went, or the client is gone, or the rest
 * would pass --max-output (it fell behind). */
enum hub_sent { HUB_SENT, HUB_GONE, HUB_BEHIND };

static enum hub_sent hub_writev(struct conn *c, struct iovec *iov, int n,
				size_t bytes)
{
	ssize_t w = 0;

	/* Behind a tail, the events join it: the order stays. */
	while (!conn_tail_pending(c) &&
	       (w = writev(c->src.fd, iov, n)) < 0 && errno == EINTR)
		;
	if (w < 0 && errno != EAGAIN)
		return HUB_GONE;
	if (w < 0)
		w = 0;
	if (bytes - (size_t)w > srv.cfg.max_output - (c->out.len - c->out.off))
		return HUB_BEHIND;
	for (int i = 0; i < n; i++) {
		size_t took = (size_t)w < iov[i].iov_len ? (size_t)w
							 : iov[i].iov_len;

		w -= (ssize_t)took;
		if (took < iov[i].iov_len &&
		    !conn_send(c, (char *)iov[i].iov_base + took,
			       iov[i].iov_len - took))
			return HUB_GONE;
	}
	return HUB_SENT;
}

/* The subscriber ends its stream (a drain): what was published to it
 * went out; now the end of the body. */
static enum wait hub_end(struct conn *c)
{
	hub_leave(c);
	c->keep_alive = false;
	if (c->stream.chunked && !conn_send(c, "0\r\n\r\n", 5))
		return conn_drop(c);
	srv.stats->streams_completed++;
	srv.stats->streams_active--;
	return conn_response_end(c);
}

/* A subscriber fell behind: closed and counted; it comes back with its
 * last id and gets the gap event. */
static enum wait hub_behind(struct conn *c)
{
	hub_count(&c->stream, offsetof(struct hub_topic, behind), 1);
	return conn_drop(c);
}

/* STREAM_HUB: sends the subscriber's next events, up to HUB_BATCH in one
 * writev straight from the ring; queues it again if there are more; a
 * heartbeat after silence; at a drain, the end once it has everything. */
static enum wait hub_stream(struct conn *c)
{
	struct stream *s = &c->stream;
	struct iovec iov[HUB_BATCH];
	uint64_t seqs[HUB_BATCH], cur, v;
	int n = 0;
	bool lost = false, more = false;

	s->hub_flags &= (uint8_t)~HUB_QUEUED;
	do {
		v = hub_read_begin();
		n = 0;
		cur = s->hub.cursor;
		lost = more = false;
		while (n < HUB_BATCH && !(s->hub_flags & HUB_WAIT)) {
			uint64_t next = hub_next(s, cur, &lost);
			const struct hub_slot *sl;

			if (lost || next == 0)
				break;
			if (next >> 63) {	/* walked this far: none */
				cur = next & ~(1ull << 63);
				more = cur < hub.sh->head;
				break;
			}
			sl = hub_slot(next);
			if (sl->rid <= s->hub.after) {
				cur = next;	/* sent already (Redis) */
				continue;
			}
			if (sl->pos + hub.size < hub.sh->pos + hub.guard) {
				lost = true;	/* too near the tail to read */
				break;
			}
			iov[n].iov_base = hub.data + sl->pos % hub.size +
				(s->chunked ? 0 : sl->head);
			iov[n].iov_len = sl->len + (s->chunked
						    ? sl->head + 2u : 0);
			seqs[n++] = cur = next;
		}
	} while (!hub_read_end(v));
	if (lost)
		return hub_behind(c);
	if (n == HUB_BATCH)
		more = true;
	if (n > 0) {
		size_t bytes = 0;

		for (int i = 0; i < n; i++)
			bytes += iov[i].iov_len;
		switch (hub_writev(c, iov, n, bytes)) {
		case HUB_SENT:
			break;
		case HUB_GONE:
			return conn_drop(c);
		case HUB_BEHIND:
			return hub_behind(c);
		}
		/* The bytes sent were whole when sent (seqlock, after). */
		if (__atomic_load_n(&hub.sh->tail, __ATOMIC_ACQUIRE) >
		    seqs[0])
			return hub_behind(c);
		uint64_t now_us = clock_us(CLOCK_MONOTONIC);

		for (int i = 0; i < n; i++) {
			uint64_t pub = hub_slot(seqs[i])->pub_us;

			if (seqs[i] <= s->hub.live_from)
				hub_count(s, offsetof(struct hub_topic,
						      replayed), 1);
			else
				hub_delay_add(now_us - pub);
		}
		hub_count(s, offsetof(struct hub_topic, deliveries),
			  (uint64_t)n);
		srv.stats->events += (uint64_t)n;
		c->bytes += bytes;
		s->quiet_since_ms = srv.now_ms;
	}
	s->hub.cursor = cur;
	if (more)
		hub_queue(c);
	else if (srv.draining && !conn_tail_pending(c))
		return hub_end(c);
	if (s->hub.heartbeat_ms == 0)
		return WAIT_TIMER;
	if (n == 0 && srv.now_ms >= s->quiet_since_ms + s->hub.heartbeat_ms) {
		if (!conn_send(c, s->chunked ? "3\r\n:\n\n\r\n" : ":\n\n",
			       s->chunked ? 10 : 3))
			return conn_drop(c);
		s->quiet_since_ms = srv.now_ms;
	}
	tw_add(&srv.wheel, &c->timer, s->quiet_since_ms + s->hub.heartbeat_ms);
	return WAIT_TIMER;
}

/* -- routes ---------------------------------------------------------------- */

static bool hub_name_ok(const char *p, size_t n)
{
	if (n == 0 || n > HUB_NAME)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(((p[i] | 0x20) >= 'a' && (p[i] | 0x20) <= 'z') ||
		      (p[i] >= '0' && p[i] <= '9') || p[i] == '_' ||
		      p[i] == '.' || p[i] == '-'))
			return false;
	return true;
}

/* Is p[0..n) UTF-8 without NUL (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF)? */
static bool hub_utf8_ok(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned b = p[i], need, min, cp;

		if (b == 0)
			return false;
		if (b < 0x80) {
			i++;
			continue;
		}
		if (b >= 0xc2 && b <= 0xdf)
			need = 1, min = 0x80, cp = b & 0x1f;
		else if (b >= 0xe0 && b <= 0xef)
			need = 2, min = 0x800, cp = b & 0x0f;
		else if (b >= 0xf0 && b <= 0xf4)
			need = 3, min = 0x10000, cp = b & 0x07;
		else
			return false;
		if (n - i <= need)
			return false;
		for (unsigned k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += need + 1;
	}
	return true;
}

/* An event type: 1 to 64 bytes of an HTTP token. */
static bool hub_type_ok(const char *p)
{
	size_t n = strlen(p);

	if (n == 0 || n > HUB_NAME)
		return false;
	for (; *p != '\0'; p++)
		if (!((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z') &&
		    !(*p >= '0' && *p <= '9') &&
		    strchr("!#$%&'*+-.^_`|~", *p) == NULL)
			return false;
	return true;
}

/* The token, compared in constant time: every byte of the longer. */
static bool hub_token_ok(const struct http_request *req)
{
	const struct http_header *h = http_header(req, "Authorization");
	const char *p;
	size_t n, diff;

	if (h == NULL || h->value.len < 7 ||
	    !http_span_eq((struct http_span){ h->value.p, 7 }, "bearer "))
		return false;
	p = h->value.p + 7;
	n = h->value.len - 7;
	diff = n ^ hub.token_len;
	for (size_t i = 0; i < sizeof(hub.token); i++)
		diff |= (size_t)((i < n ? (uint8_t)p[i] : 0) ^
				 (uint8_t)hub.token[i]);
	return diff == 0 && n < sizeof(hub.token);
}

/* POST /topics/NAME: the body, one event. */
static enum wait hub_route_publish(struct conn *c, struct http_request *req,
				   const char *name, size_t len)
{
	char type[HUB_NAME + 2], body[64];
	bool typed = query_value(req->query, "event", type, sizeof(type));
	uint64_t seq;

	if (srv.cfg.token_file == NULL && !srv.cfg.publish_open)
		return answer_error(c, req, 403, NULL, "publishing is off: "
			"start the server with --publish-token-file FILE "
			"or --publish-open");
	if (srv.cfg.token_file != NULL && !hub_token_ok(req))
		return answer_error(c, req, 401, "WWW-Authenticate: Bearer\r\n",
				    "a valid bearer token is required");
	if (srv.draining)
		return answer_error(c, req, 503, NULL, "shutting down");
	if (typed && !hub_type_ok(type))
		return answer_error(c, req, 400, NULL,
				    "event must be 1 to 64 token characters");
	if (!hub_utf8_ok((const unsigned char *)req->body, req->body_len))
		return answer_error(c, req, 400, NULL,
				    "the body must be UTF-8 text without NUL");
	if (REDIS_ON)
		return redis_publish(c, req, name, len, typed ? type : NULL);
	seq = hub_publish(name, len, typed ? type : NULL, req->body,
			  req->body_len, 0);
	if (seq == UINT64_MAX)
		return answer_error(c, req, 503, NULL, "too many topics");
	if (seq == 0)
		return answer_error(c, req, 413, NULL,
				    "event too large for --hub-memory");
	http_format(body, sizeof(body), "{\"id\":\"%llu-%llu\"}",
		    (unsigned long long)hub.sh->epoch, (unsigned long long)seq);
	return answer_json(c, req, 200, NULL, body);
}

/* The resume id a request asks for: the header, else the query in any of
 * its three spellings.  False if none; *epoch is UINT64_MAX for one that
 * is not shaped as an id (EPOCH-SEQ). */
static bool hub_resume_id(const struct http_request *req, uint64_t *epoch,
			  uint64_t *seq)
{
	static const char *const keys[] = { "lastEventId", "last_event_id",
					    "lastEventID" };
	const struct http_header *h = http_header(req, "Last-Event-ID");
	uint64_t part[2] = { 0, 0 };
	char v[48];
	size_t n = 0, i, k = 0;

	*epoch = UINT64_MAX;
	*seq = 0;
	if (h != NULL) {
		n = h->value.len;
		if (n >= sizeof(v))
			return true;	/* too long for an id */
		memcpy(v, h->value.p, n);
	} else {
		for (i = 0; i < 3; i++)
			if (query_value(req->query, keys[i], v, sizeof(v)))
				break;
		if (i == 3)
			return false;
		n = strlen(v);
	}
	/* EPOCH-SEQ, each 1 to 19 digits (under 2^64). */
	for (i = 0; i < n; i++) {
		if (v[i] == '-' && k == 0 && i > 0) {
			k = i;
			continue;
		}
		if (v[i] < '0' || v[i] > '9' || i - (k ? k + 1 : 0) >= 19)
			return true;
		part[k != 0] = part[k != 0] * 10 + (uint64_t)(v[i] - '0');
	}
	if (k != 0 && k + 1 < n) {
		*epoch = part[0];
		*seq = part[1];
	}
	return true;
}

/* GET /topics/A,B,C: a stream of those topics' events, resumed after an
 * id when asked, with the gap event first when that cannot be exact. */
static enum wait hub_route_subscribe(struct conn *c, struct http_request *req,
				     const uint16_t *topics, unsigned nt,
				     uint32_t hb)
{
	struct stream *s = &c->stream;
	struct out o = out_begin();
	bool head = req->method == HTTP_HEAD, gap = false, asked, wait = false;
	uint64_t epoch, seq, cursor, oldest = 0, v, x = 0;
	uint8_t flags = 0;
	char hist[8];
	size_t at;

	asked = hub_resume_id(req, &epoch, &seq);
	do {
		v = hub_read_begin();
		cursor = hub.sh->head;
		if (asked) {
			gap = epoch != hub.sh->epoch || seq > hub.sh->head ||
			      seq + 1 < hub.sh->tail;
			for (unsigned i = 0; i < nt; i++)
				gap |= seq < hub.topics[topics[i]].evicted;
			if (!gap)
				cursor = seq;
		}
		if (gap || (!asked && query_value(req->query, "history", hist,
						  sizeof(hist)) &&
			    flag_true(hist))) {
			cursor = hub.sh->tail - 1;
			for (unsigned i = 0; i < nt; i++) {
				const struct hub_topic *t =
					&hub.topics[topics[i]];

				if (cursor < t->evicted)
					cursor = t->evicted;
			}
		}
		for (unsigned i = 0; i < nt; i++) {
			uint64_t f = hub.topics[topics[i]].first;

			if (f != 0 && (oldest == 0 || f < oldest))
				oldest = f;
		}
	} while (!hub_read_end(v));
	if (REDIS_ON) {	/* a resume after an id, always */
		bool bad = asked && !rid_fits(epoch, seq);

		x = asked ? (bad ? 0 : rid_pack(epoch, seq))
		    : query_value(req->query, "history", hist, sizeof(hist)) &&
		      flag_true(hist) ? 0 : redis_now_id();
		wait = redis_resume(topics, nt, x, &cursor) && !head;
		gap = false;	/* Redis says, with the history */
		flags = (uint8_t)((asked ? HUB_ASKED : 0) |
				  (bad ? HUB_BADID : 0) | (wait ? HUB_WAIT : 0));
	}
	tw_cancel(&srv.wheel, &c->timer);
	*s = (struct stream){
		.quiet_since_ms = srv.now_ms,
		.state = STREAM_HUB,
		.format = FORMAT_HUB,
		.chunked = req->minor == 1,
		.hub_topics = (uint8_t)nt,
		.hub_flags = head ? 0 : HUB_JOINED | flags,
		.hub = { .live_from = hub.sh->head, .cursor = cursor,
			 .after = x,
			 .gen = ++hub.gen,
			 .heartbeat_ms = hb },
	};
	memcpy(s->hub.topic, topics, nt * sizeof(*topics));
	conn_request_done(c);	/* req is gone from here on */
	if (c->in != NULL && !head)
		conn_hold_in(c);
	if (!s->chunked)
		c->keep_alive = false;
	c->status = 200;
	out_head(&o, c, 200, "text/event-stream", "Cache-Control: no-cache\r\n");
	out_printf(&o, "%sX-Accel-Buffering: no\r\n\r\n",
		   s->chunked ? "Transfer-Encoding: chunked\r\n" : "");
	if (head) {
		if (!conn_send_out(c, &o))
			return conn_close(c);
		return conn_response_end(c);
	}
	at = chunk_open(&o);
	hub.rng = hub.rng * 1103515245u + 12345u + (uint32_t)srv.now_ms;
	out_printf(&o, "retry: %u\n:ok\n\n", srv.cfg.retry_ms +
		   (hub.rng >> 8) % (srv.cfg.retry_ms / 2 + 1));
	if (gap) {
		out_printf(&o, "event: gap\ndata: {\"asked\":");
		if (epoch != UINT64_MAX)
			out_printf(&o, "\"%llu-%llu\"", (unsigned long long)epoch,
				   (unsigned long long)seq);
		else
			out_printf(&o, "null");
		if (oldest != 0)
			out_printf(&o, ",\"oldest\":\"%llu-%llu\"}\n\n",
				   (unsigned long long)hub.sh->epoch,
				   (unsigned long long)oldest);
		else
			out_printf(&o, ",\"oldest\":null}\n\n");
		hub_count(s, offsetof(struct hub_topic, gaps), 1);
	}
	c->bytes += o.len - at - CHUNK_ROOM;
	chunk_close(&o, at, s->chunked);
	for (unsigned i = 0; i < nt; i++)
		if (!hub_list_add(topics[i], (struct hub_ref){
				(uint32_t)c->src.fd, s->hub.gen })) {
			hub_leave(c);	/* out of memory: as if it left */
			return conn_close(c);
		}
	c->state = CONN_STREAM;
	srv.stats->streams_active++;
	if (!conn_send_out(c, &o))
		return conn_drop(c);
	hub_queue(c);	/* its replay, if any, in the coming turns */
	hub_wake_self();
	if (wait)
		redis_replay(c);	/* its history, from Redis */
	return WAIT_TIMER;
}

/* /topics/...: the topics named, then publish or subscribe.  A stream's
 * topics are made (if need be) and counted as subscribed under the lock,
 * so that no worker takes one back for a new name meanwhile. */
static enum wait route_topics(struct conn *c, struct http_request *req)
{
	const char *p = req->path.p + 8, *end = req->path.p + req->path.len;
	const char *names[HUB_STREAM_TOPICS];
	size_t lens[HUB_STREAM_TOPICS];
	uint16_t topics[HUB_STREAM_TOPICS];
	unsigned nt = 0, got = 0;
	bool full = false;
	uint32_t hb = srv.cfg.heartbeat_ms;
	char why[96];

	for (;;) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *e = comma ? comma : end;

		if (!hub_name_ok(p, (size_t)(e - p)))
			return answer_error(c, req, 400, NULL, "a topic is 1 to "
				"64 bytes of A-Z, a-z, 0-9, _, . and -");
		if (nt == HUB_STREAM_TOPICS ||
		    (req->method == HTTP_POST && comma != NULL))
			return answer_error(c, req, 400, NULL, req->method ==
				HTTP_POST ? "publish to one topic at a time"
					  : "at most 8 topics in one stream");
		names[nt] = p;
		lens[nt++] = (size_t)(e - p);
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	if (req->method == HTTP_POST)
		return hub_route_publish(c, req, names[0], lens[0]);
	if (!shape_param(req->query, "heartbeat", 0, DAY_MS, &hb, why,
			 sizeof(why)) ||
	    (hb != 0 && hb < srv.cfg.min_interval_ms))
		return answer_error(c, req, 400, NULL, "heartbeat must be 0 or "
				    "from --min-interval to 86400000");
	hub_lock();
	for (unsigned i = 0; i < nt; i++) {
		int t = hub_topic_get(names[i], lens[i]);
		bool dup = false;

		full = t < 0;
		if (full)
			break;
		for (unsigned j = 0; j < got; j++)
			dup |= topics[j] == t;
		if (dup)
			continue;
		topics[got++] = (uint16_t)t;
		hub.topics[t].subs[hub.w]++;
	}
	hub_unlock();
	if (req->method == HTTP_HEAD || full)	/* no subscriber after all */
		for (unsigned j = 0; j < got; j++)
			__atomic_fetch_sub(&hub.topics[topics[j]].subs[hub.w],
					   1, __ATOMIC_RELAXED);
	if (full)
		return answer_error(c, req, 503, NULL, "too many topics");
	return hub_route_subscribe(c, req, topics, got, hb);
}

/* -- standard input -------------------------------------------------------- */

/* A whole line from --stdin, CR LF or LF taken off: one event, or a line
 * on stderr saying why not. */
static void hub_stdin_line(void)
{
	size_t n = hub.line_len;
	uint64_t seq;

	hub.in_lines++;
	if (n > 0 && hub.line[n - 1] == '\r')
		n--;
	if (hub.line_long || n > srv.cfg.limits.max_body) {
		stderr_line("sse: --stdin: line %llu is longer than --max-body "
			    "(%zu bytes): skipped",
			    (unsigned long long)hub.in_lines,
			    srv.cfg.limits.max_body);
	} else if (!hub_utf8_ok((const unsigned char *)hub.line, n)) {
		stderr_line("sse: --stdin: line %llu is not UTF-8 text without "
			    "NUL: skipped", (unsigned long long)hub.in_lines);
	} else if (REDIS_ON) {
		redis_stdin(hub.line, n, hub.in_lines);
	} else if ((seq = hub_publish(srv.cfg.stdin_topic,
				      strlen(srv.cfg.stdin_topic), NULL,
				      hub.line, n, 0)) == 0 || seq == UINT64_MAX) {
		stderr_line("sse: --stdin: line %llu: %s: skipped",
			    (unsigned long long)hub.in_lines, seq ?
			    "too many topics" : "too large for --hub-memory");
	}
	hub.line_len = 0;
	hub.line_long = false;
}

/* With --redis, standard input is not read while Redis cannot store
 * what it brings: its lines wait in the pipe (whose writer then blocks)
 * or the file, rather than being read and lost.  hub_stdin_pause() stops
 * watching it; hub_stdin_resume(), when Redis can store again, starts. */
static void hub_stdin_pause(void)
{
	if (hub.in_paused)
		return;
	hub.in_paused = true;
	if (!hub.in_file)
		(void)epoll_ctl(srv.epfd, EPOLL_CTL_DEL, STDIN_FILENO, NULL);
	stderr_line("sse: --stdin: paused while Redis cannot store lines");
}

static void hub_stdin_resume(void)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &hub.in };

	if (!hub.in_paused || redis_refuses() != NULL)
		return;
	hub.in_paused = false;
	if (!hub.in_file &&
	    epoll_ctl(srv.epfd, EPOLL_CTL_ADD, STDIN_FILENO, &ev) < 0)
		die("epoll_ctl");
	if (hub.in_file || hub.in_pos < hub.in_end)
		hub_wake_self();	/* the rest of the last read first */
	stderr_line("sse: --stdin: reading again");
}

/* Takes the whole lines of the last read, [in_pos, in_end), keeping a
 * line's start in hub.line for the next read.  With Redis, a line it
 * cannot store now stops it (and standard input is paused): that line
 * and the rest wait in in_buf.  False then. */
static bool hub_stdin_lines(void)
{
	size_t cap = srv.cfg.limits.max_body + 1;	/* and a CR */

	while (hub.in_pos < hub.in_end) {
		const char *p = hub.in_buf + hub.in_pos;
		const char *nl = memchr(p, '\n', hub.in_end - hub.in_pos);
		size_t k = nl ? (size_t)(nl - p) : hub.in_end - hub.in_pos;

		if (nl != NULL && REDIS_ON && redis_refuses() != NULL) {
			hub_stdin_pause();
			return false;
		}
		if (hub.line_len + k > cap)
			hub.line_long = true;
		else if (!hub.line_long)
			memcpy(hub.line + hub.line_len, p, k);
		hub.line_len += hub.line_long ? 0 : k;
		hub.in_pos += k + (nl != NULL);
		if (nl != NULL)
			hub_stdin_line();
	}
	hub.in_pos = hub.in_end = 0;
	return true;
}

/* Reads standard input, publishing each whole line: one read() when epoll
 * says a pipe, FIFO or terminal is readable (readable: so it never waits,
 * and its file flags, which other processes may share, stay as they
 * are), or HUB_STDIN_SLICE bytes of a regular file, the rest in the next
 * turns.  What a paused read left is taken first.  At its end the server
 * goes on serving. */
static void hub_stdin_read(bool readable)
{
	size_t budget = HUB_STDIN_SLICE;

	if (REDIS_ON && redis_refuses() != NULL) {
		hub_stdin_pause();
		return;
	}
	if (!hub_stdin_lines())
		return;
	while (readable && budget > 0 && !hub.in_eof) {
		ssize_t r = read(STDIN_FILENO, hub.in_buf, sizeof(hub.in_buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;		/* the pipe is empty for now */
		if (r <= 0) {
			if (r < 0)
				stderr_line("sse: --stdin: %s", error_text(errno));
			hub.in_eof = true;
			if (hub.line_len > 0 || hub.line_long)
				hub_stdin_line();
			if (!hub.in_file)
				(void)epoll_ctl(srv.epfd, EPOLL_CTL_DEL,
						STDIN_FILENO, NULL);
			return;
		}
		budget -= (size_t)r < budget ? (size_t)r : budget;
		hub.in_pos = 0;
		hub.in_end = (size_t)r;
		if (!hub_stdin_lines() || !hub.in_file)
			return;
	}
}

/* -- the loop's side ------------------------------------------------------- */

/* The wake eventfd (or standard input) is ready: news in the ring, or
 * work left from the last turn.  One turn's share, then yield. */
static void hub_event(const struct source *src)
{
	uint64_t count;
	unsigned budget = HUB_TURN_SUBS;

	if (src == &hub.in) {
		hub_stdin_read(true);
		return;
	}
	if (read(hub.wake.fd, &count, sizeof(count)) < 0)
		errno = 0;
	if (REDIS_ON)
		redis_poke();	/* a topic to follow, perhaps */
	if (!hub.in_paused && (hub.in_pos < hub.in_end ||
				(hub.in_file && !hub.in_eof)))
		hub_stdin_read(hub.in_file);
	hub_fan_out();
	while (hub.qlen > 0 && budget-- > 0) {
		struct hub_ref r = hub.queue[hub.qhead];

		hub.qhead = (hub.qhead + 1) % hub.qcap;
		hub.qlen--;
		if (hub_sub_valid(r)) {
			struct conn *c = &srv.conns[r.fd];

			conn_update(c, conn_run(c));
		}
	}
	if (hub.qlen > 0 || hub.seen < hub.sh->head ||
	    (hub.in_file && !hub.in_eof && !hub.in_paused))
		hub_wake_self();
}

/* A drain: every subscriber gets what was published, then its end. */
static void hub_drain(void)
{
	for (size_t fd = 0; fd < srv.conn_cap; fd++) {
		struct conn *c = &srv.conns[fd];

		if (c->src.kind == KIND_CONN && c->state == CONN_STREAM &&
		    c->stream.format == FORMAT_HUB)
			hub_queue(c);
	}
	hub_wake_all();
}

/* A secret kept in a file (the publish token, Redis's password): its
 * content, surrounding whitespace trimmed, into buf (zero-filled after
 * it); returns its length.  A file that cannot be read, is readable or
 * writable by others, is empty, or does not fit: one line and exit 1. */
static size_t secret_file(const char *opt, const char *path, char *buf,
			  size_t cap)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = 0;
	char *p = buf;

	if (fd < 0 || fstat(fd, &st) < 0) {
		stderr_line("sse: %s %s: %s", opt, path, error_text(errno));
		exit(1);
	}
	if (st.st_mode & 077) {
		stderr_line("sse: %s %s: readable or writable by others "
			    "(chmod 600 it)", opt, path);
		exit(1);
	}
	n = read(fd, buf, cap);
	close(fd);
	if (n < 0 || (size_t)n == cap) {
		stderr_line("sse: %s %s: %s", opt, path, n < 0 ?
			    error_text(errno) : "longer than 255 bytes");
		exit(1);
	}
	while (n > 0 && (p[n - 1] == ' ' || (p[n - 1] >= '\t' &&
					     p[n - 1] <= '\r')))
		n--;
	while (n > 0 && (*p == ' ' || (*p >= '\t' && *p <= '\r')))
		p++, n--;
	memmove(buf, p, (size_t)n);
	memset(buf + n, 0, cap - (size_t)n);
	if (n == 0) {
		stderr_line("sse: %s %s: empty", opt, path);
		exit(1);
	}
	return (size_t)n;
}

/* Before the workers exist: the token, the mapping, the wake-ups. */
static void hub_setup(size_t workers)
{
	const struct config *cfg = &srv.cfg;
	uint64_t budget = cfg->hub_memory, nslots = 64;
	size_t tsize = cfg->max_topics * sizeof(struct hub_topic), size;
	char *m;

	if (cfg->token_file != NULL)
		hub.token_len = secret_file("--publish-token-file",
					    cfg->token_file, hub.token,
					    sizeof(hub.token));
	if (REDIS_ON)
		redis_setup();
	while (nslots * 2 <= budget / 512)
		nslots *= 2;
	hub.nbuckets = 16;
	while (hub.nbuckets < cfg->max_topics)
		hub.nbuckets *= 2;
	hub.nslots = nslots;
	hub.size = budget - nslots * sizeof(struct hub_slot);
	hub.guard = workers > 1 ? hub.size / 8 : 0;
	hub.workers = workers;
	size = sizeof(struct hub_shared) + tsize + (size_t)hub.nbuckets * 4 +
	       nslots * sizeof(struct hub_slot) + hub.size;
	m = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		die("mmap");
	hub.sh = (struct hub_shared *)(void *)m;
	hub.slots = (struct hub_slot *)(void *)(m + sizeof(*hub.sh));
	hub.topics = (struct hub_topic *)(void *)(hub.slots + nslots);
	hub.buckets = (int32_t *)(void *)((char *)hub.topics + tsize);
	hub.data = (char *)(hub.buckets + hub.nbuckets);
	memset(hub.buckets, 0xff, (size_t)hub.nbuckets * 4);
	hub.sh->tail = 1;
	hub.sh->epoch = clock_us(CLOCK_REALTIME);
	for (size_t w = 0; w < workers; w++)
		if ((hub.sh->wake[w] = eventfd(0, EFD_NONBLOCK |
					       EFD_CLOEXEC)) < 0)
			die("eventfd");
	if (cfg->stdin_topic != NULL) {
		size_t n = strlen(cfg->stdin_topic);

		if (!hub_name_ok(cfg->stdin_topic, n)) {
			stderr_line("sse: --stdin %s: a topic is 1 to 64 bytes "
				    "of A-Z, a-z, 0-9, _, . and -",
				    cfg->stdin_topic);
			exit(2);
		}
	}
}

/* In each worker: its wake-up, its lists, and standard input in worker 0
 * (a pipe, FIFO or terminal through epoll; a regular file, which epoll
 * refuses, in slices, one a turn). */
static void hub_init(size_t w)
{
	hub.w = w;
	hub.seen = hub.sh->head;
	/* A worker that died took its subscribers with it. */
	hub_lock();
	for (uint32_t t = 0; t < hub.sh->ntopics; t++)
		hub.topics[t].subs[w] = 0;
	hub_unlock();
	hub.rng = (uint32_t)clock_us(CLOCK_REALTIME) ^ (uint32_t)getpid();
	hub.lists = mem_map(srv.cfg.max_topics * sizeof(*hub.lists));
	if (hub.lists == NULL)
		die("mmap");
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &hub.wake };

	hub.wake = (struct source){ KIND_HUB, hub.sh->wake[w] };
	if (epoll_ctl(srv.epfd, EPOLL_CTL_ADD, hub.wake.fd, &ev) < 0)
		die("epoll_ctl");
	if (REDIS_ON)
		redis_init(w);
	if (srv.cfg.stdin_topic == NULL || w != 0)
		return;
	hub.line = mem_map(srv.cfg.limits.max_body + 1);
	if (hub.line == NULL)
		die("mmap");
	ev.data.ptr = &hub.in;
	hub.in.kind = KIND_HUB;
	hub.in.fd = STDIN_FILENO;
	/* EPERM: a regular file (or /dev/null), always ready. */
	if (epoll_ctl(srv.epfd, EPOLL_CTL_ADD, STDIN_FILENO, &ev) < 0) {
		uint64_t one = 1;

		hub.in_file = true;
		if (write(hub.wake.fd, &one, sizeof(one)) < 0)
			errno = 0;
	}
}

/* /stats: "topics":{NAME:{...},...}; /metrics: one family per counter,
 * labelled by topic.  Topics that do not fit the body are left out. */
static void hub_stats(struct out *o, bool prometheus)
{
	static const struct {
		const char *name;
		size_t field;
		const char *help;
	} f[] = {
		{ "subscribers", 0, "Open subscribers." },
		{ "published", offsetof(struct hub_topic, published),
		  "Events published." },
		{ "deliveries", offsetof(struct hub_topic, deliveries),
		  "Events handed to a subscriber's socket." },
		{ "behind", offsetof(struct hub_topic, behind),
		  "Subscribers closed for falling behind." },
		{ "gaps", offsetof(struct hub_topic, gaps),
		  "Gap events sent." },
		{ "replayed", offsetof(struct hub_topic, replayed),
		  "Events sent from the kept history." },
	};
	uint32_t n = hub.sh->ntopics;

	for (size_t k = 0; k < (prometheus ? 6 : 1); k++) {
		if (prometheus)
			out_printf(o, "# HELP sse_topic_%s %s\n# TYPE "
				   "sse_topic_%s %s\n", f[k].name, f[k].help,
				   f[k].name, k == 0 ? "gauge" : "counter");
		for (uint32_t i = 0; i < n; i++) {
			const struct hub_topic *t = &hub.topics[i];
			char name[HUB_NAME + 1];

			if (o->cap - o->len < 512)
				break;
			memcpy(name, t->name, t->len);
			name[t->len] = '\0';
			uint64_t v[6] = { hub_subscribers(t) };

			for (size_t j = 1; j < 6; j++)
				v[j] = *(const uint64_t *)(const void *)
					((const char *)t + f[j].field);
			if (t->len == 0 || (v[0] == 0 && t->first == 0 &&
					    t->published == 0))
				continue;
			if (prometheus) {
				out_printf(o, "sse_topic_%s{topic=\"%s\"} "
					   "%llu\n", f[k].name, name,
					   (unsigned long long)v[k]);
				continue;
			}
			out_printf(o, "%s\"%s\":{", o->p[o->len - 1] == '{'
				   ? "" : ",", name);
			for (size_t j = 0; j < 6; j++)
				out_printf(o, "%s\"%s\":%llu", j ? "," : "",
					   f[j].name, (unsigned long long)v[j]);
			out_printf(o, "}");
		}
	}
	if (prometheus && REDIS_ON)
		redis_metrics(o);
}

/* ==== Redis ============================================================= */

/* With --redis HOST:PORT the hub's topics live in Redis Streams, so that
 * several servers behind one load balancer see every event, with one id
 * and one order, and share the history that resumes come back to.  Topic
 * NAME is the stream "sse:NAME"; an event is one entry with the fields
 * "data" and, if it has a type, "event"; its id is the entry's, MS-SEQ.
 *
 *   POST /topics/a -> box 1 -XADD-> Redis -XREAD-> box 1 -> ring -> subscribers
 *                                        \-XREAD-> box 2 -> ring -> subscribers
 *
 * A publish (HTTP or --stdin) is an XADD trimmed to about --history
 * (MAXLEN ~), and its publisher hears 200 only when Redis has answered
 * with the id: meanwhile its connection waits in CONN_REDIS.  The event
 * then reaches this box's subscribers as it reaches every box's: a second
 * connection, the reader, has an XREAD BLOCK out for the new entries of
 * the topics that subscribers here follow, and each entry it brings is
 * formatted once into the hub's ring (hub_publish()) with its Redis id.
 * Two connections, because a blocked XREAD holds its connection; a new
 * topic to follow unblocks it (CLIENT UNBLOCK, on the other).
 *
 * Ids.  A slot keeps its entry's id packed in 64 bits (MS << 20 | SEQ),
 * and a subscriber keeps "after": ring events with ids up to it are not
 * its own.  Every subscription is a resume: after Last-Event-ID, or,
 * without one, after Redis's clock at that moment (measured with TIME),
 * so that it gets what is published after it came and nothing before.
 * A topic's floor is the id from which the ring holds all its events:
 * where this box began to follow it, raised when the ring lets events go
 * and when Redis has lost some.  A resume at or above its topics' floors
 * is served from the ring, an index computation as without Redis; below,
 * the stream's head goes out at once and its history comes from Redis:
 * XREVRANGE of each topic down to the id (inclusive), in one MULTI so
 * that the topics agree on one moment, sent to that subscriber alone,
 * after the gap event if the id is not among them (trimmed, or lost with
 * a Redis restarted empty) or a topic had more than a resume brings
 * (REDIS_REPLAY, fewer when --max-body is large: redis_count()).
 *
 * Faults.  Each connection is a small state machine; anything that goes
 * wrong (refused, reset, closed, an answer later than REDIS_TIMEOUT_MS,
 * an answer that is not RESP) takes it down: one line on stderr, and a
 * new try after a backoff that doubles from 100 ms to 5 s.  While the
 * publisher connection is down, publishes get 503 (and answers that will
 * not come, 503); subscribers keep their streams, heartbeats included,
 * and when the reader is back it reads on from each topic's last id, so
 * that what was stored meanwhile arrives.  On each connect the reader
 * checks that each topic's last id still exists: if not, Redis lost it
 * (restarted empty), and the floor rises past it so that a resume from
 * before gets the gap event.  An error answer to the XREAD takes the
 * reader down too (sent again at once, it would fail again at once), and
 * a topic whose key another program made something other than a stream
 * (the check answers WRONGTYPE) is left out of the XREAD, which Redis
 * would refuse for every topic, and checked again each REDIS_BLOCK_MS.
 *
 * Workers (-w N): the ring is shared, so one reader, worker 0's, fills it
 * for all: Redis sends each entry once per box.  Each worker has its own
 * publisher connection (its publishes wait on it), so a box holds N + 1
 * connections to Redis; a worker that follows a new topic wakes worker 0,
 * which reissues its XREAD. */

#define REDIS_TIMEOUT_MS	5000	/* to connect, or for an answer */
#define REDIS_BLOCK_MS		10000	/* XREAD's BLOCK: an idle reader's round */
#define REDIS_BACKOFF_MS	100	/* the first retry; doubles ... */
#define REDIS_BACKOFF_MAX_MS	5000	/* ... up to this */
#define REDIS_COUNT		256	/* entries per topic per XREAD, */
#define REDIS_REPLAY		1024	/* and for a resume, at most */
#define REDIS_OUT_MAX		(16 * MIB)	/* commands unsent: past, 503 */
#define REDIS_IN_MAX		(256 * MIB)	/* the longest answer taken */
#define RID_SEQ			((1ull << RID_BITS) - 1)
#define RID_MS_MAX		((1ull << (64 - RID_BITS)) - 1)

enum redis_state {	/* wakes on	timer			*/
	REDIS_DOWN,	/* timer	the next try (backoff)	*/
	REDIS_CONNECTING, /* writable	connect timeout		*/
	REDIS_UP,	/* readable	the next answer's due	*/
};

/* What an answer is for, in the order the commands went. */
enum redis_for {
	RF_NOTHING,	/* MULTI's OK, QUEUED, CLIENT UNBLOCK's count */
	RF_SETUP,	/* AUTH, SELECT: an error ends the connection */
	RF_TIME,	/* TIME: Redis's clock; the connection is ready */
	RF_ID,		/* CLIENT ID: the reader's, to unblock it */
	RF_PUBLISH,	/* XADD of an HTTP publisher: fd, gen */
	RF_STDIN,	/* XADD of a line of --stdin: gen, its number */
	RF_REPLAY,	/* EXEC of a subscriber's history: fd, gen */
	RF_CHECK,	/* XRANGE of a topic's last id: gen, the topic */
	RF_XREAD,	/* the reader's new entries */
};

struct redis_wait {
	uint32_t what, fd, gen;
};

struct redis_conn {
	struct source src;		/* first: epoll's data.ptr */
	enum redis_state state;
	uint32_t events;		/* what epoll watches */
	struct tw_timer timer;
	const char *name;
	bool ready, failed;		/* TIME answered; out of memory */
	unsigned backoff_ms;
	char *in, *out;
	size_t in_len, in_cap, out_off, out_len, out_cap;
	struct redis_wait *q;		/* answers to come, a ring */
	size_t qhead, qlen, qcap;
};

/* An entry of a stream, pointing into the answer.  Its id, packed, is
 * exact only if it fits (another program may have written an explicit
 * one): else its millisecond's end, or UINT64_MAX past the year 2527. */
struct redis_entry {
	uint64_t rid;
	bool exact;
	const char *id, *data, *type;
	size_t idlen, dlen, tlen;
};

static struct redis {
	struct sockaddr_storage addr;
	socklen_t addr_len;
	struct redis_conn pub, rd;
	char password[256];
	size_t password_len;
	uint64_t client_id;		/* the reader's */
	uint64_t offset_ms;		/* Redis's clock minus srv.now_ms */
	uint64_t time_ms;		/* when that was measured */
	uint64_t follow_seen;		/* hub.sh->follow at the last XREAD */
	unsigned count;			/* the XREAD's COUNT */
	bool recheck;			/* no XREAD out, but a topic left out */
	bool reading, unblocking;	/* an XREAD is out; an UNBLOCK too */
	size_t waiting;			/* subscribers waiting for Redis */
} redis;

/* -- ids and answers ------------------------------------------------------- */

/* MS and SEQ packed, in Redis's order, for MS up to RID_MS_MAX (the year
 * 2527) and SEQ under RID_SEQ.  A SEQ of RID_SEQ or more packs as RID_SEQ,
 * which stands for the end of millisecond MS: after all its entries. */
static uint64_t rid_pack(uint64_t ms, uint64_t seq)
{
	return ms << RID_BITS | (seq < RID_SEQ ? seq : RID_SEQ);
}

/* Whether MS-SEQ packs exactly. */
static bool rid_fits(uint64_t ms, uint64_t seq)
{
	return ms <= RID_MS_MAX && seq < RID_SEQ;
}

/* MS-SEQ as text: whether it is that; its parts, UINT64_MAX if larger. */
static bool rid_split(const char *p, size_t n, uint64_t *ms, uint64_t *seq)
{
	uint64_t part[2] = { 0, 0 };
	unsigned k = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '-' && k == 0 && i > 0 && i + 1 < n)
			k = 1;
		else if (p[i] < '0' || p[i] > '9')
			return false;
		else if (part[k] > (UINT64_MAX - 9) / 10)
			part[k] = UINT64_MAX;
		else
			part[k] = part[k] * 10 + (uint64_t)(p[i] - '0');
	}
	*ms = part[0];
	*seq = part[1];
	return k == 1;
}

/* A packed id as Redis writes it; the end of a millisecond as its
 * largest SEQ, so that an XREAD after it starts at the next. */
static size_t rid_text(char *to, uint64_t rid)
{
	uint64_t seq = rid & RID_SEQ;

	return http_format(to, 48, "%llu-%llu", (unsigned long long)(rid >>
			   RID_BITS), (unsigned long long)(seq < RID_SEQ ? seq
			   : UINT64_MAX));
}

/* The id just before Redis's clock now: what a subscriber without a
 * resume id comes after (two milliseconds' margin for the measure). */
static uint64_t redis_now_id(void)
{
	return rid_pack(srv.now_ms + redis.offset_ms - 2, RID_SEQ);
}

static int64_t resp_int(const char *p, const char *end)
{
	int64_t v = 0;
	bool neg = p < end && *p == '-';

	for (p += neg; p < end && *p >= '0' && *p <= '9'; p++)
		v = v * 10 + (*p - '0');
	return neg ? -v : v;
}

/* The end of the one answer (RESP) at p, or NULL while it is not all
 * there; *bad when it is not RESP, or nests deeper than Redis's do. */
/* NOLINTNEXTLINE(misc-no-recursion): bounded by its depth, 6 */
static const char *resp_end(const char *p, const char *end, bool *bad,
			    int depth)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	int64_t n;

	if (nl == NULL)
		return NULL;
	n = resp_int(p + 1, nl);
	if (depth > 6 || nl - p < 2 || nl[-1] != '\r' ||
	    n > (int64_t)REDIS_IN_MAX) {
		*bad = true;
		return NULL;
	}
	switch (*p) {
	case '+': case '-': case ':':
		return nl + 1;
	case '$':
		return n < 0 ? nl + 1 : end - nl - 1 < n + 2 ? NULL : nl + 3 + n;
	case '*':
		for (p = nl + 1; n-- > 0 && p != NULL;)
			p = resp_end(p, end, bad, depth + 1);
		return p;
	}
	*bad = true;
	return NULL;
}

/* A whole answer, read item by item in order (an array's items follow
 * it).  resp_next() says each one's type, n (an array's count, a string's
 * length, an integer's value; -1 for nil) and s (a string's bytes). */
struct resp {
	const char *p, *end;
};

static char resp_next(struct resp *w, int64_t *n, const char **s)
{
	const char *nl = memchr(w->p, '\n', (size_t)(w->end - w->p));
	char t = *w->p;

	if (nl == NULL || w->p == w->end)
		return 0;
	*n = resp_int(w->p + 1, nl);
	*s = w->p + 1;
	w->p = nl + 1;
	if (t == '$' && *n >= 0) {
		*s = w->p;
		w->p += *n + 2;
	} else if (t == '+' || t == '-') {
		*n = nl - 1 - *s;
	}
	return t;
}

static bool resp_is(struct resp *w, char t, int64_t *n, const char **s)
{
	return resp_next(w, n, s) == t;
}

/* A stream entry, [ID, [FIELD, VALUE, ...]]; false if it is not one. */
static bool resp_entry(struct resp *w, struct redis_entry *e)
{
	int64_t n, k, m;
	uint64_t ms, seq;
	const char *s, *v;

	*e = (struct redis_entry){ .data = NULL };
	if (!resp_is(w, '*', &n, &s) || n != 2 || !resp_is(w, '$', &n, &s) ||
	    n < 0 || !rid_split(s, (size_t)n, &ms, &seq))
		return false;
	e->id = s;
	e->idlen = (size_t)n;
	e->exact = rid_fits(ms, seq);
	e->rid = ms <= RID_MS_MAX ? rid_pack(ms, seq) : UINT64_MAX;
	if (!resp_is(w, '*', &k, &s))
		return false;
	for (; k >= 2; k -= 2) {
		if (!resp_is(w, '$', &n, &s) || !resp_is(w, '$', &m, &v) ||
		    n < 0 || m < 0)
			return false;
		if (n == 4 && memcmp(s, "data", 4) == 0)
			e->data = v, e->dlen = (size_t)m;
		else if (n == 5 && memcmp(s, "event", 5) == 0)
			e->type = v, e->tlen = (size_t)m;
	}
	return k == 0 && e->rid != 0;
}

/* Whether an entry is shaped as ours: a data field, and an id the hub
 * holds (Redis may hold entries that other programs wrote). */
static bool redis_entry_ours(const struct redis_entry *e)
{
	return e->exact && e->data != NULL;
}

/* Whether an entry can be an event here: ours, its data UTF-8 without
 * NUL, its type a token; type gets the type as a string. */
static bool redis_entry_ok(const struct redis_entry *e, char *type)
{
	type[0] = '\0';
	if (!redis_entry_ours(e))
		return false;
	if (e->type != NULL && e->tlen <= HUB_NAME) {
		memcpy(type, e->type, e->tlen);
		type[e->tlen] = '\0';
	}
	return e->dlen <= srv.cfg.limits.max_body &&
	       hub_utf8_ok((const unsigned char *)e->data, e->dlen) &&
	       (e->type == NULL || hub_type_ok(type));
}

/* -- commands -------------------------------------------------------------- */

static void redis_put(struct redis_conn *r, const char *p, size_t n)
{
	if (r->state != REDIS_UP)
		return;		/* went down in the middle of a sequence */
	if (r->out_len + n > r->out_cap) {
		size_t cap = r->out_cap ? r->out_cap : 4096;
		char *q;

		while (cap < r->out_len + n)
			cap *= 2;
		if ((q = mem_resize(r->out, r->out_cap, cap)) == NULL) {
			r->failed = true;	/* redis_flush() takes it down */
			return;
		}
		r->out = q;
		r->out_cap = cap;
	}
	memcpy(r->out + r->out_len, p, n);
	r->out_len += n;
}

/* A command is an array of strings: redis_begin() with their count, then
 * redis_arg() for each. */
static void redis_begin(struct redis_conn *r, unsigned argc)
{
	char h[16];

	redis_put(r, h, http_format(h, sizeof(h), "*%u\r\n", argc));
}

static void redis_arg(struct redis_conn *r, const char *p, size_t n)
{
	char h[24];

	redis_put(r, h, http_format(h, sizeof(h), "$%zu\r\n", n));
	redis_put(r, p, n);
	redis_put(r, "\r\n", 2);
}

/* Words separated by spaces, each one argument. */
static void redis_words(struct redis_conn *r, const char *words)
{
	for (const char *e; *words != '\0'; words = *e ? e + 1 : e) {
		e = strchr(words, ' ');
		e = e ? e : words + strlen(words);
		redis_arg(r, words, (size_t)(e - words));
	}
}

static void redis_num(struct redis_conn *r, uint64_t v)
{
	char t[24];

	redis_arg(r, t, http_format(t, sizeof(t), "%llu",
				    (unsigned long long)v));
}

/* The stream of topic name: sse:NAME. */
static void redis_key(struct redis_conn *r, const char *name, size_t len)
{
	char key[4 + HUB_NAME];

	/* NOLINTNEXTLINE(bugprone-not-null-terminated-result): a length */
	memcpy(key, "sse:", 4);
	memcpy(key + 4, name, len);
	redis_arg(r, key, 4 + len);
}

static void redis_watch(struct redis_conn *r, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = &r->src };

	if (events != r->events &&
	    epoll_ctl(srv.epfd, EPOLL_CTL_MOD, r->src.fd, &ev) == 0)
		r->events = events;
}

/* Writes what the commands so far left unsent; epoll watches for room
 * while some is. */
/* NOLINTNEXTLINE(misc-no-recursion): a connection goes down once */
static void redis_flush(struct redis_conn *r)
{
	if (r->state != REDIS_UP)
		return;
	if (r->failed) {
		redis_down(r, "out of memory");
		return;
	}
	while (r->out_off < r->out_len) {
		ssize_t w = send(r->src.fd, r->out + r->out_off,
			 r->out_len - r->out_off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		if (w < 0) {
			redis_down(r, error_text(errno));
			return;
		}
		r->out_off += (size_t)w;
	}
	if (r->out_off == r->out_len)
		r->out_off = r->out_len = 0;
	redis_watch(r, EPOLLIN | (r->out_len ? EPOLLOUT : 0));
	if (r == &redis.pub)
		hub_stdin_resume();	/* no longer too slow, perhaps */
}

/* The answer's deadline: the first one due, an XREAD's BLOCK later. */
static void redis_due(struct redis_conn *r)
{
	if (r->qlen == 0 && r == &redis.rd && redis.recheck) {
		/* Nothing to read but a key that is not a stream: no XREAD
		 * ends to check it again, so a timer does. */
		tw_add(&srv.wheel, &r->timer, srv.now_ms + REDIS_BLOCK_MS);
		return;
	}
	if (r->qlen == 0) {
		tw_cancel(&srv.wheel, &r->timer);
		return;
	}
	tw_add(&srv.wheel, &r->timer, srv.now_ms + REDIS_TIMEOUT_MS +
	       (r->q[r->qhead].what == RF_XREAD ? REDIS_BLOCK_MS : 0));
}

/* The command just written waits for an answer for what: sends it. */
/* NOLINTNEXTLINE(misc-no-recursion): as redis_flush() */
static void redis_send(struct redis_conn *r, uint32_t what, uint32_t fd,
		       uint32_t gen)
{
	if (r->state != REDIS_UP) {
		/* A send in the same sequence took it down: this command
		 * was not queued (redis_put()), and its answer will not
		 * come, which its asker hears now, as when it goes down;
		 * on reconnecting, the first bytes are its hello's. */
		redis_answer(r, (struct redis_wait){ what, fd, gen }, NULL,
			     NULL);
		return;
	}
	if (r->qlen == r->qcap) {
		size_t cap = r->qcap ? r->qcap * 2 : 64;
		struct redis_wait *q = mem_get(cap * sizeof(*q));

		if (q == NULL) {
			r->failed = true;
			redis_flush(r);
			return;
		}
		for (size_t i = 0; i < r->qlen; i++)
			q[i] = r->q[(r->qhead + i) % r->qcap];
		mem_put(r->q, r->qcap * sizeof(*q));
		r->q = q;
		r->qcap = cap;
		r->qhead = 0;
	}
	r->q[(r->qhead + r->qlen++) % r->qcap] =
		(struct redis_wait){ what, fd, gen };
	if (r->qlen == 1)
		redis_due(r);
	redis_flush(r);
}

/* XADD sse:NAME MAXLEN ~ HISTORY * data BODY [event TYPE] */
static void redis_xadd(const char *name, size_t len, const char *type,
		       const char *body, size_t n)
{
	struct redis_conn *r = &redis.pub;

	redis_begin(r, type ? 10 : 8);
	redis_words(r, "XADD");
	redis_key(r, name, len);
	redis_words(r, "MAXLEN ~");
	redis_num(r, srv.cfg.history);
	redis_words(r, "* data");
	redis_arg(r, body, n);
	if (type != NULL) {
		redis_words(r, "event");
		redis_words(r, type);
	}
}

/* Whether a publish can go now: the connection up, and not too far
 * behind (a slow Redis). */
static const char *redis_refuses(void)
{
	if (!redis.pub.ready)
		return "Redis is unreachable: not stored";
	if (redis.pub.out_len - redis.pub.out_off > REDIS_OUT_MAX)
		return "Redis is slow: not stored";
	return NULL;
}

/* -- the reader ------------------------------------------------------------ */

/* How many entries of each of n topics one answer may bring, max at most:
 * as many as fit half the longest answer taken if every one is as large
 * as a body may be (so that --max-body's 64 MiB, or many topics, never
 * make an answer that takes the connection down, again and again). */
static unsigned redis_count(unsigned n, unsigned max)
{
	size_t k = REDIS_IN_MAX / 2 / ((n > 0 ? n : 1) *
				       (srv.cfg.limits.max_body + 128));

	return k < 1 ? 1 : k < max ? (unsigned)k : max;
}

/* Whether the reader's XREAD reads topic t: followed here, and its key a
 * stream (one key of another type would make Redis refuse the whole
 * XREAD, for every topic). */
static bool redis_reads(const struct hub_topic *t)
{
	return t->follow && !t->not_stream && !t->ids_past;
}

/* XRANGE KEY ID ID of each followed topic's last id (only of those whose
 * key held no stream, if again): its answer says whether the id is still
 * there (redis_check()), or that the key is not a stream. */
/* NOLINTNEXTLINE(misc-no-recursion): as redis_flush() */
static void redis_checks(bool again)
{
	struct redis_conn *r = &redis.rd;

	for (uint32_t i = 0; i < hub.sh->ntopics; i++) {
		const struct hub_topic *t = &hub.topics[i];
		char id[48];

		if (!t->follow || (again && !t->not_stream))
			continue;
		rid_text(id, t->last_id);
		redis_begin(r, 4);
		redis_words(r, "XRANGE");
		redis_key(r, t->name, t->len);
		redis_words(r, id);
		redis_words(r, id);
		redis_send(r, RF_CHECK, 0, i);
	}
}

/* The reader's next XREAD: the new entries of the topics that subscribers
 * follow here, each after its last id.  A topic nobody follows any more
 * is left out, and followed again from the moment a subscriber comes. */
/* NOLINTNEXTLINE(misc-no-recursion): as redis_flush() */
static void redis_xread(void)
{
	struct redis_conn *r = &redis.rd;
	unsigned n = 0;

	if (!r->ready || redis.reading)
		return;
	if (srv.now_ms - redis.time_ms >= REDIS_BLOCK_MS) {
		redis_checks(true);	/* a key that was not a stream */
		redis_begin(r, 1);
		redis_words(r, "TIME");
		redis_send(r, RF_TIME, 0, 0);
	}
	hub_lock();
	redis.recheck = false;
	for (uint32_t i = 0; i < hub.sh->ntopics; i++) {
		struct hub_topic *t = &hub.topics[i];

		t->follow &= t->len > 0 && hub_subscribers(t) > 0;
		n += redis_reads(t);
		redis.recheck |= t->follow && t->not_stream;
	}
	redis.follow_seen = hub.sh->follow;
	redis.recheck &= n == 0;	/* else each XREAD's end rechecks */
	if (n > 0) {
		redis.count = redis_count(n, REDIS_COUNT);
		redis_begin(r, 6 + 2 * n);
		redis_words(r, "XREAD COUNT");
		redis_num(r, redis.count);
		redis_words(r, "BLOCK 10000 STREAMS");
		for (uint32_t i = 0; i < hub.sh->ntopics; i++)
			if (redis_reads(&hub.topics[i]))
				redis_key(r, hub.topics[i].name,
					  hub.topics[i].len);
		for (uint32_t i = 0; i < hub.sh->ntopics; i++) {
			if (redis_reads(&hub.topics[i])) {
				char id[48];

				redis_arg(r, id, rid_text(id,
					  hub.topics[i].last_id));
			}
		}
	}
	hub_unlock();
	if (n > 0) {
		redis.reading = true;
		redis_send(r, RF_XREAD, 0, 0);
	}
}

/* A topic is followed anew, perhaps by another worker: the reader reads
 * it too, from now (its XREAD is unblocked to be sent again). */
/* NOLINTNEXTLINE(misc-no-recursion): as redis_flush() */
static void redis_poke(void)
{
	if (hub.w != 0 || redis.follow_seen == hub.sh->follow)
		return;
	if (!redis.reading) {
		redis_xread();
	} else if (!redis.unblocking && redis.client_id != 0 &&
		   redis.pub.ready) {
		redis.unblocking = true;
		redis_begin(&redis.pub, 3);
		redis_words(&redis.pub, "CLIENT UNBLOCK");
		redis_num(&redis.pub, redis.client_id);
		redis_send(&redis.pub, RF_NOTHING, 0, 0);
	}
}

/* An entry the reader brought: into the ring, unless the ring has it. */
static void redis_take(const char *key, size_t klen,
		       const struct redis_entry *e)
{
	char type[HUB_NAME + 1];
	bool fresh = false;
	uint64_t seq = 0;
	int t;

	if (klen <= 4 || memcmp(key, "sse:", 4) != 0 ||
	    !hub_name_ok(key + 4, klen - 4))
		return;
	hub_lock();
	if ((t = hub_topic_get(key + 4, klen - 4)) >= 0 &&
	    e->rid > hub.topics[t].last_id) {
		/* An id that does not fit: the next XREAD reads after its
		 * millisecond, or (past the year 2527) no more of it. */
		if (e->rid != UINT64_MAX)
			hub.topics[t].last_id = e->rid;
		else
			hub.topics[t].ids_past = true;
		fresh = true;
	}
	hub_unlock();
	if (!fresh)
		return;
	if (redis_entry_ok(e, type))
		seq = hub_publish(key + 4, klen - 4, e->type ? type : NULL,
				  e->data, e->dlen, e->rid);
	if (seq == 0 || seq == UINT64_MAX) {
		char id[48];

		memcpy(type, key + 4, klen - 4);
		type[klen - 4] = '\0';
		memcpy(id, e->id, e->idlen < 47 ? e->idlen : 47);
		id[e->idlen < 47 ? e->idlen : 47] = '\0';
		stderr_line("sse: redis: entry %s of sse:%s cannot be an "
			    "event here%s: skipped", id, type, e->exact ? ""
			    : " (its id is past what the hub's ids hold)");
	}
}

/* An entry of an XREAD answer, and its stream's name. */
struct redis_taken {
	const char *key;
	size_t klen;
	struct redis_entry e;
};

/* Sorts v[0..n) by id (a merge sort, t its scratch): the answer lists
 * each stream's entries in order, one stream after the other, and the
 * ring takes them in id order, so that every box has one order across
 * topics and a subscriber's last id is the newest it has. */
static void redis_sort(struct redis_taken *v, struct redis_taken *t, size_t n)
{
	for (size_t w = 1; w < n; w *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * w) {
			size_t mid = lo + w < n ? lo + w : n, i = lo, j = mid;
			size_t hi = lo + 2 * w < n ? lo + 2 * w : n;

			for (size_t k = lo; k < hi; k++)
				t[k] = j >= hi || (i < mid && v[i].e.rid <=
						   v[j].e.rid) ? v[i++] : v[j++];
		}
		memcpy(v, t, n * sizeof(*v));
	}
}

/* XREAD's answer: [[KEY, [ENTRY...]]...], or nil when it timed out or
 * was unblocked; into the ring in id order.  False if it is not that. */
static bool redis_xread_answer(struct resp *w)
{
	struct redis_taken *v = NULL;
	size_t nv = 0, cap = 0;
	int64_t n, k, m;
	uint64_t upto = UINT64_MAX;
	const char *s, *key;
	bool ok = resp_next(w, &n, &s) == '*';

	while (ok && n-- > 0) {
		ok = resp_is(w, '*', &k, &s) && k == 2 &&
		     resp_is(w, '$', &k, &key) && resp_is(w, '*', &m, &s);
		/* A stream cut at COUNT entries may have more, older than
		 * other streams' last ones: the answer is taken only up to
		 * its last, and the rest is read again, so that the ring
		 * takes entries in id order across topics. */
		bool cut = ok && m == redis.count;
		while (ok && m-- > 0) {
			if (nv == cap) {	/* twice: redis_sort()'s room */
				size_t more = cap ? cap * 2 : 64;
				struct redis_taken *p = mem_resize(v,
					cap * 2 * sizeof(*v),
					more * 2 * sizeof(*v));

				if (p == NULL)
					break;	/* taken down below */
				v = p;
				cap = more;
			}
			v[nv] = (struct redis_taken){ key, (size_t)k, { 0 } };
			ok = resp_entry(w, &v[nv++].e);
		}
		ok = ok && m < 0;
		if (ok && cut && nv > 0 && v[nv - 1].e.rid < upto)
			upto = v[nv - 1].e.rid;
	}
	if (ok && nv > 1)
		redis_sort(v, v + cap, nv);
	for (size_t i = 0; ok && i < nv && v[i].e.rid <= upto; i++)
		redis_take(v[i].key, v[i].klen, &v[i].e);
	mem_put(v, cap * 2 * sizeof(*v));
	return ok;
}

/* Each followed topic's last id, asked for on connecting: still there,
 * or gone with Redis's data (or trimmed): then resumes from before it
 * are Redis's to answer.  Or Redis said its key is not a stream
 * (wrong_type: another program wrote it): the reader leaves it out, and
 * asks again every REDIS_BLOCK_MS, until it is one. */
/* NOLINTNEXTLINE(misc-no-recursion): as redis_flush() */
static void redis_check(uint32_t topic, struct resp *w, bool wrong_type)
{
	struct hub_topic *t = &hub.topics[topic];
	bool was = t->not_stream, back = was && !wrong_type;
	int64_t n;
	const char *s;

	hub_lock();
	t->not_stream = wrong_type;
	if (!wrong_type && resp_next(w, &n, &s) == '*' && n == 0 &&
	    t->floor <= t->last_id)
		t->floor = t->last_id + 1;
	if (back)
		hub.sh->follow++;	/* the XREAD out is without it */
	hub_unlock();
	if (back)
		redis_poke();
	if (wrong_type != was) {
		char name[HUB_NAME + 1];

		memcpy(name, t->name, t->len);
		name[t->len] = '\0';
		stderr_line("sse: redis: sse:%s %s", name, wrong_type ?
			    "is not a stream: its subscribers here get "
			    "nothing until it is one" :
			    "is a stream again: read");
	}
}

/* -- resumes --------------------------------------------------------------- */

/* A subscriber of topics comes, after id x: its topics are followed (from
 * now, those that were not); the ring's cursor for it, and whether it
 * must wait for its history from Redis (x below a topic's floor). */
static bool redis_resume(const uint16_t *topics, unsigned nt, uint64_t x,
			 uint64_t *cursor)
{
	uint64_t now = redis_now_id(), c = hub.sh->head;
	bool wait = x == 0, newly = false;

	hub_lock();
	for (unsigned i = 0; i < nt; i++) {
		struct hub_topic *t = &hub.topics[topics[i]];
		uint64_t seq = t->last;

		if (!t->follow) {
			t->follow = newly = true;
			t->floor = t->last_id > now ? t->last_id : now;
			t->last_id = t->floor;
		}
		wait |= x < t->floor;
		/* Its first kept event after x: the cursor is before it. */
		for (uint64_t first = 0; seq != 0 && seq >= t->first &&
		     hub_is(seq, topics[i]) && hub_slot(seq)->rid > x;
		     seq = hub_slot(seq)->prev)
			if (c > (first = seq) - 1)
				c = first - 1;
	}
	if (newly)
		hub.sh->follow++;
	hub_unlock();
	if (newly)
		hub_wake_all();		/* worker 0 reads it */
	*cursor = c;
	return wait;
}

/* Asks Redis for subscriber c's history: in one MULTI, each topic's
 * entries from the newest down to its resume id.  Redis down: it waits,
 * and is asked for when Redis is back. */
/* NOLINTNEXTLINE(misc-no-recursion): as redis_flush() */
static void redis_replay(struct conn *c)
{
	struct redis_conn *r = &redis.pub;
	const struct stream *s = &c->stream;
	char id[48];

	if (!r->ready) {
		redis.waiting++;
		return;
	}
	if (s->hub.after == 0)
		memcpy(id, "-", 2);
	else
		rid_text(id, s->hub.after);
	redis_begin(r, 1);
	redis_words(r, "MULTI");
	redis_send(r, RF_NOTHING, 0, 0);
	for (unsigned i = 0; i < s->hub_topics; i++) {
		const struct hub_topic *t = &hub.topics[s->hub.topic[i]];

		redis_begin(r, 6);
		redis_words(r, "XREVRANGE");
		redis_key(r, t->name, t->len);
		redis_words(r, "+");
		redis_words(r, id);
		redis_words(r, "COUNT");
		redis_num(r, redis_count(s->hub_topics, REDIS_REPLAY));
		redis_send(r, RF_NOTHING, 0, 0);
	}
	redis_begin(r, 1);
	redis_words(r, "EXEC");
	redis_send(r, RF_REPLAY, (uint32_t)c->src.fd, s->hub.gen);
}

/* An id in JSON: "MS-SEQ", or null for 0. */
static void out_rid(struct out *o, uint64_t rid)
{
	char id[48];

	rid_text(id, rid);
	out_printf(o, rid ? "\"%s\"" : "null", id);
}

/* One event, as the ring would hold it, into o; false if it does not fit. */
static bool redis_format(struct out *o, const struct redis_entry *e)
{
	char type[HUB_NAME + 1];
	size_t need = 80 + e->tlen + hub_lines(e->data, e->dlen, NULL);

	if (need > o->cap - o->len || !redis_entry_ok(e, type))
		return need <= o->cap - o->len;
	out_add(o, "id: ", 4);
	o->len += rid_text(o->p + o->len, e->rid);
	if (e->type != NULL)
		out_printf(o, "\nevent: %s", type);
	out_add(o, "\n", 1);
	o->len += hub_lines(e->data, e->dlen, o->p + o->len);
	out_add(o, "\n", 1);
	return true;
}

/* The history came, [[ENTRY...] per topic], newest first: the gap event
 * if the resume id is not in it (or a topic had more), then the entries
 * after the id, oldest first, merged across topics; then the ring's,
 * after the newest of them. */
static void redis_replayed(struct conn *c, struct resp *w)
{
	struct stream *s = &c->stream;
	const size_t size = (size_t)HUB_STREAM_TOPICS * REDIS_REPLAY *
			    sizeof(struct redis_entry);
	struct redis_entry *e = mem_get(size);
	const int64_t count = redis_count(s->hub_topics, REDIS_REPLAY);
	size_t at[HUB_STREAM_TOPICS], end[HUB_STREAM_TOPICS], ne = 0, sent = 0;
	uint64_t x = s->hub.after, newest = x, oldest = UINT64_MAX;
	bool found = false, more = false, ok = e != NULL;
	struct out o = out_begin();
	int64_t n = 0, m = 0;
	const char *p;
	size_t a;

	ok = ok && resp_is(w, '*', &n, &p) && n == s->hub_topics;
	for (unsigned i = 0; ok && i < s->hub_topics; i++) {
		ok = resp_is(w, '*', &m, &p) && m <= count;
		at[i] = ne;
		bool full = m == count;
		while (ok && m-- > 0 && (ok = resp_entry(w, &e[ne]))) {
			found |= e[ne].rid == x;
			if (redis_entry_ours(&e[ne])) {
				newest = e[ne].rid > newest ? e[ne].rid
							    : newest;
				oldest = e[ne].rid < oldest ? e[ne].rid
							    : oldest;
			}
			ne++;
		}
		end[i] = ne;
		/* As many as asked for, all after x: there may be more. */
		more |= ok && full && ne > at[i] && e[ne - 1].rid > x;
	}
	if (!ok) {
		mem_put(e, size);
		stderr_line("sse: redis: a resume's history did not come");
		conn_drop(c);	/* it comes back with its id */
		return;
	}
	a = chunk_open(&o);
	if ((s->hub_flags & HUB_ASKED) &&
	    ((s->hub_flags & HUB_BADID) || !found || more)) {
		out_printf(&o, "event: gap\ndata: {\"asked\":");
		out_rid(&o, s->hub_flags & HUB_BADID ? 0 : x);
		out_printf(&o, ",\"oldest\":");
		out_rid(&o, oldest == UINT64_MAX ? 0 : oldest);
		out_printf(&o, "}\n\n");
		hub_count(s, offsetof(struct hub_topic, gaps), 1);
	}
	for (;;) {	/* the oldest left of each topic's: at end[i] - 1 */
		int best = -1;

		for (unsigned i = 0; i < s->hub_topics; i++)
			if (end[i] > at[i] && (best < 0 || e[end[i] - 1].rid <
					       e[end[best] - 1].rid))
				best = (int)i;
		if (best >= 0 && (e[end[best] - 1].rid <= x ||
				  !redis_entry_ours(&e[end[best] - 1]))) {
			end[best]--;	/* sent before, or not an event here */
			continue;
		}
		if (best >= 0 && redis_format(&o, &e[end[best] - 1])) {
			end[best]--;
			sent++;
			continue;
		}
		if (best >= 0 && o.len == a + CHUNK_ROOM) {
			end[best]--;	/* larger than any output: skipped */
			continue;
		}
		c->bytes += o.len - a - CHUNK_ROOM;
		chunk_close(&o, a, s->chunked);
		if (!conn_send_out(c, &o)) {
			mem_put(e, size);
			hub_behind(c);
			return;
		}
		if (best < 0)
			break;
		o = out_begin();
		a = chunk_open(&o);
	}
	mem_put(e, size);
	hub_count(s, offsetof(struct hub_topic, replayed), sent);
	srv.stats->events += sent;
	s->hub.after = newest;
	s->hub_flags &= (uint8_t)~HUB_WAIT;
	s->quiet_since_ms = srv.now_ms;
	hub_queue(c);
	hub_wake_self();
}

/* After a reconnect: the subscribers that wait for their history ask. */
/* NOLINTNEXTLINE(misc-no-recursion): as redis_flush() */
static void redis_replay_all(void)
{
	size_t n = redis.waiting;

	redis.waiting = 0;
	for (size_t fd = 0; n > 0 && fd < srv.conn_cap; fd++) {
		struct conn *c = &srv.conns[fd];

		if (c->src.kind == KIND_CONN && c->state == CONN_STREAM &&
		    c->stream.format == FORMAT_HUB &&
		    (c->stream.hub_flags & HUB_JOINED) &&
		    (c->stream.hub_flags & HUB_WAIT))
			redis_replay(c);
	}
}

/* -- publishing ------------------------------------------------------------ */

/* POST /topics/NAME: an XADD; the connection waits for its answer in
 * CONN_REDIS.  Its stream fields are free meanwhile: hub.gen names this
 * publish, hub.after gets the id. */
static enum wait redis_publish(struct conn *c, struct http_request *req,
			       const char *name, size_t len, const char *type)
{
	const char *no = redis_refuses();

	if (no != NULL)
		return answer_error(c, req, 503, "Retry-After: 1\r\n", no);
	redis_xadd(name, len, type, req->body, req->body_len);
	c->stream.hub.gen = ++hub.gen;
	c->stream.hub.after = 0;
	c->status = 0;
	c->state = CONN_REDIS;
	tw_add(&srv.wheel, &c->timer, srv.now_ms + 2ull * REDIS_TIMEOUT_MS);
	redis_send(&redis.pub, RF_PUBLISH, (uint32_t)c->src.fd, hub.gen);
	return WAIT_TIMER;
}

/* CONN_REDIS: the answer came (c->status), or its time is up. */
static enum wait redis_published(struct conn *c)
{
	char body[80];

	if (c->status == 0 && srv.now_ms < c->timer.due_ms)
		return WAIT_TIMER;
	if (c->status == 500)	/* another program set the key's ids so */
		return answer_error(c, &c->in->req, 500, NULL, "Redis stored "
				    "the event with an id past what the hub's "
				    "ids hold: it will not be delivered");
	if (c->status != 200)
		return answer_error(c, &c->in->req, 503, "Retry-After: 1\r\n",
				    c->status ? "Redis did not store the event"
					      : "Redis did not answer");
	/* NOLINTNEXTLINE(bugprone-not-null-terminated-result): more follows */
	memcpy(body, "{\"id\":\"", 7);
	memcpy(body + 7 + rid_text(body + 7, c->stream.hub.after), "\"}", 3);
	return answer_json(c, &c->in->req, 200, NULL, body);
}

/* A line of --stdin: an XADD; a line that cannot go says so. */
static void redis_stdin(const char *line, size_t n, uint64_t number)
{
	const char *no = redis_refuses();

	if (no != NULL) {
		stderr_line("sse: --stdin: line %llu: %s: skipped",
			    (unsigned long long)number, no);
		return;
	}
	redis_xadd(srv.cfg.stdin_topic, strlen(srv.cfg.stdin_topic), NULL,
		   line, n);
	redis_send(&redis.pub, RF_STDIN, 0, (uint32_t)number);
}

/* -- answers --------------------------------------------------------------- */

/* An answer came for w (p NULL: it will not, the connection is down). */
/* NOLINTNEXTLINE(misc-no-recursion): as redis_flush() */
static void redis_answer(struct redis_conn *r, struct redis_wait w,
			 const char *p, const char *end)
{
	struct resp walk = { p, end };
	struct conn *c = &srv.conns[w.fd];
	bool bad = p != NULL && *p == '-';
	bool wrong_type = bad && (size_t)(end - p) > 10 &&
			  memcmp(p, "-WRONGTYPE", 10) == 0;
	uint64_t id_ms, id_seq;		/* a publish's */
	int64_t n;
	const char *s;

	/* Redis's error, as it says it (a check's WRONGTYPE: redis_check()
	 * says once that the key is not a stream, not at each check). */
	if (bad && !(w.what == RF_CHECK && wrong_type)) {
		char text[160];
		size_t len = (size_t)(memchr(p, '\r', (size_t)(end - p)) -
				      (const void *)p);

		len = len < sizeof(text) ? len : sizeof(text) - 1;
		memcpy(text, p, len);
		text[len] = '\0';
		stderr_line("sse: redis %s: %s: %s", srv.cfg.redis, r->name,
			    text + 1);
	}
	switch ((enum redis_for)w.what) {
	case RF_NOTHING:
		break;
	case RF_CHECK:
		if (p != NULL)
			redis_check(w.gen, &walk, wrong_type);
		break;
	case RF_SETUP:
		if (bad)
			redis_down(r, "AUTH or SELECT refused");
		break;
	case RF_TIME:
		if (p == NULL || bad)
			break;
		if (resp_is(&walk, '*', &n, &s) && n == 2 &&
		    resp_is(&walk, '$', &n, &s)) {
			uint64_t ms = (uint64_t)resp_int(s, s + n) * 1000;

			if (resp_is(&walk, '$', &n, &s))
				ms += (uint64_t)resp_int(s, s + n) / 1000;
			redis.offset_ms = ms - srv.now_ms;
			redis.time_ms = srv.now_ms;
		}
		if (!r->ready) {
			r->ready = true;
			/* The reader's backoff starts again only once an XREAD
			 * was answered: one refused time after time (by an
			 * ACL, say) must not reconnect every 100 ms. */
			if (r != &redis.rd)
				r->backoff_ms = REDIS_BACKOFF_MS;
			__atomic_fetch_add(&hub.sh->redis_up, 1,
					   __ATOMIC_RELAXED);
			stderr_line("sse: redis %s: %s connected",
				    srv.cfg.redis, r->name);
			if (r == &redis.rd)
				redis_xread();
			else if (redis.waiting > 0)
				redis_replay_all();
			if (r == &redis.pub)
				hub_stdin_resume();
		}
		break;
	case RF_ID:
		redis.client_id = p && !bad ? (uint64_t)resp_int(p + 1, end) : 0;
		break;
	case RF_PUBLISH:
		if (c->src.kind != KIND_CONN || c->state != CONN_REDIS ||
		    c->stream.hub.gen != w.gen)
			break;	/* the publisher left */
		if (p != NULL && *p == '$' && resp_is(&walk, '$', &n, &s) &&
		    n > 0 && rid_split(s, (size_t)n, &id_ms, &id_seq)) {
			/* Stored; with an id the hub cannot hold (another
			 * program's doing), it will not be delivered: 500. */
			c->stream.hub.after = rid_fits(id_ms, id_seq)
					      ? rid_pack(id_ms, id_seq) : 0;
			c->status = c->stream.hub.after ? 200 : 500;
		} else {
			c->status = 503;
		}
		tw_add(&srv.wheel, &c->timer, srv.now_ms);	/* answer it */
		break;
	case RF_STDIN:
		if (p == NULL || bad)
			stderr_line("sse: --stdin: line %u: not stored: %s",
				    w.gen, p ? "Redis refused it"
					     : "Redis is unreachable");
		break;
	case RF_REPLAY:
		if (!hub_sub_valid((struct hub_ref){ w.fd, w.gen }) ||
		    !(c->stream.hub_flags & HUB_WAIT))
			break;
		if (p == NULL)
			redis.waiting++;	/* asked again when back */
		else
			redis_replayed(c, &walk);
		break;
	case RF_XREAD:
		redis.reading = redis.unblocking = false;
		if (p == NULL)
			break;
		if (bad) {	/* sent again at once, it would fail again */
			redis_down(r, "XREAD refused");
			break;
		}
		if (!redis_xread_answer(&walk)) {
			redis_down(r, "an XREAD answer that is not one");
			break;
		}
		r->backoff_ms = REDIS_BACKOFF_MS;
		redis_xread();
		break;
	}
}

/* -- the connections ------------------------------------------------------- */

/* Something went wrong: the connection closes, the answers it owed fail
 * (publishers get 503), and it is tried again after the backoff. */
/* NOLINTNEXTLINE(misc-no-recursion): as redis_flush() */
static void redis_down(struct redis_conn *r, const char *why)
{
	if (r->src.fd >= 0)
		close(r->src.fd);	/* also takes it out of epoll */
	r->src.fd = -1;
	if (r->ready)
		__atomic_fetch_sub(&hub.sh->redis_up, 1, __ATOMIC_RELAXED);
	if (r->state == REDIS_UP)
		__atomic_fetch_add(&hub.sh->redis_lost, 1, __ATOMIC_RELAXED);
	r->state = REDIS_DOWN;
	r->ready = r->failed = false;
	r->events = 0;
	r->in_len = r->out_len = r->out_off = 0;
	stderr_line("sse: redis %s: %s: %s; trying again in %u ms",
		    srv.cfg.redis, r->name, why, r->backoff_ms);
	tw_add(&srv.wheel, &r->timer, srv.now_ms + r->backoff_ms);
	r->backoff_ms = r->backoff_ms * 2 < REDIS_BACKOFF_MAX_MS
			? r->backoff_ms * 2 : REDIS_BACKOFF_MAX_MS;
	if (r == &redis.rd)
		redis.client_id = 0;
	while (r->qlen > 0) {
		struct redis_wait w = r->q[r->qhead];

		r->qhead = (r->qhead + 1) % r->qcap;
		r->qlen--;
		redis_answer(r, w, NULL, NULL);
	}
}

static void redis_connect(struct redis_conn *r)
{
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = &r->src };
	int fd = socket(redis.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
			SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0) {
		redis_down(r, error_text(errno));
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	r->src.fd = fd;
	r->state = REDIS_CONNECTING;
	r->events = EPOLLOUT;
	if (epoll_ctl(srv.epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ||
	    (connect(fd, (struct sockaddr *)&redis.addr, redis.addr_len) < 0 &&
	     errno != EINPROGRESS)) {
		redis_down(r, error_text(errno));
		return;
	}
	tw_add(&srv.wheel, &r->timer, srv.now_ms + REDIS_TIMEOUT_MS);
}

/* Connected: AUTH and SELECT if asked for, TIME (whose answer says the
 * connection is ready); the reader learns its id and checks its topics'
 * last ids, then reads. */
static void redis_hello(struct redis_conn *r)
{
	r->state = REDIS_UP;
	tw_cancel(&srv.wheel, &r->timer);
	if (redis.password_len > 0) {
		redis_begin(r, 2);
		redis_words(r, "AUTH");
		redis_arg(r, redis.password, redis.password_len);
		redis_send(r, RF_SETUP, 0, 0);
	}
	if (srv.cfg.redis_db != 0) {
		redis_begin(r, 2);
		redis_words(r, "SELECT");
		redis_num(r, srv.cfg.redis_db);
		redis_send(r, RF_SETUP, 0, 0);
	}
	if (r == &redis.rd) {
		redis_begin(r, 2);
		redis_words(r, "CLIENT ID");
		redis_send(r, RF_ID, 0, 0);
		redis_checks(false);
	}
	redis_begin(r, 1);
	redis_words(r, "TIME");
	redis_send(r, RF_TIME, 0, 0);
}

/* Reads what Redis sent and hands each whole answer to what asked. */
static void redis_read(struct redis_conn *r)
{
	size_t pos = 0;

	for (;;) {
		ssize_t n;

		if (r->in_len == r->in_cap) {
			size_t cap = r->in_cap ? r->in_cap * 2 : 65536;
			char *p = cap <= REDIS_IN_MAX
				  ? mem_resize(r->in, r->in_cap, cap) : NULL;

			if (p == NULL) {
				redis_down(r, "an answer too long");
				return;
			}
			r->in = p;
			r->in_cap = cap;
		}
		n = read(r->src.fd, r->in + r->in_len, r->in_cap - r->in_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			redis_down(r, n < 0 ? error_text(errno)
					    : "Redis closed the connection");
			return;
		}
		r->in_len += (size_t)n;
	}
	while (pos < r->in_len) {
		bool bad = false;
		const char *end = resp_end(r->in + pos, r->in + r->in_len,
					   &bad, 0);
		struct redis_wait w;

		if (bad || (end != NULL && r->qlen == 0)) {
			redis_down(r, "not an answer Redis gives");
			return;
		}
		if (end == NULL)
			break;
		w = r->q[r->qhead];
		r->qhead = (r->qhead + 1) % r->qcap;
		r->qlen--;
		redis_answer(r, w, r->in + pos, end);
		if (r->state != REDIS_UP)
			return;		/* it went down meanwhile */
		pos = (size_t)(end - r->in);
	}
	memmove(r->in, r->in + pos, r->in_len - pos);
	r->in_len -= pos;
	redis_due(r);
}

/* epoll reported on a connection to Redis. */
static void redis_event(struct source *src, uint32_t events)
{
	struct redis_conn *r = container_of(src, struct redis_conn, src);
	int e = 0;
	socklen_t len = sizeof(e);

	switch (r->state) {
	case REDIS_DOWN:
		break;
	case REDIS_CONNECTING:
		if (getsockopt(r->src.fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
			e = errno;
		if (e != 0)
			redis_down(r, error_text(e));
		else
			redis_hello(r);
		break;
	case REDIS_UP:
		if (events & EPOLLOUT)
			redis_flush(r);
		if (r->state == REDIS_UP && (events & ~(uint32_t)EPOLLOUT))
			redis_read(r);
		break;
	}
}

/* The connection's deadline: the next try, or a connect or an answer
 * that took too long. */
static void redis_on_timer(struct tw_timer *t)
{
	struct redis_conn *r = container_of(t, struct redis_conn, timer);

	switch (r->state) {
	case REDIS_DOWN:
		redis_connect(r);
		break;
	case REDIS_CONNECTING:
		redis_down(r, "no connection within 5 s");
		break;
	case REDIS_UP:
		if (r->qlen > 0)
			redis_down(r, "no answer within 5 s");
		else if (r == &redis.rd)
			redis_xread();	/* a recheck is due: redis_due() */
		break;
	}
}

/* -- setting up ------------------------------------------------------------ */

/* Before the workers: HOST:PORT ([HOST]:PORT for IPv6) and the password. */
static void redis_setup(void)
{
	const char *arg = srv.cfg.redis, *colon = strrchr(arg, ':');
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&redis.addr;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&redis.addr;
	char host[64], bytes[16];
	size_t n = colon ? (size_t)(colon - arg) : 0;
	uint32_t port = 0;

	if (n > 2 && arg[0] == '[' && arg[n - 1] == ']')
		arg++, n -= 2;
	if (n >= sizeof(host) || colon == NULL ||
	    !decimal_u32(colon + 1, strlen(colon + 1), &port) || port == 0 ||
	    port > 65535) {
		stderr_line("sse: --redis %s: not HOST:PORT", srv.cfg.redis);
		exit(2);
	}
	memcpy(host, arg, n);
	host[n] = '\0';
	switch (http_addr_parse(host, bytes)) {
	case 16:
		memcpy(&a6->sin6_addr, bytes, 16);
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		redis.addr_len = sizeof(*a6);
		break;
	case 4:
		memcpy(&a4->sin_addr, bytes, 4);
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		redis.addr_len = sizeof(*a4);
		break;
	default:
		stderr_line("sse: --redis %s: HOST must be an IPv4 or IPv6 "
			    "address", srv.cfg.redis);
		exit(2);
	}
	if (srv.cfg.redis_password_file != NULL)
		redis.password_len = secret_file("--redis-password-file",
			srv.cfg.redis_password_file, redis.password,
			sizeof(redis.password));
}

/* In each worker: its publisher connection, and in worker 0 the reader;
 * both start connecting now. */
static void redis_init(size_t w)
{
	struct redis_conn *rs[2] = { &redis.pub, &redis.rd };

	redis.offset_ms = clock_ms(CLOCK_REALTIME) - srv.now_ms;
	redis.follow_seen = hub.sh->follow;
	for (size_t i = 0; i < (w == 0 ? 2u : 1u); i++) {
		struct redis_conn *r = rs[i];

		r->src = (struct source){ KIND_REDIS, -1 };
		r->name = i == 0 ? "publisher" : "reader";
		r->backoff_ms = REDIS_BACKOFF_MS;
		tw_timer_init(&r->timer, redis_on_timer);
		redis_connect(r);
	}
}

/* /metrics: the connections up, of those there should be, and how many
 * times one was lost. */
static void redis_metrics(struct out *o)
{
	out_printf(o, "# HELP sse_redis_up Connections to Redis that are up "
		   "(of sse_redis_connections).\n# TYPE sse_redis_up gauge\n"
		   "sse_redis_up %d\n# HELP sse_redis_connections Connections "
		   "to Redis there should be.\n# TYPE sse_redis_connections "
		   "gauge\nsse_redis_connections %zu\n# HELP "
		   "sse_redis_lost_total Connections to Redis lost.\n# TYPE "
		   "sse_redis_lost_total counter\nsse_redis_lost_total %llu\n",
		   (int)hub.sh->redis_up, hub.workers + 1,
		   (unsigned long long)hub.sh->redis_lost);
}

/* ==== request bodies, queries and JSON ================================== */

/* Off the request's path: does POST /api ask for a stream?  The body as
 * JSON or as a form, or the query, read by small strict scanners that
 * never allocate; api_asks_stream(), last, is what route_api() asks. */

/* Percent-decodes p[0..n) into out, as a form does ('+' is a space): at
 * most cap - 1 bytes and a NUL.  A longer text is cut, so cap must exceed
 * any text the caller compares it with. */
static void form_decode(const char *p, size_t n, char *out, size_t cap)
{
	const char *end = p + n;
	size_t len = 0;

	while (p < end && len + 1 < cap) {
		int hi, lo;

		if (*p == '%' && end - p >= 3 &&
		    (hi = http_hex_value(p[1])) >= 0 &&
		    (lo = http_hex_value(p[2])) >= 0) {
			/* A decoded NUL must not end the text early. */
			out[len++] = (char)(hi || lo ? hi << 4 | lo : 0xff);
			p += 3;
		} else {
			out[len++] = (char)(*p == '+' ? ' ' : *p);
			p++;
		}
	}
	out[len] = '\0';
}

/* The value of key in a query string or form body, names and values
 * percent-decoded (the value into out, as form_decode() does); the last
 * one wins, unknown keys are ignored.  Returns whether key was there. */
static bool query_value(struct http_span q, const char *key, char *out,
			size_t cap)
{
	const char *p, *end;
	bool found = false;

	if (q.len == 0)
		return false;	/* also: no query at all, q.p NULL */
	p = q.p;
	end = q.p + q.len;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *e = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(e - p));
		const char *name_end = eq ? eq : e;
		char name[32];

		form_decode(p, (size_t)(name_end - p), name, sizeof(name));
		if (strcmp(name, key) == 0) {
			const char *v = eq ? eq + 1 : e;

			form_decode(v, (size_t)(e - v), out, cap);
			found = true;
		}
		p = amp ? amp + 1 : end;
	}
	return found;
}

/* ---- a strict JSON scanner, just enough to find the top-level "stream" -- */

/* RFC 8259 in full, so that invalid JSON is a 400 as the seed's body
 * parser made it, but it keeps nothing: it only walks the text, and
 * remembers whether the top-level object's last "stream" member asked for
 * a stream.  Nesting is bounded so that the walk's recursion is. */
struct json {
	const char *p, *end;
	unsigned depth;
	const char *error;
};

#define JSON_MAX_DEPTH 128

static bool json_bad(struct json *j, const char *why)
{
	if (j->error == NULL)
		j->error = why;
	return false;
}

static bool json_at(const struct json *j, char c)
{
	return j->p < j->end && *j->p == c;
}

static void json_blank(struct json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
				 *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

/* A string; its text, decoded, goes to out when out is not NULL: at most
 * cap - 1 bytes and a NUL, every code point past ASCII as 0xff, so that a
 * comparison with a short ASCII word is exact when cap exceeds the word. */
static bool json_string(struct json *j, char *out, size_t cap)
{
	size_t n = 0;

	j->p++;		/* the opening quote */
	while (j->p < j->end) {
		unsigned char c = (unsigned char)*j->p++;
		unsigned cp = c;

		if (c == '"') {
			if (out != NULL)
				out[n] = '\0';
			return true;
		}
		if (c < 0x20)
			return json_bad(j, "control character in JSON string");
		if (c == '\\') {
			static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
			const char *e;

			if (j->p == j->end)
				break;
			c = (unsigned char)*j->p++;
			if (c == 'u') {
				cp = 0;
				for (int i = 0; i < 4; i++) {
					int d = j->p < j->end
						? http_hex_value(*j->p++) : -1;

					if (d < 0)
						return json_bad(j, "bad unicode escape in JSON string");
					cp = cp << 4 | (unsigned)d;
				}
			} else if (c != '\0' && (e = strchr(from, c)) != NULL) {
				cp = (unsigned char)to[e - from];
			} else {
				return json_bad(j, "bad escape in JSON string");
			}
		}
		if (out != NULL && n + 1 < cap)
			out[n++] = (char)(cp != 0 && cp < 0x80 ? cp : 0xff);
	}
	return json_bad(j, "unterminated JSON string");
}

static bool json_digits(struct json *j)
{
	const char *start = j->p;

	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > start;
}

/* -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static bool json_number(struct json *j)
{
	if (json_at(j, '-'))
		j->p++;
	if (json_at(j, '0'))
		j->p++;
	else if (!json_digits(j))
		return json_bad(j, "bad JSON number");
	if (json_at(j, '.')) {
		j->p++;
		if (!json_digits(j))
			return json_bad(j, "bad JSON number");
	}
	if (json_at(j, 'e') || json_at(j, 'E')) {
		j->p++;
		if (json_at(j, '+') || json_at(j, '-'))
			j->p++;
		if (!json_digits(j))
			return json_bad(j, "bad JSON number");
	}
	return true;
}

/* No JSON value starts where one should: the error names what was found,
 * a word ("invalid literal 'True'": letters and digits, at most 16) or a
 * byte ("'}'", or "byte 39" for one that cannot be shown), and at the
 * top the document is not JSON at all ("not JSON: starts with 's'"). */
static bool json_bad_value(struct json *j)
{
	static char why[64];
	char word[17], found[16];
	size_t n = 0;
	unsigned char c = (unsigned char)*j->p;

	while (j->p + n < j->end && n < sizeof(word) - 1 &&
	       (((j->p[n] | 0x20) >= 'a' && (j->p[n] | 0x20) <= 'z') ||
		(j->p[n] >= '0' && j->p[n] <= '9'))) {
		word[n] = j->p[n];
		n++;
	}
	word[n] = '\0';
	if (c > ' ' && c < 0x7f && c != '"' && c != '\\' && c != '\'')
		http_format(found, sizeof(found), "'%s'",
			    (char[]){ (char)c, '\0' });
	else
		http_format(found, sizeof(found), "byte %u", c);
	if (j->depth == 0)
		http_format(why, sizeof(why), "not JSON: starts with %s", found);
	else if (n > 0)
		http_format(why, sizeof(why), "invalid literal '%s'", word);
	else
		http_format(why, sizeof(why), "expected a JSON value, found %s",
			    found);
	return json_bad(j, why);
}

static bool json_word(struct json *j, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
		return json_bad_value(j);
	j->p += n;
	return true;
}

/* Whether a valid JSON value, p[0..end), is true or a number equal to 1
 * (1, 1.0, 10e-1, 0.1E1): what the seed's loose "stream == true" took as
 * true.  A number's digits, the point aside, must be a single 1 and
 * zeros; it is 1 when the zeros after the 1, less the digits after the
 * point, plus the exponent, come to nothing. */
static bool json_is_true_or_one(const char *p, const char *end)
{
	long after_point = 0, zeros_after_one = 0, exp = 0;
	bool point = false, one = false;
	int exp_sign = 1;

	if (*p == 't')
		return true;
	if (*p < '0' || *p > '9')
		return false;	/* negative, false, null, an object, an array */
	for (; p < end && *p != 'e' && *p != 'E'; p++) {
		if (*p == '.') {
			point = true;
			continue;
		}
		after_point += point;
		if (*p == '0') {
			zeros_after_one += one;
			continue;
		}
		if (*p != '1' || one)
			return false;
		one = true;
	}
	if (p < end) {
		p++;	/* the 'e' */
		if (*p == '+' || *p == '-')
			exp_sign = *p++ == '-' ? -1 : 1;
		for (; p < end; p++)
			if (exp < 1000000)
				exp = exp * 10 + (*p - '0');
	}
	return one && zeros_after_one - after_point + exp_sign * exp == 0;
}

/* An object; when stream is not NULL (the top level), *stream tells
 * whether its last "stream" member was true, 1, "1" or "true". */
/* NOLINTNEXTLINE(misc-no-recursion): bounded by JSON_MAX_DEPTH */
static bool json_object(struct json *j, bool *stream)
{
	j->p++;
	json_blank(j);
	if (json_at(j, '}')) {
		j->p++;
		return true;
	}
	for (;;) {
		char key[8];
		const char *value;
		bool is_stream;

		if (!json_at(j, '"'))
			return json_bad(j, "expected a JSON key");
		if (!json_string(j, key, sizeof(key)))
			return false;
		json_blank(j);
		if (!json_at(j, ':'))
			return json_bad(j, "expected ':' in JSON object");
		j->p++;
		json_blank(j);
		value = j->p;
		is_stream = stream != NULL && strcmp(key, "stream") == 0;
		if (is_stream && json_at(j, '"')) {
			char text[8];

			if (!json_string(j, text, sizeof(text)))
				return false;
			*stream = strcmp(text, "1") == 0 ||
				  strcmp(text, "true") == 0;
		} else if (!json_value(j)) {
			return false;
		} else if (is_stream) {
			*stream = json_is_true_or_one(value, j->p);
		}
		json_blank(j);
		if (json_at(j, '}')) {
			j->p++;
			return true;
		}
		if (!json_at(j, ','))
			return json_bad(j, "expected ',' or '}' in JSON object");
		j->p++;
		json_blank(j);
	}
}

/* NOLINTNEXTLINE(misc-no-recursion): bounded by JSON_MAX_DEPTH */
static bool json_array(struct json *j)
{
	j->p++;
	json_blank(j);
	if (json_at(j, ']')) {
		j->p++;
		return true;
	}
	for (;;) {
		if (!json_value(j))
			return false;
		json_blank(j);
		if (json_at(j, ']')) {
			j->p++;
			return true;
		}
		if (!json_at(j, ','))
			return json_bad(j, "expected ',' or ']' in JSON array");
		j->p++;
		json_blank(j);
	}
}

/* NOLINTNEXTLINE(misc-no-recursion): bounded by JSON_MAX_DEPTH */
static bool json_value(struct json *j)
{
	bool ok;

	if (j->p == j->end)
		return json_bad(j, "unexpected end of JSON");
	switch (*j->p) {
	case '{':
	case '[':
		if (++j->depth > JSON_MAX_DEPTH)
			return json_bad(j, "JSON nested too deeply");
		ok = *j->p == '{' ? json_object(j, NULL) : json_array(j);
		j->depth--;
		return ok;
	case '"':
		return json_string(j, NULL, 0);
	case 't':
		return json_word(j, "true");
	case 'f':
		return json_word(j, "false");
	case 'n':
		return json_word(j, "null");
	default:
		if (*j->p != '-' && (*j->p < '0' || *j->p > '9'))
			return json_bad_value(j);
		return json_number(j);
	}
}

/* Scans a JSON document: ASK_BAD (with *why) if it is not valid JSON. */
static enum ask json_asks_stream(const char *p, size_t n, const char **why)
{
	struct json j = { p, p + n, 0, NULL };
	bool stream = false, ok;

	json_blank(&j);
	if (json_at(&j, '{')) {
		j.depth = 1;
		ok = json_object(&j, &stream);
	} else {
		ok = json_value(&j);
	}
	json_blank(&j);
	if (ok && j.p != j.end)
		ok = json_bad(&j, "unexpected bytes after JSON");
	*why = j.error;
	return !ok ? ASK_BAD : stream ? ASK_STREAM : ASK_PLAIN;
}

/* The media type of a Content-Type value, without its parameters. */
static struct http_span media_type(struct http_span ct)
{
	const char *semi = ct.len ? memchr(ct.p, ';', ct.len) : NULL;

	if (semi != NULL)
		ct.len = (size_t)(semi - ct.p);
	while (ct.len > 0 && (ct.p[ct.len - 1] == ' ' ||
			      ct.p[ct.len - 1] == '\t'))
		ct.len--;
	return ct;
}

static bool media_is_json(struct http_span type)
{
	struct http_span tail = { type.p, 0 };

	if (type.len > 5)
		tail = (struct http_span){ type.p + type.len - 5, 5 };
	return http_span_eq(type, "application/json") ||
	       http_span_eq(tail, "+json");
}

static bool flag_true(const char *v)
{
	return strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
}

/* Does the request's header called name, a list such as Accept or
 * Accept-Encoding, hold item (in any case, with any parameters) and not
 * refuse it with the weight q=0? */
static bool header_lists(const struct http_request *req, const char *name,
			 const char *item)
{
	const struct http_header *h = http_header(req, name);
	struct http_span rest = h ? h->value : (struct http_span){ NULL, 0 };

	while (rest.len > 0) {
		const char *comma = memchr(rest.p, ',', rest.len);
		size_t n = comma ? (size_t)(comma - rest.p) + 1 : rest.len;
		struct http_span e = { rest.p, comma ? n - 1 : n };
		const char *end = e.p + e.len, *q = memrchr(e.p, ';', e.len);

		rest.p += n;
		rest.len -= n;
		while (e.len > 0 && (*e.p == ' ' || *e.p == '\t'))
			e.p++, e.len--;
		if (!http_span_eq(media_type(e), item))
			continue;
		if (q == NULL)
			return true;
		/* The weight is the last parameter: q=0, q=0.0, ... */
		while (++q < end && (*q == ' ' || *q == '\t'))
			;
		if (end - q < 3 || (*q | 0x20) != 'q' || q[1] != '=' ||
		    q[2] != '0')
			return true;
		for (q += 3; q < end && strchr(".0 \t", *q) != NULL; q++)
			;
		if (q < end)
			return true;
	}
	return false;
}

/* Whether POST /api asks for a stream: by its body (JSON or a form), as
 * the seed's body parser read it, or by its query string. */
static enum ask api_asks_stream(const struct http_request *req,
				const char **why)
{
	struct http_span type = media_type(req->content_type);
	struct http_span body = { req->body, req->body_len };
	enum ask ask = ASK_PLAIN;
	char v[8];
	size_t i = 0;

	while (i < body.len && strchr(" \t\r\n", body.p[i]) && body.p[i])
		i++;
	/* curl -d sends JSON as a form: a '{' first makes it JSON anyway. */
	if (body.len == 0)
		;	/* an empty body is no body */
	else if (media_is_json(type) || (i < body.len && body.p[i] == '{'))
		ask = json_asks_stream(body.p, body.len, why);
	else if (http_span_eq(type, "application/x-www-form-urlencoded"))
		ask = query_value(body, "stream", v, sizeof(v)) && flag_true(v)
			? ASK_STREAM : ASK_PLAIN;
	if (ask == ASK_PLAIN && query_value(req->query, "stream", v, sizeof(v))
	    && flag_true(v))
		ask = ASK_STREAM;
	return ask;
}

/* ==== counters ========================================================== */

/* What a load tester reads: GET /stats as JSON (or as a stream of it) and
 * GET /metrics in Prometheus's text format, summed over the workers'
 * slots of the shared counters. */

static uint64_t uptime_s(void)
{
	return (srv.now_ms - srv.shared->started_ms) / 1000;
}

/* The counters of the whole server: every worker's slot added up. */
static void stats_total(struct stats *total)
{
	uint64_t *sum = (uint64_t *)total;

	memset(total, 0, sizeof(*total));
	for (size_t w = 0; w < srv.shared->workers; w++) {
		const uint64_t *v = (const uint64_t *)&srv.shared->slot[w];

		for (size_t i = 0; i < sizeof(*total) / sizeof(*sum); i++)
			sum[i] += v[i];
	}
}

/* The counters as one line of JSON, without its line end, into p (cap
 * bytes): the body of GET /stats and each event of its stream.  Returns
 * its length. */
static size_t stats_json(char *p, size_t cap)
{
	struct out o = { p, 0, cap };
	struct stats total;
	const struct stats *st = &total;
	const char *sep = "";

	stats_total(&total);
	out_printf(&o, "{\"connections\":%llu,\"streams\":%llu,"
		   "\"requests\":%llu,\"events\":%llu,"
		   "\"streams_completed\":%llu,\"streams_aborted\":%llu,"
		   "\"streams_dropped\":%llu,\"streams_stalled\":%llu,"
		   "\"accepted\":%llu,\"shed\":%llu,\"responses\":{",
		   (unsigned long long)st->connections,
		   (unsigned long long)st->streams_active,
		   (unsigned long long)st->requests,
		   (unsigned long long)st->events,
		   (unsigned long long)st->streams_completed,
		   (unsigned long long)st->streams_aborted,
		   (unsigned long long)st->streams_dropped,
		   (unsigned long long)st->streams_stalled,
		   (unsigned long long)st->accepted,
		   (unsigned long long)st->shed);
	for (int code = 100; code < 600; code++) {
		if (st->by_status[code] == 0)
			continue;
		out_printf(&o, "%s\"%d\":%llu", sep, code,
			   (unsigned long long)st->by_status[code]);
		sep = ",";
	}
	out_printf(&o, "},\"topics\":{");
	hub_stats(&o, false);
	/* The lateness histogram, each bucket's own count (not cumulative,
	 * unlike /metrics), named by its upper bound in microseconds. */
	out_add(&o, "},\"lateness_us\":{", 17);
	for (size_t b = 0; b < LATENESS_BUCKETS; b++)
		out_printf(&o, "\"%llu\":%llu,",
			   (unsigned long long)lateness_le[b].us,
			   (unsigned long long)st->lateness[b]);
	out_printf(&o, "\"inf\":%llu},\"uptime_seconds\":%llu}",
		   (unsigned long long)st->lateness[LATENESS_BUCKETS],
		   (unsigned long long)uptime_s());
	return o.len;
}

/* Does GET /stats ask for the stream: an EventSource's Accept:
 * text/event-stream, or the query ?stream (or stream=1, stream=true)? */
static bool stats_asks_stream(const struct http_request *req)
{
	char v[8];

	if (query_value(req->query, "stream", v, sizeof(v)))
		return v[0] == '\0' || flag_true(v);
	return header_lists(req, "Accept", "text/event-stream");
}

/* GET /stats: the counters as JSON, or as a stream of them, one event a
 * second (STREAM_STATS). */
static enum wait route_stats(struct conn *c, struct http_request *req)
{
	static char body[65536];
	const struct shape every_second = {
		.count = UINT32_MAX, .interval_ms = 1000,
		.drop = NO_EVENT, .stall = NO_EVENT,
	};
	size_t len;

	if (stats_asks_stream(req))
		return stream_start(c, req, FORMAT_STATS, &every_second, 0);
	len = stats_json(body, sizeof(body) - 1);
	body[len++] = '\n';
	return answer(c, req, 200, "application/json; charset=utf-8", NULL,
		      body, len);
}

/* One metric of /metrics, with its HELP and TYPE lines. */
static void metric(struct out *o, const char *name, const char *type,
		   const char *help, uint64_t value)
{
	out_printf(o, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help,
		   name, type, name, (unsigned long long)value);
}

/* GET /metrics: the same counters in the Prometheus text format, and the
 * histogram of event lateness: when an event's bytes went to the kernel,
 * minus when it was due. */
static enum wait route_metrics(struct conn *c, struct http_request *req)
{
	static char body[131072];
	struct out o = { body, 0, sizeof(body) };
	struct stats total;
	const struct stats *st = &total;
	uint64_t cumulative = 0;

	stats_total(&total);
	metric(&o, "sse_connections", "gauge", "Open client connections.",
	       st->connections);
	metric(&o, "sse_streams", "gauge", "Streams in progress.",
	       st->streams_active);
	metric(&o, "sse_requests_total", "counter", "Requests served.",
	       st->requests);
	metric(&o, "sse_events_total", "counter", "Events sent.", st->events);
	metric(&o, "sse_streams_completed_total", "counter",
	       "Streams that sent all their events.", st->streams_completed);
	metric(&o, "sse_streams_aborted_total", "counter",
	       "Streams that ended early: the client left or fell behind.",
	       st->streams_aborted);
	metric(&o, "sse_streams_dropped_total", "counter",
	       "Streams reset on purpose after event K (drop=K).",
	       st->streams_dropped);
	metric(&o, "sse_streams_stalled_total", "counter",
	       "Streams gone silent on purpose after event K (stall=K).",
	       st->streams_stalled);
	metric(&o, "sse_connections_accepted_total", "counter",
	       "Connections accepted.", st->accepted);
	metric(&o, "sse_connections_shed_total", "counter",
	       "Connections turned away with 503 at the limit.", st->shed);
	metric(&o, "sse_uptime_seconds", "gauge",
	       "Seconds since the server started.", uptime_s());
	out_printf(&o, "# HELP sse_responses_total Responses by status code.\n"
		   "# TYPE sse_responses_total counter\n");
	for (int code = 100; code < 600; code++)
		if (st->by_status[code] != 0)
			out_printf(&o, "sse_responses_total{code=\"%d\"} %llu\n",
				   code, (unsigned long long)st->by_status[code]);
	out_printf(&o, "# HELP sse_event_lateness_seconds When an event was "
		   "handed to the kernel, minus when it was due.\n"
		   "# TYPE sse_event_lateness_seconds histogram\n");
	for (size_t b = 0; b <= LATENESS_BUCKETS; b++) {
		cumulative += st->lateness[b];
		if (b < LATENESS_BUCKETS)
			out_printf(&o, "sse_event_lateness_seconds_bucket"
				   "{le=\"%s\"} %llu\n", lateness_le[b].seconds,
				   (unsigned long long)cumulative);
		else
			out_printf(&o, "sse_event_lateness_seconds_bucket"
				   "{le=\"+Inf\"} %llu\n",
				   (unsigned long long)cumulative);
	}
	out_printf(&o, "sse_event_lateness_seconds_sum %llu.%06llu\n"
		   "sse_event_lateness_seconds_count %llu\n",
		   (unsigned long long)(st->lateness_sum_us / 1000000),
		   (unsigned long long)(st->lateness_sum_us % 1000000),
		   (unsigned long long)cumulative);
	out_printf(&o, "# HELP sse_delivery_delay_seconds When a published "
		   "event was handed to a subscriber's socket, minus when it "
		   "was published.\n"
		   "# TYPE sse_delivery_delay_seconds histogram\n");
	cumulative = 0;
	for (size_t b = 0; b <= LATENESS_BUCKETS; b++) {
		cumulative += st->delay[b];
		out_printf(&o, "sse_delivery_delay_seconds_bucket{le=\"%s\"} "
			   "%llu\n", b < LATENESS_BUCKETS
			   ? lateness_le[b].seconds : "+Inf",
			   (unsigned long long)cumulative);
	}
	out_printf(&o, "sse_delivery_delay_seconds_sum %llu.%06llu\n"
		   "sse_delivery_delay_seconds_count %llu\n",
		   (unsigned long long)(st->delay_sum_us / 1000000),
		   (unsigned long long)(st->delay_sum_us % 1000000),
		   (unsigned long long)cumulative);
	hub_stats(&o, true);
	return answer(c, req, 200, "text/plain; version=0.0.4; charset=utf-8",
		      NULL, body, o.len);
}

/* ==== the command line ================================================== */

/* Every option once, in one table with its name, its default, its bounds
 * and its help: usage() writes the usage from it, and parse_args(), last,
 * reads the command line with it. */

/* How an option acts: on the spot, or on its field of struct config.
 * The kinds from OPTION_TEXT on take a value. */
enum option_kind {
	OPTION_HEADING,			/* not an option: a line of the usage */
	OPTION_HELP,			/* the usage on stdout, exit 0 */
	OPTION_VERSION,			/* the version, exit 0 */
	OPTION_FLAG,			/* a bool, made true */
	OPTION_TEXT,			/* a const char *: the value itself */
	OPTION_UNSIGNED,		/* a whole number within its bounds */
	OPTION_SIZE,			/* the same, in a size_t */
};

#define DEFAULT_ADDR "0.0.0.0"

/* Every option, in the order of the usage, which is made from this table:
 * its name, its letter if it has one ("-p 80" is "--port 80"), the name
 * of its value and its help; how it acts and, for a number, its default
 * and bounds.  A default below the bounds is one no user can give, which
 * the server works out (-c: what the descriptor limit allows); the help
 * says so instead of the usage showing it.  A row without a help is not
 * in the usage (the Redis options of a build without Redis). */
static const struct option {
	const char *name;
	const char *arg;		/* the value in the usage, or NULL */
	const char *help;		/* "\n" continues under it */
	uint32_t def, min, max;		/* what decimal_u32() can read */
	char letter;
	uint8_t offset;			/* the field's, a byte */
	uint8_t kind;			/* enum option_kind */
} options[] = {
#define HEADING(text) { NULL, NULL, text, 0, 0, 0, 0, 0, OPTION_HEADING }
#define ACTION(name, letter, help, kind) \
	{ name, NULL, help, 0, 0, 0, letter, 0, kind }
#define FIELD(name, letter, arg, help, kind, field, def, min, max) \
	{ name, arg, help, def, min, max, letter, \
	  offsetof(struct config, field), kind }
#define FLAG(name, letter, help, field) \
	FIELD(name, letter, NULL, help, OPTION_FLAG, field, 0, 0, 0)
#define TEXT(name, letter, arg, help, field) \
	FIELD(name, letter, arg, help, OPTION_TEXT, field, 0, 0, 0)
#define NUMBER(name, letter, arg, help, field, def, min, max) \
	FIELD(name, letter, arg, help, sizeof(((struct config *)NULL)->field) \
	      == sizeof(unsigned) ? OPTION_UNSIGNED : OPTION_SIZE, field, \
	      def, min, max)
#define REDIS_HELP(text) (SSE_REDIS ? (text) : NULL)
	NUMBER("port", 'p', "PORT", "port to listen on, 0 for any free one",
	       port, 3000, 0, 65535),
	TEXT("bind", 'b', "ADDR", "IPv4 or IPv6 address to listen on ("
	     DEFAULT_ADDR ")", addr),
	NUMBER("events", 'n', "N", "events per stream", events, 5, 1,
	       1000000000),
	NUMBER("interval", 'i', "MS", "milliseconds between events",
	       interval_ms, 1000, 1, DAY_MS),
	NUMBER("max-conns", 'c', "N", "connections at once; more get 503\n"
	       "(default: what the descriptor limit allows)", max_conns, 0, 1,
	       10000000),
	NUMBER("workers", 'w', "N", "worker processes sharing the port",
	       workers, 1, 1, MAX_WORKERS),
	TEXT("cors", 0, "ORIGIN", "let pages from ORIGIN (or *) use the "
	     "server", cors),
	FLAG("quiet", 'q', "no access log on stderr", quiet),
	ACTION("help", 'h', "this text", OPTION_HELP),
	ACTION("version", 'V', "the version", OPTION_VERSION),
	HEADING(""),
	NUMBER("max-target", 0, "BYTES", "longest request target, else 414",
	       limits.max_target, 4096, 16, MIB),
	NUMBER("max-header", 0, "BYTES", "longest request head, else 431",
	       limits.max_head, 8192, 64, MIB),
	NUMBER("max-body", 0, "BYTES", "longest request body, else 413",
	       limits.max_body, 65536, 0, 64 * MIB),
	NUMBER("request-timeout", 0, "MS", "first byte to complete request, "
	       "else 408", request_timeout_ms, 10000, 1, DAY_MS),
	NUMBER("idle-timeout", 0, "MS", "keep-alive connection without a "
	       "request", idle_timeout_ms, 5000, 1, DAY_MS),
	NUMBER("send-timeout", 0, "MS", "a client that takes no output is "
	       "dropped", send_timeout_ms, 10000, 1, DAY_MS),
	NUMBER("max-output", 0, "BYTES", "unsent output per client before "
	       "dropping it", max_output, 256 * 1024, 4096, 1024 * MIB),
	NUMBER("linger-timeout", 0, "MS", "wait for the client to close "
	       "after us", linger_timeout_ms, 2000, 1, DAY_MS),
	NUMBER("drain-timeout", 0, "MS", "after SIGTERM, close what is still "
	       "open after\nMS and exit; 0: wait for every stream",
	       drain_timeout_ms, 0, 0, DAY_MS),
	HEADING("Streams take n, interval, size, heartbeat, drop and stall in "
		"the query;\nthese bound them and give the default heartbeat:"),
	NUMBER("max-events", 0, "N", "largest n", max_events, 1000000, 1,
	       1000000000),
	NUMBER("min-interval", 0, "MS", "smallest interval and heartbeat",
	       min_interval_ms, 1, 1, DAY_MS),
	NUMBER("max-event-size", 0, "BYTES", "largest size", max_event_size,
	       65536, 64, 16 * MIB),
	NUMBER("heartbeat", 0, "MS", "a \":\" comment after MS of silence; "
	       "0: none", heartbeat_ms, 0, 0, DAY_MS),
	HEADING("The hub: POST /topics/NAME publishes, GET "
		"/topics/NAME[,NAME...] follows."),
	TEXT("publish-token-file", 0, "F", "publishing needs \"Authorization: "
	     "Bearer\" and\nF's content (F readable by its owner only)",
	     token_file),
	FLAG("publish-open", 0, "anyone may publish (default: nobody, 403)",
	     publish_open),
	TEXT("stdin", 0, "TOPIC", "each line of standard input, one event on "
	     "TOPIC", stdin_topic),
	NUMBER("history", 0, "N", "events kept per topic for resuming",
	       history, 100, 1, 10000000),
	NUMBER("history-bytes", 0, "BYTES", "bytes kept per topic",
	       history_bytes, MIB, 1, 1024 * MIB),
	NUMBER("hub-memory", 0, "BYTES", "all topics' events and index",
	       hub_memory, 64 * MIB, 65536, 4095 * MIB),
	NUMBER("max-topics", 0, "N", "topics at once; more get 503",
	       max_topics, 1024, 1, 65535),
	NUMBER("retry", 0, "MS", "the streams' retry:, plus up to half",
	       retry_ms, 2000, 0, DAY_MS),
	HEADING(REDIS_HELP("Many servers, one hub: the topics live in Redis "
			   "Streams.")),
	TEXT("redis", 0, "HOST:PORT", REDIS_HELP("Redis's address (an IPv4 or "
	     "[IPv6] address)"), redis),
	TEXT("redis-password-file", 0, "F", REDIS_HELP("AUTH with F's content "
	     "(F readable by its owner)"), redis_password_file),
	NUMBER("redis-db", 0, "N", REDIS_HELP("SELECT database N"), redis_db,
	       0, 0, 1000000),
#undef HEADING
#undef ACTION
#undef FIELD
#undef FLAG
#undef TEXT
#undef NUMBER
#undef REDIS_HELP
};

#define NOPTIONS (sizeof(options) / sizeof(options[0]))

_Static_assert(sizeof(struct config) <= UINT8_MAX, "offsets are bytes");

/* Writes the usage to fd: stdout when asked for, stderr after a mistake.
 * An option's line is "  -p, --port PORT", then its help from column 28
 * (the lines after a "\n" too) and a number's default; a heading's, a
 * blank line and its text. */
static void usage(int fd)
{
	static const char synopsis[] =
"usage: sse [-p PORT] [-b ADDR] [-n EVENTS] [-i INTERVAL_MS] [-c MAX_CONNS]\n"
"           [-w WORKERS] [--cors ORIGIN] [-q] [-h] [-V] [limits]\n\n";
	char text[4096];
	struct out o = { text, 0, sizeof(text) - 1 };

	out_add(&o, synopsis, sizeof(synopsis) - 1);
	for (size_t i = 0; i < NOPTIONS; i++) {
		const struct option *r = &options[i];
		const char *h = r->help, *nl;
		size_t column = 27, line;

		if (h == NULL)
			continue;
		if (r->kind == OPTION_HEADING) {
			out_add(&o, "\n", 1);
			column = 2;
		}
		line = o.len;
		if (r->kind != OPTION_HEADING) {
			char letter[] = { ' ', ' ', '-', r->letter, ',' };

			out_add(&o, letter, r->letter != 0 ? 5 : 1);
			out_printf(&o, " --%s%s%s", r->name, r->arg ? " " : "",
				   r->arg ? r->arg : "");
		}
		for (; *h != '\0'; h = nl + 1) {
			nl = strchrnul(h, '\n');
			while (o.len < line + column)
				out_add(&o, " ", 1);
			out_add(&o, h, (size_t)(nl - h));
			if (*nl == '\0')
				break;
			out_add(&o, "\n", 1);
			line = o.len;
		}
		if (r->kind >= OPTION_UNSIGNED && r->def >= r->min)
			out_printf(&o, " (%u)", r->def);
		if (*r->help != '\0' || r->kind != OPTION_HEADING)
			out_add(&o, "\n", 1);
	}
	text[o.len] = '\0';
	write_text(fd, text);
}

/* Exits 2 after a mistake on the command line, which stderr_line() has
 * named: the usage follows, as a reminder. */
static _Noreturn void usage_exit(void)
{
	usage(STDERR_FILENO);
	exit(2);
}

/* Sets number option o's field to v (nothing if o is not a number). */
static void option_number(struct config *cfg, const struct option *o,
			  uint32_t v)
{
	void *field = (char *)cfg + o->offset;

	if (o->kind == OPTION_UNSIGNED)
		*(unsigned *)field = v;
	else if (o->kind == OPTION_SIZE)
		*(size_t *)field = v;
}

/* Acts on option o, given its value (NULL if it takes none); exits 2
 * with one line if a number is not a whole one within its bounds. */
static void option_set(struct config *cfg, const struct option *o,
		       const char *value)
{
	void *field = (char *)cfg + o->offset;
	uint32_t v;

	switch ((enum option_kind)o->kind) {
	case OPTION_HELP:
		usage(STDOUT_FILENO);
		exit(0);
	case OPTION_VERSION:
		write_text(STDOUT_FILENO, "sse " SSE_VERSION "\n");
		exit(0);
	case OPTION_FLAG:
		*(bool *)field = true;
		return;
	case OPTION_TEXT:
		*(const char **)field = value;
		return;
	case OPTION_HEADING:	/* never found */
	case OPTION_UNSIGNED:
	case OPTION_SIZE:
		break;
	}
	/* decimal_u32() saturates at UINT32_MAX, past every max.  value is
	 * not NULL here: only the kinds from OPTION_TEXT on come this far
	 * (no letter or name finds an OPTION_HEADING row). */
	/* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker): as said */
	if (!decimal_u32(value, strlen(value), &v) || v < o->min ||
	    v > o->max) {
		stderr_line("sse: --%s: '%s' is not a number from %u to %u",
			    o->name, value, o->min, o->max);
		exit(2);
	}
	option_number(cfg, o, v);
}

/* The long option that name (len bytes) names: the one called that, or
 * else the only one whose name starts so ("--po" for "--port"), as
 * getopt_long() allows.  Exits 2 if there is none or more than one. */
static const struct option *long_option_find(const char *arg,
					     const char *name, size_t len)
{
	const struct option *found = NULL;
	size_t starts = 0;

	for (size_t i = 0; i < NOPTIONS; i++) {
		const struct option *o = &options[i];
		size_t n = o->name != NULL ? strlen(o->name) : 0;

		if (n == 0 || n < len || memcmp(o->name, name, len) != 0)
			continue;
		if (n == len)
			return o;
		found = o;
		starts++;
	}
	if (starts == 1)
		return found;
	stderr_line(starts == 0 ? "sse: unrecognized option '%s'"
				: "sse: option '%s' is ambiguous", arg);
	usage_exit();
}

/* The option whose letter c is, or NULL. */
static const struct option *short_option_find(char c)
{
	for (size_t i = 0; i < NOPTIONS; i++)
		if (options[i].letter == c && c != 0)
			return &options[i];
	return NULL;
}

/* Reads the long option at argv[i], "--name", "--name value" or
 * "--name=value", and acts on it.  Returns the index of the last
 * argument it used. */
static int long_option(struct config *cfg, int argc, char **argv, int i)
{
	const char *name = argv[i] + 2, *value = NULL;
	const char *equals = strchr(name, '=');
	size_t len = equals != NULL ? (size_t)(equals - name) : strlen(name);
	const struct option *o = long_option_find(argv[i], name, len);

	if (name[len] == '=') {
		if (o->kind < OPTION_TEXT) {
			stderr_line("sse: option '--%s' doesn't allow an "
				    "argument", o->name);
			usage_exit();
		}
		value = name + len + 1;
	} else if (o->kind >= OPTION_TEXT) {
		if (i + 1 == argc) {
			stderr_line("sse: option '--%s' requires an argument",
				    o->name);
			usage_exit();
		}
		value = argv[++i];
	}
	option_set(cfg, o, value);
	return i;
}

/* Reads the short options at argv[i]: one ("-q"), several ("-qV"), and
 * the last perhaps with its value, in the same argument ("-p80", "-qp80")
 * or in the next ("-p 80").  Returns the index of the last argument it
 * used. */
static int short_options(struct config *cfg, int argc, char **argv, int i)
{
	for (const char *p = argv[i] + 1; *p != '\0'; p++) {
		const struct option *o = short_option_find(*p);
		char letter[2] = { *p, '\0' };

		if (o == NULL) {
			stderr_line("sse: invalid option -- '%s'", letter);
			usage_exit();
		}
		if (o->kind < OPTION_TEXT) {
			option_set(cfg, o, NULL);
			continue;
		}
		if (p[1] != '\0') {
			option_set(cfg, o, p + 1);
		} else if (i + 1 < argc) {
			option_set(cfg, o, argv[++i]);
		} else {
			stderr_line("sse: option requires an argument -- '%s'",
				    letter);
			usage_exit();
		}
		break;
	}
	return i;
}

/* Two options that contradict each other are a mistake: one line that
 * names both, and exit 2. */
static void options_agree(bool agree, const char *a, unsigned long long va,
			  const char *how, const char *b, unsigned long long vb)
{
	if (agree)
		return;
	stderr_line("sse: %s (%llu) must be %s %s (%llu)", a, va, how, b, vb);
	exit(2);
}

/* The command line, read the way getopt_long() reads it; not by
 * getopt_long() itself, which in a static build brings stdio and wide
 * characters along for its messages.  Options may come in any order, also
 * after an argument that is not one (a mistake all the same, reported
 * after them), and "--" ends them. */
static void parse_args(int argc, char **argv, struct config *cfg)
{
	const char *stray = NULL;	/* the first argument not an option */

	*cfg = (struct config){ .addr = DEFAULT_ADDR };
	for (size_t i = 0; i < NOPTIONS; i++)	/* the numbers' defaults */
		option_number(cfg, &options[i], options[i].def);
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (strcmp(arg, "--") == 0) {
			if (stray == NULL && i + 1 < argc)
				stray = argv[i + 1];
			break;
		}
		if (arg[0] != '-' || arg[1] == '\0') {
			if (stray == NULL)
				stray = arg;
		} else if (arg[1] == '-') {
			i = long_option(cfg, argc, argv, i);
		} else {
			i = short_options(cfg, argc, argv, i);
		}
	}
	if (stray != NULL) {
		stderr_line("sse: unexpected argument '%s'", stray);
		usage_exit();
	}
	if (!SSE_REDIS && cfg->redis != NULL) {
		stderr_line("sse: --redis: this build has no Redis client "
			    "(SSE_REDIS=0, as in make static)");
		exit(2);
	}
	options_agree(cfg->max_output >= cfg->max_event_size, "--max-output",
		      cfg->max_output, "at least", "--max-event-size",
		      cfg->max_event_size);
	/* The defaults must be shapes a request could ask for. */
	options_agree(cfg->heartbeat_ms == 0 ||
		      cfg->heartbeat_ms >= cfg->min_interval_ms, "--heartbeat",
		      cfg->heartbeat_ms, "0 or at least", "--min-interval",
		      cfg->min_interval_ms);
	options_agree(cfg->interval_ms >= cfg->min_interval_ms, "-i",
		      cfg->interval_ms, "at least", "--min-interval",
		      cfg->min_interval_ms);
	options_agree(cfg->events <= cfg->max_events, "-n", cfg->events,
		      "at most", "--max-events", cfg->max_events);
}

/* ==== workers =========================================================== */

/* With -w N the parent forks N servers that share the port
 * (SO_REUSEPORT), starts one again if it dies, passes a signal on and
 * says how a drain goes; supervise(), last, is its loop. */

/* Forks worker w, which listens on port; parent_fd is the parent's own
 * socket, which the worker does not need.  SIGINT and SIGTERM stay blocked
 * across the fork, so that one arriving before the worker's signalfd
 * exists waits for it instead of killing the worker.  Returns the pid, or
 * 0 if the fork failed. */
static pid_t worker_start(int parent_fd, int port, size_t w)
{
	/* _Fork(), not fork(): with one thread and no atfork handlers, what
	 * fork() adds (libc's locks taken and reset around it) would be code
	 * for nothing, some 800 bytes of a static build. */
	pid_t parent = getpid(), pid = _Fork();

	if (pid < 0) {
		stderr_line("sse: fork: %s", error_text(errno));
		return 0;
	}
	if (pid == 0) {
		/* A worker drains when its parent goes, however it went,
		 * even if that was before this line. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			kill(getpid(), SIGTERM);	/* pending until read */
		close(parent_fd);
		srv.worker = true;
		exit(serve(open_listener(srv.cfg.addr, (unsigned)port, true,
					 true), w));
	}
	return pid;
}

/* The parent's view of its workers. */
struct worker {
	pid_t pid;			/* 0: not running */
	uint64_t born_ms, restart_ms;
};

/* Starts worker w now, or if the fork fails, in a second. */
static void worker_spawn(struct worker *wk, int fd, int port, size_t w)
{
	uint64_t now = clock_ms(CLOCK_MONOTONIC);

	wk->pid = worker_start(fd, port, w);
	wk->born_ms = now;
	wk->restart_ms = now + 1000;
}

/* Collects the workers that have exited.  While the server runs each is
 * to be replaced: at once, or after a second if it died within a second
 * of starting, so that a worker that crashes at start cannot spin.
 * Returns false if, during a drain, one did not exit cleanly. */
static bool workers_reap(struct worker *wk, size_t n)
{
	uint64_t now = clock_ms(CLOCK_MONOTONIC);
	bool clean = true;
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (size_t w = 0; w < n; w++) {
			if (wk[w].pid != pid)
				continue;
			wk[w].pid = 0;
			if (srv.draining) {
				clean &= WIFEXITED(st) && WEXITSTATUS(st) == 0;
				break;
			}
			stderr_line("sse: worker %d %s %d; starting another",
				    (int)pid, WIFSIGNALED(st)
				    ? "killed by signal" : "exited with status",
				    WIFSIGNALED(st) ? WTERMSIG(st)
						    : WEXITSTATUS(st));
			wk[w].restart_ms = now - wk[w].born_ms < 1000
				? now + 1000 : now;
		}
	}
	return clean;
}

/* Waits for a signal, or until the earliest restart that is due, or
 * with poll for 10 ms at most. */
static int supervise_wait(const struct worker *wk, size_t n,
			  const sigset_t *mask, bool poll)
{
	uint64_t now = clock_ms(CLOCK_MONOTONIC), next = UINT64_MAX;
	struct timespec wait;
	siginfo_t si;

	for (size_t w = 0; w < n && !srv.draining; w++)
		if (wk[w].pid == 0 && wk[w].restart_ms < next)
			next = wk[w].restart_ms;
	if (poll)
		next = now + 10;
	if (next == UINT64_MAX)
		return sigwaitinfo(mask, &si);
	next = next > now ? next - now : 0;
	wait.tv_sec = (time_t)(next / 1000);
	wait.tv_nsec = (long)(next % 1000) * 1000000;
	return sigtimedwait(mask, &si, &wait);
}

/* The workers have said how their drains go, or not within a second
 * (report_by): the parent's line adds them up.  False until then. */
static bool drain_report(const struct worker *wk, size_t n, uint64_t report_by)
{
	uint64_t conns = 0, end = 0, now = clock_ms(CLOCK_MONOTONIC);

	for (size_t w = 0; w < n; w++) {
		uint64_t e = __atomic_load_n(&srv.shared->drain_end_ms[w],
					     __ATOMIC_ACQUIRE);

		if (e == 0 && wk[w].pid > 0 && now < report_by)
			return false;
		conns += e != 0 ? srv.shared->drain_conns[w] : 0;
		end = e > end ? e : end;
	}
	drain_line(conns, n, end > now ? end - now : 0);
	return true;
}

/* -w N: the parent binds the port (learning it, if -p 0, and finding it
 * taken) without listening on it, forks N workers that each listen on it
 * with SO_REUSEPORT, and then only watches: a worker that dies is
 * replaced, and SIGINT or SIGTERM is passed on to every worker, which
 * drains (a worker that gets the signal twice, from a terminal's Ctrl-C
 * and from the parent, drains once).  The parent exits when they all have:
 * 0 if every one drained cleanly.  A second signal to the parent kills
 * the workers at once, and it exits 1. */
static int supervise(size_t n)
{
	struct worker wk[MAX_WORKERS] = { 0 };
	bool clean = true;
	uint64_t report_by = 0;		/* the drain's line is due */
	sigset_t mask;
	int port, fd;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	srv.shared = shared_map(n);
	hub_setup(n);
	/* A plain bind first: SO_REUSEPORT would share a port in use. */
	fd = open_listener(srv.cfg.addr, srv.cfg.port, false, false);
	port = (int)bound_port(fd);
	close(fd);
	fd = open_listener(srv.cfg.addr, (unsigned)port, true, false);
	announce(fd);			/* the parent keeps the port bound */
	for (size_t w = 0; w < n; w++)
		worker_spawn(&wk[w], fd, port, w);
	for (;;) {
		int sig = supervise_wait(wk, n, &mask, report_by != 0);
		size_t alive = 0;

		if ((sig == SIGINT || sig == SIGTERM) && srv.draining) {
			stderr_line("sse: second signal, exiting now");
			for (size_t w = 0; w < n; w++)
				if (wk[w].pid > 0)
					kill(wk[w].pid, SIGKILL);
			return 1;
		}
		if (sig == SIGINT || sig == SIGTERM) {
			srv.draining = true;
			report_by = clock_ms(CLOCK_MONOTONIC) + 1000;
			for (size_t w = 0; w < n; w++)
				if (wk[w].pid > 0)
					kill(wk[w].pid, sig);
		}
		if (report_by != 0 && drain_report(wk, n, report_by))
			report_by = 0;
		clean &= workers_reap(wk, n);
		for (size_t w = 0; w < n; w++) {
			if (wk[w].pid == 0 && !srv.draining &&
			    clock_ms(CLOCK_MONOTONIC) >= wk[w].restart_ms)
				worker_spawn(&wk[w], fd, port, w);
			alive += wk[w].pid > 0;
		}
		if (srv.draining && alive == 0)
			break;
	}
	close(fd);
	return clean ? 0 : 1;
}

/* ==== memory ============================================================ */

/* The server's allocator, in place of malloc(): mem_get(), mem_put() and
 * mem_resize(), which every section above uses. */

/* The server takes its memory from mmap() alone, in the few shapes it
 * needs, rather than through malloc(): a general allocator would be some
 * 9 KB of a static build, for a server that allocates its tables at start
 * and then only request buffers, unsent output, log lines and the hub's
 * lists.  Whoever gives a block back says its size (a tail's cap, a
 * list's cap), so that no block carries a header:
 *
 *   size        block                          given back
 *   <= 2 KiB    a power of two, 32 B at least,  to its size's free list,
 *               cut from 64 KiB chunks          for the next of that size
 *   larger      a mapping of its own, whole     unmapped
 *               pages, grown by mremap()
 *
 * So the small blocks (log lines, short lists) stay at their peak use,
 * which the connection limit bounds, and the large ones (request buffers,
 * the tails of slow clients, 4 KiB at least) go back to the system as soon
 * as they are free: a burst to many slow clients leaves nothing behind. */
#define MEM_MIN		5			/* 32 bytes */
#define MEM_SMALL	((size_t)2048)		/* the largest cut block */
#define MEM_CLASSES	12			/* log2 of MEM_SMALL, + 1 */
#define MEM_CHUNK	((size_t)64 * 1024)

static struct {
	void *free[MEM_CLASSES];	/* by log2 of the size: a list */
	char *chunk;			/* the rest of the newest chunk */
	size_t chunk_left;
} mem;

/* log2 of the size of the block that holds n bytes, n <= MEM_SMALL. */
static unsigned mem_class(size_t n)
{
	unsigned k = MEM_MIN;

	while (((size_t)1 << k) < n)
		k++;
	return k;
}

/* n bytes of new pages, zeroed; NULL if the system has none. */
static void *mem_map(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* A block of n bytes, or NULL. */
static void *mem_get(size_t n)
{
	unsigned k;
	void *p;

	if (n > MEM_SMALL)
		return mem_map(n);
	k = mem_class(n);
	if ((p = mem.free[k]) != NULL) {
		mem.free[k] = *(void **)p;
		return p;
	}
	if (mem.chunk_left < (size_t)1 << k) {
		/* The old chunk's rest, a multiple of 32 bytes, goes to the
		 * free lists as blocks of the sizes that make it up. */
		for (unsigned j = k; j-- > MEM_MIN;)
			if (mem.chunk_left & (size_t)1 << j) {
				mem_put(mem.chunk, (size_t)1 << j);
				mem.chunk += (size_t)1 << j;
			}
		mem.chunk_left = 0;
		if ((mem.chunk = mem_map(MEM_CHUNK)) == NULL)
			return NULL;
		mem.chunk_left = MEM_CHUNK;
	}
	p = mem.chunk;
	mem.chunk += (size_t)1 << k;
	mem.chunk_left -= (size_t)1 << k;
	return p;
}

/* Gives back block p of n bytes (nothing if p is NULL). */
static void mem_put(void *p, size_t n)
{
	unsigned k;

	if (p == NULL)
		return;
	if (n > MEM_SMALL) {
		munmap(p, n);
		return;
	}
	k = mem_class(n);
	*(void **)p = mem.free[k];
	mem.free[k] = p;
}

/* Block p of old bytes (or NULL, 0) made n bytes long, its first bytes
 * kept: p itself, or another in its place (p given back); NULL if there is
 * no room, p being as it was. */
static void *mem_resize(void *p, size_t old, size_t n)
{
	void *q;

	if (p != NULL && old > MEM_SMALL && n > MEM_SMALL) {
		q = mremap(p, old, n, MREMAP_MAYMOVE);
		return q == MAP_FAILED ? NULL : q;
	}
	if (p != NULL && old <= MEM_SMALL && n <= MEM_SMALL &&
	    mem_class(old) == mem_class(n))
		return p;
	if ((q = mem_get(n)) == NULL)
		return NULL;
	if (p != NULL)
		memcpy(q, p, old < n ? old : n);
	mem_put(p, old);
	return q;
}

/* ==== small helpers ===================================================== */

/* The clock, the names of errors, and lines on stderr written whole with
 * one write(), which every section above uses. */

static uint64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Writes text to fd, stdout or stderr, in one write(), so that the lines
 * of several workers do not interleave. */
static void write_text(int fd, const char *text)
{
	/* Text that cannot be written has nowhere else to go. */
	if (write(fd, text, strlen(text)) < 0)
		errno = 0;
}

/* Writes one line to stderr, its newline added.  A line longer than the
 * buffer is cut, its newline kept. */
static void stderr_line(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	size_t len;

	va_start(ap, fmt);
	len = http_vformat(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	line[len++] = '\n';
	line[len] = '\0';
	write_text(STDERR_FILENO, line);
}

/* What error e means, for a line on stderr.  Not strerror(): its table
 * of every error is 2 KB of a static build, for a server whose system
 * calls can fail in the few ways below (in musl's words); any other is
 * written as its number. */
static const char *error_text(int e)
{
	static const struct {
		int e;
		const char *text;
	} texts[] = {
		{ EPERM, "Operation not permitted" },
		{ ENOENT, "No such file or directory" },
		{ EIO, "I/O error" },
		{ EBADF, "Bad file descriptor" },
		{ EAGAIN, "Resource temporarily unavailable" },
		{ ENOMEM, "Out of memory" },
		{ EACCES, "Permission denied" },
		{ ENOTDIR, "Not a directory" },
		{ EISDIR, "Is a directory" },
		{ EINVAL, "Invalid argument" },
		{ ENFILE, "Too many open files in system" },
		{ EMFILE, "No file descriptors available" },
		{ ENOSPC, "No space left on device" },
		{ EPIPE, "Broken pipe" },
		{ ENAMETOOLONG, "Filename too long" },
		{ ELOOP, "Symbolic link loop" },
		{ ENOSYS, "Function not implemented" },
		{ EAFNOSUPPORT, "Address family not supported by protocol" },
		{ EADDRINUSE, "Address in use" },
		{ EADDRNOTAVAIL, "Address not available" },
		{ ENETUNREACH, "Network unreachable" },
		{ ENOBUFS, "No buffer space available" },
		{ ECONNRESET, "Connection reset by peer" },
		{ ETIMEDOUT, "Operation timed out" },
		{ ECONNREFUSED, "Connection refused" },
		{ EHOSTUNREACH, "Host is unreachable" },
	};
	static char number[24];

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (texts[i].e == e)
			return texts[i].text;
	http_format(number, sizeof(number), "error %d", e);
	return number;
}

/* A start-up failure, or one the server cannot go on from: one line, as
 * err(3) would write it, and exit 1. */
static void die(const char *what)
{
	stderr_line("sse: %s: %s", what, error_text(errno));
	exit(1);
}

static uint64_t clock_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}
