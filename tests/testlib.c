/* testlib.c - the live-server tests' shared parts; testlib.h says what
 * each does and who owns what.  Only the helpers of the response reader
 * and of xfer_run() are private to this file. */
#include "testlib.h"

/* ------------------------------------------------------------ clocks -- */

static int64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

int64_t wall_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

int ms_until(int64_t deadline)
{
	int64_t left = deadline - mono_ms();

	if (left < 0)
		return 0;
	return left > 60000 ? 60000 : (int)left;
}

int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		int n = poll(&p, 1, ms_until(deadline));

		if (n > 0)
			return p.revents;
		if (n == 0 && mono_ms() >= deadline)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1;
	}
}

/* --------------------------------------------------------- reporting -- */

int t_passed, t_failed, t_skipped;
char t_why[T_WHY_CAP];

bool t_note(const char *fmt, ...)
{
	va_list ap;

	if (t_why[0] != '\0')
		return false;
	va_start(ap, fmt);
	vsnprintf(t_why, sizeof t_why, fmt, ap);
	va_end(ap);
	if (t_why[0] == '\0')
		strcpy(t_why, "failed");
	return false;
}

bool t_noted(void)
{
	return t_why[0] != '\0';
}

bool t_result(const char *name, bool ok)
{
	bool passed = ok && !t_noted();

	if (passed) {
		printf("pass %s\n", name);
		t_passed++;
	} else {
		for (char *p = t_why; *p != '\0'; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
		printf("FAIL %s: %s\n", name, t_noted() ? t_why : "failed");
		t_failed++;
	}
	t_why[0] = '\0';
	fflush(stdout);
	return passed;
}

void t_prefix(const char *fmt, ...)
{
	char pre[1024];
	va_list ap;

	if (!t_noted())
		return;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof pre, fmt, ap);
	va_end(ap);
	size_t n = strlen(pre), len = strlen(t_why);
	if (n + len >= sizeof t_why)
		len = sizeof t_why - 1 - n;
	memmove(t_why + n, t_why, len);
	memcpy(t_why, pre, n);
	t_why[n + len] = '\0';
}

void t_clear(void)
{
	t_why[0] = '\0';
}

void t_skip(const char *name, const char *why)
{
	printf("skip %s: %s\n", name, why);
	fflush(stdout);
	t_skipped++;
	t_why[0] = '\0';
}

/* ------------------------------------------------------------- bytes -- */

const char *esc(const char *p, size_t n)
{
	static char bufs[8][1800];
	static unsigned next;
	char *b = bufs[next++ % 8], *o = b;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (n > 400 && i == 200) {
			o += sprintf(o, "...(%zu bytes)...", n - 400);
			i = n - 200;
			ch = (unsigned char)p[i];
		}
		switch (ch) {
		case '\r': *o++ = '\\'; *o++ = 'r'; break;
		case '\n': *o++ = '\\'; *o++ = 'n'; break;
		case '\t': *o++ = '\\'; *o++ = 't'; break;
		case '\\': *o++ = '\\'; *o++ = '\\'; break;
		case '"':  *o++ = '\\'; *o++ = '"'; break;
		default:
			if (ch >= 0x20 && ch < 0x7f)
				*o++ = (char)ch;
			else
				o += sprintf(o, "\\x%02x", ch);
		}
	}
	*o = '\0';
	return b;
}

const char *escs(const char *s)
{
	return s == NULL ? "(none)" : esc(s, strlen(s));
}

bool glob(const char *pat, const char *s, size_t n)
{
	for (; *pat != '\0'; pat++) {
		if (*pat == '*') {
			for (size_t k = 0; k <= n; k++)
				if (glob(pat + 1, s + k, n - k))
					return true;
			return false;
		}
		if (*pat == '#') {
			size_t k = 0;

			while (k < n && isdigit((unsigned char)s[k]))
				k++;
			if (k == 0)
				return false;
			s += k;
			n -= k;
			continue;
		}
		if (n == 0 || *s != *pat)
			return false;
		s++;
		n--;
	}
	return n == 0;
}

/* --------------------------------------------------------- processes -- */

long raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	return (long)rl.rlim_cur;
}

/* Starts argv[0] with stdin, stdout and stderr on the given descriptors
 * (-1: /dev/null).  The child dies with its parent, so a
 * test that crashes leaves no server behind, and it gets SIGPIPE back at
 * its default, since ignoring it would hide a server that does not.
 * Returns the pid, or -1. */
static pid_t spawn(char *const argv[], int in_fd, int out_fd, int err_fd)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	signal(SIGPIPE, SIG_DFL);
	int null = open("/dev/null", O_RDWR);
	dup2(in_fd >= 0 ? in_fd : null, 0);
	dup2(out_fd >= 0 ? out_fd : null, 1);
	dup2(err_fd >= 0 ? err_fd : null, 2);
	if (null > 2)
		close(null);
	execv(argv[0], argv);
	fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* A wait status as a number: the exit status, or 128 + the signal. */
static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

/* Reads once from a ready pipe into buf (*len bytes so far, at most
 * cap - 1 kept, NUL-terminated); with buf NULL, or full, the bytes are
 * dropped.  At the end of the pipe it sets *fd to -1 (the caller still
 * holds the descriptor and closes it). */
