/*
 * evcrawl: crawl URLs from the command line or a file, print one JSON record
 * per URL on stdout, a summary on stderr.
 *
 * The command is a thin client of the library: it parses options into an
 * evc_crawl_opts_t, streams the input into the crawler as it asks for more
 * (so a list of millions of lines runs in bounded memory), and writes the
 * results. Everything runs on one loop: the crawler, the input when it is a
 * pipe, the record flusher, the progress line, and the signal pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evcrawl/crawler.h"
#include "evcrawl/loop.h"

#define OUT_BUF_SIZE (64 * 1024)
#define IN_BUF_SIZE (64 * 1024)
#define MAX_URL_LINE 8192
#define FEED_BATCH 256

struct input {
	int fd;
	bool is_pipe; /* not a regular file: read nonblocking via the loop */
	bool eof, watching;
	int saved_flags;
	char buf[IN_BUF_SIZE];
	size_t start, end;
	bool skipping; /* inside an over-long line */
	char **urls;   /* URLs from the command line, when no -i */
	int nurls, next_url;
	const char *name;
};

struct app {
	evc_loop_t *loop;
	evc_crawler_t *crawler;
	evc_crawl_opts_t opts;
	struct input in;
	char out[OUT_BUF_SIZE];
	size_t out_len;
	bool out_broken;
	evc_timer_t *flush_timer, *progress_timer;
	bool progress, quiet;
	const char *selector;
	int signal_pipe[2];
	int caught_signal;
	uint64_t start_ns;
	size_t progress_width;
};

static const char *prog = "evcrawl";

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (try --help)\n");
	va_end(ap);
	exit(2);
}

/* ---- output ------------------------------------------------------------- */

static void flush_out(struct app *a)
{
	size_t off = 0;
	while (off < a->out_len && !a->out_broken) {
		ssize_t n = write(STDOUT_FILENO, a->out + off, a->out_len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			/* stdout is a nonblocking pipe (shared with our input?):
			 * wait for it rather than drop records. */
			fd_set w;
			FD_ZERO(&w);
			FD_SET(STDOUT_FILENO, &w);
			select(STDOUT_FILENO + 1, NULL, &w, NULL, NULL);
			continue;
		}
		if (n < 0) {
			/* The reader went away (EPIPE): nobody wants more. */
			a->out_broken = true;
			evc_crawler_cancel(a->crawler);
			break;
		}
		off += (size_t)n;
	}
	a->out_len = 0;
}

static void on_flush_timer(evc_timer_t *t, void *arg)
{
	flush_out(arg);
}

/* Records are batched per loop iteration: a zero-timeout timer flushes
 * whatever finished in this iteration, so no record waits for later ones
 * and there is one write() per iteration, not per record. */
static void on_result(evc_crawler_t *c, const evc_result_t *r, void *arg)
{
	struct app *a = arg;
	if (a->out_broken)
		return;
	char line[4096];
	size_t len = evc_result_to_json(r, line, sizeof line);
	const char *src = line;
	char *big = NULL;
	if (len >= sizeof line) {
		big = malloc(len + 1);
		if (!big)
			return;
		evc_result_to_json(r, big, len + 1);
		src = big;
	}
	if (a->out_len + len > sizeof a->out)
		flush_out(a);
	if (len > sizeof a->out) {
		/* Rare (a URL of kilobytes): write it in pieces. */
		for (size_t off = 0; off < len; off += sizeof a->out) {
			size_t part = len - off < sizeof a->out ? len - off : sizeof a->out;
			memcpy(a->out, src + off, part);
			a->out_len = part;
			flush_out(a);
		}
	} else {
		memcpy(a->out + a->out_len, src, len);
		a->out_len += len;
	}
	free(big);
	if (!evc_timer_active(a->flush_timer))
		evc_timer_start(a->flush_timer, 0, 0);
}

/* ---- input ----------------------------------------------------------------- */

static void on_input_readable(evc_loop_t *loop, int fd, int events, void *arg);

