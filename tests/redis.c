/* redis.c - the hub's topics in Redis Streams (--redis), as clients and
 * an operator see them: several servers on one Redis, and Redis failing.
 *
 * Usage: tests/redis [PATH-TO-SSE]		(default ./sse)
 *
 * It starts its own redis-server on a free loopback port, with no
 * persistence, and stops it at the end (skipping every case, with the
 * reason, when there is none).  Some servers reach Redis through a small
 * proxy of its own (a child process) that can cut its connections or
 * hold every byte back for a while.  The cases, by their names:
 *
 *	two/	 publishes on either of two servers: subscribers on both get
 *		 every event once, with the ids the publishers were given,
 *		 in the same order; a subscriber moves from one server to the
 *		 other with its last id and loses nothing, whether the other
 *		 has the events in its ring or must ask Redis
 *	gap/	 a resume id Redis no longer has (trimmed by --history, or
 *		 never issued) gets the gap event, then what Redis keeps
 *	down/	 Redis killed: publishes get 503 (never 200), subscribers'
 *		 streams stay open; started again (empty): publishes get 200
 *		 and reach the open streams, every acknowledged event is
 *		 delivered once; a resume from before gets the gap event
 *	cut/	 a server's connections cut 20 times: it reconnects each
 *		 time, /metrics counts it, no descriptor leaks, and what
 *		 was published meanwhile on the other server arrives
 *	slow/	 every byte to and from Redis held back 300 ms: a POST /api
 *		 stream on that server keeps its schedule while publishes
 *		 wait for Redis
 *	workers/ a server with -w 2 beside one without: subscribers on
 *		 each worker get every event once, in order, with one reader
 *		 for the box and a publisher connection per worker
 *	auth/	 --redis-password-file and --redis-db: AUTH and SELECT;
 *		 a wrong password is a line on stderr and 503s, not a crash
 *	large/	 an event of 60,000 empty lines (seven times its size as
 *		 data: lines) in a history that Redis serves: not left out
 *	order/	 2,000 entries of one topic and then one of another, stored
 *		 in one MULTI: a stream of both gets them in id order, though
 *		 the reader's XREAD brings at most 256 a topic at a time
 *	foreign/ another program's key where a topic's stream would be (a
 *		 string: Redis refuses an XREAD that names it): the other
 *		 topics' subscribers get their events, the server does not
 *		 spin, and the topic is read once its key is a stream again;
 *		 entries whose ids the hub cannot hold (SEQ past 2^20, MS
 *		 past the year 2527) are skipped with a line on stderr, and
 *		 the reader does not spin on them; an entry without a data
 *		 field is not an event
 *
 * Each case prints one line, `pass NAME`, `FAIL NAME: WHY` or `skip NAME:
 * WHY`.  The exit status is 1 if any case failed.
 */
#include "testlib.h"

#include <sys/stat.h>

#define LATE_MS 250		/* as tests/wire.c: a busy test machine */
#define MAXIDS 64

static const char *sse = "./sse";
static int redis_port, proxy_port;
static pid_t redis_pid = -1, proxy_pid = -1;
static char redis_addr[32], proxy_addr[32];

/* ------------------------------------------------------------ helpers -- */

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* Starts redis-server on redis_port, empty and keeping nothing on disk,
 * and waits until it accepts.  extra: one more option and its value, or
 * NULL. */
static bool redis_start(const char *opt, const char *val)
{
	char port[16];
	int64_t deadline = mono_ms() + 5000;

	snprintf(port, sizeof port, "%d", redis_port);
	redis_pid = fork();
	if (redis_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int null = open("/dev/null", O_RDWR);

		dup2(null, 1);
		dup2(null, 2);
		execlp("redis-server", "redis-server", "--port", port, "--bind",
		       "127.0.0.1", "--save", "", "--appendonly", "no",
		       "--dir", "/tmp", opt ? opt : NULL, val, (char *)NULL);
		_exit(127);
	}
	while (mono_ms() < deadline) {
		struct client c;

		if (client_open_addr(&c, "127.0.0.1", redis_port) == 0) {
			client_close(&c);
			return true;
		}
		usleep(20000);
	}
	return t_note("redis-server did not start on port %d", redis_port);
}

static void redis_kill(void)
{
	if (redis_pid > 0) {
		kill(redis_pid, SIGKILL);
		waitpid(redis_pid, NULL, 0);
	}
	redis_pid = -1;
}

/* ---------------------------------------------------------- the proxy -- */

/* A TCP proxy to Redis in a child process: each connection to
 * proxy_port is carried to redis_port, every byte held back delay_ms;
 * SIGUSR1 cuts every connection (the listener stays).  It ends with the
 * test (PR_SET_PDEATHSIG) or on SIGTERM. */
struct leg {
	int from, to;
	char buf[1 << 16];
	size_t len;
	struct { size_t end; int64_t due; } mark[256];
	int nmark;
};

static volatile sig_atomic_t cut;

static void on_usr1(int sig)
{
	(void)sig;
	cut = 1;
}

static void leg_close(struct leg *l)
{
	if (l[0].from >= 0) {
		close(l[0].from);
		close(l[0].to);
	}
	l[0].from = l[1].from = -1;
}