static void drain_pipe(int *fd, char *buf, size_t *len, size_t cap)
{
	char junk[4096];
	char *to = junk;
	size_t room = sizeof junk;

	if (buf != NULL && *len + 1 < cap) {
		to = buf + *len;
		room = cap - 1 - *len;
	}
	ssize_t got = read(*fd, to, room);
	if (got <= 0) {
		*fd = -1;
	} else if (to != junk) {
		*len += (size_t)got;
		buf[*len] = '\0';
	}
}

/* Waits for pid to end, meanwhile reading whatever arrives on the
 * descriptors in fds (n of them, -1 to skip) into the matching buffers,
 * each cap bytes (the rest is read and dropped).  The pipes must be read
 * even when nobody wants their bytes: a child blocked on a full pipe never
 * ends.  Returns the exit code, or -1 at the deadline (pid still runs). */
int wait_child(pid_t pid, int fds[], char *bufs[], size_t lens[],
	       size_t cap, int n, int64_t deadline)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int status;
	bool ended = false;

	if (pidfd < 0)
		return -1;
	while (!ended) {
		struct pollfd p[4] = { { .fd = pidfd, .events = POLLIN } };

		for (int i = 0; i < n; i++)
			p[i + 1] = (struct pollfd){ .fd = fds[i],
						    .events = POLLIN };
		int ready = poll(p, (nfds_t)n + 1, ms_until(deadline));
		if (ready < 0 && errno != EINTR)
			break;
		if (ready == 0 && mono_ms() >= deadline) {
			close(pidfd);
			return -1;
		}
		/* A process closes its descriptors before its parent hears
		 * that it ended: once pidfd is readable, all it wrote is in
		 * the pipes, and one more round without waiting drains them.
		 */
		ended = p[0].revents & POLLIN;
		for (int i = 0; i < n; i++)
			if (p[i + 1].revents != 0)
				drain_pipe(&fds[i], bufs ? bufs[i] : NULL,
					   lens ? &lens[i] : NULL, cap);
		for (int i = 0; ended && i < n; i++)
			while (fds[i] >= 0 && wait_fd(fds[i], POLLIN, 0) > 0)
				drain_pipe(&fds[i], bufs ? bufs[i] : NULL,
					   lens ? &lens[i] : NULL, cap);
	}
	close(pidfd);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return exit_code(status);
}