/* Add one line as a URL unless it is blank or a comment. */
static void add_line(struct app *a, char *s, size_t len, bool truncated)
{
	while (len && (s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	size_t i = 0;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i == len || s[i] == '#')
		return;
	if (truncated) {
		/* Still one record for it: the URL as far as we kept it,
		 * marked so that it cannot parse. */
		char tmp[MAX_URL_LINE + 32];
		int n = snprintf(tmp, sizeof tmp, "%.*s (line too long)", MAX_URL_LINE,
				 s + i);
		evc_crawler_add(a->crawler, tmp, (size_t)n, NULL);
		return;
	}
	evc_crawler_add(a->crawler, s + i, len - i, NULL);
}

/* Take up to `max` lines from the buffer; returns how many were taken. */
static int take_lines(struct app *a, int max)
{
	struct input *in = &a->in;
	int taken = 0;
	while (taken < max && in->start < in->end) {
		char *s = in->buf + in->start;
		char *nl = memchr(s, '\n', in->end - in->start);
		if (!nl)
			break;
		size_t len = (size_t)(nl - s);
		if (in->skipping)
			in->skipping = false;
		else
			add_line(a, s, len, false), taken++;
		in->start += len + 1;
	}
	return taken;
}

static void close_input(struct app *a)
{
	struct input *in = &a->in;
	if (in->watching)
		evc_io_stop(a->loop, in->fd);
	in->watching = false;
	in->eof = true;
	evc_crawler_close_input(a->crawler);
}

/* The crawler has room: give it up to FEED_BATCH URLs. */
static void feed(evc_crawler_t *c, void *arg)
{
	struct app *a = arg;
	struct input *in = &a->in;
	if (in->eof)
		return;
	if (in->urls) {
		for (int n = 0; n < FEED_BATCH && in->next_url < in->nurls; n++) {
			const char *u = in->urls[in->next_url++];
			evc_crawler_add(c, u, strlen(u), NULL);
		}
		if (in->next_url == in->nurls)
			close_input(a);
		return;
	}
	int taken = take_lines(a, FEED_BATCH);
	while (taken < FEED_BATCH) {
		if (in->start > 0) {
			memmove(in->buf, in->buf + in->start, in->end - in->start);
			in->end -= in->start;
			in->start = 0;
		}
		if (in->end == sizeof in->buf) {
			/* A line longer than the buffer: report what we have
			 * and skip the rest of it. */
			add_line(a, in->buf, in->end, true);
			in->end = 0;
			in->skipping = true;
			taken++;
			continue;
		}
		ssize_t n = read(in->fd, in->buf + in->end, sizeof in->buf - in->end);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (!in->watching &&
			    evc_io_start(a->loop, in->fd, EVC_READ, on_input_readable, a) == 0)
				in->watching = true;
			return;
		}
		if (n <= 0) {
			if (n < 0)
				fprintf(stderr, "%s: reading %s: %s\n", prog, in->name,
					strerror(errno));
			if (in->end > in->start && !in->skipping)
				add_line(a, in->buf + in->start, in->end - in->start, false);
			in->start = in->end = 0;
			close_input(a);
			return;
		}
		in->end += (size_t)n;
		taken += take_lines(a, FEED_BATCH - taken);
	}
}

static void on_input_readable(evc_loop_t *loop, int fd, int events, void *arg)
{
	struct app *a = arg;
	evc_io_stop(loop, fd);
	a->in.watching = false;
	evc_crawler_set_feed(a->crawler, feed, a); /* asks for URLs again now */
}