static void proxy_run(int lfd, int delay_ms)
{
	struct leg legs[16][2];
	struct pollfd p[33];

	signal(SIGUSR1, on_usr1);
	for (int i = 0; i < 16; i++)
		legs[i][0].from = legs[i][1].from = -1;
	for (;;) {
		int n = 0;
		int64_t now = mono_ms();

		if (cut) {
			cut = 0;
			for (int i = 0; i < 16; i++)
				leg_close(legs[i]);
		}
		p[n++] = (struct pollfd){ lfd, POLLIN, 0 };
		for (int i = 0; i < 16; i++)
			for (int d = 0; d < 2 && legs[i][0].from >= 0; d++)
				p[n++] = (struct pollfd){ legs[i][d].from,
					legs[i][d].len < sizeof legs[i][d].buf -
					4096 && legs[i][d].nmark < 256
					? POLLIN : 0, 0 };
		if (poll(p, (nfds_t)n, 10) < 0 && errno != EINTR)
			_exit(1);
		now = mono_ms();
		if (p[0].revents & POLLIN) {
			int c = accept(lfd, NULL, NULL), i = 0;
			struct client up;

			while (i < 16 && legs[i][0].from >= 0)
				i++;
			if (c >= 0 && (i == 16 || client_open_addr(&up,
					"127.0.0.1", redis_port) != 0)) {
				close(c);
			} else if (c >= 0) {
				legs[i][0] = (struct leg){ .from = c,
							   .to = up.fd };
				legs[i][1] = (struct leg){ .from = up.fd,
							   .to = c };
				fcntl(c, F_SETFL, O_NONBLOCK);
			}
		}
		for (int i = 0; i < 16; i++) {
			for (int d = 0; d < 2 && legs[i][0].from >= 0; d++) {
				struct leg *l = &legs[i][d];
				ssize_t r = read(l->from, l->buf + l->len,
						 sizeof l->buf - l->len);
				size_t ready = 0;
				int k = 0;

				if (r == 0 || (r < 0 && errno != EAGAIN)) {
					leg_close(legs[i]);
					break;
				}
				if (r > 0) {
					l->len += (size_t)r;
					l->mark[l->nmark].end = l->len;
					l->mark[l->nmark++].due = now + delay_ms;
				}
				while (k < l->nmark && l->mark[k].due <= now)
					ready = l->mark[k++].end;
				if (ready == 0)
					continue;
				r = write(l->to, l->buf, ready);
				if (r <= 0) {
					leg_close(legs[i]);
					break;
				}
				memmove(l->buf, l->buf + r, l->len - (size_t)r);
				l->len -= (size_t)r;
				for (k = 0; k < l->nmark; k++)
					l->mark[k].end -= (size_t)r;
				while (l->nmark > 0 && l->mark[0].end == 0)
					memmove(l->mark, l->mark + 1,
						--l->nmark * sizeof l->mark[0]);
			}
		}
	}
}

static bool proxy_start(int delay_ms)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
	    listen(lfd, 16) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &len) != 0)
		return t_note("proxy: %s", strerror(errno));
	proxy_port = ntohs(a.sin_port);
	snprintf(proxy_addr, sizeof proxy_addr, "127.0.0.1:%d", proxy_port);
	proxy_pid = fork();
	if (proxy_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		proxy_run(lfd, delay_ms);
	}
	close(lfd);
	return proxy_pid > 0;
}

static void proxy_stop(void)
{
	if (proxy_pid > 0) {
		kill(proxy_pid, SIGKILL);
		waitpid(proxy_pid, NULL, 0);
	}
	proxy_pid = -1;
}

/* ------------------------------------------------------- the servers -- */

/* Starts a quiet server on Redis at addr (more options up to a NULL). */
static bool start(struct server *s, const char *addr,
		  const char *const *opts)
{
	const char *args[32] = { "-b", "127.0.0.1", "-p", "0", "-q",
				 "--publish-open", "--redis", addr };
	int n = 8;

	while (*opts != NULL && n < 31)
		args[n++] = *opts++;
	args[n] = NULL;
	return server_start(s, sse, args) == 0;
}

#define OPTS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NONE ((const char *const[]){ NULL })

/* Reads the server's stderr lines that are there, so that its pipe
 * never fills. */
static void drain(struct server *s)
{
	char line[512];

	while (server_line(s, line, sizeof line, mono_ms()) == 1)
		;
}

/* The value of a /metrics line, or -1. */
static long metric(int port, const char *name)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n";
	struct response r = { 0 };
	long v = -1;
	char key[80];

	snprintf(key, sizeof key, "\n%s ", name);
	if (client_ask(port, req, sizeof req - 1, &r, 3000) && r.body != NULL) {
		const char *p = strstr(r.body, key);

		if (p != NULL)
			v = atol(p + strlen(key));
	}
	resp_free(&r);
	return v;
}

/* Waits until the server's connections to Redis are all up. */
static bool until_up(struct server *s, int64_t deadline)
{
	while (mono_ms() < deadline) {
		drain(s);
		if (metric(s->port, "sse_redis_up") ==
		    metric(s->port, "sse_redis_connections"))
			return true;
		usleep(20000);
	}
	return t_note("the server on port %d did not connect to Redis",
		      s->port);
}

/* The ids of the stream's events, in order; how many. */
static int ids_of(const struct response *r, char ids[][48], int max)
{
	int n = 0;

	for (const char *p = r->body; p && (p = strstr(p, "id: ")) &&
	     n < max; p += 4)
		sscanf(p + 4, "%47[0-9-]", ids[n++]);
	return n;
}

/* The stream holds exactly the events want[0..n), in that order. */
static bool same_ids(const struct response *r, char want[][48], int n,
		     const char *who)
{
	char got[MAXIDS][48];
	int k = ids_of(r, got, MAXIDS);

	if (k != n)
		return t_note("%s: %d events, not %d", who, k, n);
	for (int i = 0; i < n; i++)
		if (strcmp(got[i], want[i]) != 0)
			return t_note("%s: event %d is %s, not %s", who, i,
				      got[i], want[i]);
	return true;
}

/* ---------------------------------------------------------------- two -- */