int run_capture(char *const argv[], char *out, char *err, size_t cap,
		       int64_t deadline)
{
	int po[2], pe[2];

	out[0] = err[0] = '\0';
	if (pipe2(po, O_CLOEXEC) != 0)
		return -1;
	if (pipe2(pe, O_CLOEXEC) != 0) {
		close(po[0]);
		close(po[1]);
		return -1;
	}
	pid_t pid = spawn(argv, -1, po[1], pe[1]);
	close(po[1]);
	close(pe[1]);
	if (pid < 0) {
		close(po[0]);
		close(pe[0]);
		return -1;
	}
	int fds[2] = { po[0], pe[0] };
	char *bufs[2] = { out, err };
	size_t lens[2] = { 0, 0 };
	int code = wait_child(pid, fds, bufs, lens, cap, 2, deadline);
	if (code < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	close(po[0]);
	close(pe[0]);
	return code;
}

int server_line(struct server *s, char *line, size_t cap,
		       int64_t deadline)
{
	for (;;) {
		char *nl = memchr(s->err, '\n', s->err_len);

		if (nl != NULL || s->err_len == sizeof s->err) {
			size_t n = nl != NULL ? (size_t)(nl - s->err)
					      : s->err_len;
			size_t used = nl != NULL ? n + 1 : n;

			if (n >= cap)
				n = cap - 1;
			memcpy(line, s->err, n);
			line[n] = '\0';
			s->err_len -= used;
			memmove(s->err, s->err + used, s->err_len);
			return 1;
		}
		if (s->err_fd < 0)
			return 0;
		int ev = wait_fd(s->err_fd, POLLIN, deadline);
		if (ev == 0)
			return -1;
		ssize_t got = read(s->err_fd, s->err + s->err_len,
				   sizeof s->err - s->err_len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			close(s->err_fd);
			s->err_fd = -1;
			if (s->err_len == 0)
				return 0;
			s->err[s->err_len++] = '\n';
		} else {
			s->err_len += (size_t)got;
		}
	}
}

int server_start(struct server *s, const char *bin,
			const char *const args[])
{
	return server_start_stdin(s, bin, args, -1);
}

int server_start_stdin(struct server *s, const char *bin,
		       const char *const args[], int in_fd)
{
	char *argv[32];
	int n = 0, pe[2];
	int64_t deadline = mono_ms() + 5000;
	char line[512] = "(none)";

	memset(s, 0, sizeof *s);
	s->pid = -1;
	s->err_fd = -1;
	argv[n++] = (char *)bin;
	for (int i = 0; args[i] != NULL && n < 31; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	if (pipe2(pe, O_CLOEXEC) != 0)
		return t_note("pipe: %s", strerror(errno)), -1;
	s->pid = spawn(argv, in_fd, -1, pe[1]);
	close(pe[1]);
	s->err_fd = pe[0];
	if (s->pid < 0)
		return t_note("fork: %s", strerror(errno)), -1;
	for (;;) {
		int got = server_line(s, line, sizeof line, deadline);

		if (got == 1 && strncmp(line, "sse: listening on ", 18) == 0)
			break;
		if (got == 1)
			continue;
		t_note("%s did not print `sse: listening on ADDR:PORT` "
		       "(%s); last stderr line: %s", bin,
		       got == 0 ? "it closed stderr" : "5 s passed",
		       escs(line));
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		close(s->err_fd);
		s->pid = -1;
		return -1;
	}
	snprintf(s->first, sizeof s->first, "%s", line);
	char *colon = strrchr(line, ':');
	s->port = atoi(colon + 1);
	if (s->port <= 0 || s->port > 65535) {
		t_note("no port in %s", escs(line));
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		close(s->err_fd);
		s->pid = -1;
		return -1;
	}
	return 0;
}

int server_wait(struct server *s, int wait_ms)
{
	if (s->pid <= 0)
		return -1;
	int fd = s->err_fd;
	int code = wait_child(s->pid, &fd, NULL, NULL, 0, 1,
			      mono_ms() + wait_ms);
	if (code < 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
	}
	if (s->err_fd >= 0)
		close(s->err_fd);
	s->err_fd = -1;
	s->pid = -1;
	return code;
}

int server_stop(struct server *s, int wait_ms)
{
	if (s->pid > 0)
		kill(s->pid, SIGTERM);
	return server_wait(s, wait_ms);
}

int fd_count(pid_t pid)
{
	char path[64];
	int n = 0;

	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (d == NULL)
		return -1;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

int64_t proc_cpu_ms(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long utime, stime;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* After the command name in parentheses: state (field 3) and on;
	 * utime and stime are fields 14 and 15. */
	char *p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u "
				"%*u %*u %llu %llu", &utime, &stime) != 2)
		return -1;
	return (int64_t)((utime + stime) * 1000 /
			 (unsigned long long)sysconf(_SC_CLK_TCK));
}

long proc_rss_kib(pid_t pid)
{
	char path[64], buf[4096];
	long kib = -1;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	const char *p = strstr(buf, "VmRSS:");
	if (p != NULL)
		kib = strtol(p + 6, NULL, 10);
	return kib;
}

/* The test processes run_in_child() started, for collect_children(). */
struct child {
	const char *name;
	pid_t pid;
	int fd;		/* the child's counts arrive here, then EOF */
};

static struct child children[16];
static int nchildren;

void run_in_child(const char *name, void (*fn)(void))
{
	int p[2];

	fflush(stdout);
	if (nchildren == (int)(sizeof children / sizeof children[0])) {
		t_note("more than %d test processes", nchildren);
		t_result(name, false);
		return;
	}
	if (pipe2(p, O_CLOEXEC) != 0) {
		t_note("pipe: %s", strerror(errno));
		t_result(name, false);
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(p[0]);
		t_passed = t_failed = t_skipped = 0;
		fn();
		fflush(stdout);
		dprintf(p[1], "%d %d %d\n", t_passed, t_failed, t_skipped);
		_exit(0);
	}
	close(p[1]);
	children[nchildren++] = (struct child){ name, pid, p[0] };
}

void collect_children(int64_t deadline)
{
	for (int i = 0; i < nchildren; i++) {
		struct child *ch = &children[i];
		char buf[64] = "";
		int p = 0, f = 0, s = 0;
		ssize_t got = 0;

		if (wait_fd(ch->fd, POLLIN, deadline) > 0)
			got = read(ch->fd, buf, sizeof buf - 1);
		if (got > 0 && sscanf(buf, "%d %d %d", &p, &f, &s) == 3) {
			t_passed += p;
			t_failed += f;
			t_skipped += s;
		} else {
			kill(ch->pid, SIGKILL);
			t_note("the test process %s", got == 0
			       ? "ended without its counts" : "hung");
			t_result(ch->name, false);
		}
		waitpid(ch->pid, NULL, 0);
		close(ch->fd);
	}
}

/* --------------------------------------------------------- responses -- */

void resp_init(struct response *r)
{
	free(r->body);
	memset(r, 0, sizeof *r);
}

void resp_free(struct response *r)
{
	free(r->body);
	r->body = NULL;
}

const char *resp_header(const struct response *r, const char *name)
{
	for (int i = 0; i < r->nh; i++)
		if (strcasecmp(r->h[i].name, name) == 0)
			return r->h[i].value;
	return NULL;
}

int resp_header_count(const struct response *r, const char *name)
{
	int n = 0;

	for (int i = 0; i < r->nh; i++)
		n += strcasecmp(r->h[i].name, name) == 0;
	return n;
}

static enum resp_state resp_bad(struct response *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->bad, sizeof r->bad, fmt, ap);
	va_end(ap);
	return r->state = RS_BAD;
}