static void open_input(struct app *a, const char *path)
{
	struct input *in = &a->in;
	in->name = strcmp(path, "-") == 0 ? "stdin" : path;
	in->fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (in->fd < 0)
		usage_error("cannot open input file %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(in->fd, &st) < 0)
		usage_error("cannot read input file %s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		usage_error("input file %s is a directory", path);
	in->is_pipe = !S_ISREG(st.st_mode);
	if (in->is_pipe) {
		in->saved_flags = fcntl(in->fd, F_GETFL);
		fcntl(in->fd, F_SETFL, in->saved_flags | O_NONBLOCK);
	}
}

/* ---- progress and summary ------------------------------------------------- */

static void on_progress(evc_timer_t *t, void *arg)
{
	struct app *a = arg;
	evc_crawl_stats_t s;
	evc_crawler_stats(a->crawler, &s);
	double secs = (double)(evc_hrtime() - a->start_ns) / 1e9;
	uint64_t errors = s.done - s.ok;
	char total[32] = "?";
	if (a->in.eof)
		snprintf(total, sizeof total, "%llu", (unsigned long long)s.added);
	char line[200];
	int n = snprintf(line, sizeof line,
			 "%llu/%s done, %.0f pages/s, %u in flight, %u queued, %llu errors",
			 (unsigned long long)s.done, total, secs > 0 ? (double)s.done / secs : 0,
			 s.in_flight, s.queued, (unsigned long long)errors);
	size_t width = (size_t)n;
	fprintf(stderr, "\r%s%*s", line,
		a->progress_width > width ? (int)(a->progress_width - width) : 0, "");
	a->progress_width = width;
}

static void clear_progress(struct app *a)
{
	if (a->progress_width)
		fprintf(stderr, "\r%*s\r", (int)a->progress_width, "");
	a->progress_width = 0;
}

static void print_summary(struct app *a)
{
	evc_crawl_stats_t s;
	evc_crawler_stats(a->crawler, &s);
	double secs = (double)(evc_hrtime() - a->start_ns) / 1e9;
	char kinds[512] = "";
	size_t off = 0;
	for (int k = 1; k < EVC_ERR__COUNT; k++) {
		if (!s.errors[k])
			continue;
		off += (size_t)snprintf(kinds + off, sizeof kinds - off, "%s%s %llu",
					off ? ", " : " (", evc_error_kind_name(k),
					(unsigned long long)s.errors[k]);
		if (off >= sizeof kinds)
			break;
	}
	if (off && off < sizeof kinds - 1)
		snprintf(kinds + off, sizeof kinds - off, ")");
	double mib = (double)s.bytes / (1024.0 * 1024.0);
	fprintf(stderr,
		"%s: %llu URLs, %llu ok, %llu errors%s; %.1f pages/s; %.1f MiB; %.2f s; "
		"%llu connections, %llu requests\n",
		prog, (unsigned long long)s.done, (unsigned long long)s.ok,
		(unsigned long long)(s.done - s.ok), kinds, secs > 0 ? (double)s.done / secs : 0,
		mib, secs, (unsigned long long)s.connections_opened,
		(unsigned long long)s.requests);
}

/* ---- signals ---------------------------------------------------------------- */

static int signal_write_fd = -1;

static void on_signal(int sig)
{
	unsigned char b = (unsigned char)sig;
	ssize_t n = write(signal_write_fd, &b, 1);
	(void)n;
	signal(sig, SIG_DFL); /* a second one ends us at once */
}

static void on_signal_pipe(evc_loop_t *loop, int fd, int events, void *arg)
{
	struct app *a = arg;
	unsigned char b;
	if (read(fd, &b, 1) == 1 && !a->caught_signal) {
		a->caught_signal = b;
		if (a->in.watching)
			evc_io_stop(loop, a->in.fd);
		a->in.watching = false;
		a->in.eof = true;
		evc_crawler_cancel(a->crawler);
	}
	evc_io_stop(loop, fd);
}

static void setup_signals(struct app *a)
{
	signal(SIGPIPE, SIG_IGN);
	if (pipe2(a->signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return;
	signal_write_fd = a->signal_pipe[1];
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	evc_io_start(a->loop, a->signal_pipe[0], EVC_READ, on_signal_pipe, a);
}

/* ---- options ---------------------------------------------------------------- */

static void help(void)
{
	printf("Usage: %s [options] URL...\n"
	       "       %s [options] -i FILE      (one URL per line; '-' is stdin)\n"
	       "\n"
	       "Fetches every URL concurrently on one event loop and prints one JSON record\n"
	       "per URL on stdout, in completion order; a summary goes to stderr.\n"
	       "\n"
	       "  -i, --input FILE          read URLs from FILE ('-': stdin); blank lines and\n"
	       "                            lines starting with # are skipped\n"
	       "  -c, --concurrency N       fetches in flight in total (default 100)\n"
	       "      --per-host N          fetches in flight per host (default 8)\n"
	       "      --timeout S           whole fetch incl. redirects and retries (60)\n"
	       "      --connect-timeout S   TCP connect (10)\n"
	       "      --idle-timeout S      no byte received (30)\n"
	       "      --dns-timeout S       one DNS lookup (10)\n"
	       "      --retries N           retries after a retryable failure (2)\n"
	       "      --max-redirects N     redirects to follow (10)\n"
	       "      --max-body BYTES      largest body, decoded; suffixes K, M, G (64M)\n"
	       "      --dns-server IP[:PORT][,...]  DNS servers instead of the system's\n"
	       "      --resolve HOST:PORT:ADDR      use ADDR for HOST:PORT (repeatable;\n"
	       "                            PORT may be '*')\n"
	       "  -A, --user-agent STRING   User-Agent (default evcrawl/%s)\n"
	       "  -H, --header 'Name: value'  extra request header (repeatable;\n"
	       "                            'Name:' removes a default one)\n"
	       "      --compressed          ask for gzip/deflate and decode bodies\n"
	       "  -o, --output-dir DIR      save bodies as DIR/HOST/PATH\n"
	       "      --selector NAME       event loop backend: epoll, poll or select\n"
	       "      --progress            show progress on stderr (default: if a terminal)\n"
	       "      --no-progress         never show progress\n"
	       "  -q, --quiet               no progress, no summary\n"
	       "  -h, --help                this help\n"
	       "  -V, --version             print the version\n"
	       "\n"
	       "Exit status: 0 every URL got a complete response, 1 some failed,\n"
	       "2 usage error, 130/143 interrupted by SIGINT/SIGTERM.\n",
	       prog, prog, evc_version());
}

static unsigned parse_count(const char *opt, const char *v, unsigned min)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	if (errno || end == v || *end || n < min || n > 1000000 || *v == '-')
		usage_error("%s wants a whole number >= %u, not '%s'", opt, min, v);
	return (unsigned)n;
}

static unsigned parse_seconds(const char *opt, const char *v)
{
	char *end;
	errno = 0;
	double s = strtod(v, &end);
	if (errno || end == v || *end || !(s > 0) || s > 86400 * 7)
		usage_error("%s wants seconds > 0, not '%s'", opt, v);
	return (unsigned)ceil(s * 1000);
}

static uint64_t parse_bytes(const char *opt, const char *v)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	unsigned shift = 0;
	if (*end == 'k' || *end == 'K')
		shift = 10, end++;
	else if (*end == 'm' || *end == 'M')
		shift = 20, end++;
	else if (*end == 'g' || *end == 'G')
		shift = 30, end++;
	if (errno || end == v || *end || *v == '-' || n > (1ull << 40))
		usage_error("%s wants a byte count like 1048576 or 64M, not '%s'", opt, v);
	return (uint64_t)n << shift;
}

enum {
	OPT_PER_HOST = 256,
	OPT_TIMEOUT,
	OPT_CONNECT_TIMEOUT,
	OPT_IDLE_TIMEOUT,
	OPT_DNS_TIMEOUT,
	OPT_RETRIES,
	OPT_MAX_REDIRECTS,
	OPT_MAX_BODY,
	OPT_DNS_SERVER,
	OPT_RESOLVE,
	OPT_COMPRESSED,
	OPT_PROGRESS,
	OPT_NO_PROGRESS,
	OPT_SELECTOR,
};

static const struct option long_opts[] = {
	{"input", required_argument, NULL, 'i'},
	{"concurrency", required_argument, NULL, 'c'},
	{"per-host", required_argument, NULL, OPT_PER_HOST},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
	{"idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT},
	{"dns-timeout", required_argument, NULL, OPT_DNS_TIMEOUT},
	{"retries", required_argument, NULL, OPT_RETRIES},
	{"max-redirects", required_argument, NULL, OPT_MAX_REDIRECTS},
	{"max-body", required_argument, NULL, OPT_MAX_BODY},
	{"dns-server", required_argument, NULL, OPT_DNS_SERVER},
	{"resolve", required_argument, NULL, OPT_RESOLVE},
	{"user-agent", required_argument, NULL, 'A'},
	{"header", required_argument, NULL, 'H'},
	{"compressed", no_argument, NULL, OPT_COMPRESSED},
	{"output-dir", required_argument, NULL, 'o'},
	{"selector", required_argument, NULL, OPT_SELECTOR},
	{"progress", no_argument, NULL, OPT_PROGRESS},
	{"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

struct parsed {
	const char *input;
	const char **headers;
	int nheaders;
	const char **resolves;
	int nresolves;
	int progress; /* -1: auto */
};

/* mkdir -p: -o DIR creates its parents, as wget2 -P does. */
static int make_dirs(const char *path)
{
	char *p = strdup(path);
	if (!p)
		return -1;
	int rc = 0;
	for (char *s = strchr(p + 1, '/'); s && rc == 0; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			rc = -1;
		*s = '/';
	}
	if (rc == 0 && mkdir(p, 0755) < 0 && errno != EEXIST)
		rc = -1;
	free(p);
	return rc;
}

static void parse_args(struct app *a, struct parsed *p, int argc, char **argv)
{
	evc_crawl_opts_t *o = &a->opts;
	p->progress = -1;
	p->headers = calloc((size_t)argc + 1, sizeof *p->headers);
	p->resolves = calloc((size_t)argc + 1, sizeof *p->resolves);
	int opt;
	while ((opt = getopt_long(argc, argv, "i:c:A:H:o:qhV", long_opts, NULL)) != -1) {
		const char *name = optind > 0 && optind <= argc ? argv[optind - 1] : "option";
		switch (opt) {
		case 'i':
			p->input = optarg;
			break;
		case 'c':
			o->concurrency = parse_count("--concurrency", optarg, 1);
			break;
		case OPT_PER_HOST:
			o->per_host = parse_count("--per-host", optarg, 1);
			break;
		case OPT_TIMEOUT:
			o->timeout_ms = parse_seconds("--timeout", optarg);
			break;
		case OPT_CONNECT_TIMEOUT:
			o->connect_timeout_ms = parse_seconds("--connect-timeout", optarg);
			break;
		case OPT_IDLE_TIMEOUT:
			o->idle_timeout_ms = parse_seconds("--idle-timeout", optarg);
			break;
		case OPT_DNS_TIMEOUT:
			o->dns_timeout_ms = parse_seconds("--dns-timeout", optarg);
			break;
		case OPT_RETRIES:
			o->retries = parse_count("--retries", optarg, 0);
			break;
		case OPT_MAX_REDIRECTS:
			o->max_redirects = parse_count("--max-redirects", optarg, 0);
			break;
		case OPT_MAX_BODY:
			o->max_body = parse_bytes("--max-body", optarg);
			break;
		case OPT_DNS_SERVER:
			o->dns_servers = optarg;
			break;
		case OPT_RESOLVE:
			p->resolves[p->nresolves++] = optarg;
			break;
		case 'A':
			o->user_agent = optarg;
			break;
		case 'H':
			p->headers[p->nheaders++] = optarg;
			break;
		case OPT_COMPRESSED:
			o->compressed = true;
			break;
		case 'o':
			o->output_dir = optarg;
			break;
		case OPT_SELECTOR:
			a->selector = optarg;
			break;
		case OPT_PROGRESS:
			p->progress = 1;
			break;
		case OPT_NO_PROGRESS:
			p->progress = 0;
			break;
		case 'q':
			a->quiet = true;
			break;
		case 'h':
			help();
			exit(0);
		case 'V':
			printf("evcrawl %s\n", evc_version());
			exit(0);
		default:
			(void)name;
			fprintf(stderr, "Try '%s --help'.\n", prog);
			exit(2);
		}
	}
	o->headers = p->headers;
	o->resolve = p->resolves;
	const char *what;
	if (evc_crawl_opts_check(o, &what) < 0)
		usage_error("%s", what);
	if (p->input && optind < argc)
		usage_error("give URLs as arguments or with -i FILE, not both");
	if (!p->input && optind >= argc)
		usage_error("no URLs: give them as arguments or with -i FILE");
	if (o->output_dir) {
		struct stat st;
		if (make_dirs(o->output_dir) < 0)
			usage_error("cannot create output directory %s: %s", o->output_dir,
				    strerror(errno));
		if (stat(o->output_dir, &st) < 0 || !S_ISDIR(st.st_mode))
			usage_error("output directory %s is not a directory", o->output_dir);
	}
}

/* Crawls want many sockets: take the hard limit, as nginx and wrk do. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	static struct app app;
	struct app *a = &app;
	struct parsed p = {0};
	evc_crawl_opts_init(&a->opts);
	parse_args(a, &p, argc, argv);
	raise_fd_limit();

	int rc = evc_loop_new(&a->loop, a->selector);
	if (rc < 0)
		usage_error("cannot use selector '%s': %s", a->selector ? a->selector : "auto",
			    evc_strerror(rc));
	rc = evc_crawler_new(&a->crawler, a->loop, &a->opts, on_result, a);
	if (rc == EVC_EDNS)
		usage_error("bad --dns-server '%s'", a->opts.dns_servers);
	if (rc < 0)
		usage_error("cannot start: %s", evc_strerror(rc));
	if (p.input) {
		open_input(a, p.input);
	} else {
		a->in.urls = argv + optind;
		a->in.nurls = argc - optind;
	}
	a->flush_timer = evc_timer_new(a->loop, on_flush_timer, a);
	a->progress = !a->quiet && (p.progress == 1 || (p.progress == -1 && isatty(2)));
	if (a->progress) {
		a->progress_timer = evc_timer_new(a->loop, on_progress, a);
		evc_timer_start(a->progress_timer, 100, 100);
	}
	setup_signals(a);
	a->start_ns = evc_hrtime();
	evc_crawler_set_feed(a->crawler, feed, a);

	/* Run until every URL has its record; our own watchers (signal pipe,
	 * progress) would keep the loop alive forever, so check each turn. */
	while (!evc_crawler_finished(a->crawler)) {
		rc = evc_loop_run(a->loop, EVC_RUN_ONCE);
		if (rc < 0) {
			fprintf(stderr, "%s: event loop failed: %s\n", prog, evc_strerror(rc));
			break;
		}
	}
	flush_out(a);
	if (a->progress) {
		evc_timer_free(a->progress_timer);
		clear_progress(a);
	}
	if (!a->quiet)
		print_summary(a);

	evc_crawl_stats_t s;
	evc_crawler_stats(a->crawler, &s);
	int status = s.done == s.ok ? 0 : 1;
	if (a->caught_signal)
		status = 128 + a->caught_signal;
	if (a->in.is_pipe)
		fcntl(a->in.fd, F_SETFL, a->in.saved_flags);
	evc_io_stop(a->loop, a->signal_pipe[0]);
	evc_crawler_free(a->crawler);
	evc_timer_free(a->flush_timer);
	evc_loop_free(a->loop);
	free(p.headers);
	free(p.resolves);
	return status;
}
