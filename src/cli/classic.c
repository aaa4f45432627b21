/*
 * The classic I/O models, for comparison with the event loop (--mode):
 *
 *   blocking    one URL after another, blocking sockets
 *   busy-poll   one URL after another, nonblocking sockets retried in a
 *               loop without a selector
 *   threads     -c threads, each fetching one URL at a time (blocking)
 *   processes   -c forked workers, each fetching one URL at a time; the
 *               parent hands out URLs and merges their records line by line
 *
 * All of them use the library's blocking fetcher (evc_fetcher_t), which
 * shares URL parsing, requests, the llhttp parser, decoding, saving and the
 * retry/redirect policy with the event-loop crawler; records go through the
 * same writer. Only the way of waiting differs.
 *
 * SIGINT/SIGTERM stop handing out URLs; fetches already running finish
 * (a blocking fetch cannot be abandoned halfway the way a loop's can).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"

static volatile sig_atomic_t stop_signal;

/* Touches nothing but the flag (errno stays as it was); SA_RESETHAND makes
 * a second signal end us at once. */
static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

static void catch_signals(void)
{
	struct sigaction sa = {.sa_handler = on_stop_signal, .sa_flags = SA_RESETHAND};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static int new_fetcher(struct app *a, evc_fetcher_t **f, unsigned flags)
{
	int rc = evc_fetcher_new(f, &a->opts, flags);
	if (rc == -EINVAL)
		fprintf(stderr, "%s: bad --dns-server '%s' (try --help)\n", prog,
			a->opts.dns_servers);
	else if (rc < 0)
		fprintf(stderr, "%s: cannot start: %s\n", prog, evc_strerror(rc));
	return rc;
}

/* ---- blocking and busy-poll: one URL at a time --------------------------- */

static int run_serial(struct app *a, unsigned flags)
{
	evc_fetcher_t *f;
	if (new_fetcher(a, &f, flags) < 0)
		return 2;
	const char *line;
	size_t len;
	while (!stop_signal && !a->out_broken && input_next(&a->in, &line, &len) == 1) {
		evc_result_t r;
		evc_fetcher_fetch(f, line, len, NULL, &r);
		output_result(a, &r);
		output_flush(a);
	}
	evc_fetcher_free(f);
	return 0;
}

/* ---- threads -------------------------------------------------------------------- */

struct worker {
	struct app *a;
	pthread_t thread;
	int rc;
};

static void *thread_main(void *arg)
{
	struct worker *w = arg;
	struct app *a = w->a;
	evc_fetcher_t *f;
	if (new_fetcher(a, &f, 0) < 0) {
		w->rc = 2;
		return NULL;
	}
	for (;;) {
		const char *line;
		size_t len;
		pthread_mutex_lock(&a->in.lock);
		int rc = stop_signal || a->out_broken ? -1 : input_next(&a->in, &line, &len);
		char *url = rc == 1 ? malloc(len + 1) : NULL; /* the buffer moves on */
		if (url) { /* all of it: a NUL inside is part of the line */
			memcpy(url, line, len);
			url[len] = '\0';
		}
		pthread_mutex_unlock(&a->in.lock);
		if (rc != 1)
			break;
		evc_result_t r;
		evc_fetcher_fetch(f, url ? url : "", url ? len : 0, NULL, &r);
		pthread_mutex_lock(&a->out_lock);
		output_result(a, &r);
		output_flush(a);
		pthread_mutex_unlock(&a->out_lock);
		free(url);
	}
	evc_fetcher_free(f);
	return NULL;
}

/*
 * Threads each hold a connection, a DNS socket while they look up, and a
 * file with -o: more threads than the open-file limit allows would only
 * fail URLs with EMFILE. The event loop adapts as it goes; here the count
 * is fixed, so it is fitted to the limit up front, and said so.
 */
static unsigned fit_threads(const struct app *a, unsigned n)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return n;
	unsigned per = a->opts.output_dir ? 3 : 2, reserve = 32;
	rlim_t fit = rl.rlim_cur > reserve + per ? (rl.rlim_cur - reserve) / per : 1;
	if (n <= fit)
		return n;
	fprintf(stderr, "%s: %u threads instead of %u: the open-file limit is %llu (ulimit -n)\n",
		prog, (unsigned)fit, n, (unsigned long long)rl.rlim_cur);
	return (unsigned)fit;
}

static int run_threads(struct app *a)
{
	unsigned n = fit_threads(a, a->opts.concurrency);
	struct worker *w = calloc(n, sizeof *w);
	if (!w)
		return 1;
	unsigned started = 0;
	for (; started < n; started++) {
		w[started].a = a;
		if (pthread_create(&w[started].thread, NULL, thread_main, &w[started]) != 0)
			break;
	}
	if (started < n)
		fprintf(stderr, "%s: started %u of %u threads: %s\n", prog, started, n,
			strerror(errno));
	int rc = started ? 0 : 1;
	for (unsigned i = 0; i < started; i++) {
		pthread_join(w[i].thread, NULL);
		if (w[i].rc)
			rc = w[i].rc;
	}
	free(w);
	return rc;
}