static void test_two(void)
{
	struct server a, b;
	struct client ca, cb, cm;
	struct response ra = { 0 }, rb = { 0 }, rm = { 0 };
	char ids[MAXIDS][48], body[32], last[80];
	bool ok;

	if (!start(&a, redis_addr, NONE)) {
		t_result("two/every-event", false);
		return;
	}
	if (!start(&b, redis_addr, NONE)) {
		server_stop(&a, 3000);
		t_result("two/every-event", false);
		return;
	}
	ok = until_up(&a, mono_ms() + 5000) && until_up(&b, mono_ms() + 5000) &&
	     topic_follow(&ca, &ra, a.port, "two", "") &&
	     topic_follow(&cb, &rb, b.port, "two", "");
	for (int i = 0; ok && i < 10; i++) {
		int port = i % 2 ? b.port : a.port;

		snprintf(body, sizeof body, "event %d", i);
		if (topic_publish_text(port, "two", body, ids[i]) != 200 ||
		    ids[i][0] == '\0')
			ok = t_note("publish %d on %s: not 200 with an id", i,
				    i % 2 ? "b" : "a");
	}
	ok = ok && resp_until_events(&ca, &ra, 10, 5000) &&
	     resp_until_events(&cb, &rb, 10, 5000) &&
	     same_ids(&ra, ids, 10, "a") && same_ids(&rb, ids, 10, "b");
	ok = ok && strstr(ra.body, "data: event 9\n") != NULL;
	t_result("two/every-event", ok);

	/* Moving: to b, whose ring has the topic, after event 4. */
	ok = true;
	snprintf(last, sizeof last, "Last-Event-ID: %s\r\n", ids[4]);
	ok = topic_follow(&cm, &rm, b.port, "two", last) &&
	     resp_until_events(&cm, &rm, 5, 5000) &&
	     same_ids(&rm, ids + 5, 5, "b");
	client_close(&cm);
	t_result("two/move-ring", ok);

	/* To a server that never followed the topic: Redis has it. */
	ok = topic_follow(&cm, &rm, a.port, "two-more", "");
	client_close(&cm);
	for (int i = 10; ok && i < 14; i++)
		ok = topic_publish_text(b.port, "two-more", "x", ids[i]) == 200;
	snprintf(last, sizeof last, "Last-Event-ID: %s\r\n", ids[10]);
	{
		struct server c;

		ok = ok && start(&c, redis_addr, NONE);
		if (ok) {
			ok = until_up(&c, mono_ms() + 5000) &&
			     topic_follow(&cm, &rm, c.port, "two-more", last) &&
			     resp_until_events(&cm, &rm, 3, 5000);
			ok = ok && same_ids(&rm, ids + 11, 3, "c");
			/* Then live events, once. */
			ok = ok && topic_publish_text(a.port, "two-more", "y",
						      ids[14]) == 200 &&
			     resp_until_events(&cm, &rm, 4, 5000) &&
			     same_ids(&rm, ids + 11, 4, "c");
			client_close(&cm);
			server_stop(&c, 3000);
		}
	}
	t_result("two/move-redis", ok);

	/* gap/: a resume id that Redis trimmed (--history 5) or never had. */
	{
		struct server h;

		/* MAXLEN ~ trims whole nodes of Redis's, 100 entries by
		 * default: 300 publishes leave some 100 to 200. */
		ok = start(&h, redis_addr, OPTS("--history", "5")) &&
		     until_up(&h, mono_ms() + 5000);
		for (int i = 0; ok && i < 300; i++)
			ok = topic_publish_text(h.port, "trim", "t",
						ids[i ? 1 : 0]) == 200;
		snprintf(last, sizeof last, "Last-Event-ID: %s\r\n", ids[0]);
		ok = ok && topic_follow(&cm, &rm, h.port, "trim", last) &&
		     resp_until_events(&cm, &rm, 50, 5000);
		ok = ok && (strstr(rm.body, "event: gap\n") != NULL ||
			    t_note("no gap event")) &&
		     strstr(rm.body, "event: gap\n") <
		     strstr(rm.body, "id: ");
		ok = ok && (strstr(rm.body, ids[1]) != NULL ||
			    t_note("the last event is not there"));
		client_close(&cm);
		if (ok)
			ok = topic_follow(&cm, &rm, h.port, "trim",
				    "Last-Event-ID: 5-5\r\n") &&
			     resp_until_events(&cm, &rm, 5, 5000) &&
			     strstr(rm.body, "{\"asked\":\"5-5\",\"oldest\":\"")
			     != NULL;
		client_close(&cm);
		server_stop(&h, 3000);
		t_result("gap/trimmed-and-unknown", ok);
	}
	client_close(&ca);
	client_close(&cb);
	resp_free(&ra);
	resp_free(&rb);
	resp_free(&rm);
	server_stop(&a, 3000);
	server_stop(&b, 3000);
}

/* --------------------------------------------------------------- down -- */

static void test_down(void)
{
	struct server a, b;
	struct client ca, cb, cr;
	struct response ra = { 0 }, rb = { 0 }, rr = { 0 };
	char ids[MAXIDS][48], id[48], last[80];
	int n = 0, st = 0, refused = 0;
	bool ok;

	if (!start(&a, redis_addr, NONE) || !start(&b, redis_addr, NONE)) {
		t_result("down/503", false);
		return;
	}
	ok = until_up(&a, mono_ms() + 5000) && until_up(&b, mono_ms() + 5000) &&
	     topic_follow(&ca, &ra, a.port, "down", "") &&
	     topic_follow(&cb, &rb, b.port, "down", "");
	for (; ok && n < 3; n++)
		ok = topic_publish_text(a.port, "down", "before", ids[n]) == 200;
	ok = ok && resp_until_events(&ca, &ra, 3, 5000) &&
	     resp_until_events(&cb, &rb, 3, 5000);
	redis_kill();
	/* Every publish from now is refused until Redis is back: a 200
	 * would be an event nobody stored. */
	for (int i = 0; ok && i < 5; i++) {
		st = topic_publish_text(i % 2 ? b.port : a.port, "down",
					"lost", id);
		if (st == 200)
			ok = t_note("publish %d with Redis killed: 200 (%s)",
				    i, id);
		refused += st == 503;
	}
	ok = ok && (refused == 5 ||
		    t_note("%d of 5 publishes got 503", refused));
	t_result("down/503", ok);

	/* The streams are still open, and delivery resumes. */
	ok = ok && redis_start(NULL, NULL) && until_up(&a, mono_ms() + 10000) &&
	     until_up(&b, mono_ms() + 10000);
	for (; ok && n < 6; n++)
		ok = topic_publish_text(n % 2 ? a.port : b.port, "down",
					"after", ids[n]) == 200;
	ok = ok && resp_until_events(&ca, &ra, 6, 5000) &&
	     resp_until_events(&cb, &rb, 6, 5000) &&
	     same_ids(&ra, ids, 6, "a") && same_ids(&rb, ids, 6, "b") &&
	     resp_count(&ra, "lost") == 0;
	t_result("down/streams-stay-open", ok);

	/* The ids from before went with Redis's data: the gap event. */
	snprintf(last, sizeof last, "Last-Event-ID: %s\r\n", ids[1]);
	ok = ok && topic_follow(&cr, &rr, b.port, "down", last) &&
	     resp_until_events(&cr, &rr, 3, 5000) &&
	     strstr(rr.body, "event: gap\n") != NULL &&
	     same_ids(&rr, ids + 3, 3, "resumed");
	client_close(&cr);
	t_result("down/restarted-empty-gap", ok);

	client_close(&ca);
	client_close(&cb);
	resp_free(&ra);
	resp_free(&rb);
	resp_free(&rr);
	server_stop(&a, 3000);
	server_stop(&b, 3000);
}

