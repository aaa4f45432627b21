/*
 * stats_server: a crawl and a small HTTP server on one loop, in one thread.
 *
 *   stats_server [--linger SECONDS] [--OPTION VALUE...] PORT URLFILE
 *
 * Crawls the URLs in URLFILE (one per line), printing each result as a JSON
 * record on stdout, and meanwhile serves the crawl's live counters on
 * 127.0.0.1:PORT (0: any free port, printed as "listening on PORT" on
 * stderr). Every connection gets one HTTP/1.0 answer and is closed:
 *
 *   $ curl -s http://127.0.0.1:8080/
 *   {"added":20,"done":5,"ok":5,"in_flight":15,"queued":0,"waiting":0,
 *    "bytes":30,"finished":false}
 *
 * It stops accepting once the crawl is done, or SECONDS later with --linger,
 * and exits when the last connection is closed. Any other --OPTION is one of
 * the evcrawl command's crawl options, set by name (--dns-server IP:PORT,
 * --concurrency N, --per-host N, --timeout S, ...).
 *
 * What it shows: the single-process asynchronous server -- a nonblocking
 * listening socket whose read callback accepts, and per-connection read and
 * write callbacks -- next to a crawl whose input is streamed through the
 * crawler's feed callback.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <evcrawl/evcrawl.h>

#define CONN_TIMEOUT_MS 5000 /* a client that sends no request is dropped */

struct conn;

struct server {
	evc_loop_t *loop;
	evc_crawler_t *crawler;
	FILE *urls;
	int listen_fd;
	unsigned linger_ms;
	evc_timer_t *linger;
	struct conn *conns; /* open connections, to free them at the end */
};

/* One client: its request head comes into buf, then its answer goes out of
 * it. A connection is either reading or writing, never both. */
struct conn {
	struct server *s;
	int fd;
	evc_timer_t *timeout;
	char buf[1024];
	size_t len, off;
	struct conn *prev, *next;
};

/* ---- connections ---------------------------------------------------------- */

static void conn_close(struct conn *c)
{
	evc_io_stop(c->s->loop, c->fd); /* before close(): no callback after this */
	close(c->fd);
	evc_timer_free(c->timeout);
	if (c->prev)
		c->prev->next = c->next;
	else
		c->s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
}

static void on_conn_timeout(evc_timer_t *t, void *arg)
{
	conn_close(arg);
}

/* The answer: the crawl's counters at this moment, as JSON. */
static void conn_make_answer(struct conn *c)
{
	evc_crawl_stats_t st;
	evc_crawler_stats(c->s->crawler, &st);
	char body[512];
	int n = snprintf(body, sizeof body,
			 "{\"added\":%llu,\"done\":%llu,\"ok\":%llu,\"in_flight\":%u,"
			 "\"queued\":%u,\"waiting\":%u,\"bytes\":%llu,\"finished\":%s}\n",
			 (unsigned long long)st.added, (unsigned long long)st.done,
			 (unsigned long long)st.ok, st.in_flight, st.queued, st.waiting,
			 (unsigned long long)st.bytes,
			 evc_crawler_finished(c->s->crawler) ? "true" : "false");
	n = snprintf(c->buf, sizeof c->buf,
		     "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
		     "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
		     n, body);
	c->len = (size_t)n < sizeof c->buf ? (size_t)n : sizeof c->buf - 1;
	c->off = 0;
}

static void on_conn_io(evc_loop_t *loop, int fd, int events, void *arg);

/* Readable: collect the request head; once it is complete (or fills the
 * buffer), switch the connection to writing the answer. */
static void conn_read(struct conn *c)
{
	ssize_t n = read(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) { /* the client left, or an error */
		conn_close(c);
		return;
	}
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	if (!strstr(c->buf, "\r\n\r\n") && !strstr(c->buf, "\n\n") && c->len < sizeof c->buf - 1)
		return; /* more to come */
	conn_make_answer(c);
	if (evc_io_start(c->s->loop, c->fd, EVC_WRITE, on_conn_io, c) < 0)
		conn_close(c);
}

/* Writable: send what is left of the answer; close when all of it is out. */
static void conn_write(struct conn *c)
{
	ssize_t n = write(c->fd, c->buf + c->off, c->len - c->off);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		conn_close(c);
		return;
	}
	c->off += (size_t)n;
	if (c->off == c->len)
		conn_close(c);
}

static void on_conn_io(evc_loop_t *loop, int fd, int events, void *arg)
{
	struct conn *c = arg;
	if (events & EVC_WRITE)
		conn_write(c);
	else
		conn_read(c);
}

/* The listening socket is readable: accept every pending connection. */
static void on_accept(evc_loop_t *loop, int fd, int events, void *arg)
{
	struct server *s = arg;
	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				perror("stats_server: accept"); /* EMFILE...: try later */
			return;
		}
		struct conn *c = calloc(1, sizeof *c);
		if (c)
			c->timeout = evc_timer_new(loop, on_conn_timeout, c);
		if (!c || !c->timeout || evc_io_start(loop, cfd, EVC_READ, on_conn_io, c) < 0) {
			if (c)
				evc_timer_free(c->timeout);
			free(c);
			close(cfd);
			continue;
		}
		c->s = s;
		c->fd = cfd;
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		evc_timer_start(c->timeout, CONN_TIMEOUT_MS, 0);
	}
}

