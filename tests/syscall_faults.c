/* syscall_faults.c - the server when its system calls fail: short and
 * refused writes, one-byte and interrupted reads, failing accepts, NULL
 * from malloc, interrupted waits, failing epoll_ctl and timerfd_settime.
 *
 * Usage: tests/syscall_faults PATH-TO-SSE [CASE]
 *
 * Each case starts its own server with tests/faultshim.so preloaded and
 * SSE_FAULTS set (in the server's environment only: this program's own
 * calls are never faulted), runs the churn of churn.h through it (streams
 * of both routes, sized, dropped, reset and half-closed by their clients,
 * plain and pipelined requests, 96 clients, 12 at once), and checks:
 *
 *	bytes		every client's bytes match its transcript; each is
 *			exact, or, where the fault may cost a connection
 *			(a failed allocation, a failed epoll_ctl, an accept
 *			that meets EMFILE and sheds), closed or shed, and then
 *			most are still exact.  Never a wrong byte, never hung.
 *	descriptors	back to the idle count once the clients are gone
 *	no spin		the idle server takes (almost) no CPU time
 *	counters	/stats has no connection or stream left; every request
 *			was answered once; where all were exact, every
 *			counter is what the clients saw
 *	no crash	SIGTERM ends the server with status 0, and the shim's
 *			report shows that every fault asked for happened
 *
 *	write		40% short, 15% EAGAIN, 5% EINTR on send and write
 *	read		40% one byte, 10% EAGAIN, 10% EINTR
 *	accept		ECONNABORTED 30%, ENOMEM and ENOBUFS 5% each (each
 *			of these pauses accepting until a connection closes
 *			or a second passes, so they stay rare)
 *	accept-emfile	EMFILE 20%, ENFILE 10%: newcomers may be shed
 *	malloc		15% of the server's mmap() and mremap() calls (the
 *			pages its own allocator takes) fail, with 30% of
 *			writes short, so that the server needs memory for
 *			what the socket did not take.  Not a case of the
 *			AddressSanitizer run (san-syscall-faults):
 *			AddressSanitizer takes those calls itself, out of
 *			the shim's reach; the plain run has it
 *	epoll		epoll_wait EINTR 20%, epoll_ctl fails 5%
 *	timerfd		timerfd_settime fails 20%
 *	all		all of the above at once, at lower rates
 *	drop-tail	drop= streams 1 ms apart with 90% of writes refused:
 *			event K still waiting in the server when the reset is
 *			due goes out whole first
 *	accept-pause	accept4 fails with ENOMEM or ENOBUFS every time for
 *			3 s while a client waits: the server must not spin
 *			(at most a tenth of that time on the CPU), and
 *			answers the client once accepting works again
 *	accept-resume	accept4 ENOMEM and epoll_ctl failures together for
 *			2.5 s: a pause whose resume failed tries again, and
 *			a client is served once the faults end
 *
 * One line per case on stdout; measurements on stderr.  Exit 0 iff no
 * FAIL.
 */
#include "testlib.h"
#include "churn.h"

static const char *sse;
static char shim[4096];
static bool asan;	/* the server is built with AddressSanitizer */

#define SERVER_ARGS \
	((const char *const[]){ "-b", "127.0.0.1", "-p", "0", "-q", \
				"--idle-timeout", "1000", "--send-timeout", \
				"2000", "--linger-timeout", "1000", \
				"--request-timeout", "3000", NULL })

/* ------------------------------------------------- the shim's report -- */

/* Did the shim inject every kind that faults asks for?  Notes the first
 * that it never did.  A malloc kind is let off under AddressSanitizer. */
