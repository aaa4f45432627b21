/*
 * --mode async (the default): every URL on one event loop through the
 * library's crawler. The input is streamed in as the crawler asks for more
 * (a pipe is watched by the loop rather than read blocking), records are
 * flushed once per loop iteration, progress is redrawn by a loop timer, and
 * SIGINT/SIGTERM arrive through a self-pipe the loop watches.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

#define FEED_BATCH 256

struct async {
	struct app *a;
	evc_loop_t *loop;
	evc_crawler_t *crawler;
	evc_timer_t *flush_timer, *progress_timer;
	evc_timer_t *stats_timer, *lag_timer; /* --stats-every */
	uint64_t lag_last_ns, lag_max_ns;
	bool watching_input;
	int signal_pipe[2];
	size_t progress_width;
};

static void on_flush_timer(evc_timer_t *t, void *arg)
{
	struct async *s = arg;
	output_flush(s->a);
	if (s->a->out_broken)
		evc_crawler_cancel(s->crawler); /* stdout closed: stop working */
}

/* Records of one iteration are batched; a zero-timeout timer flushes them
 * before the loop next waits, so no record waits for later ones. */
static void on_result(evc_crawler_t *c, const evc_result_t *r, void *arg)
{
	struct async *s = arg;
	if (s->a->out_broken)
		return;
	output_result(s->a, r);
	if (s->a->opts.state_dir) /* the state holds it as done: out now, not a turn later */
		output_flush(s->a);
	if (!evc_timer_active(s->flush_timer))
		evc_timer_start(s->flush_timer, 0, 0);
}

static void on_input_readable(evc_loop_t *loop, int fd, int events, void *arg);

static void stop_input(struct async *s)
{
	if (s->watching_input)
		evc_io_stop(s->loop, s->a->in.fd);
	s->watching_input = false;
	input_close(&s->a->in);
	evc_crawler_close_input(s->crawler);
}

/* The crawler has room: hand it up to FEED_BATCH URLs. */
static void feed(evc_crawler_t *c, void *arg)
{
	struct async *s = arg;
	if (s->a->in.eof) { /* the last line came with the last batch */
		stop_input(s);
		return;
	}
	for (int n = 0; n < FEED_BATCH; n++) {
		const char *line;
		size_t len;
		int rc = input_next(&s->a->in, &line, &len);
		if (rc == 1) {
			evc_crawler_add(c, line, len, NULL);
			continue;
		}
		if (rc == 0 && !s->watching_input &&
		    evc_io_start(s->loop, s->a->in.fd, EVC_READ, on_input_readable, s) == 0)
			s->watching_input = true;
		if (rc < 0)
			stop_input(s);
		return;
	}
}

static void on_input_readable(evc_loop_t *loop, int fd, int events, void *arg)
{
	struct async *s = arg;
	evc_io_stop(loop, fd);
	s->watching_input = false;
	evc_crawler_set_feed(s->crawler, feed, s); /* asks for URLs again now */
}

static void on_progress(evc_timer_t *t, void *arg)
{
	struct async *s = arg;
	evc_crawl_stats_t st;
	evc_crawler_stats(s->crawler, &st);
	double secs = (double)(evc_hrtime() - s->a->start_ns) / 1e9;
	char total[32] = "?";
	if (s->a->in.eof)
		snprintf(total, sizeof total, "%llu", (unsigned long long)st.added);
	char line[300];
	int n = snprintf(line, sizeof line,
			 "%llu/%s done, %.0f pages/s, %u in flight, %u queued, %llu errors",
			 (unsigned long long)st.done, total, secs > 0 ? (double)st.done / secs : 0,
			 st.in_flight, st.queued, (unsigned long long)(st.done - st.ok));
	/* Politeness at work: hosts held back by a delay or a back-off. */
	if (st.keys_waiting || st.keys_backing_off || st.keys_given_up)
		n += snprintf(line + n, sizeof line - (size_t)n,
			      "; hosts: %u waiting, %u backing off, %u given up", st.keys_waiting,
			      st.keys_backing_off, st.keys_given_up);
	size_t width = (size_t)n;
	fprintf(stderr, "\r%s%*s", line,
		s->progress_width > width ? (int)(s->progress_width - width) : 0, "");
	s->progress_width = width;
}

/*
 * --stats-every S: one JSON line of numbers on stderr every S seconds, for
 * logs and for scripts/soak. The loop's lag is how late a 10 ms timer
 * fires (the worst in the interval): the time one turn of callbacks held
 * the loop, which every other watcher waited too.
 */
#define LAG_PROBE_MS 10

static void on_lag_probe(evc_timer_t *t, void *arg)
{
	struct async *s = arg;
	uint64_t now = evc_hrtime(), due = s->lag_last_ns + LAG_PROBE_MS * 1000000ull;
	if (s->lag_last_ns && now > due && now - due > s->lag_max_ns)
		s->lag_max_ns = now - due;
	s->lag_last_ns = now;
}

static long open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	long n = 0;
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n - 3; /* ".", ".." and the directory's own fd */
}