/* --stdin while Redis is down: standard input is not read, so its lines
 * wait in the pipe, and are all stored, in order, once Redis is back. */
static void test_stdin_down(void)
{
	const char *const args[] = { "-b", "127.0.0.1", "-p", "0", "-q",
				     "--stdin", "feed", "--redis", redis_addr,
				     NULL };
	struct server s;
	struct client c;
	struct response r = { 0 };
	char line[512];
	int in[2];
	bool ok, paused = false;

	if (pipe2(in, O_CLOEXEC) != 0 ||
	    server_start_stdin(&s, sse, args, in[0]) != 0) {
		t_result("down/stdin-waits", false);
		return;
	}
	close(in[0]);
	ok = until_up(&s, mono_ms() + 5000) &&
	     topic_follow(&c, &r, s.port, "feed", "") &&
	     write(in[1], "one\n", 4) == 4 &&
	     resp_until_events(&c, &r, 1, 5000);
	redis_kill();
	ok = ok && write(in[1], "two\nthree\n", 10) == 10;
	/* The server says it stops reading (and not that it skipped). */
	for (int64_t deadline = mono_ms() + 10000; ok && !paused;) {
		if (server_line(&s, line, sizeof line, deadline) != 1)
			ok = t_note("no `--stdin: paused` line on stderr");
		else if (strstr(line, "skipped") != NULL)
			ok = t_note("stderr: %s", escs(line));
		paused = strstr(line, "--stdin: paused") != NULL;
	}
	ok = ok && redis_start(NULL, NULL) &&
	     resp_until_events(&c, &r, 3, 15000);
	if (ok) {
		const char *one = strstr(r.body, "data: one\n\n");
		const char *two = strstr(r.body, "data: two\n\n");
		const char *three = strstr(r.body, "data: three\n\n");

		if (one == NULL || two == NULL || three == NULL ||
		    one > two || two > three)
			ok = t_note("the stream: %s", escs(r.body));
	}
	t_result("down/stdin-waits", ok);
	close(in[1]);
	client_close(&c);
	resp_free(&r);
	server_stop(&s, 3000);
}

/* ------------------------------------------------------------ foreign -- */

/* Ends what a case started: its subscriber's connection and answer, and
 * its server (s NULL: none of its own), each only if it was started. */
static void end_case(struct server *s, struct client *c, struct response *r)
{
	client_close(c);
	resp_free(r);
	if (s != NULL && s->pid > 0)
		server_stop(s, 3000);
}

/* redis-cli -p PORT ARGS... (up to a NULL): its exit status (0: Redis
 * answered), what it printed in out. */
static int redis_cli_out(char *out, size_t cap, const char *a, ...)
{
	char *argv[12] = { "/usr/bin/redis-cli", "-p", redis_addr + 10 };
	char err[256];
	va_list ap;
	int n = 3;

	va_start(ap, a);
	for (const char *arg = a; arg != NULL && n < 11;
	     arg = va_arg(ap, const char *))
		argv[n++] = (char *)arg;
	va_end(ap);
	argv[n] = NULL;
	return run_capture(argv, out, err, cap, mono_ms() + 3000);
}

static int redis_cli(const char *a, const char *b, const char *c)
{
	char out[256];

	return redis_cli_out(out, sizeof out, a, b, c, NULL);
}

/* How many events c's stream has brought by now (read without waiting),
 * as data: lines. */
static int events_now(struct client *c, struct response *r)
{
	resp_until_events(c, r, 1000, 1);
	t_clear();	/* it did not wait for 1,000 */
	return resp_count(r, "data:");
}

/* How many XREADs Redis has been sent, or -1. */
static long redis_xreads(void)
{
	char out[8192];
	const char *p;

	if (redis_cli_out(out, sizeof out, "INFO", "commandstats", NULL) != 0 ||
	    (p = strstr(out, "cmdstat_xread:calls=")) == NULL)
		return -1;
	return atol(p + strlen("cmdstat_xread:calls="));
}