/* ---- processes -------------------------------------------------------------------- */

struct child {
	pid_t pid;
	int to, from; /* URLs down, records up */
	unsigned outstanding;
	char *given[2]; /* the URLs it has, oldest first, to report if it dies */
	char buf[64 * 1024];
	size_t len;
};

/* A worker process: URLs on fd `in`, one record line per URL on fd `out`. */
static void child_main(struct app *a, int in, int out)
{
	signal(SIGINT, SIG_IGN); /* the parent decides when to stop */
	signal(SIGTERM, SIG_DFL);
	evc_fetcher_t *f;
	if (new_fetcher(a, &f, 0) < 0)
		_exit(2);
	struct input *urls = calloc(1, sizeof *urls);
	if (!urls)
		_exit(1);
	urls->fd = in;
	urls->is_pipe = true;
	urls->name = "parent";
	const char *line;
	size_t len;
	char rec[4096];
	while (input_next(urls, &line, &len) == 1) {
		evc_result_t r;
		evc_fetcher_fetch(f, line, len, NULL, &r);
		size_t n = evc_result_to_json(&r, rec, sizeof rec);
		char *p = n < sizeof rec ? rec : malloc(n + 1);
		if (p != rec && p)
			evc_result_to_json(&r, p, n + 1);
		for (size_t off = 0; p && off < n;) {
			ssize_t w = write(out, p + off, n - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				_exit(1);
			off += (size_t)w;
		}
		if (p != rec)
			free(p);
	}
	free(urls);
	evc_fetcher_free(f);
	_exit(0);
}

static int spawn(struct app *a, struct child *c, struct child *all, unsigned nall)
{
	int down[2], up[2];
	if (pipe2(down, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(up, O_CLOEXEC) < 0) {
		close(down[0]);
		close(down[1]);
		return -1;
	}
	fflush(NULL);
	c->pid = fork();
	if (c->pid == 0) {
		close(down[1]);
		close(up[0]);
		for (unsigned i = 0; i < nall; i++) /* the other workers' pipes */
			if (all[i].pid > 0)
				close(all[i].to), close(all[i].from);
		if (!a->in.urls)
			close(a->in.fd);
		child_main(a, down[0], up[1]);
	}
	close(down[0]);
	close(up[1]);
	if (c->pid < 0) {
		close(down[1]);
		close(up[0]);
		return -1;
	}
	c->to = down[1];
	c->from = up[0];
	return 0;
}

enum give { GIVEN, NO_MORE, WORKER_GONE };

/* Hand the child another URL. A worker that cannot take it (it died) keeps
 * it anyway, so that report_lost() gives it its record. */
static enum give give_url(struct app *a, struct child *c)
{
	const char *line;
	size_t len;
	if (c->to < 0)
		return WORKER_GONE;
	if (stop_signal || a->out_broken || input_next(&a->in, &line, &len) != 1)
		return NO_MORE;
	char buf[MAX_URL_LINE + 64];
	if (len > sizeof buf - 1)
		len = sizeof buf - 1;
	memcpy(buf, line, len);
	buf[len++] = '\n';
	c->given[c->outstanding++] = strndup(buf, len - 1); /* without the newline */
	for (size_t off = 0; off < len;) {
		ssize_t w = write(c->to, buf + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) { /* EPIPE: the worker is gone; its reader reports */
			close(c->to);
			c->to = -1;
			return WORKER_GONE;
		}
		off += (size_t)w;
	}
	return GIVEN;
}

/* Keep the child at two URLs (so it never waits for us between two);
 * false once the input is exhausted. */
static bool top_up(struct app *a, struct child *c)
{
	while (c->outstanding < 2) {
		enum give g = give_url(a, c);
		if (g == NO_MORE)
			return false;
		if (g == WORKER_GONE)
			break;
	}
	return true;
}

/* The worker answered its oldest URL. */
static void answered(struct child *c)
{
	free(c->given[0]);
	c->given[0] = c->given[1];
	c->given[1] = NULL;
	c->outstanding--;
}

/* A worker that died still owes records: every URL gets one. */
static void report_lost(struct app *a, struct child *c, int status)
{
	char msg[80];
	if (WIFSIGNALED(status))
		snprintf(msg, sizeof msg, "worker process killed by signal %d", WTERMSIG(status));
	else
		snprintf(msg, sizeof msg, "worker process exited with status %d",
			 WEXITSTATUS(status));
	while (c->outstanding > 0) {
		evc_result_t r = {
		    .url = c->given[0] ? c->given[0] : "",
		    .dns_ms = -1,
		    .connect_ms = -1,
		    .tls_ms = -1,
		    .ttfb_ms = -1,
		    .error = EVC_ERR_IO,
		    .error_message = msg,
		};
		output_result(a, &r);
		answered(c);
	}
	output_flush(a);
}

/* Pass on the child's complete record lines. */
static void take_records(struct app *a, struct child *c)
{
	char *start = c->buf, *nl;
	while ((nl = memchr(start, '\n', c->len - (size_t)(start - c->buf))) != NULL) {
		output_line(a, start, (size_t)(nl - start + 1));
		answered(c);
		start = nl + 1;
	}
	c->len -= (size_t)(start - c->buf);
	memmove(c->buf, start, c->len);
	output_flush(a);
}

/* No more URLs: closing their pipes makes the workers finish and exit. */
static void close_inputs(struct child *kids, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (kids[i].to >= 0)
			close(kids[i].to);
		kids[i].to = -1;
	}
}

/* One error record for each URL left in the input. */
static void report_unfetched(struct app *a, const char *why)
{
	const char *line;
	size_t len;
	while (input_next(&a->in, &line, &len) == 1) {
		evc_result_t r = {
		    .url = line,
		    .url_len = len,
		    .dns_ms = -1,
		    .connect_ms = -1,
		    .tls_ms = -1,
		    .ttfb_ms = -1,
		    .error = EVC_ERR_IO,
		    .error_message = why,
		};
		output_result(a, &r);
	}
	output_flush(a);
}

static int run_processes(struct app *a)
{
	unsigned n = a->opts.concurrency;
	struct child *kids = calloc(n, sizeof *kids);
	struct pollfd *pfd = calloc(n, sizeof *pfd);
	if (!kids || !pfd)
		return 1;
	unsigned live = 0;
	for (; live < n; live++)
		if (spawn(a, &kids[live], kids, live) < 0)
			break;
	if (live < n)
		fprintf(stderr, "%s: started %u of %u workers: %s\n", prog, live, n,
			strerror(errno));
	bool more = true;
	for (unsigned i = 0; i < live && more; i++)
		more = top_up(a, &kids[i]);
	unsigned open = live;
	if (!more)
		close_inputs(kids, live);
	while (open > 0) {
		for (unsigned i = 0; i < live; i++) {
			pfd[i].fd = kids[i].from;
			pfd[i].events = POLLIN;
		}
		if (poll(pfd, live, -1) < 0) {
			if (errno == EINTR) {
				if (stop_signal && more) {
					more = false;
					close_inputs(kids, live);
				}
				continue;
			}
			break;
		}
		for (unsigned i = 0; i < live; i++) {
			struct child *c = &kids[i];
			if (c->from < 0 || !pfd[i].revents)
				continue;
			ssize_t r = read(c->from, c->buf + c->len, sizeof c->buf - c->len);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) { /* the worker is done (or died) */
				close(c->from);
				c->from = -1;
				open--;
				if (c->outstanding > 0) {
					int status = 0;
					waitpid(c->pid, &status, 0);
					c->pid = -c->pid; /* reaped */
					report_lost(a, c, status);
				}
				continue;
			}
			c->len += (size_t)r;
			take_records(a, c);
			if (more && !(more = top_up(a, c)))
				close_inputs(kids, live); /* no more for anyone */
		}
	}
	if (more) /* every worker died, input is left: it still gets records */
		report_unfetched(a, "no worker process left");
	int rc = 0;
	for (unsigned i = 0; i < live; i++) {
		int status;
		if (kids[i].to >= 0)
			close(kids[i].to);
		if (kids[i].from >= 0)
			close(kids[i].from);
		if (kids[i].pid < 0) { /* reaped early: it died with URLs */
			rc = 1;
			continue;
		}
		waitpid(kids[i].pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			rc = WIFEXITED(status) && WEXITSTATUS(status) == 2 ? 2 : 1;
	}
	free(pfd);
	free(kids);
	return live ? rc : 1;
}

int run_classic(struct app *a)
{
	catch_signals();
	a->in.stop = &stop_signal;
	/* Options a fetcher refuses (a bad --dns-server) are said once, here,
	 * not by every thread or worker. */
	evc_fetcher_t *probe;
	if (new_fetcher(a, &probe, 0) < 0)
		return 2;
	evc_fetcher_free(probe);
	int rc;
	switch (a->mode) {
	case MODE_BLOCKING:
		rc = run_serial(a, 0);
		break;
	case MODE_BUSY_POLL:
		rc = run_serial(a, EVC_FETCH_BUSY_POLL);
		break;
	case MODE_THREADS:
		rc = run_threads(a);
		break;
	default:
		rc = run_processes(a);
		break;
	}
	if (stop_signal)
		a->caught_signal = stop_signal;
	return rc;
}