/* Listen on 127.0.0.1:port (nonblocking); returns the fd or -1. */
static int listen_on(unsigned port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof sin;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 || listen(fd, 128) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0) {
		close(fd);
		return -1;
	}
	fprintf(stderr, "listening on %u\n", ntohs(sin.sin_port));
	return fd;
}

/* New connections are refused from now on; open ones still get answers. */
static void stop_listening(struct server *s)
{
	if (s->listen_fd < 0)
		return;
	evc_io_stop(s->loop, s->listen_fd);
	close(s->listen_fd);
	s->listen_fd = -1;
}

static void on_linger(evc_timer_t *t, void *arg)
{
	stop_listening(arg);
}

/* ---- the crawl ------------------------------------------------------------------ */

static void crawl_done(struct server *s)
{
	evc_crawl_stats_t st;
	evc_crawler_stats(s->crawler, &st);
	fprintf(stderr, "crawl done: %llu URLs, %llu ok\n", (unsigned long long)st.done,
		(unsigned long long)st.ok);
	if (s->linger_ms && s->linger)
		evc_timer_start(s->linger, s->linger_ms, 0);
	else
		stop_listening(s);
}

static void on_result(evc_crawler_t *cr, const evc_result_t *r, void *arg)
{
	char buf[4096];
	size_t n = evc_result_to_json(r, buf, sizeof buf);
	if (n < sizeof buf)
		fwrite(buf, 1, n, stdout);
	if (evc_crawler_finished(cr)) /* done counts this result already */
		crawl_done(arg);
}

/* The crawler has room: give it up to 64 more lines of the file. */
static void feed(evc_crawler_t *cr, void *arg)
{
	struct server *s = arg;
	char line[4096];
	for (int i = 0; i < 64; i++) {
		if (!fgets(line, sizeof line, s->urls)) {
			evc_crawler_close_input(cr);
			if (evc_crawler_finished(cr)) /* nothing was pending */
				crawl_done(s);
			return;
		}
		size_t len = strcspn(line, "\r\n");
		if (len > 0 && line[0] != '#')
			evc_crawler_add(cr, line, len, NULL);
	}
}

/* ---- main -------------------------------------------------------------------------- */

static int usage(void)
{
	fprintf(stderr,
		"usage: stats_server [--linger SECONDS] [--OPTION VALUE...] PORT URLFILE\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct server s = {.listen_fd = -1};
	evc_crawl_opts_t *opts = evc_crawl_opts_new();
	if (!opts)
		return 2;
	int i = 1;
	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--linger") == 0) {
			s.linger_ms = (unsigned)(atof(argv[i + 1]) * 1000);
		} else if (evc_crawl_opts_set(opts, argv[i] + 2, argv[i + 1]) < 0) {
			fprintf(stderr, "stats_server: bad option %s %s\n", argv[i], argv[i + 1]);
			evc_crawl_opts_free(opts);
			return usage();
		}
	}
	char *end = NULL;
	unsigned long port = i + 2 == argc ? strtoul(argv[i], &end, 10) : 65536;
	if (port > 65535 || end == argv[i] || *end) {
		evc_crawl_opts_free(opts);
		return usage();
	}
	if (!(s.urls = fopen(argv[i + 1], "r"))) {
		perror(argv[i + 1]);
		evc_crawl_opts_free(opts);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0); /* records appear as they come */

	int rc = evc_loop_new(&s.loop, NULL);
	if (rc == 0) {
		rc = evc_crawler_new(&s.crawler, s.loop, opts, on_result, &s);
		if (rc < 0)
			evc_loop_free(s.loop);
	}
	evc_crawl_opts_free(opts); /* the crawler keeps its own copy */
	if (rc < 0) {
		fprintf(stderr, "stats_server: cannot start: %s\n", evc_strerror(rc));
		fclose(s.urls);
		return 2;
	}
	s.linger = evc_timer_new(s.loop, on_linger, &s);
	if ((s.listen_fd = listen_on((unsigned)port)) < 0 ||
	    evc_io_start(s.loop, s.listen_fd, EVC_READ, on_accept, &s) < 0) {
		perror("stats_server: listen");
		rc = -1;
	} else {
		evc_crawler_set_feed(s.crawler, feed, &s);
		/* Until the crawl is over, nothing listens and no client is left. */
		rc = evc_loop_run(s.loop, EVC_RUN_DEFAULT);
		if (rc < 0)
			fprintf(stderr, "stats_server: loop failed: %s\n", evc_strerror(rc));
	}

	stop_listening(&s);
	while (s.conns)
		conn_close(s.conns);
	evc_timer_free(s.linger);
	evc_crawler_free(s.crawler);
	evc_loop_free(s.loop);
	fclose(s.urls);
	return rc < 0 ? 1 : 0;
}