static bool resp_append(struct response *r, const char *p, size_t n)
{
	if (r->body_len + n + 1 > r->body_cap) {
		size_t cap = r->body_cap ? r->body_cap : 1024;

		while (r->body_len + n + 1 > cap)
			cap *= 2;
		if (cap > RESP_BODY_MAX)
			return false;
		char *b = realloc(r->body, cap);
		if (b == NULL)
			return false;
		r->body = b;
		r->body_cap = cap;
	}
	memcpy(r->body + r->body_len, p, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return true;
}

static bool is_tchar(int ch)
{
	return isalnum(ch) || (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Parses one header line p[0..n) (no CRLF) into the next slot. */
static enum resp_state resp_header_line(struct response *r, const char *p,
					size_t n)
{
	const char *colon = memchr(p, ':', n);

	if (colon == NULL || colon == p)
		return resp_bad(r, "header line without a name and colon: %s",
				esc(p, n));
	for (const char *q = p; q < colon; q++)
		if (!is_tchar((unsigned char)*q))
			return resp_bad(r, "bad header name: %s", esc(p, n));
	for (const char *q = colon + 1; q < p + n; q++)
		if ((unsigned char)*q < 0x20 && *q != '\t')
			return resp_bad(r, "control byte in header: %s",
					esc(p, n));
	if (r->nh == RESP_HEADERS)
		return resp_bad(r, "more than %d headers", RESP_HEADERS);
	size_t len = (size_t)(colon - p);
	if (len >= sizeof r->h[0].name)
		return resp_bad(r, "header name too long: %s", esc(p, n));
	memcpy(r->h[r->nh].name, p, len);
	r->h[r->nh].name[len] = '\0';
	const char *v = colon + 1, *end = p + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	len = (size_t)(end - v);
	if (len >= sizeof r->h[0].value)
		len = sizeof r->h[0].value - 1;
	memcpy(r->h[r->nh].value, v, len);
	r->h[r->nh].value[len] = '\0';
	r->nh++;
	return r->state;
}

/* After the head: how the body is framed (RFC 9112 section 6.3). */
static enum resp_state resp_framing(struct response *r)
{
	const char *te = resp_header(r, "Transfer-Encoding");
	const char *cl = resp_header(r, "Content-Length");

	if (r->head_only || r->status / 100 == 1 || r->status == 204 ||
	    r->status == 304)
		return r->state = RS_DONE;
	if (te != NULL && cl != NULL)
		return resp_bad(r, "both Transfer-Encoding and Content-Length");
	if (te != NULL) {
		if (strcasecmp(te, "chunked") != 0)
			return resp_bad(r, "Transfer-Encoding: %s", escs(te));
		r->chunked = true;
		return r->state = RS_SIZE;
	}
	if (cl != NULL) {
		char *end;

		if (resp_header_count(r, "Content-Length") != 1 ||
		    !isdigit((unsigned char)cl[0]))
			return resp_bad(r, "bad Content-Length");
		r->left = strtoull(cl, &end, 10);
		if (*end != '\0' || r->left > RESP_BODY_MAX)
			return resp_bad(r, "bad Content-Length: %s", escs(cl));
		return r->state = r->left ? RS_LENGTH : RS_DONE;
	}
	return r->state = RS_CLOSE;
}

/* The reason phrase RFC 9110 section 15 (and RFC 6585 for 429 and 431)
 * gives a status, or NULL: written here apart from the server's table, so
 * that every answer a live test reads checks the server's. */
static const char *rfc_reason(int status)
{
	static const struct {
		int status;
		const char *reason;
	} rfc[] = {
		{ 100, "Continue" }, { 200, "OK" }, { 204, "No Content" },
		{ 400, "Bad Request" }, { 401, "Unauthorized" },
		{ 403, "Forbidden" }, { 404, "Not Found" },
		{ 405, "Method Not Allowed" }, { 406, "Not Acceptable" },
		{ 408, "Request Timeout" }, { 411, "Length Required" },
		{ 413, "Content Too Large" }, { 414, "URI Too Long" },
		{ 415, "Unsupported Media Type" },
		{ 417, "Expectation Failed" }, { 429, "Too Many Requests" },
		{ 431, "Request Header Fields Too Large" },
		{ 500, "Internal Server Error" }, { 501, "Not Implemented" },
		{ 503, "Service Unavailable" },
		{ 505, "HTTP Version Not Supported" },
	};

	for (size_t i = 0; i < sizeof rfc / sizeof rfc[0]; i++)
		if (rfc[i].status == status)
			return rfc[i].reason;
	return NULL;
}

/* Parses the head in in[pos..len) once its blank line has arrived. */
static enum resp_state resp_head(struct response *r, const char *in,
				 size_t len)
{
	const char *p = in + r->pos;
	size_t n = len - r->pos;
	const char *end = memmem(p, n, "\r\n\r\n", 4);

	if (end == NULL) {
		if (n > 65536)
			return resp_bad(r, "no end of head in 64 KiB");
		return r->state;
	}
	const char *line = p;
	const char *eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
	size_t sl = (size_t)(eol - line);
	snprintf(r->status_line, sizeof r->status_line, "%.*s", (int)sl, line);
	if (sl < 12 || memcmp(line, "HTTP/1.", 7) != 0 ||
	    !isdigit((unsigned char)line[7]) || line[8] != ' ' ||
	    !isdigit((unsigned char)line[9]) ||
	    !isdigit((unsigned char)line[10]) ||
	    !isdigit((unsigned char)line[11]) || (sl > 12 && line[12] != ' '))
		return resp_bad(r, "bad status line: %s", esc(line, sl));
	for (size_t i = 0; i < sl; i++)
		if (line[i] == '\r' || line[i] == '\n')
			return resp_bad(r, "bare CR or LF in: %s",
					esc(line, sl));
	r->status = atoi(line + 9);
	const char *reason = rfc_reason(r->status);
	if (reason == NULL || sl != 13 + strlen(reason) ||
	    memcmp(line + 13, reason, sl - 13) != 0)
		return resp_bad(r, "status line %s: RFC 9110's is \"%.12s %s\"",
				esc(line, sl), line, reason ? reason : "?");
	for (line = eol + 2; line < end + 2; line = eol + 2) {
		eol = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
		size_t n = (size_t)(eol - line);

		if (memchr(line, '\r', n) || memchr(line, '\n', n))
			return resp_bad(r, "bare CR or LF in: %s",
					esc(line, n));
		if (resp_header_line(r, line, n) == RS_BAD)
			return RS_BAD;
	}
	r->pos = (size_t)(end + 4 - in);
	return resp_framing(r);
}

/* Reads a CRLF-ended line at in[pos..len) into line; false until whole. */
static bool resp_crlf_line(struct response *r, const char *in, size_t len,
			   const char **line, size_t *n)
{
	const char *p = in + r->pos;
	const char *eol = memmem(p, len - r->pos, "\r\n", 2);

	if (eol == NULL)
		return false;
	*line = p;
	*n = (size_t)(eol - p);
	r->pos += *n + 2;
	r->wire_body += *n + 2;
	return true;
}

static enum resp_state resp_size_line(struct response *r, const char *in,
				      size_t len)
{
	const char *line;
	size_t n, i = 0;

	if (!resp_crlf_line(r, in, len, &line, &n))
		return len - r->pos > 100 ? resp_bad(r, "chunk-size line "
						     "longer than 100 bytes")
					  : r->state;
	r->left = 0;
	for (; i < n && i < 8 && isxdigit((unsigned char)line[i]); i++) {
		int ch = tolower((unsigned char)line[i]);

		r->left = r->left * 16 +
			  (uint64_t)(isdigit(ch) ? ch - '0' : ch - 'a' + 10);
	}
	if (i == 0 || i != n)
		return resp_bad(r, "bad chunk-size line: %s", esc(line, n));
	if (r->left == 0) {
		r->zero_chunk = true;
		return r->state = RS_TRAILER;
	}
	if (r->nch < RESP_CHUNKS)
		r->ch[r->nch].off = r->body_len;
	return r->state = RS_DATA;
}

/* Takes up to r->left body bytes from in[pos..len). */
static size_t resp_take(struct response *r, const char *in, size_t len)
{
	size_t n = len - r->pos;

	if (n > r->left)
		n = (size_t)r->left;
	if (!resp_append(r, in + r->pos, n)) {
		resp_bad(r, "body over %d bytes", RESP_BODY_MAX);
		return 0;
	}
	r->pos += n;
	r->wire_body += n;
	r->left -= n;
	return n;
}

/* A chunk's data is complete: it arrived at mono (wall). */
static void resp_chunk_end(struct response *r, int64_t mono, int64_t wall)
{
	if (r->nch < RESP_CHUNKS) {
		struct chunk *c = &r->ch[r->nch];

		c->len = r->body_len - c->off;
		c->mono_ms = mono;
		c->wall_ms = wall;
	}
	r->nch++;
	r->state = RS_DATA_END;
}

/* The CRLF after a chunk's data. */
static enum resp_state resp_data_crlf(struct response *r, const char *in,
				      size_t len)
{
	if (len - r->pos < 2)
		return r->state;
	if (memcmp(in + r->pos, "\r\n", 2) != 0)
		return resp_bad(r, "chunk data not followed by CRLF: %s",
				esc(in + r->pos, 2));
	r->pos += 2;
	r->wire_body += 2;
	return r->state = RS_SIZE;
}

enum resp_state resp_feed(struct response *r, const char *in,
				 size_t len, bool eof, int64_t mono,
				 int64_t wall)
{
	const char *line;
	size_t n;

	if (in == NULL)
		in = "";	/* nothing read yet */
	for (;;) {
		enum resp_state was = r->state;
		size_t at = r->pos;

		switch (r->state) {
		case RS_HEAD:
			if (resp_head(r, in, len) != RS_HEAD)
				r->head_ms = mono;
			break;
		case RS_LENGTH:
			resp_take(r, in, len);
			if (r->left == 0 && r->state != RS_BAD)
				r->state = RS_DONE;
			break;
		case RS_SIZE:
			resp_size_line(r, in, len);
			break;
		case RS_DATA:
			resp_take(r, in, len);
			if (r->left == 0 && r->state != RS_BAD)
				resp_chunk_end(r, mono, wall);
			break;
		case RS_DATA_END:
			resp_data_crlf(r, in, len);
			break;
		case RS_TRAILER:
			if (resp_crlf_line(r, in, len, &line, &n) && n == 0)
				r->state = RS_DONE;
			break;
		case RS_CLOSE:
			r->left = len - r->pos;
			resp_take(r, in, len);
			if (eof && r->state != RS_BAD)
				r->state = RS_DONE;
			break;
		case RS_DONE:
			r->end_ms = mono;
			return RS_DONE;
		case RS_BAD:
			return RS_BAD;
		}
		if (r->state == was && r->pos == at)
			break;
	}
	if (eof && r->state == RS_HEAD && len == r->pos)
		return resp_bad(r, "the server closed the connection without "
				"a response");
	if (eof)
		return resp_bad(r, "the server closed the connection in the "
				"middle of the response (%zu bytes unused: %s)",
				len - r->pos, esc(in + r->pos, len - r->pos));
	return r->state;
}

/* ------------------------------------------------ the stream's form -- */

const char *stream_glob(int n)
{
	static char pat[64 * sizeof SSE_EVENT];
	size_t len = 0;

	len += (size_t)snprintf(pat + len, sizeof pat - len, "%s", SSE_OK);
	for (int k = 0; k < n && k < 60; k++)
		len += (size_t)snprintf(pat + len, sizeof pat - len, "%s",
					SSE_EVENT);
	snprintf(pat + len, sizeof pat - len, "%s", SSE_DONE);
	return pat;
}

bool stream_chunks_ok(const struct response *r, int n)
{
	if (!r->chunked)
		return t_note("the body is not chunked");
	if (r->nch != n + 2 || n + 2 > RESP_CHUNKS)
		return t_note("%d chunks, expected %d (:ok, %d events, :done);"
			      " body: %s", r->nch, n + 2, n,
			      esc(r->body, r->body_len));
	for (int k = 0; k < n + 2; k++) {
		const char *pat = k == 0 ? SSE_OK : k <= n ? SSE_EVENT
							   : SSE_DONE;
		const char *p = r->body + r->ch[k].off;

		if (!glob(pat, p, r->ch[k].len))
			return t_note("chunk %d is %s, expected %s", k,
				      esc(p, r->ch[k].len), escs(pat));
	}
	if (!r->zero_chunk)
		return t_note("no zero-size chunk at the end");
	return true;
}

/* ----------------------------------------------------------- clients -- */

void client_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->in);
	memset(c, 0, sizeof *c);
	c->fd = -1;
}

static int client_socket(struct client *c, const char *addr, int port,
			 struct sockaddr_storage *sa, socklen_t *sa_len)
{
	memset(c, 0, sizeof *c);
	memset(sa, 0, sizeof *sa);
	if (strchr(addr, ':') != NULL) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)sa;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		inet_pton(AF_INET6, addr, &a->sin6_addr);
		*sa_len = sizeof *a;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)sa;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, addr, &a->sin_addr);
		*sa_len = sizeof *a;
	}
	c->fd = socket(sa->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return 0;
}

