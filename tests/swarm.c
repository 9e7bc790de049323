/* swarm.c - a thousand streams at once, from one client process.
 *
 * Usage: tests/swarm [PATH-TO-SSE]		(default ./sse)
 *
 * The server promises thousands of concurrent streams in one thread
 * (docs/protocol.md section 5).  This starts it with five events 200 ms
 * apart, opens 1,000 non-blocking connections, sends `POST /api` with
 * `{"stream":true}` on each, and reads them all on one poll() loop.  Every
 * stream must arrive whole: status 200, `:ok`, five events and `:done`,
 * each in its own chunk, then the zero-size chunk; all within 30 s.  The
 * client's own descriptor limit is raised first, and the case is skipped
 * when the hard limit is too low for it.
 *
 * It prints one case line, and on stderr how long the swarm took and how
 * late the last events came.
 */
#include "testlib.h"

#define CLIENTS 1000
#define EVENTS 5
#define INTERVAL_MS 200
#define DEADLINE_MS 30000
#define NAME "swarm/1000-streams"

static const char request[] =
	"POST /api HTTP/1.1\r\nHost: t\r\n"
	"Content-Type: application/json\r\nContent-Length: 15\r\n\r\n"
	"{\"stream\":true}";

/* Is one client's exchange a whole stream?  Notes the first difference. */
static bool stream_whole(const struct xfer *x)
{
	const struct response *r = &x->r;

	if (x->err[0] != '\0')
		return t_note("%s", x->err);
	if (strcmp(r->status_line, "HTTP/1.1 200 OK") != 0)
		return t_note("status line %s, expected HTTP/1.1 200 OK",
			      escs(r->status_line));
	if (!stream_chunks_ok(r, EVENTS))
		return false;
	if (!glob(stream_glob(EVENTS), r->body, r->body_len))
		return t_note("body %s", esc(r->body, r->body_len));
	return true;
}

/* Checks every client, counts the broken ones and keeps the first one's
 * note; prints on stderr how late the last events arrived. */
static int check_all(const struct xfer *x, int n)
{
	char first[sizeof t_why] = "";
	int broken = 0, first_i = -1;
	int64_t worst = 0, sum = 0;

	for (int i = 0; i < n; i++) {
		if (!stream_whole(&x[i])) {
			if (broken++ == 0) {
				first_i = i;
				memcpy(first, t_why, sizeof first);
			}
			t_clear();
			continue;
		}
		int64_t late = x[i].r.ch[EVENTS].mono_ms - x[i].sent_ms -
			       EVENTS * INTERVAL_MS;
		worst = late > worst ? late : worst;
		sum += late;
	}
	if (broken < n)
		fprintf(stderr, "swarm: event %d came %lld ms late on average, "
			"%lld ms at worst\n", EVENTS,
			(long long)(sum / (n - broken)), (long long)worst);
	if (broken > 0)
		t_note("%d of %d streams broken; the first, #%d: %s", broken,
		       n, first_i, first);
	return broken;
}

int main(int argc, char **argv)
{
	const char *sse = argc > 1 ? argv[1] : "./sse";
	static const char *const args[] = { "-b", "127.0.0.1", "-p", "0",
					    "-q", "-i", "200", "-n", "5",
					    NULL };
	struct server s;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	long limit = raise_nofile();
	if (limit < CLIENTS + 64) {
		char why[128];

		snprintf(why, sizeof why, "the descriptor limit is %ld, below "
			 "the %d this needs", limit, CLIENTS + 64);
		t_skip(NAME, why);
		return 0;
	}
	if (server_start(&s, sse, args) != 0) {
		t_result(NAME, false);
		return 1;
	}

	struct xfer *x = calloc(CLIENTS, sizeof *x);
	for (int i = 0; i < CLIENTS; i++)
		x[i] = (struct xfer){ .out = request,
				      .out_len = sizeof request - 1 };
	int64_t start = mono_ms();
	xfer_run(x, CLIENTS, s.port, start + DEADLINE_MS);
	fprintf(stderr, "swarm: %d streams in %lld ms\n", CLIENTS,
		(long long)(mono_ms() - start));
	check_all(x, CLIENTS);
	for (int i = 0; i < CLIENTS; i++)
		xfer_free(&x[i]);
	free(x);

	int code = server_stop(&s, 3000);
	if (code < 0)
		t_note("the server did not exit within 3 s of SIGTERM");
	else if (code != 0)
		t_note("the server's exit status was %d, expected 0", code);
	return t_result(NAME, true) ? 0 : 1;
}
