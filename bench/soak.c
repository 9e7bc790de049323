/* soak.c - the server under hours of churn: does anything pile up?
 *
 * usage: bench/soak [-d SECONDS] [-c CLIENTS] [-i MS] [--faults SPEC]
 *                   [--check] [PATH-TO-SSE]
 *
 * Starts the server (./sse by default) on a free port of 127.0.0.1 and
 * keeps CLIENTS connections (default 50) busy for SECONDS (default 600)
 * with the mix of tests/churn.h: streams of both routes that complete,
 * streams the client resets, requests and streams the client half-closes,
 * drop= streams the server resets, plain and pipelined requests.  Each
 * client checks every byte it gets.  Completing streams send 3 events MS
 * apart (default 20).  With --faults the server runs with
 * tests/faultshim.so preloaded and SSE_FAULTS=SPEC (see faultshim.c).
 *
 * Every minute it prints a line with the clients so far and the server's
 * RSS and descriptors.  At the end, once the last client is gone, it
 * prints the server's RSS and descriptors against their idle values (and
 * RSS against its value after the first tenth of the run, the warm-up,
 * by when the buffer pool and the heap have grown to the load), the
 * server's CPU time, and /stats beside the sums the clients' outcomes
 * predict.
 *
 * With --check it also prints one line per invariant for test.sh, and
 * exits 1 on a FAIL: every client exact (with --faults: exact or closed,
 * never wrong or hung); descriptors back to idle; RSS at the end within
 * 1 MiB of the warm-up's; the idle server asleep; /stats adding up.  It
 * judges no speed.  ./test.sh runs `bench/soak -d 30 -c 16 --check`.
 */
#include "testlib.h"
#include "churn.h"

#define MIB_KIB 1024

static void usage(FILE *f)
{
	fprintf(f, "usage: bench/soak [-d SECONDS] [-c CLIENTS] [-i MS] "
		"[--faults SPEC] [--check] [PATH-TO-SSE]\n");
}

struct soak {
	const char *sse;
	long seconds;
	int clients, interval;
	const char *faults;
	bool check;
	char shim[4096];
};

static void args(struct soak *k, int argc, char **argv)
{
	*k = (struct soak){ .sse = "./sse", .seconds = 600, .clients = 50,
			    .interval = 20 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool value = i + 1 < argc;

		if (strcmp(a, "-d") == 0 && value)
			k->seconds = atol(argv[++i]);
		else if (strcmp(a, "-c") == 0 && value)
			k->clients = atoi(argv[++i]);
		else if (strcmp(a, "-i") == 0 && value)
			k->interval = atoi(argv[++i]);
		else if (strcmp(a, "--faults") == 0 && value)
			k->faults = argv[++i];
		else if (strcmp(a, "--check") == 0)
			k->check = true;
		else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
			usage(stdout), exit(0);
		else if (a[0] != '-' && i == argc - 1)
			k->sse = a;
		else
			usage(stderr), exit(2);
	}
	if (k->seconds < 5 || k->clients < 1 || k->clients > 5000 ||
	    k->interval < 1 || k->interval > 1000) {
		fprintf(stderr, "bench/soak: -d is at least 5, -c 1 to 5000, "
			"-i 1 to 1000\n");
		exit(2);
	}
	/* The shim is built beside the tests: ../tests/ from here. */
	const char *slash = strrchr(argv[0], '/');
	char rel[4096];
	snprintf(rel, sizeof rel, "%.*s../tests/faultshim.so",
		 slash ? (int)(slash - argv[0] + 1) : 0, argv[0]);
	if (k->faults != NULL && realpath(rel, k->shim) == NULL) {
		fprintf(stderr, "bench/soak: no %s (make tests builds it)\n",
			rel);
		exit(2);
	}
}

/* One verdict line with --check; the reason goes with a FAIL. */
static bool verdict(const struct soak *k, const char *name, bool ok)
{
	if (k->check)
		return t_result(name, ok);
	if (!ok || t_noted())
		printf("soak: %s: %s\n", name, t_noted() ? t_why : "failed");
	t_clear();
	return ok;
}