int client_open_addr(struct client *c, const char *addr, int port)
{
	struct sockaddr_storage sa;
	socklen_t sa_len;
	struct timeval tv = { .tv_sec = 2 };

	if (client_socket(c, addr, port, &sa, &sa_len) != 0)
		return -1;
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(c->fd, (struct sockaddr *)&sa, sa_len) != 0) {
		int e = errno;

		client_close(c);
		errno = e;
		return -1;
	}
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	return 0;
}

int client_open(struct client *c, int port)
{
	if (client_open_addr(c, "127.0.0.1", port) == 0)
		return 0;
	return t_note("connect to 127.0.0.1:%d: %s", port, strerror(errno)),
	       -1;
}

int client_open_nb(struct client *c, int port)
{
	struct sockaddr_storage sa;
	socklen_t sa_len;

	if (client_socket(c, "127.0.0.1", port, &sa, &sa_len) != 0)
		return -1;
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	if (connect(c->fd, (struct sockaddr *)&sa, sa_len) != 0 &&
	    errno != EINPROGRESS) {
		int e = errno;

		client_close(c);
		errno = e;
		return -1;
	}
	return 0;
}

int client_send(struct client *c, const void *p, size_t n,
		       size_t piece, int64_t deadline)
{
	const char *b = p;

	while (n > 0) {
		size_t want = piece && piece < n ? piece : n;
		ssize_t sent = send(c->fd, b, want, MSG_NOSIGNAL);

		if (sent > 0) {
			b += sent;
			n -= (size_t)sent;
			continue;
		}
		if (sent < 0 && errno == EINTR)
			continue;
		if (sent < 0 && errno != EAGAIN)
			return t_note("send: %s (%zu bytes unsent)",
				      strerror(errno), n), -1;
		if (wait_fd(c->fd, POLLOUT, deadline) == 0)
			return t_note("send: the server took no more bytes "
				      "for too long (%zu unsent)", n), -1;
	}
	return 0;
}

