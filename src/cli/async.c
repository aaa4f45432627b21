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
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"

#define FEED_BATCH 256

struct async {
	struct app *a;
	evc_loop_t *loop;
	evc_crawler_t *crawler;
	evc_timer_t *flush_timer, *progress_timer;
	evc_timer_t *stats_timer, *lag_timer; /* --stats-every */
	evc_timer_t *sample_timer;	      /* is --per-host what holds the crawl back? */
	unsigned samples, held_by_host;
	bool progress_shown; /* a progress line is on the terminal now */
	bool same_terminal;  /* records go to the terminal the line is on */
	unsigned width;	     /* the terminal's columns */
	uint64_t lag_last_ns, lag_max_ns;
	bool watching_input;
	int signal_pipe[2];
	size_t progress_width;
};

static void draw_progress(struct async *s);

/* The progress line goes before records are written to its terminal, and
 * comes back after them: never glued to a record. */
static void clear_progress(struct async *s)
{
	if (s->progress_shown) {
		static const char clear[] = "\r\033[K";
		ssize_t n = write(STDERR_FILENO, clear, sizeof clear - 1);
		(void)n;
		s->progress_shown = false;
	}
}

static void on_flush_timer(evc_timer_t *t, void *arg)
{
	struct async *s = arg;
	bool redraw = s->same_terminal && s->progress_shown && s->a->out_len;
	output_flush(s->a); /* clears the line first (before_write) */
	if (redraw)
		draw_progress(s);
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

/*
 * Whether the per-host limit is what keeps fetches from starting: URLs
 * are queued and slots are free in all, yet nothing waits for a delay, a
 * rate, a retry or a back-off. Sampled four times a second, for the
 * progress line and the summary's hint.
 */
static bool held_by_per_host(const struct async *s, const evc_crawl_stats_t *st)
{
	const evc_crawl_opts_t *o = &s->a->opts;
	return st->queued > 0 && st->in_flight < o->concurrency && st->in_flight > 0 &&
	       !st->keys_waiting && !st->keys_backing_off && !o->delay_ms && o->rate <= 0;
}

static void on_sample(evc_timer_t *t, void *arg)
{
	struct async *s = arg;
	evc_crawl_stats_t st;
	evc_crawler_stats(s->crawler, &st);
	s->samples++;
	s->held_by_host += held_by_per_host(s, &st);
}

static volatile sig_atomic_t winch;

static void on_winch(int sig)
{
	winch = 1;
}

/* The terminal's columns; not a terminal (--progress to a file): no limit. */
static unsigned terminal_width(void)
{
	struct winsize ws;
	return ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col ? ws.ws_col : 1000;
}

/* "1:02:03" or "2:03" */
static void clock_text(char *buf, size_t cap, double secs)
{
	unsigned long t = secs > 0 && secs < 1e7 ? (unsigned long)(secs + 0.5) : 0;
	if (t >= 3600)
		snprintf(buf, cap, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, cap, "%lu:%02lu", t / 60, t % 60);
}

/*
 * One line, never wider than the terminal (a wider one would wrap and leave
 * its tail behind at each redraw): done/total, in flight, queued, waiting
 * for a retry, errors, pages/s, bytes/s, elapsed, ETA, and what holds the
 * crawl back when it is the per-host limit or politeness. Parts are added
 * while they fit, most important first.
 */
static void draw_progress(struct async *s)
{
	evc_crawl_stats_t st;
	evc_crawler_stats(s->crawler, &st);
	if (winch) {
		winch = 0;
		s->width = terminal_width();
	}
	double secs = (double)(evc_hrtime() - s->a->start_ns) / 1e9;
	char parts[12][96], t1[24], t2[24];
	int n = 0;
	if (s->a->in.eof && st.added)
		snprintf(parts[n++], sizeof parts[0], "%llu/%llu done (%.0f%%)",
			 (unsigned long long)st.done, (unsigned long long)st.added,
			 100.0 * (double)st.done / (double)st.added);
	else
		snprintf(parts[n++], sizeof parts[0], "%llu done", (unsigned long long)st.done);
	snprintf(parts[n++], sizeof parts[0], "%u in flight", st.in_flight);
	snprintf(parts[n++], sizeof parts[0], "%u queued", st.queued);
	if (st.waiting)
		snprintf(parts[n++], sizeof parts[0], "%u waiting to retry", st.waiting);
	snprintf(parts[n++], sizeof parts[0], "%llu errors", (unsigned long long)(st.done - st.ok));
	snprintf(parts[n++], sizeof parts[0], "%.0f pages/s, %.1f MiB/s",
		 secs > 0 ? (double)st.done / secs : 0,
		 secs > 0 ? (double)st.bytes / secs / (1024.0 * 1024.0) : 0);
	clock_text(t1, sizeof t1, secs);
	if (s->a->in.eof && st.done && st.added > st.done) {
		clock_text(t2, sizeof t2, secs * (double)(st.added - st.done) / (double)st.done);
		snprintf(parts[n++], sizeof parts[0], "%s, ETA %s", t1, t2);
	} else {
		snprintf(parts[n++], sizeof parts[0], "%s", t1);
	}
	if (held_by_per_host(s, &st))
		snprintf(parts[n++], sizeof parts[0], "held back by --per-host %u",
			 s->a->opts.per_host);
	if (st.keys_waiting || st.keys_backing_off || st.keys_given_up)
		snprintf(parts[n++], sizeof parts[0],
			 "hosts: %u waiting, %u backing off, %u given up", st.keys_waiting,
			 st.keys_backing_off, st.keys_given_up);
	char line[1024];
	size_t len = 0, room = s->width > 1 ? s->width - 1 : 1;
	if (room > sizeof line - 1)
		room = sizeof line - 1;
	for (int i = 0; i < n; i++) {
		size_t plen = strlen(parts[i]), sep = len ? 3 : 0;
		if (len + sep + plen > room) {
			if (!len) { /* not even the first part fits: cut it */
				memcpy(line, parts[i], room);
				len = room;
			}
			break;
		}
		memcpy(line + len, " | ", sep);
		memcpy(line + len + sep, parts[i], plen);
		len += sep + plen;
	}
	char out[1100];
	int olen = snprintf(out, sizeof out, "\r%.*s\033[K", (int)len, line);
	ssize_t w = write(STDERR_FILENO, out, (size_t)olen);
	(void)w;
	s->progress_shown = true;
	s->progress_width = len;
}

static void on_progress(evc_timer_t *t, void *arg)
{
	draw_progress(arg);
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

static void clear_progress_cb(void *arg)
{
	clear_progress(arg);
}

static void on_stats(evc_timer_t *t, void *arg)
{
	struct async *s = arg;
	clear_progress(s); /* its own line, not glued to the progress line */
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
		s.width = terminal_width();
		/* Records to the same terminal: the line is cleared before them. */
		struct stat o, e;
		s.same_terminal = isatty(STDOUT_FILENO) && fstat(STDOUT_FILENO, &o) == 0 &&
				  fstat(STDERR_FILENO, &e) == 0 && o.st_rdev == e.st_rdev;
		if (s.same_terminal) { /* both are reset before s goes (below) */
			a->before_write = clear_progress_cb;
			// cppcheck-suppress autoVariables
			a->before_arg = &s;
		}
		struct sigaction sa = {.sa_handler = on_winch, .sa_flags = SA_RESTART};
		sigemptyset(&sa.sa_mask);
		sigaction(SIGWINCH, &sa, NULL);
	}
	s.sample_timer = evc_timer_new(s.loop, on_sample, &s);
	evc_timer_start(s.sample_timer, 250, 250);
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
	if (s.progress_timer && s.progress_shown) {
		static const char clear[] = "\r\033[K";
		ssize_t w = write(STDERR_FILENO, clear, sizeof clear - 1);
		(void)w;
	}
	output_flush(a);
	/* The per-host limit held the crawl back most of the time: say so. */
	a->held_by_per_host = s.samples >= 4 && s.held_by_host * 2 > s.samples;
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
	evc_timer_free(s.sample_timer);
	a->before_write = NULL;
	a->before_arg = NULL;
	evc_timer_free(s.flush_timer);
	evc_crawler_free(s.crawler);
	evc_loop_free(s.loop);
	return rc < 0 ? 1 : 0;
}