static void test_foreign(void)
{
	struct server s = { .pid = -1 };
	struct client cf = { .fd = -1 }, cw = { .fd = -1 };
	struct response rf = { 0 }, rw = { 0 };
	char id[48], line[512];
	int lines = 0;
	bool ok;

	ok = redis_cli("SET", "sse:wrong", "x") == 0 &&
	     start(&s, redis_addr, NONE) && until_up(&s, mono_ms() + 5000) &&
	     topic_follow(&cf, &rf, s.port, "fine", "") &&
	     topic_follow(&cw, &rw, s.port, "wrong", "");
	for (int i = 0; ok && i < 3; i++)
		ok = topic_publish_text(s.port, "fine", "f", id) == 200;
	ok = ok && resp_until_events(&cf, &rf, 3, 5000);
	/* A reader that sent its refused XREAD again at once wrote a line
	 * for each refusal, thousands a second. */
	for (int64_t d = mono_ms() + 1000; ok && mono_ms() < d;)
		lines += server_line(&s, line, sizeof line, d) == 1;
	ok = ok && (lines < 20 ||
		    t_note("%d lines on stderr in 1 s, the last: %s", lines,
			   escs(line)));
	t_result("foreign/others-read", ok);

	/* Read again (it is asked every 10 s) once it is a stream. */
	ok = ok && redis_cli("DEL", "sse:wrong", NULL) == 0 &&
	     topic_publish_text(s.port, "wrong", "w", id) == 200 &&
	     resp_until_events(&cw, &rw, 1, 25000);
	t_result("foreign/read-again", ok);

	/* Ids the hub's cannot hold, written by another program: a SEQ
	 * past 2^20 - 1 (an XREAD after the last one the hub holds would
	 * bring it again, at once, forever) and an MS past 2^44 - 1. */
	struct client cb = { .fd = -1 }, ch = { .fd = -1 }, cn = { .fd = -1 };
	struct response rb = { 0 }, rh = { 0 }, rn = { 0 };
	char big[64], pub[64];
	long xreads = 0;
	bool skipped = false;

	snprintf(big, sizeof big, "%lld-1048576",
		 (long long)wall_ms() + 100000);
	ok = ok && redis_cli_out(pub, sizeof pub, "XADD", "sse:big", big,
				 "data", "b", NULL) == 0 &&
	     redis_cli_out(pub, sizeof pub, "XADD", "sse:past",
			   "17592186044416-0", "data", "p", NULL) == 0 &&
	     topic_follow(&cb, &rb, s.port, "big", "") &&
	     topic_follow(&ch, &rh, s.port, "past", "") &&
	     topic_follow(&cn, &rn, s.port, "nodata", "") &&
	     redis_cli_out(pub, sizeof pub, "XADD", "sse:nodata", "*", "note",
			   "n", NULL) == 0 &&
	     topic_publish_text(s.port, "fine", "f", id) == 200 &&
	     resp_until_events(&cf, &rf, 4, 5000);
	lines = 0;
	for (int64_t d = mono_ms() + 1000; ok && mono_ms() < d;) {
		if (server_line(&s, line, sizeof line, d) != 1)
			continue;
		lines++;
		skipped |= strstr(line, "skipped") != NULL;
	}
	ok = ok && (xreads = redis_xreads()) >= 0;
	usleep(1000 * 1000);
	ok = ok && (skipped || t_note("no line on stderr for the skipped "
				      "entries")) &&
	     (lines < 20 || t_note("%d lines on stderr in 1 s, the last: %s",
				   lines, escs(line))) &&
	     (redis_xreads() - xreads < 20 ||
	      t_note("%ld XREADs in 1 s", redis_xreads() - xreads)) &&
	     (events_now(&cb, &rb) + events_now(&ch, &rh) == 0 ||
	      t_note("delivered: %s %s", escs(rb.body), escs(rh.body))) &&
	     (events_now(&cn, &rn) == 0 ||
	      t_note("an entry without data: %s", escs(rn.body)));
	/* A publish Redis stores with such an id: not 200, not 503. */
	ok = ok && (topic_publish_text(s.port, "big", "b2", pub) == 500 ||
		    t_note("a publish to sse:big: not 500"));
	/* A history from Redis with such an entry among others': what
	 * comes after it is still sent. */
	struct client cp = { .fd = -1 };
	struct response rp = { 0 };

	ok = ok && topic_follow(&cp, &rp, s.port, "fine,past?history=1", "") &&
	     resp_until_events(&cp, &rp, 4, 5000) &&
	     topic_publish_text(s.port, "fine", "after", id) == 200 &&
	     resp_until_events(&cp, &rp, 5, 5000);
	client_close(&cp);
	resp_free(&rp);
	t_result("foreign/ids-past-the-hub", ok);
	end_case(NULL, &cb, &rb);
	end_case(NULL, &ch, &rh);
	end_case(NULL, &cn, &rn);
	end_case(NULL, &cw, &rw);
	end_case(&s, &cf, &rf);
}

/* A key that is not a stream, where it is the only topic followed: no
 * XREAD is out, and none ends to ask again. */
static void test_foreign_alone(void)
{
	struct server s = { .pid = -1 };
	struct client c = { .fd = -1 };
	struct response r = { 0 };
	char id[48], line[512];
	bool ok = redis_cli("SET", "sse:lone", "x") == 0 &&
		  start(&s, redis_addr, NONE) &&
		  until_up(&s, mono_ms() + 5000) &&
		  topic_follow(&c, &r, s.port, "lone", "");

	for (int64_t d = mono_ms() + 5000; ok;) {	/* left out */
		if (server_line(&s, line, sizeof line, d) != 1)
			ok = t_note("no line: sse:lone is not a stream");
		else if (strstr(line, "sse:lone is not a stream"))
			break;
	}
	ok = ok && redis_cli("DEL", "sse:lone", NULL) == 0 &&
	     topic_publish_text(s.port, "lone", "l", id) == 200 &&
	     resp_until_events(&c, &r, 1, 25000);
	t_result("foreign/read-again-alone", ok);
	end_case(&s, &c, &r);
}

/* An XREAD refused time after time (here by an ACL): the reader
 * reconnects with a growing backoff, 100 ms doubling to 5 s, not every
 * 100 ms. */
static void test_xread_refused(void)
{
	struct server s = { .pid = -1 };
	struct client c = { .fd = -1 };
	struct response r = { 0 };
	char acl[64], line[512];
	int connects = 0;
	bool ok = redis_cli_out(acl, sizeof acl, "ACL", "SETUSER", "default",
				"-xread", NULL) == 0 &&
		  start(&s, redis_addr, NONE) &&
		  until_up(&s, mono_ms() + 5000) &&
		  topic_follow(&c, &r, s.port, "acl", "");

	for (int64_t d = mono_ms() + 3000; ok && mono_ms() < d;)
		connects += server_line(&s, line, sizeof line, d) == 1 &&
			    strstr(line, "reader connected") != NULL;
	ok = ok && (connects < 10 ||
		    t_note("the reader connected %d times in 3 s", connects));
	redis_cli_out(acl, sizeof acl, "ACL", "SETUSER", "default", "+xread",
		      NULL);
	t_result("foreign/xread-refused-backoff", ok);
	end_case(&s, &c, &r);
}

/* -------------------------------------------------------------- large -- */