static bool faults_happened(const char *faults, const char *err)
{
	const char *report = strstr(err, "faultshim: injected");

	if (report == NULL)
		return t_note("no report from the shim on the server's stderr:"
			      " %s", escs(err));
	for (const char *f = faults; *f != '\0';) {
		size_t n = strcspn(f, ","), colon;
		char kind[64];

		snprintf(kind, sizeof kind, "%.*s", (int)n, f);
		f += n + (f[n] == ',');
		colon = strcspn(kind, ":");
		if (kind[colon] != ':' ||
		    (strncmp(kind, "malloc", 6) == 0 && asan))
			continue;
		kind[strcspn(kind, "=")] = '.';
		kind[colon] = '=';
		kind[colon + 1] = '\0';
		const char *at = strstr(report, kind);
		if (at == NULL || atol(at + strlen(kind)) == 0)
			return t_note("the shim never injected %.*s: %s",
				      (int)colon, kind, escs(report));
	}
	return true;
}

/* --------------------------------------------------------------- cases -- */

static const struct fcase {
	const char *name;
	const char *faults;
	bool may_close;		/* a fault may cost a client its connection */
	bool only_malloc;	/* nothing to test without malloc faults */
	int interval;		/* the streams' (default 25 ms) */
	unsigned weight[K_KINDS];	/* the mix (default: one of each) */
} fcases[] = {
	{ .name = "write",
	  .faults = "seed=1,write=short:40,write=eagain:15,write=eintr:5" },
	{ .name = "read",
	  .faults = "seed=2,read=one:40,read=eagain:10,read=eintr:10" },
	{ .name = "accept", .faults = "seed=3,accept=econnaborted:30,"
	  "accept=enomem:5,accept=enobufs:5" },
	{ .name = "accept-emfile", .may_close = true,
	  .faults = "seed=4,accept=emfile:20,accept=enfile:10" },
	{ .name = "malloc", .may_close = true, .only_malloc = true,
	  .faults = "seed=5,malloc=null:15,write=short:30" },
	{ .name = "epoll", .may_close = true,
	  .faults = "seed=6,epoll_wait=eintr:20,epoll_ctl=fail:5" },
	{ .name = "timerfd", .faults = "seed=7,timerfd=fail:20" },
	{ .name = "all", .may_close = true, .faults = "seed=8,write=short:20,"
	  "write=eagain:5,write=eintr:2,read=one:20,read=eagain:5,"
	  "read=eintr:5,accept=econnaborted:5,accept=emfile:5,accept=enfile:2,"
	  "accept=enomem:5,accept=enobufs:5,malloc=null:15,epoll_wait=eintr:10,"
	  "epoll_ctl=fail:2,timerfd=fail:10" },
	{ .name = "drop-tail", .faults = "seed=10,write=eagain:90",
	  .interval = 1, .weight = { [K_DROP] = 1 } },
};

static const struct fcase *the_case;

static void run_case(void)
{
	const struct fcase *fc = the_case;
	char name[128], line[2048];
	static char err[65536];
	struct server s;
	struct churn_stats st0, st1;
	struct churn ch = {
		.interval = 25, .slots = 12, .limit = 96, .client_ms = 15000,
		.weight = { 1, 1, 1, 1, 1, 1, 1, 1 },
	};

	if (fc->interval != 0)
		ch.interval = fc->interval;
	for (int k = 0; k < K_KINDS; k++)
		if (fc->weight[k] != 0)
			memcpy(ch.weight, fc->weight, sizeof ch.weight);
	snprintf(name, sizeof name, "syscall-faults/%s", fc->name);
	if (!churn_server_start(&s, sse, SERVER_ARGS, shim, fc->faults))
		goto out;
	int idle = churn_idle_fds(&s);
	if (idle < 0 || !churn_stats_get(s.port, &st0, mono_ms() + 10000))
		goto out;
	ch.port = s.port;
	churn_run(&ch, mono_ms() + 60000);
	churn_describe(&ch, line, sizeof line);
	fprintf(stderr, "%s: %s\n", name, line);
	long exact = churn_total(&ch, O_EXACT);
	if (ch.first_bad[0] != '\0') {
		t_note("%s", ch.first_bad);
		goto out;
	}
	if (!fc->may_close && exact != ch.started) {
		t_note("only %ld of %ld clients were exact; %s", exact,
		       ch.started, line);
		goto out;
	}
	if (exact * 2 < ch.started) {
		t_note("only %ld of %ld clients were exact; %s", exact,
		       ch.started, line);
		goto out;
	}
	if (!churn_fds_become(s.pid, idle, mono_ms() + 10000) || !churn_sleeps(s.pid))
		goto out;
	if (!churn_stats_get(s.port, &st1, mono_ms() + 10000) ||
	    !churn_counters_ok(&ch, &st0, &st1, !fc->may_close))
		goto out;
	int code = churn_server_stop(&s, err, sizeof err);
	if (code != 0)
		t_note("the server ended with %d on SIGTERM; its stderr: %s",
		       code, escs(err));
	else
		faults_happened(fc->faults, err);
	const char *report = strstr(err, "faultshim:");
	if (report != NULL)
		fprintf(stderr, "%s: %.*s\n", name, (int)strcspn(report, "\n"),
			report);
out:
	if (s.pid > 0) {
		int code = churn_server_stop(&s, err, sizeof err);

		if (code != 0 && !t_noted())
			t_note("the server ended with %d", code);
		else if (code != 0)
			t_prefix("(the server then ended with %d; stderr: %s) ",
				 code, escs(err));
	}
	t_result(name, true);
}

