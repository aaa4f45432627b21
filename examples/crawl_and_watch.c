/*
 * crawl_and_watch: a crawl that shares its loop with the program's own work.
 *
 *   crawl_and_watch [--dns-server IP:PORT] [URL...]  [< more-urls.txt]
 *
 * Crawls the URLs given as arguments, and more read from stdin (one per
 * line) while the crawl is already running; prints each result as one JSON
 * record on stdout. On the same loop, a repeating timer prints a heartbeat
 * to stderr every 100 ms:
 *
 *   heartbeat: 12 done, 8 in flight, 30 queued
 *
 * Run it with </dev/null to crawl only the arguments.
 *
 * What it shows: one evcrawl loop drives the crawler, a timer and a stdin
 * watcher together; URLs are added from inside an I/O callback; and the loop
 * returns by itself once nothing is watched any more (stdin at EOF, the
 * heartbeat stopped, the crawler finished).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <evcrawl/evcrawl.h>

struct app {
	evc_loop_t *loop;
	evc_crawler_t *crawler;
	evc_timer_t *heartbeat;
	char line[8192]; /* a partial line from stdin waits here */
	size_t len;
	int stdin_done;
};

static void on_result(evc_crawler_t *c, const evc_result_t *r, void *arg)
{
	char buf[4096];
	size_t n = evc_result_to_json(r, buf, sizeof buf);
	if (n < sizeof buf) {
		fwrite(buf, 1, n, stdout);
		return;
	}
	/* A record longer than the stack buffer (a very long URL): ask again. */
	char *big = malloc(n + 1);
	if (big) {
		evc_result_to_json(r, big, n + 1);
		fwrite(big, 1, n, stdout);
		free(big);
	}
}

static void print_heartbeat(struct app *a)
{
	evc_crawl_stats_t st;
	evc_crawler_stats(a->crawler, &st);
	fprintf(stderr, "heartbeat: %llu done, %u in flight, %u queued\n",
		(unsigned long long)st.done, st.in_flight, st.queued);
}

/* Every 100 ms. Once the crawl is over, one last line and the timer stops,
 * so that it no longer keeps the loop running. */
static void on_heartbeat(evc_timer_t *t, void *arg)
{
	struct app *a = arg;
	print_heartbeat(a);
	if (evc_crawler_finished(a->crawler))
		evc_timer_stop(t);
}

/* Add one line as a URL: trailing CR and blank lines are ignored. */
static void add_line(struct app *a, const char *s, size_t n)
{
	while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n == 0)
		return;
	int rc = evc_crawler_add(a->crawler, s, n, NULL);
	if (rc < 0)
		fprintf(stderr, "crawl_and_watch: cannot add %.*s: %s\n", (int)n, s,
			evc_strerror(rc));
}

/*
 * stdin is readable: one read() (it cannot block, the loop said there is
 * data or EOF), then every complete line goes to the running crawl. At EOF
 * stop watching stdin and tell the crawler no more URLs are coming.
 */
static void on_stdin(evc_loop_t *loop, int fd, int events, void *arg)
{
	struct app *a = arg;
	ssize_t n = read(fd, a->line + a->len, sizeof a->line - a->len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		if (n < 0)
			perror("crawl_and_watch: stdin");
		add_line(a, a->line, a->len); /* a last line without '\n' */
		a->len = 0;
		evc_io_stop(loop, fd);
		evc_crawler_close_input(a->crawler);
		a->stdin_done = 1;
		return;
	}
	a->len += (size_t)n;

	char *start = a->line, *end = a->line + a->len, *nl;
	while ((nl = memchr(start, '\n', (size_t)(end - start))) != NULL) {
		add_line(a, start, (size_t)(nl - start));
		start = nl + 1;
	}
	a->len = (size_t)(end - start);
	if (a->len == sizeof a->line) { /* no newline in 8 KiB: take it as is */
		add_line(a, a->line, a->len);
		a->len = 0;
	} else {
		memmove(a->line, start, a->len);
	}
}

int main(int argc, char **argv)
{
	struct app a = {0};
	evc_crawl_opts_t opts;
	evc_crawl_opts_init(&opts);
	int i = 1;
	if (i + 1 < argc && strcmp(argv[i], "--dns-server") == 0) {
		opts.dns_servers = argv[i + 1];
		i += 2;
	}

	int rc = evc_loop_new(&a.loop, NULL);
	if (rc < 0) {
		fprintf(stderr, "crawl_and_watch: no loop: %s\n", evc_strerror(rc));
		return 2;
	}
	rc = evc_crawler_new(&a.crawler, a.loop, &opts, on_result, &a);
	if (rc < 0) {
		fprintf(stderr, "crawl_and_watch: no crawler: %s\n", evc_strerror(rc));
		evc_loop_free(a.loop);
		return 2;
	}
	for (; i < argc; i++)
		add_line(&a, argv[i], strlen(argv[i]));

	/* Our own watchers, on the crawler's loop. */
	a.heartbeat = evc_timer_new(a.loop, on_heartbeat, &a);
	if (a.heartbeat)
		evc_timer_start(a.heartbeat, 100, 100);
	if (evc_io_start(a.loop, STDIN_FILENO, EVC_READ, on_stdin, &a) < 0) {
		/* epoll refuses regular files (EPERM), which never block anyway:
		 * read such a stdin to the end now. */
		while (!a.stdin_done)
			on_stdin(a.loop, STDIN_FILENO, EVC_READ, &a);
	}

	/* Returns when nothing is left to watch: see on_heartbeat and on_stdin. */
	rc = evc_loop_run(a.loop, EVC_RUN_DEFAULT);
	if (rc < 0)
		fprintf(stderr, "crawl_and_watch: loop failed: %s\n", evc_strerror(rc));

	evc_crawl_stats_t st;
	evc_crawler_stats(a.crawler, &st);
	evc_timer_free(a.heartbeat);
	evc_crawler_free(a.crawler);
	evc_loop_free(a.loop);
	fflush(stdout);
	return rc < 0 ? 1 : st.ok == st.done ? 0 : 1;
}
