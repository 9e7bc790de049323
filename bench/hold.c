/* hold.c - opens many streams to an sse server and holds them open.
 *
 * For measuring what an open stream costs the server: it opens COUNT
 * connections to 127.0.0.1:PORT, asks each for a stream with
 * POST /api {"stream":true}, waits until every one has its headers and
 * ":ok", prints "holding COUNT streams" on stdout, and then holds them
 * (reading and discarding events) until stdin reaches end of file or the
 * hold time (seconds, default 60) runs out.  With PATH it asks for
 * GET PATH instead (a hub topic: /topics/NAME).  Exit status 1 if any
 * stream failed to open.
 *
 * With BEHIND, each stream's request is followed, in the same write, by
 * at least that many bytes of pipelined plain requests (POST /api without
 * a body): what a client may leave in the server's hands while its
 * stream runs.
 *
 *	usage: hold PORT COUNT [SECONDS [BEHIND [PATH]]]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char request[512] =
	"POST /api HTTP/1.1\r\nHost: bench\r\n"
	"Content-Type: application/json\r\nContent-Length: 15\r\n\r\n"
	"{\"stream\":true}";
static const char plain[] =
	"POST /api HTTP/1.1\r\nHost: bench\r\nContent-Length: 0\r\n\r\n";

struct client {
	int fd;
	size_t got;		/* bytes read so far */
	int open;		/* ":ok" seen */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int connect_one(unsigned port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	struct client *cl;
	unsigned port;
	int count, epfd, opened = 0, failed = 0;
	double hold_s, until;
	size_t behind, send_len, request_len;
	char *send_buf;

	if (argc < 3) {
		fprintf(stderr, "usage: hold PORT COUNT [SECONDS [BEHIND [PATH]]]\n");
		return 2;
	}
	if (argc > 5)
		snprintf(request, sizeof(request), "GET %s HTTP/1.1\r\n"
			 "Host: bench\r\n\r\n", argv[5]);
	port = (unsigned)atoi(argv[1]);
	count = atoi(argv[2]);
	hold_s = argc > 3 ? atof(argv[3]) : 60;
	behind = argc > 4 ? (size_t)atol(argv[4]) : 0;
	/* The request's own length, not its array's: the bytes past it are
	 * not sent, or every stream would carry them behind its request. */
	request_len = send_len = strlen(request);
	send_buf = malloc(send_len + behind + sizeof(plain));
	memcpy(send_buf, request, send_len);
	while (send_len < request_len + behind) {
		memcpy(send_buf + send_len, plain, sizeof(plain) - 1);
		send_len += sizeof(plain) - 1;
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	cl = calloc((size_t)count, sizeof(*cl));
	epfd = epoll_create1(0);

	/* Connect in batches, so the listen backlog never overflows. */
	until = now_s() + 60;
	for (int i = 0; i < count || opened + failed < count;) {
		struct epoll_event ev[256];
		int n;

		for (int b = 0; b < 200 && i < count &&
		     i - opened - failed < 1000; b++, i++) {
			struct epoll_event e = { .events = EPOLLOUT,
						 .data.u32 = (uint32_t)i };

			cl[i].fd = connect_one(port);
			if (cl[i].fd < 0) {
				failed++;
				continue;
			}
			epoll_ctl(epfd, EPOLL_CTL_ADD, cl[i].fd, &e);
		}
		n = epoll_wait(epfd, ev, 256, 100);
		for (int k = 0; k < n; k++) {
			struct client *c = &cl[ev[k].data.u32];
			char buf[4096];
			ssize_t r;

			if (ev[k].events & EPOLLOUT) {
				struct epoll_event e = { .events = EPOLLIN,
							 .data = ev[k].data };

				if (write(c->fd, send_buf, send_len) !=
				    (ssize_t)send_len) {
					failed++;
					close(c->fd);
					continue;
				}
				epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e);
				continue;
			}
			r = read(c->fd, buf, sizeof(buf));
			if (r <= 0) {
				failed++;
				epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
				continue;
			}
			if (!c->open && memmem(buf, (size_t)r, ":ok", 3)) {
				c->open = 1;
				opened++;
			}
		}
		if (now_s() > until) {
			fprintf(stderr, "hold: timed out with %d of %d open\n",
				opened, count);
			return 1;
		}
	}
	printf("holding %d streams (%d failed)\n", opened, failed);
	fflush(stdout);

	/* Hold: drain events until stdin closes or time is up. */
	until = now_s() + hold_s;
	while (now_s() < until) {
		struct pollfd in = { .fd = 0, .events = POLLIN };
		struct epoll_event ev[256];
		int n = epoll_wait(epfd, ev, 256, 100);

		for (int k = 0; k < n; k++) {
			char buf[4096];

			if (read(cl[ev[k].data.u32].fd, buf, sizeof(buf)) <= 0)
				epoll_ctl(epfd, EPOLL_CTL_DEL,
					  cl[ev[k].data.u32].fd, NULL);
		}
		if (poll(&in, 1, 0) > 0) {
			char b;

			if (read(0, &b, 1) <= 0)
				break;
		}
	}
	return failed > 0;
}