static void test_large(void)
{
	enum { EMPTY = 60000 };
	struct server s = { .pid = -1 };
	struct client c = { .fd = -1 };
	struct response r = { 0 };
	char *body = malloc(EMPTY), id[48];
	bool ok = body != NULL;

	if (ok)
		memset(body, '\n', EMPTY);
	ok = ok && start(&s, redis_addr, NONE) &&
	     until_up(&s, mono_ms() + 5000) &&
	     topic_publish_text(s.port, "large", "before", id) == 200 &&
	     topic_publish(s.port, "large", body, EMPTY, "", id) == 200 &&
	     topic_publish_text(s.port, "large", "after", id) == 200 &&
	     topic_follow(&c, &r, s.port, "large?history=1", "") &&
	     resp_until_events(&c, &r, 3, 5000) &&
	     (resp_count(&r, "data: \n") >= EMPTY ||
	      t_note("%d empty data: lines", resp_count(&r, "data: \n")));
	t_result("large/replayed", ok);
	free(body);
	end_case(&s, &c, &r);

	/* With --max-body 64 MiB a resume asks Redis for one entry a topic
	 * (redis_count()); the one that comes is the resume id itself, and
	 * nothing is missing: no gap event. */
	const char *const big[] = { "--max-body", "67108864", NULL };
	struct server a = { .pid = -1 }, b = { .pid = -1 };
	char last[80];

	ok = start(&a, redis_addr, big) && until_up(&a, mono_ms() + 5000) &&
	     topic_publish_text(a.port, "nogap", "one", id) == 200;
	if (a.pid > 0)
		server_stop(&a, 3000);
	snprintf(last, sizeof last, "Last-Event-ID: %s\r\n", id);
	ok = ok && start(&b, redis_addr, big) &&
	     until_up(&b, mono_ms() + 5000) &&
	     topic_follow(&c, &r, b.port, "nogap", last) &&
	     topic_publish_text(b.port, "nogap", "two", id) == 200 &&
	     resp_until_events(&c, &r, 1, 5000) &&
	     (strstr(r.body, "event: gap") == NULL ||
	      t_note("a gap event: %s", escs(r.body)));
	t_result("large/no-false-gap", ok);
	end_case(&b, &c, &r);
}

/* -------------------------------------------------------------- order -- */

/* Sends RESP commands straight to Redis, then PING, and waits for the
 * PONG: every command before it has been answered. */
static bool redis_raw(const char *cmds, size_t n)
{
	struct client c;
	bool ok = client_open(&c, redis_port) == 0 &&
		  client_send(&c, cmds, n, n, mono_ms() + 5000) == 0 &&
		  client_send(&c, "PING\r\n", 6, 6, mono_ms() + 5000) == 0;

	for (int64_t d = mono_ms() + 5000; ok && (c.in == NULL ||
	     strstr(c.in, "+PONG\r\n") == NULL);) {
		if (client_fill(&c) > 0)
			continue;
		if (c.eof || wait_fd(c.fd, POLLIN, d) == 0)
			ok = t_note("no PONG from Redis");
	}
	ok = ok && (strstr(c.in, "-ERR") == NULL ||
		    t_note("Redis: %s", escs(strstr(c.in, "-ERR"))));
	client_close(&c);
	return ok;
}

/* MS-SEQ ids as numbers, compared: a before b. */
static bool id_before(const char *a, const char *b)
{
	unsigned long long am = 0, as = 0, bm = 0, bs = 0;

	sscanf(a, "%llu-%llu", &am, &as);
	sscanf(b, "%llu-%llu", &bm, &bs);
	return am < bm || (am == bm && as < bs);
}

static void test_order(void)
{
	enum { BURST = 2000 };
	struct server s = { .pid = -1 };
	struct client c = { .fd = -1 };
	struct response r = { 0 };
	size_t cap = 64 + (BURST + 1) * 64, n = 0;
	char *cmds = malloc(cap), prev[48] = "0-0", id[48];
	int events = 0;
	bool ok = cmds != NULL;

	if (ok) {
		n += (size_t)snprintf(cmds + n, cap - n, "MULTI\r\n");
		for (int i = 0; i < BURST; i++)
			n += (size_t)snprintf(cmds + n, cap - n,
					      "XADD sse:oa * data a%d\r\n", i);
		n += (size_t)snprintf(cmds + n, cap - n,
				      "XADD sse:ob * data b\r\nEXEC\r\n");
	}
	ok = ok && start(&s, redis_addr, OPTS("--history", "5000")) &&
	     until_up(&s, mono_ms() + 5000) &&
	     topic_follow(&c, &r, s.port, "oa,ob", "") &&
	     redis_raw(cmds, n) &&
	     resp_until_events(&c, &r, BURST + 1, 10000);
	for (const char *p = r.body; ok && (p = strstr(p, "id: ")) != NULL;
	     p += 4, events++) {
		sscanf(p + 4, "%47[0-9-]", id);
		if (id_before(id, prev))
			ok = t_note("event %d, %s, came after %s", events, id,
				    prev);
		snprintf(prev, sizeof prev, "%s", id);
	}
	ok = ok && (events == BURST + 1 ||
		    t_note("%d events, not %d", events, BURST + 1));
	t_result("order/across-topics", ok);
	free(cmds);
	end_case(&s, &c, &r);
}

/* --stdin while Redis is stopped (SIGSTOP): the server queues XADDs up
 * to its 16 MiB, then stops reading standard input, even in the middle of
 * what one read() brought; started again, every line is stored.  The
 * lines make some 55 MB of commands, so that 16 MiB stay unsent whatever
 * the sockets to the stopped Redis hold (about 10 MB here). */
static void test_stdin_slow(void)
{
	enum { LINES = 300000 };
	const char *const args[] = { "-b", "127.0.0.1", "-p", "0", "-q",
				     "--stdin", "slow", "--history", "400000",
				     "--redis", redis_addr, NULL };
	struct server s;
	char line[512], out[64];
	int in[2];
	pid_t writer = -1;
	bool ok, paused = false, stopped = false;

	if (pipe2(in, O_CLOEXEC) != 0 ||
	    server_start_stdin(&s, sse, args, in[0]) != 0) {
		t_result("slow/stdin-waits", false);
		return;
	}
	close(in[0]);
	ok = redis_cli("DEL", "sse:slow", NULL) == 0 &&
	     until_up(&s, mono_ms() + 5000) &&
	     (stopped = kill(redis_pid, SIGSTOP) == 0);
	if (ok && (writer = fork()) == 0) {	/* 30 MB of 100-byte lines */
		static char buf[100 * 1000];

		for (int i = 0; i < 1000; i++)
			snprintf(buf + 100 * i, 101, "%099d\n", i);
		for (int k = 0; k < LINES / 1000; k++)
			if (write(in[1], buf, sizeof buf) != sizeof buf)
				_exit(1);
		_exit(0);
	}
	close(in[1]);
	/* Before Redis's 5 s timeout: the XADDs waiting pass 16 MiB. */
	for (int64_t d = mono_ms() + 4000; ok && !paused;) {
		if (server_line(&s, line, sizeof line, d) != 1)
			ok = t_note("no `--stdin: paused` line in 4 s");
		else if (strstr(line, "skipped") || strstr(line, "not stored"))
			ok = t_note("stderr: %s", escs(line));
		paused = strstr(line, "--stdin: paused") != NULL;
	}
	if (stopped)
		kill(redis_pid, SIGCONT);
	ok = ok && wait_child(writer, NULL, NULL, NULL, 0, 0,
				 mono_ms() + 20000) == 0;
	for (int64_t d = mono_ms() + 20000; ok;) {
		int got = server_line(&s, line, sizeof line, mono_ms() + 200);

		if (got == 1 && (strstr(line, "skipped") ||
				 strstr(line, "not stored")))
			ok = t_note("stderr: %s", escs(line));
		if (redis_cli_out(out, sizeof out, "XLEN", "sse:slow",
				  NULL) == 0 && atoi(out) == LINES)
			break;
		if (mono_ms() > d)
			ok = t_note("XLEN sse:slow: %s, not %d", escs(out),
				    LINES);
	}
	t_result("slow/stdin-waits", ok);
	server_stop(&s, 3000);
	redis_cli("DEL", "sse:slow", NULL);
}