static long rss_kib(void)
{
	long pages = -1, resident = -1;
	FILE *f = fopen("/proc/self/statm", "re");
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
			resident = -1;
		fclose(f);
	}
	return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void on_stats(evc_timer_t *t, void *arg)
{
	struct async *s = arg;
	evc_crawl_stats_t st;
	evc_crawler_stats(s->crawler, &st);
	double secs = (double)(evc_hrtime() - s->a->start_ns) / 1e9;
	fprintf(stderr,
		"{\"stats\":{\"elapsed_s\":%.3f,\"added\":%llu,\"done\":%llu,\"ok\":%llu,"
		"\"in_flight\":%u,\"queued\":%u,\"waiting\":%u,\"connections\":%u,"
		"\"rss_kib\":%ld,\"fds\":%ld,\"loop_lag_ms\":%.3f}}\n",
		secs, (unsigned long long)st.added, (unsigned long long)st.done,
		(unsigned long long)st.ok, st.in_flight, st.queued, st.waiting, st.connections,
		rss_kib(), open_fds(), (double)s->lag_max_ns / 1e6);
	s->lag_max_ns = 0;
}

static int signal_fd = -1;

/* Only async-signal-safe work, and errno as it was: the signal may land
 * between a failed call and the check of its errno. SA_RESETHAND makes a
 * second signal end us at once. */
static void on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;
	ssize_t n = write(signal_fd, &b, 1);
	(void)n;
	errno = saved;
}

static void on_signal_pipe(evc_loop_t *loop, int fd, int events, void *arg)
{
	struct async *s = arg;
	unsigned char b;
	if (read(fd, &b, 1) == 1 && !s->a->caught_signal) {
		s->a->caught_signal = b;
		stop_input(s);
		evc_crawler_cancel(s->crawler);
	}
	evc_io_stop(loop, fd);
}

static void watch_signals(struct async *s)
{
	if (pipe2(s->signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return;
	signal_fd = s->signal_pipe[1];
	struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESETHAND};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	evc_io_start(s->loop, s->signal_pipe[0], EVC_READ, on_signal_pipe, s);
}

int run_async(struct app *a)
{
	struct async s = {.a = a, .signal_pipe = {-1, -1}};
	int rc = evc_loop_new(&s.loop, a->selector);
	if (rc < 0) {
		fprintf(stderr, "%s: cannot use selector '%s': %s (try --help)\n", prog,
			a->selector ? a->selector : "auto", evc_strerror(rc));
		return 2;
	}
	rc = evc_crawler_new(&s.crawler, s.loop, &a->opts, on_result, &s);
	if (rc < 0) {
		if (rc == -EINVAL)
			fprintf(stderr, "%s: bad --dns-server '%s' (try --help)\n", prog,
				a->opts.dns_servers);
		else
			fprintf(stderr, "%s: cannot start: %s\n", prog, evc_strerror(rc));
		evc_loop_free(s.loop);
		return 2;
	}
	input_set_nonblocking(&a->in);
	s.flush_timer = evc_timer_new(s.loop, on_flush_timer, &s);
	if (a->progress) {
		s.progress_timer = evc_timer_new(s.loop, on_progress, &s);
		evc_timer_start(s.progress_timer, 100, 100);
	}
	if (a->stats_every_ms) {
		s.stats_timer = evc_timer_new(s.loop, on_stats, &s);
		s.lag_timer = evc_timer_new(s.loop, on_lag_probe, &s);
		evc_timer_start(s.stats_timer, a->stats_every_ms, a->stats_every_ms);
		evc_timer_start(s.lag_timer, LAG_PROBE_MS, LAG_PROBE_MS);
	}
	watch_signals(&s);
	evc_crawler_set_feed(s.crawler, feed, &s);

	/* Until every URL has its record. Our own watchers (signal pipe,
	 * progress) would keep the loop alive forever, so check each turn. */
	while (!evc_crawler_finished(s.crawler)) {
		rc = evc_loop_run(s.loop, EVC_RUN_ONCE);
		if (rc < 0) {
			fprintf(stderr, "%s: event loop failed: %s\n", prog, evc_strerror(rc));
			break;
		}
	}
	output_flush(a);
	if (s.progress_timer && s.progress_width)
		fprintf(stderr, "\r%*s\r", (int)s.progress_width, "");
	evc_crawl_stats_t st;
	evc_crawler_stats(s.crawler, &st);
	a->tally.connections = st.connections_opened;
	a->tally.requests = st.requests;
	a->tally.spilled = st.frontier_spilled;

	input_close(&a->in);
	if (s.signal_pipe[0] >= 0) {
		evc_io_stop(s.loop, s.signal_pipe[0]);
		close(s.signal_pipe[0]);
		close(s.signal_pipe[1]);
	}
	if (s.stats_timer)
		on_stats(s.stats_timer, &s); /* the last numbers, at the end */
	evc_timer_free(s.stats_timer);
	evc_timer_free(s.lag_timer);
	evc_timer_free(s.progress_timer);
	evc_timer_free(s.flush_timer);
	evc_crawler_free(s.crawler);
	evc_loop_free(s.loop);
	return rc < 0 ? 1 : 0;
}