int client_room(struct client *c)
{
	if (c->cap - c->len < 16384) {
		size_t cap = c->cap ? c->cap * 2 : 32768;
		char *in = realloc(c->in, cap);

		if (in == NULL)
			return -1;
		c->in = in;
		c->cap = cap;
	}
	return 0;
}

ssize_t client_fill(struct client *c)
{
	if (c->eof)
		return 0;
	if (client_room(c) < 0)
		return -1;
	for (;;) {
		ssize_t got = read(c->fd, c->in + c->len, c->cap - c->len - 1);

		if (got > 0) {
			c->len += (size_t)got;
			c->in[c->len] = '\0';
			return got;
		}
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && errno == EAGAIN)
			return -1;
		c->eof = true;
		c->err = got < 0 ? errno : 0;
		return 0;
	}
}

void client_take(struct client *c, size_t n)
{
	memmove(c->in, c->in + n, c->len - n);
	c->len -= n;
}

int client_more(struct client *c, struct response *r,
		       int64_t deadline, int want_chunks)
{
	int64_t mono = mono_ms(), wall = wall_ms();

	for (;;) {
		enum resp_state st = resp_feed(r, c->in, c->len, c->eof,
					       mono, wall);

		if (st == RS_DONE) {
			client_take(c, r->pos);
			r->pos = 0;
			return 0;
		}
		if (st == RS_BAD)
			return t_note("bad response: %s%s%s; bytes read: %s",
				      r->bad, c->err ? "; read: " : "",
				      c->err ? strerror(c->err) : "",
				      esc(c->in, c->len)), -1;
		if (want_chunks > 0 && r->nch >= want_chunks)
			return 0;
		if (client_fill(c) >= 0) {
			mono = mono_ms();
			wall = wall_ms();
			continue;
		}
		if (wait_fd(c->fd, POLLIN, deadline) == 0)
			return t_note("no complete response in time; bytes "
				      "read: %s", esc(c->in, c->len)), -1;
	}
}