/* ---------------------------------------------------------------- cut -- */

static void test_cut(void)
{
	struct server a, p;
	struct client cp;
	struct response rp = { 0 };
	char ids[MAXIDS][48];
	int fds0, fds1, n = 0;
	long lost0;
	bool ok;

	if (!proxy_start(0)) {
		t_result("cut/reconnects", false);
		return;
	}
	if (!start(&a, redis_addr, NONE) || !start(&p, proxy_addr, NONE)) {
		proxy_stop();
		t_result("cut/reconnects", false);
		return;
	}
	ok = until_up(&a, mono_ms() + 5000) && until_up(&p, mono_ms() + 5000) &&
	     topic_follow(&cp, &rp, p.port, "cut", "");
	ok = ok &&
	     topic_publish_text(a.port, "cut", "first", ids[n++]) == 200 &&
	     resp_until_events(&cp, &rp, 1, 5000);
	fds0 = fd_count(p.pid);
	lost0 = metric(p.port, "sse_redis_lost_total");
	for (int i = 0; ok && i < 20; i++) {
		kill(proxy_pid, SIGUSR1);
		/* Published while the other server is cut off, or not yet
		 * back: it arrives all the same. */
		ok = topic_publish_text(a.port, "cut", "meanwhile",
					ids[n++]) == 200;
		int64_t deadline = mono_ms() + 10000;

		while (ok && metric(p.port, "sse_redis_lost_total") <
		       lost0 + 2 * (i + 1) && mono_ms() < deadline)
			usleep(10000);
		ok = ok && until_up(&p, deadline) &&
		     resp_until_events(&cp, &rp, n, 5000);
	}
	/* A client of ours the server has not closed yet may count. */
	for (int64_t d = mono_ms() + 2000; (fds1 = fd_count(p.pid)) > fds0 &&
	     mono_ms() < d;)
		usleep(20000);
	ok = ok && same_ids(&rp, ids, n, "subscriber") &&
	     (fds1 == fds0 || t_note("%d descriptors before 20 reconnects, "
				     "%d after", fds0, fds1));
	ok = ok && (metric(p.port, "sse_redis_lost_total") == lost0 + 40 ||
		    t_note("sse_redis_lost_total %ld, not %ld",
			   metric(p.port, "sse_redis_lost_total"), lost0 + 40));
	t_result("cut/reconnects", ok);
	client_close(&cp);
	resp_free(&rp);
	server_stop(&a, 3000);
	server_stop(&p, 3000);
	proxy_stop();
}

/* --------------------------------------------------------------- slow -- */

static void test_slow(void)
{
	static const char api[] = "POST /api?n=8&interval=100 HTTP/1.1\r\n"
				  "Host: t\r\nContent-Type: application/json\r\n"
				  "Content-Length: 15\r\n\r\n{\"stream\":true}";
	char req[256];
	struct server p;
	struct client cs, pubs[4];
	struct response rs = { 0 }, rp = { 0 };
	int64_t t0;
	bool ok;

	if (!proxy_start(300)) {
		t_result("slow/api-on-time", false);
		return;
	}
	if (!start(&p, proxy_addr, NONE)) {
		proxy_stop();
		t_result("slow/api-on-time", false);
		return;
	}
	ok = until_up(&p, mono_ms() + 8000);
	/* Publishes that wait some 600 ms for Redis each, and a stream of
	 * an event every 100 ms beside them. */
	for (int i = 0; ok && i < 4; i++) {
		int n = snprintf(req, sizeof req, "POST /topics/slow HTTP/1.1"
				 "\r\nHost: t\r\nContent-Length: 1\r\n\r\n%d",
				 i);

		ok = client_open(&pubs[i], p.port) == 0 &&
		     client_send(&pubs[i], req, (size_t)n, 0,
				 mono_ms() + 2000) == 0;
	}
	ok = ok && client_open(&cs, p.port) == 0 &&
	     client_send(&cs, api, sizeof api - 1, 0, mono_ms() + 2000) == 0 &&
	     client_read(&cs, &rs, mono_ms() + 5000) == 0 &&
	     stream_chunks_ok(&rs, 8);
	t0 = rs.ch[0].mono_ms;
	for (int k = 1; ok && k <= 8 && k < rs.nch; k++) {
		int64_t late = rs.ch[k].mono_ms - (t0 + k * 100);

		if (late > LATE_MS)
			ok = t_note("event %d came %lld ms late", k,
				    (long long)late);
	}
	client_close(&cs);
	t_result("slow/api-on-time", ok);
	for (int i = 0; i < 4; i++) {
		bool got = ok && client_read(&pubs[i], &rp, mono_ms() + 8000)
				 == 0 && rp.status == 200;

		ok = got || t_note("publish %d: status %d", i, rp.status);
		client_close(&pubs[i]);
	}
	t_result("slow/publish-waits-for-redis", ok);
	resp_free(&rs);
	resp_free(&rp);
	server_stop(&p, 3000);
	proxy_stop();
}

/* ------------------------------------------------------------ workers -- */