int main(int argc, char **argv)
{
	struct soak k;
	struct server s;
	struct churn_stats st0, st1, want;
	static char err[65536], line[2048];
	const char *const server_args[] = { "-b", "127.0.0.1", "-p", "0", "-q",
					    NULL };

	args(&k, argc, argv);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!churn_server_start(&s, k.sse, server_args,
				k.faults ? k.shim : NULL, k.faults)) {
		printf("FAIL soak: %s\n", t_why);
		return 1;
	}
	int idle_fds = churn_idle_fds(&s);
	long idle_rss = proc_rss_kib(s.pid);
	if (idle_fds < 0 || !churn_stats_get(s.port, &st0, mono_ms() + 10000)) {
		printf("FAIL soak: %s\n", t_why);
		churn_server_stop(&s, err, sizeof err);
		return 1;
	}
	printf("soak: %s, port %d, %ld s, %d clients at once, events %d ms "
	       "apart%s%s\n", k.sse, s.port, k.seconds, k.clients, k.interval,
	       k.faults ? ", faults " : "", k.faults ? k.faults : "");
	printf("soak: idle: RSS %ld KiB, %d descriptors\n", idle_rss,
	       idle_fds);

	struct churn ch = {
		.port = s.port, .interval = k.interval, .slots = k.clients,
		.client_ms = 20000,
		.weight = { 3, 2, 3, 2, 2, 2, 1, 1 },
	};
	int64_t t0 = mono_ms(), end = t0 + k.seconds * 1000;
	int64_t warm_end = t0 + k.seconds * 100, next = t0;
	long warm_rss = -1;
	int64_t cpu0 = proc_cpu_ms(s.pid);

	/* In slices: the warm-up, then a minute at a time, with a line
	 * after each.  Between two slices the last clients end, so each
	 * line's RSS and descriptors are those of a server between two
	 * waves of clients. */
	while (mono_ms() < end) {
		bool warming = warm_rss < 0;

		next = warming ? warm_end : next + 60000;
		if (next > end)
			next = end;
		ch.until = next;
		churn_run(&ch, next + 60000);
		long rss = proc_rss_kib(s.pid);
		if (warm_rss < 0)
			warm_rss = rss;
		printf("soak: %4lld s: %ld clients, %ld wrong or hung; server "
		       "RSS %ld KiB, %d descriptors%s\n",
		       (long long)((mono_ms() - t0) / 1000), ch.started,
		       churn_total(&ch, O_WRONG) + churn_total(&ch, O_HUNG),
		       rss, fd_count(s.pid),
		       warming ? " (the warm-up)" : "");
		if (ch.first_bad[0] != '\0')
			break;
	}
	int64_t cpu = proc_cpu_ms(s.pid) - cpu0;

	churn_describe(&ch, line, sizeof line);
	printf("soak: %s\n", line);
	long bad = churn_total(&ch, O_WRONG) + churn_total(&ch, O_HUNG);
	long exact = churn_total(&ch, O_EXACT);
	if (bad != 0)
		t_note("%ld clients wrong or hung; %s", bad, ch.first_bad);
	else if (k.faults == NULL && exact != ch.started)
		t_note("%ld of %ld clients were cut short without faults",
		       ch.started - exact, ch.started);
	verdict(&k, "soak/bytes", true);

	bool fds_back = churn_fds_become(s.pid, idle_fds, mono_ms() + 10000);
	int end_fds = fd_count(s.pid);
	long end_rss = proc_rss_kib(s.pid);
	printf("soak: end: RSS %ld KiB (idle %ld, after the warm-up %ld: "
	       "%+ld KiB since), %d descriptors (idle %d); server CPU %.1f s "
	       "in %.0f s\n", end_rss, idle_rss, warm_rss, end_rss - warm_rss,
	       end_fds, idle_fds, cpu / 1000.0, (mono_ms() - t0) / 1000.0);
	verdict(&k, "soak/descriptors", fds_back);
	if (end_rss < 0 || end_rss - warm_rss > MIB_KIB)
		t_note("RSS grew by %ld KiB after the warm-up (at most %d)",
		       end_rss - warm_rss, MIB_KIB);
	verdict(&k, "soak/memory", true);
	verdict(&k, "soak/asleep", churn_sleeps(s.pid));

	bool got = churn_stats_get(s.port, &st1, mono_ms() + 10000);
	churn_expect(&ch, 1, &want);
	want.responses = want.ok200 = want.requests;	/* the GET before */
	if (got) {
#define SUM(f) (st1.f - st0.f)
		printf("soak: /stats: requests %lld (the clients' sum %lld), "
		       "responses %lld (%lld), streams completed %lld (%lld), "
		       "aborted %lld (%lld), dropped %lld (%lld), stalled "
		       "%lld, events %lld (%lld), accepted %lld (%lld), shed "
		       "%lld; open now: %lld connections, %lld streams\n",
		       SUM(requests), want.requests, SUM(responses),
		       want.responses, SUM(completed), want.completed,
		       SUM(aborted), want.aborted, SUM(dropped), want.dropped,
		       SUM(stalled), SUM(events), want.events, SUM(accepted),
		       want.accepted, SUM(shed), st1.connections, st1.streams);
#undef SUM
		churn_counters_ok(&ch, &st0, &st1, k.faults == NULL);
	}
	verdict(&k, "soak/counters", got);

	int code = churn_server_stop(&s, err, sizeof err);
	if (code != 0)
		t_note("the server ended with %d on SIGTERM; its stderr: %s",
		       code, escs(err));
	verdict(&k, "soak/exit", code == 0);
	const char *report = strstr(err, "faultshim:");
	if (report != NULL)
		printf("soak: %.*s\n", (int)strcspn(report, "\n"), report);
	return k.check && t_failed > 0 ? 1 : 0;
}