int client_read(struct client *c, struct response *r,
		       int64_t deadline)
{
	resp_init(r);
	return client_more(c, r, deadline, 0);
}

bool client_closed(struct client *c, int64_t deadline)
{
	while (!c->eof) {
		if (client_fill(c) >= 0)
			continue;
		if (wait_fd(c->fd, POLLIN, deadline) == 0)
			return t_note("the server kept the connection open; "
				      "bytes after the response: %s",
				      esc(c->in, c->len));
	}
	if (c->len > 0)
		return t_note("bytes after the response, before the close: "
			      "%s", esc(c->in, c->len));
	return true;
}

/* ------------------------------------------------------ many clients -- */

void xfer_fail(struct xfer *x, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(x->err, sizeof x->err, fmt, ap);
	va_end(ap);
	x->state = X_DONE;
}

static void xfer_send(struct xfer *x)
{
	size_t want = x->out_len - x->sent;

	if (x->sent == 0)
		x->wall0 = wall_ms();
	if (x->piece && x->piece < want)
		want = x->piece;
	ssize_t n = send(x->c.fd, x->out + x->sent, want, MSG_NOSIGNAL);
	if (n > 0)
		x->sent += (size_t)n;
	else if (n < 0 && errno != EAGAIN && errno != EINTR)
		x->sent = x->out_len;	/* closed; an answer may wait */
	if (x->sent == x->out_len)
		x->sent_ms = mono_ms();
}

static void xfer_recv(struct xfer *x)
{
	if (client_fill(&x->c) >= 0)
		xfer_feed(x, mono_ms(), wall_ms());
}

void xfer_feed(struct xfer *x, int64_t mono, int64_t wall)
{
	if (x->state == X_CLOSE) {
		if (x->c.eof) {
			x->closed = x->c.len == 0;
			if (!x->closed)
				xfer_fail(x, "bytes after the response: %s",
					  esc(x->c.in, x->c.len));
			x->state = X_DONE;
		}
		return;
	}
	enum resp_state st = resp_feed(&x->r, x->c.in, x->c.len, x->c.eof,
				       mono, wall);
	if (st == RS_BAD) {
		xfer_fail(x, "bad response: %s%s%s; bytes read: %s", x->r.bad,
			  x->c.err ? "; read: " : "",
			  x->c.err ? strerror(x->c.err) : "",
			  esc(x->c.in, x->c.len));
	} else if (st == RS_DONE) {
		client_take(&x->c, x->r.pos);
		x->state = x->want_close ? X_CLOSE : X_DONE;
		if (x->want_close && (x->c.eof || x->c.len > 0)) {
			x->closed = x->c.eof && x->c.len == 0;
			if (x->c.len > 0)
				xfer_fail(x, "bytes after the response: %s",
					  esc(x->c.in, x->c.len));
			x->state = X_DONE;
		}
	}
}

void xfer_step(struct xfer *x, short revents)
{
	if (x->state == X_CONNECT) {
		int e = 0;
		socklen_t len = sizeof e;

		getsockopt(x->c.fd, SOL_SOCKET, SO_ERROR, &e, &len);
		if (e != 0)
			xfer_fail(x, "connect: %s", strerror(e));
		else
			x->state = X_RUN;
		return;
	}
	if ((revents & POLLOUT) && x->sent < x->out_len)
		xfer_send(x);
	if (revents & (POLLIN | POLLHUP | POLLERR))
		xfer_recv(x);
}