/* accept4() failing with ENOMEM or ENOBUFS, every time, for 3 s: errors
 * that repeat until the system has memory again.  A server that tries
 * again at once spins on the listener, which stays readable; one that
 * pauses, as it does at EMFILE, sleeps, then serves the waiting client. */
static void test_accept_pause(void)
{
	static const char name[] = "syscall-faults/accept-pause";
	static const char faults[] =
		"seed=9,accept=enomem:50,accept=enobufs:50,for=3000";
	static const char req[] = "POST /api HTTP/1.1\r\nHost: t\r\n"
				  "Content-Length: 0\r\nConnection: close\r\n\r\n";
	static char err[65536];
	struct server s;
	struct client c = { .fd = -1 };
	struct response r = { 0 };

	if (!churn_server_start(&s, sse, SERVER_ARGS, shim, faults))
		goto out;
	int64_t t0 = mono_ms();
	if (client_open(&c, s.port) != 0 ||
	    client_send(&c, req, sizeof req - 1, 0, t0 + 2000) != 0)
		goto out;
	int64_t c0 = proc_cpu_ms(s.pid), w0 = mono_ms();
	poll(NULL, 0, (int)(t0 + 2500 - w0));
	int64_t used = proc_cpu_ms(s.pid) - c0, window = mono_ms() - w0;
	fprintf(stderr, "%s: %lld ms of CPU in %lld ms while accept4() "
		"failed\n", name, (long long)used, (long long)window);
	if (c0 < 0 || used * 10 > window) {
		t_note("the server spun: %lld ms of CPU in %lld ms while "
		       "accept4() failed with ENOMEM and ENOBUFS",
		       (long long)used, (long long)window);
		goto out;
	}
	if (client_read(&c, &r, t0 + 10000) != 0) {
		t_prefix("the client waiting through the failures: ");
		goto out;
	}
	if (r.status != 200)
		t_note("the waiting client got %s", escs(r.status_line));
	int code = churn_server_stop(&s, err, sizeof err);
	if (code != 0)
		t_note("the server ended with %d on SIGTERM; its stderr: %s",
		       code, escs(err));
	else
		faults_happened(faults, err);
out:
	client_close(&c);
	resp_free(&r);
	if (s.pid > 0)
		churn_server_stop(&s, err, sizeof err);
	t_result(name, true);
}

/* Paused, accepting resumes when its timer says so, even if epoll_ctl()
 * failed when it last tried: for 2.5 s half the accept4() calls fail with
 * ENOMEM (each pausing the listener) and half the epoll_ctl() calls fail
 * (a pause or a resume that does not happen, a newcomer that cannot be
 * watched and is closed); then a client must be served within 5 s,
 * trying again if its connection was closed.  Four seeds, four servers,
 * one after the other: each is a different sequence of failures. */