static void test_workers(void)
{
	struct server w, one;
	struct client c[8];
	struct response r[8] = { 0 };
	char ids[MAXIDS][48], body[16];
	int opened = 0;
	bool ok;

	if (!start(&w, redis_addr, OPTS("-w", "2"))) {
		t_result("workers/every-event", false);
		return;
	}
	ok = start(&one, redis_addr, NONE) && until_up(&w, mono_ms() + 5000) &&
	     until_up(&one, mono_ms() + 5000) &&
	     (metric(w.port, "sse_redis_connections") == 3 ||
	      t_note("-w 2: %ld connections to Redis, not 3",
		     metric(w.port, "sse_redis_connections")));
	/* The kernel spreads connections over the workers. */
	for (; ok && opened < 8; opened++)
		ok = topic_follow(&c[opened], &r[opened],
			    opened < 6 ? w.port : one.port, "workers", "");
	for (int i = 0; ok && i < 10; i++) {
		snprintf(body, sizeof body, "w%d", i);
		ok = topic_publish_text(i % 3 ? w.port : one.port, "workers",
					body, ids[i]) == 200;
	}
	for (int i = 0; ok && i < opened; i++)
		ok = resp_until_events(&c[i], &r[i], 10, 5000) &&
		     same_ids(&r[i], ids, 10, "a subscriber");
	for (int i = 0; i < opened; i++) {
		client_close(&c[i]);
		resp_free(&r[i]);
	}
	t_result("workers/every-event", ok);
	server_stop(&w, 3000);
	if (one.pid > 0)
		server_stop(&one, 3000);
}

/* --------------------------------------------------------------- auth -- */

static void test_auth(void)
{
	char dir[] = "/tmp/sse-redis-XXXXXX", good[64], bad[64], line[512];
	struct server s;
	struct client c;
	struct response r = { 0 };
	char id[48];
	bool ok = mkdtemp(dir) != NULL, saw = false;
	FILE *f;

	snprintf(good, sizeof good, "%s/good", dir);
	snprintf(bad, sizeof bad, "%s/bad", dir);
	umask(077);
	ok = ok && (f = fopen(good, "w")) && fputs("s3cret\n", f) >= 0 &&
	     fclose(f) == 0 && (f = fopen(bad, "w")) &&
	     fputs("wrong", f) >= 0 && fclose(f) == 0;
	redis_kill();
	ok = ok && redis_start("--requirepass", "s3cret");
	ok = ok && start(&s, redis_addr, OPTS("--redis-password-file", good,
					      "--redis-db", "3")) &&
	     until_up(&s, mono_ms() + 5000);
	ok = ok && topic_follow(&c, &r, s.port, "auth", "") &&
	     topic_publish_text(s.port, "auth", "hi", id) == 200 &&
	     resp_until_events(&c, &r, 1, 5000);
	client_close(&c);
	if (s.pid > 0)
		server_stop(&s, 3000);
	{	/* Database 3 holds it, database 0 not. */
		char *argv[] = { "/usr/bin/redis-cli", "-p", redis_addr + 10, "-a",
				 "s3cret", "-n", "3", "--no-auth-warning",
				 "XLEN", "sse:auth", NULL };
		char out[256], err[256];

		ok = ok && run_capture(argv, out, err, sizeof out,
				       mono_ms() + 3000) == 0 &&
		     (atoi(out) == 1 || t_note("XLEN in db 3: %s", out));
	}
	t_result("auth/password-and-db", ok);

	ok = start(&s, redis_addr, OPTS("--redis-password-file", bad));
	for (int64_t d = mono_ms() + 5000; ok && !saw && mono_ms() < d;)
		saw = server_line(&s, line, sizeof line, d) == 1 &&
		      strstr(line, "WRONGPASS") != NULL;
	ok = ok && (saw || t_note("no line about the password")) &&
	     topic_publish_text(s.port, "auth", "no", id) == 503;
	if (s.pid > 0)
		ok = server_stop(&s, 3000) == 0 && ok;
	t_result("auth/wrong-password", ok);

	ok = start(&s, redis_addr, OPTS("--redis-password-file", "/nonexistent"));
	ok = !ok;	/* a start-up error */
	t_clear();
	t_result("auth/missing-file", ok);
	unlink(good);
	unlink(bad);
	rmdir(dir);
	resp_free(&r);
	redis_kill();
	redis_start(NULL, NULL);
}

int main(int argc, char **argv)
{
	static const char *const names[] = {
		"two/every-event", "two/move-ring", "two/move-redis",
		"gap/trimmed-and-unknown", "down/503", "down/streams-stay-open",
		"down/restarted-empty-gap", "down/stdin-waits",
		"cut/reconnects", "slow/api-on-time",
		"slow/publish-waits-for-redis", "workers/every-event",
		"auth/password-and-db",
		"auth/wrong-password", "auth/missing-file",
		"foreign/others-read", "foreign/read-again",
		"foreign/read-again-alone", "foreign/xread-refused-backoff",
		"foreign/ids-past-the-hub", "order/across-topics",
		"slow/stdin-waits", "large/replayed", "large/no-false-gap",
	};
	char *which[] = { "/bin/sh", "-c", "command -v redis-server", NULL };
	char out[256], err[256];

	if (argc > 1)
		sse = argv[1];
	signal(SIGPIPE, SIG_IGN);
	if (run_capture(which, out, err, sizeof out, mono_ms() + 3000) != 0) {
		for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
			t_skip(names[i], "redis-server is not installed "
			       "(Debian: apt-get install redis-server)");
		printf("redis: 0 passed, 0 failed, %d skipped\n", t_skipped);
		return 0;
	}
	redis_port = free_port();
	snprintf(redis_addr, sizeof redis_addr, "127.0.0.1:%d", redis_port);
	if (!redis_start(NULL, NULL)) {
		t_result("redis/start", false);
		return 1;
	}
	test_two();
	test_down();
	test_stdin_down();
	test_foreign();
	test_foreign_alone();
	test_xread_refused();
	test_large();
	test_order();
	test_cut();
	test_slow();
	test_stdin_slow();
	test_workers();
	test_auth();
	redis_kill();
	printf("redis: %d passed, %d failed, %d skipped\n", t_passed, t_failed,
	       t_skipped);
	return t_failed != 0;
}