int xfer_run(struct xfer *x, int n, int port, int64_t deadline)
{
	struct pollfd *p = calloc((size_t)n, sizeof *p);
	int *idx = calloc((size_t)n, sizeof *idx);
	int bad = 0;

	for (int i = 0; i < n; i++) {
		x[i].state = X_CONNECT;
		x[i].r.head_only = x[i].head_only;
		if (client_open_nb(&x[i].c, port) != 0)
			xfer_fail(&x[i], "connect: %s", strerror(errno));
	}
	for (;;) {
		nfds_t np = 0;

		for (int i = 0; i < n; i++) {
			if (x[i].state == X_DONE)
				continue;
			short ev = POLLIN;
			if (x[i].state == X_CONNECT ||
			    (x[i].state == X_RUN && x[i].sent < x[i].out_len))
				ev = x[i].state == X_CONNECT ? POLLOUT
							     : POLLIN | POLLOUT;
			p[np] = (struct pollfd){ .fd = x[i].c.fd,
						 .events = ev };
			idx[np++] = i;
		}
		if (np == 0 || mono_ms() >= deadline)
			break;
		if (poll(p, np, ms_until(deadline)) < 0 && errno != EINTR)
			break;
		for (nfds_t k = 0; k < np; k++)
			if (p[k].revents != 0)
				xfer_step(&x[idx[k]], p[k].revents);
	}
	for (int i = 0; i < n; i++) {
		static const char *const where[] = {
			[X_CONNECT] = "connecting",
			[X_RUN] = "before the response was complete",
			[X_CLOSE] = "waiting for the server to close",
			[X_DONE] = "",
		};
		if (x[i].state != X_DONE)
			xfer_fail(&x[i], "deadline passed %s (%zu of %zu "
				  "bytes sent); bytes read: %s",
				  where[x[i].state], x[i].sent, x[i].out_len,
				  esc(x[i].c.in, x[i].c.len));
		bad += x[i].err[0] != '\0';
	}
	free(p);
	free(idx);
	return bad;
}

void xfer_free(struct xfer *x)
{
	client_close(&x->c);
	resp_free(&x->r);
}

/* ==== topics ============================================================ */

bool client_ask(int port, const char *req, size_t len, struct response *r,
		int wait_ms)
{
	struct client c;
	bool ok;

	resp_init(r);
	r->head_only = strncmp(req, "HEAD ", 5) == 0;
	if (client_open(&c, port) != 0)
		return false;
	ok = client_send(&c, req, len, 0, mono_ms() + 2000) == 0 &&
	     client_more(&c, r, mono_ms() + wait_ms, 0) == 0;
	client_close(&c);
	return ok;
}

int topic_publish(int port, const char *target, const char *body,
		  size_t len, const char *extra, char *id)
{
	char head[1024], *req;
	struct response r = { 0 };
	int n = snprintf(head, sizeof head, "POST /topics/%s HTTP/1.1\r\n"
			 "Host: t\r\n%sContent-Length: %zu\r\n\r\n", target,
			 extra, len);
	int status = -1;

	if (id != NULL)
		id[0] = '\0';
	if ((req = malloc((size_t)n + len)) == NULL)
		return -1;
	memcpy(req, head, (size_t)n);
	memcpy(req + n, body, len);
	/* A publish through Redis waits for Redis's answer. */
	if (client_ask(port, req, (size_t)n + len, &r, 12000)) {
		const char *p = r.body ? strstr(r.body, "\"id\":\"") : NULL;

		status = r.status;
		if (p != NULL && id != NULL)
			sscanf(p + 6, "%47[0-9-]", id);
	}
	free(req);
	resp_free(&r);
	return status;
}

int topic_publish_text(int port, const char *target, const char *text,
		       char *id)
{
	return topic_publish(port, target, text, strlen(text), "", id);
}

bool topic_follow(struct client *c, struct response *r, int port,
		  const char *target, const char *extra)
{
	char req[1024];
	int n = snprintf(req, sizeof req, "GET /topics/%s HTTP/1.1\r\n"
			 "Host: t\r\n%s\r\n", target, extra);

	resp_init(r);
	if (client_open(c, port) != 0)
		return false;
	if (client_send(c, req, (size_t)n, 0, mono_ms() + 2000) != 0 ||
	    client_more(c, r, mono_ms() + 3000, 1) != 0) {
		client_close(c);
		return false;
	}
	if (r->status != 200) {
		client_close(c);
		return t_note("GET /topics/%s: status %d", target, r->status);
	}
	return true;
}

int resp_count(const struct response *r, const char *needle)
{
	int n = 0;

	for (const char *p = r->body; p && (p = strstr(p, needle)); p++)
		n++;
	return n;
}

bool resp_until_events(struct client *c, struct response *r, int want,
		       int wait_ms)
{
	int64_t deadline = mono_ms() + wait_ms;

	while (resp_count(r, "id: ") < want) {
		if (client_more(c, r, deadline, r->nch + 1) != 0)
			return t_prefix("waiting for %d events, %d came: ",
					want, resp_count(r, "id: ")), false;
		if (r->state == RS_DONE)
			break;
	}
	return true;
}