static void test_accept_resume(void)
{
	static const char name[] = "syscall-faults/accept-resume";
	static const char req[] = "POST /api HTTP/1.1\r\nHost: t\r\n"
				  "Content-Length: 0\r\nConnection: close\r\n\r\n";
	static char err[65536];

	for (int seed = 1; seed <= 4 && !t_noted(); seed++) {
		char faults[128];
		struct server s;
		int64_t t0, served = -1;

		snprintf(faults, sizeof faults, "seed=%d,accept=enomem:50,"
			 "epoll_ctl=fail:50,for=2500", seed);
		if (!churn_server_start(&s, sse, SERVER_ARGS, shim, faults))
			break;
		t0 = mono_ms();
		while (served < 0 && mono_ms() < t0 + 7500) {
			struct client c = { .fd = -1 };
			struct response r = { 0 };

			if (client_open(&c, s.port) == 0 &&
			    client_send(&c, req, sizeof req - 1, 0,
					t0 + 7500) == 0 &&
			    client_read(&c, &r, t0 + 7500) == 0 &&
			    r.status == 200)
				served = mono_ms() - t0;
			t_clear();	/* a closed connection: try again */
			client_close(&c);
			resp_free(&r);
		}
		fprintf(stderr, "%s: seed %d: %s %lld ms\n", name, seed,
			served >= 0 ? "served after" : "not served in",
			(long long)(served >= 0 ? served : mono_ms() - t0));
		int code = churn_server_stop(&s, err, sizeof err);
		if (served < 0)
			t_note("%s: no client served 7.5 s after the start, "
			       "5 s after the faults ended", faults);
		else if (code != 0)
			t_note("%s: the server ended with %d on SIGTERM; its "
			       "stderr: %s", faults, code, escs(err));
	}
	t_result(name, true);
}

/* --------------------------------------------------------------- main -- */

/* Is the file at path built with AddressSanitizer? */
static bool built_with_asan(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	static char buf[1 << 16];
	bool found = false;
	size_t keep = 0;
	ssize_t n;

	if (fd < 0)
		return false;
	while (!found && (n = read(fd, buf + keep, sizeof buf - keep)) > 0) {
		size_t len = keep + (size_t)n;

		found = memmem(buf, len, "__asan_init", 11) != NULL;
		keep = len < 16 ? len : 16;
		memmove(buf, buf + len - keep, keep);
	}
	close(fd);
	return found;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s PATH-TO-SSE [CASE]\n", argv[0]);
		return 2;
	}
	sse = argv[1];
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	/* The shim lies beside this program; LD_PRELOAD wants its whole
	 * path, as the server may run elsewhere. */
	const char *slash = strrchr(argv[0], '/');
	char rel[4096];
	snprintf(rel, sizeof rel, "%.*sfaultshim.so",
		 slash ? (int)(slash - argv[0] + 1) : 0, argv[0]);
	if (realpath(rel, shim) == NULL)
		snprintf(shim, sizeof shim, "%s", rel);
	if (access(shim, R_OK) != 0) {
		printf("FAIL syscall-faults: no %s (make tests builds it)\n",
		       shim);
		return 1;
	}
	asan = built_with_asan(sse);
	for (size_t i = 0; i < sizeof fcases / sizeof fcases[0]; i++) {
		if (argc == 3 && strcmp(argv[2], fcases[i].name) != 0)
			continue;
		if (fcases[i].only_malloc && asan)
			continue;	/* see "malloc" above */
		the_case = &fcases[i];
		run_in_child(fcases[i].name, run_case);
	}
	if (argc < 3 || strcmp(argv[2], "accept-pause") == 0)
		run_in_child("accept-pause", test_accept_pause);
	if (argc < 3 || strcmp(argv[2], "accept-resume") == 0)
		run_in_child("accept-resume", test_accept_resume);
	collect_children(mono_ms() + 240000);
	return t_failed > 0 ? 1 : 0;
}
