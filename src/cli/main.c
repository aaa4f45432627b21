/*
 * evcrawl: crawl URLs from the command line or a file, print one JSON record
 * per URL on stdout, a summary on stderr.
 *
 * The command is a thin client of the library: it parses options into an
 * evc_crawl_opts_t and hands the input to the runner of the chosen I/O mode
 * (async.c: the event loop; classic.c: blocking, busy-poll, threads,
 * processes). input.c reads URLs, output.c writes records and the summary.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

const char *prog = "evcrawl";

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
	       "  -x, --proxy URL           through a proxy: http://, socks5:// (resolved\n"
	       "                            here) or socks5h:// (by the proxy); USER:PASS@\n"
	       "                            in it; else http_proxy, https_proxy, all_proxy\n"
	       "      --noproxy LIST        hosts reached directly (names, addresses,\n"
	       "                            10.0.0.0/8; '*' all), instead of no_proxy\n"
	       "  -A, --user-agent STRING   User-Agent (default evcrawl/%s)\n"
	       "      --default-scheme S    http or https before URLs given without one\n"
	       "                            (example.com/x); else they are bad URLs\n"
	       "  -H, --header 'Name: value'  extra request header (repeatable;\n"
	       "                            'Name:' removes a default one)\n"
	       "  -I, --head                send HEAD: no body is waited for\n"
	       "  -X, --request METHOD      send METHOD instead of GET\n"
	       "  -d, --data DATA           send DATA with every URL, as POST (several are\n"
	       "                            joined with &; @FILE reads a file, CR/LF\n"
	       "                            dropped), Content-Type form-urlencoded unless\n"
	       "                            -H sets one; at most 1 MiB\n"
	       "      --data-binary DATA    the same, @FILE sent byte for byte\n"
	       "      --data-raw DATA       the same, no @FILE\n"
	       "      --format F            records as jsonl (default), csv (RFC 4180, a\n"
	       "                            header line first) or tsv\n"
	       "  -v, --verbose             each request and response head on stderr, its\n"
	       "                            lines prefixed by the URL and > or <\n"
	       "      --record-header NAME  records show that response header's value\n"
	       "                            (\"headers\":{\"name\":\"value\"}; repeatable)\n"
	       "      --fail                a final status of 400 or more is an error (kind\n"
	       "                            http; exit status 1), as curl -f\n"
	       "      --match-status LIST   write only records whose status is in LIST\n"
	       "                            (200,301-399; 0 = no status); all are counted\n"
	       "      --filter-status LIST  write only records whose status is not in LIST\n"
	       "  -b, --cookie DATA|FILE    'name=value[; n2=v2]' (DATA has a '='): sent\n"
	       "                            with every request; else a Netscape cookie file\n"
	       "                            (curl's, wget's) to start from, which also keeps\n"
	       "                            the cookies servers set and sends them back\n"
	       "                            (RFC 6265); repeatable; '' starts empty\n"
	       "      --cookie-jar FILE     keep cookies (as -b FILE) and write them all,\n"
	       "                            session ones too, to FILE at the end (curl's -c;\n"
	       "                            here -c is --concurrency). Not with --mode\n"
	       "                            processes: each worker has its own cookies\n"
	       "      --compressed          ask for gzip, deflate, br or zstd and decode\n"
	       "                            bodies (a coding it cannot decode is an error)\n"
	       "      --cacert FILE         trust the CAs in FILE (PEM) instead of the system's\n"
	       "      --capath DIR          trust the CAs in DIR (c_rehash'ed) instead\n"
	       "  -k, --insecure            do not check certificates (says so once)\n"
	       "      --tls-min VERSION     lowest TLS version: 1.2 (default) or 1.3\n"
	       "      --cert-info           records show the server's certificate: subject,\n"
	       "                            issuer, SANs, not_before, not_after, days_left\n"
	       "      --max-handshakes N    https connections being set up at once (256;\n"
	       "                            0: no limit)\n"
	       "\n"
	       "Being polite (--mode async; a key is a host, domain or address):\n"
	       "      --politeness-key K    host (default), domain (registrable, by the\n"
	       "                            public suffix list) or ip: what --per-host,\n"
	       "                            --delay and back-off count against\n"
	       "      --delay S             at least S seconds between requests to a key\n"
	       "      --random-delay        vary each delay between 0.5 and 1.5 times S\n"
	       "      --rate N[/s|/m|/h]    at most N requests per second (minute, hour) in\n"
	       "                            all, bursts of N/10\n"
	       "      --max-retry-after S   longest pause of a key for a 429/503 (120)\n"
	       "      --host-errors N       give a key up after N connect failures or\n"
	       "                            timeouts in a row (10); from the second it\n"
	       "                            pauses, doubling from 1 s; 0: neither\n"
	       "      --robots              obey robots.txt (RFC 9309), fetched once per host\n"
	       "      --max-crawl-delay S   longest robots.txt Crawl-delay honoured (60)\n"
	       "\n"
	       "Crawling (--mode async): links in HTML pages are fetched too, each URL once:\n"
	       "  -r, --recursive           follow links (robots.txt obeyed unless --no-robots)\n"
	       "      --depth N             links followed from a seed (5; seeds are 0)\n"
	       "      --scope S             host (default: the seed's host), domain (its\n"
	       "                            registrable domain), prefix (under its\n"
	       "                            directory) or any\n"
	       "      --include REGEX       only URLs matching (POSIX extended)\n"
	       "      --exclude REGEX       no URLs matching\n"
	       "      --max-pages N         fetch at most N URLs, seeds included\n"
	       "      --max-url-length N    skip longer discovered URLs (2048)\n"
	       "      --max-path-repeats N  skip URLs whose path has a segment more than N\n"
	       "                            times (3; 0: no limit)\n"
	       "      --max-query-variants N  at most N query strings per path (100; 0: no\n"
	       "                            limit)\n"
	       "      --links               records list the links found on the page\n"
	       "      --sitemap             with -r: the sitemaps robots.txt names, and\n"
	       "                            sitemaps given as URLs, add their URLs as seeds\n"
	       "      --frontier-mem BYTES  discovered URLs held in memory, about (64M); the\n"
	       "                            rest wait on disk; K, M, G suffixes\n"
	       "      --state DIR           keep the crawl's state in DIR (SQLite): run the\n"
	       "                            same command again after a crash or a kill and it\n"
	       "                            goes on, fetching nothing twice that had a record\n"
	       "      --no-robots           with -r: ignore robots.txt\n"
	       "\n"
	       "  -o, --output-dir DIR      save bodies as DIR/HOST/PATH (never through a\n"
	       "                            symbolic link inside DIR); not those of final\n"
	       "                            statuses of 400 or more\n"
	       "      --save-errors         with -o, save error pages (status >= 400) too\n"
	       "      --no-clobber          with -o, skip URLs whose file exists (kind\n"
	       "                            skipped); without it a re-run replaces them\n"
	       "      --resume FILE         skip input URLs that have a record in FILE (an\n"
	       "                            earlier run's output) and add the new records\n"
	       "                            to FILE: run again after a kill to go on\n"
	       "      --stats-every S       a JSON line of numbers on stderr every S seconds\n"
	       "                            (done, in flight, RSS, descriptors, loop lag)\n"
	       "      --mode MODE           async (default: one event loop), blocking,\n"
	       "                            busy-poll, threads or processes (-c workers)\n"
	       "      --selector NAME       event loop backend: epoll, poll or select\n"
	       "      --progress            show progress on stderr (default: if a terminal)\n"
	       "      --no-progress         never show progress\n"
	       "  -q, --quiet               no progress, no summary\n"
	       "  -h, --help                this help\n"
	       "  -V, --version             print the version\n"
	       "\n"
	       "Exit status: 0 every URL got a complete response, 1 some failed (or the\n"
	       "input could not be read, or records not written), 2 usage error, 130/143\n"
	       "interrupted by SIGINT/SIGTERM (URLs not yet read have no record: go on\n"
	       "with --resume).\n",
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

/* --rate's forms, as the library reads them ("rate" in options.h); -1
 * when it is not one. */
static double parse_rate(const char *v)
{
	evc_crawl_opts_t *tmp = evc_crawl_opts_new();
	double r = tmp && evc_crawl_opts_set(tmp, "rate", v) == 0 ? tmp->rate : -1;
	evc_crawl_opts_free(tmp);
	return r;
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
	/* At most 1 TiB, checked before the shift so that no suffix can
	 * overflow a huge number into a small one. */
	if (errno || end == v || *end || *v == '-' || n > (1ull << 40) >> shift)
		usage_error("%s wants a byte count up to 1T like 1048576 or 64M, not '%s'", opt, v);
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
	OPT_CACERT,
	OPT_CAPATH,
	OPT_TLS_MIN,
	OPT_CERT_INFO,
	OPT_MAX_HANDSHAKES,
	OPT_POLITENESS_KEY,
	OPT_DELAY,
	OPT_RANDOM_DELAY,
	OPT_RATE,
	OPT_MAX_RETRY_AFTER,
	OPT_HOST_ERRORS,
	OPT_ROBOTS,
	OPT_MAX_CRAWL_DELAY,
	OPT_DEPTH,
	OPT_SCOPE,
	OPT_INCLUDE,
	OPT_EXCLUDE,
	OPT_MAX_PAGES,
	OPT_MAX_URL_LENGTH,
	OPT_LINKS,
	OPT_NO_ROBOTS,
	OPT_MAX_PATH_REPEATS,
	OPT_MAX_QUERY_VARIANTS,
	OPT_SITEMAP,
	OPT_STATE,
	OPT_RESUME,
	OPT_STATS_EVERY,
	OPT_DEFAULT_SCHEME,
	OPT_FAIL,
	OPT_DATA_BINARY,
	OPT_NO_CLOBBER,
	OPT_RECORD_HEADER,
	OPT_COOKIE_JAR,
	OPT_FORMAT,
	OPT_DATA_RAW,
	OPT_SAVE_ERRORS,
	OPT_MATCH_STATUS,
	OPT_FILTER_STATUS,
	OPT_FRONTIER_MEM,
	OPT_PROGRESS,
	OPT_NO_PROGRESS,
	OPT_SELECTOR,
	OPT_MODE,
	OPT_NOPROXY,
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
    {"cookie", required_argument, NULL, 'b'},
    {"cookie-jar", required_argument, NULL, OPT_COOKIE_JAR},
    {"compressed", no_argument, NULL, OPT_COMPRESSED},
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"capath", required_argument, NULL, OPT_CAPATH},
    {"insecure", no_argument, NULL, 'k'},
    {"tls-min", required_argument, NULL, OPT_TLS_MIN},
    {"cert-info", no_argument, NULL, OPT_CERT_INFO},
    {"max-handshakes", required_argument, NULL, OPT_MAX_HANDSHAKES},
    {"politeness-key", required_argument, NULL, OPT_POLITENESS_KEY},
    {"delay", required_argument, NULL, OPT_DELAY},
    {"random-delay", no_argument, NULL, OPT_RANDOM_DELAY},
    {"rate", required_argument, NULL, OPT_RATE},
    {"max-retry-after", required_argument, NULL, OPT_MAX_RETRY_AFTER},
    {"host-errors", required_argument, NULL, OPT_HOST_ERRORS},
    {"robots", no_argument, NULL, OPT_ROBOTS},
    {"max-crawl-delay", required_argument, NULL, OPT_MAX_CRAWL_DELAY},
    {"recursive", no_argument, NULL, 'r'},
    {"depth", required_argument, NULL, OPT_DEPTH},
    {"scope", required_argument, NULL, OPT_SCOPE},
    {"include", required_argument, NULL, OPT_INCLUDE},
    {"exclude", required_argument, NULL, OPT_EXCLUDE},
    {"max-pages", required_argument, NULL, OPT_MAX_PAGES},
    {"max-url-length", required_argument, NULL, OPT_MAX_URL_LENGTH},
    {"links", no_argument, NULL, OPT_LINKS},
    {"no-robots", no_argument, NULL, OPT_NO_ROBOTS},
    {"max-path-repeats", required_argument, NULL, OPT_MAX_PATH_REPEATS},
    {"max-query-variants", required_argument, NULL, OPT_MAX_QUERY_VARIANTS},
    {"sitemap", no_argument, NULL, OPT_SITEMAP},
    {"state", required_argument, NULL, OPT_STATE},
    {"resume", required_argument, NULL, OPT_RESUME},
    {"stats-every", required_argument, NULL, OPT_STATS_EVERY},
    {"default-scheme", required_argument, NULL, OPT_DEFAULT_SCHEME},
    {"proxy", required_argument, NULL, 'x'},
    {"noproxy", required_argument, NULL, OPT_NOPROXY},
    {"fail", no_argument, NULL, OPT_FAIL},
    {"head", no_argument, NULL, 'I'},
    {"request", required_argument, NULL, 'X'},
    {"data", required_argument, NULL, 'd'},
    {"data-binary", required_argument, NULL, OPT_DATA_BINARY},
    {"data-raw", required_argument, NULL, OPT_DATA_RAW},
    {"save-errors", no_argument, NULL, OPT_SAVE_ERRORS},
    {"no-clobber", no_argument, NULL, OPT_NO_CLOBBER},
    {"record-header", required_argument, NULL, OPT_RECORD_HEADER},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"verbose", no_argument, NULL, 'v'},
    {"match-status", required_argument, NULL, OPT_MATCH_STATUS},
    {"filter-status", required_argument, NULL, OPT_FILTER_STATUS},
    {"frontier-mem", required_argument, NULL, OPT_FRONTIER_MEM},
    {"output-dir", required_argument, NULL, 'o'},
    {"selector", required_argument, NULL, OPT_SELECTOR},
    {"mode", required_argument, NULL, OPT_MODE},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

#define SHORT_OPTS "i:c:A:H:o:rkqhVIX:d:vx:b:"

/*
 * -v: each request and response head on stderr, every line prefixed by the
 * URL and the direction ("> " sent, "< " received), one write(2) per head
 * so that threads and worker processes do not interleave lines.
 */
static void trace_head(void *arg, const char *url, char dir, const char *head, size_t len)
{
	size_t ulen = strlen(url), cap = len * 2 + 64 * (ulen + 4) + 64, n = 0;
	char *out = malloc(cap);
	if (!out)
		return;
	for (size_t at = 0; at < len && n + ulen + 4 < cap;) {
		const char *nl = memchr(head + at, '\n', len - at);
		size_t line = nl ? (size_t)(nl - (head + at)) : len - at;
		size_t show = line && head[at + line - 1] == '\r' ? line - 1 : line;
		if (show && n + ulen + show + 4 < cap) {
			memcpy(out + n, url, ulen);
			n += ulen;
			out[n++] = ' ';
			out[n++] = dir;
			out[n++] = ' ';
			memcpy(out + n, head + at, show);
			n += show;
			out[n++] = '\n';
		}
		at += line + 1;
	}
	for (size_t off = 0; off < n;) {
		ssize_t w = write(STDERR_FILENO, out + off, n - off);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	free(out);
}

/* "200,301-399,404": status ranges for --match-status / --filter-status
 * (0 stands for records with no status). */
static void parse_statuses(struct app *a, const char *opt, const char *v)
{
	const char *p = v; /* repeated, the lists add up */
	while (*p) {
		char *end;
		long lo = strtol(p, &end, 10), hi = lo;
		if (end == p || lo < 0 || lo > 999)
			usage_error("%s wants statuses like 200,301-399 (0-999), not '%s'", opt, v);
		p = end;
		if (*p == '-') {
			hi = strtol(++p, &end, 10);
			if (end == p || hi < lo || hi > 999)
				usage_error("%s: bad range in '%s'", opt, v);
			p = end;
		}
		if (a->nranges == (int)(sizeof a->status_ranges / sizeof a->status_ranges[0]))
			usage_error("%s: at most 64 ranges", opt);
		a->status_ranges[a->nranges++] = (struct status_range){(int)lo, (int)hi};
		if (*p == ',')
			p++;
		else if (*p)
			usage_error("%s wants statuses like 200,301-399 (0-999), not '%s'", opt, v);
	}
	if (!a->nranges)
		usage_error("%s wants at least one status", opt);
}

/* What a curl (or wget) user may type, and what evcrawl has instead. */
static const struct {
	const char *name; /* long name, or a one-letter short one */
	const char *hint;
} curl_habits[] = {
    {"output", "records go to stdout (use > FILE); -o/--output-dir DIR saves bodies "
	       "as DIR/HOST/PATH"},
    {"remote-name", "-o/--output-dir DIR saves every body as DIR/HOST/PATH"},
    {"O", "-o/--output-dir DIR saves every body as DIR/HOST/PATH"},
    {"form", "use --data-binary @FILE with -H 'Content-Type: multipart/form-data; "
	     "boundary=...' (no -F)"},
    {"F", "use --data-binary @FILE with -H 'Content-Type: multipart/form-data; "
	  "boundary=...' (no -F)"},
    {"json", "use --data-binary @FILE -H 'Content-Type: application/json'"},
    {"proxy-user", "put the credentials in the proxy URL: -x http://USER:PASSWORD@HOST:PORT"},
    {"U", "put the credentials in the proxy URL: -x http://USER:PASSWORD@HOST:PORT"},
    {"socks5", "use -x socks5://HOST:PORT"},
    {"socks5-hostname", "use -x socks5h://HOST:PORT"},
    {"preproxy", "one proxy at a time: -x URL"},
    {"proxy-insecure", "HTTPS proxies are not supported: use -x http://HOST:PORT"},
    {"location", "redirects are always followed (--max-redirects N; 0: none)"},
    {"L", "redirects are always followed (--max-redirects N; 0: none)"},
    {"silent", "use -q/--quiet"},
    {"s", "use -q/--quiet"},
    {"max-time", "use --timeout S (the whole fetch)"},
    {"m", "use --timeout S (the whole fetch)"},
    {"retry", "use --retries N"},
    {"parallel", "evcrawl is always parallel: -c N fetches at once (100)"},
    {"Z", "evcrawl is always parallel: -c N fetches at once (100)"},
    {"parallel-max", "use -c/--concurrency N"},
    {"tries", "use --retries N (retries after the first try)"},
    {"wait", "use --delay S"},
    {"level", "use --depth N (with -r)"},
};

static const char *habit_hint(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof curl_habits / sizeof curl_habits[0]; i++)
		if (strlen(curl_habits[i].name) == len && !strncmp(curl_habits[i].name, name, len))
			return curl_habits[i].hint;
	return NULL;
}

/*
 * getopt_long takes any unambiguous prefix of a long option: `--head`
 * would be --header, `--out` --output-dir. A crawler's options are too
 * easily mistaken for curl's for that, so only whole names are accepted,
 * and a name curl or wget users know gets a hint.
 */
static void check_long_names(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0)
			return;
		if (a[0] == '-' && a[1] && a[1] != '-') { /* -X, -Xvalue, -abc, -kH v */
			for (const char *c = a + 1; *c; c++) {
				const char *o = strchr(SHORT_OPTS, *c);
				if (o && o[1] == ':') {
					if (!c[1])
						i++; /* its value is the next word */
					break;	     /* else the rest of the word is */
				}
			}
			continue;
		}
		if (strncmp(a, "--", 2) != 0)
			continue;
		const char *name = a + 2;
		size_t n = strcspn(name, "=");
		const struct option *o = long_opts;
		while (o->name && !(strlen(o->name) == n && !strncmp(o->name, name, n)))
			o++;
		if (o->name) {
			if (o->has_arg == required_argument && !name[n])
				i++;
			continue;
		}
		const char *hint = habit_hint(name, n);
		usage_error("unknown option '--%.*s'%s%s", (int)n, name, hint ? ": " : "",
			    hint ? hint : "");
	}
}

struct parsed {
	const char *input;
	const char **headers;
	int nheaders;
	const char **resolves;
	int nresolves;
	int progress;	    /* -1: auto */
	const char *polite; /* the first politeness option given */
	bool no_robots;
	const char *resume;	/* --resume FILE */
	bool head;		/* -I */
	const char *wanted[33]; /* --record-header names, NULL-terminated */
	int nwanted;
	bool data_stdin; /* -d @-: the body came from stdin */
	char *data;	 /* -d, --data-binary, --data-raw: joined with '&' */
	size_t data_len;

	char *cookie;		   /* -b name=value ones, joined with "; " */
	const char **cookie_files; /* -b FILE ones */
	int ncookie_files;
	const char *cookie_jar; /* --cookie-jar FILE */
};

/*
 * -d, --data-binary, --data-raw, as curl takes them: "@FILE" reads a file
 * (-d drops its CR and LF bytes, --data-binary keeps every byte), "@-"
 * stdin; --data-raw never reads a file; several are joined with '&'.
 */
static void add_data(struct parsed *p, int opt, const char *arg)
{
	const char *name = opt == 'd' ? "-d" : opt == OPT_DATA_RAW ? "--data-raw" : "--data-binary";
	char *bytes = NULL;
	size_t len = 0;
	if (opt != OPT_DATA_RAW && arg[0] == '@') {
		const char *path = arg + 1;
		FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
		if (!f)
			usage_error("%s %s: %s", name, arg, strerror(errno));
		size_t cap = 0;
		for (;;) { /* up to a byte past the limit: -d may drop CR/LF yet */
			if (len == cap) {
				if (cap > 8 * (size_t)EVC_DATA_MAX)
					usage_error("%s %s: larger than 1 MiB", name, arg);
				cap = cap ? cap * 2 : 4096;
				char *grown = realloc(bytes, cap);
				if (!grown)
					usage_error("out of memory"); /* exits */
				bytes = grown;
			}
			size_t n = fread(bytes + len, 1, cap - len, f);
			if (n == 0)
				break;
			len += n;
		}
		if (ferror(f))
			usage_error("%s %s: %s", name, arg, strerror(errno));
		if (f != stdin)
			fclose(f);
		else
			p->data_stdin = true;
		if (opt == 'd') { /* curl's -d @FILE: the file's lines, joined */
			size_t w = 0;
			for (size_t r = 0; r < len; r++)
				if (bytes[r] != '\r' && bytes[r] != '\n')
					bytes[w++] = bytes[r];
			len = w;
		}
	} else {
		len = strlen(arg);
		bytes = malloc(len + 1);
		if (!bytes)
			usage_error("out of memory");
		memcpy(bytes, arg, len);
	}
	size_t sep = p->data ? 1 : 0;
	if (p->data_len + sep + len > EVC_DATA_MAX)
		usage_error("the request body (%s) is larger than 1 MiB", name);
	char *all = realloc(p->data, p->data_len + sep + len + 1);
	if (!all)
		usage_error("out of memory");
	if (sep)
		all[p->data_len] = '&';
	memcpy(all + p->data_len + sep, bytes, len);
	p->data_len += sep + len;
	p->data = all;
	free(bytes);
}

/* -b: "name=value" ones are sent as they are (joined with "; "); anything
 * else is a cookie file, as with curl. */
static void add_cookie(struct parsed *p, const char *arg)
{
	if (!strchr(arg, '=')) {
		p->cookie_files[p->ncookie_files++] = arg;
		return;
	}
	char *all;
	if (asprintf(&all, "%s%s%s", p->cookie ? p->cookie : "", p->cookie ? "; " : "", arg) < 0)
		usage_error("out of memory");
	free(p->cookie);
	p->cookie = all;
}

/*
 * -b FILE or --cookie-jar: one jar for the whole crawl, which every engine
 * (the loop, each thread, each worker process's copy) shares. A -b file
 * that does not exist is an error (a typo would silently send no cookies;
 * curl ignores it), except when it is the --cookie-jar file too: the first
 * run of `-b F --cookie-jar F`.
 */
static void open_jar(struct app *a, struct parsed *p)
{
	if (!p->ncookie_files && !p->cookie_jar)
		return;
	if (evc_cookie_jar_new(&a->opts.cookies) < 0)
		usage_error("out of memory");
	for (int i = 0; i < p->ncookie_files; i++) {
		const char *path = p->cookie_files[i];
		unsigned bad = 0;
		if (!*path)
			continue; /* -b '': cookies on, nothing loaded */
		int rc = evc_cookie_jar_load(a->opts.cookies, path, &bad);
		if (rc == -ENOENT && p->cookie_jar && strcmp(path, p->cookie_jar) == 0)
			continue;
		if (rc < 0)
			usage_error("-b %s: %s (a cookie file; to send a cookie give "
				    "'name=value')",
				    path, evc_strerror(rc));
		if (bad && !a->quiet)
			fprintf(stderr, "%s: warning: -b %s: skipped %u %s\n", prog, path, bad,
				bad == 1 ? "line that is not a cookie"
					 : "lines that are not cookies");
	}
}

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

static enum mode parse_mode(const char *v)
{
	static const char *const names[] = {"async", "blocking", "busy-poll", "threads",
					    "processes"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(v, names[i]) == 0)
			return (enum mode)i;
	usage_error("--mode wants async, blocking, busy-poll, threads or processes, not '%s'", v);
}

/* select() cannot watch an fd >= FD_SETSIZE: with more connections than
 * that in flight the loop would refuse sockets mid-crawl, so say it now. */
static void check_selector(struct app *a)
{
	if (!a->selector)
		return;
	if (a->mode != MODE_ASYNC)
		usage_error("--selector applies to --mode async only");
	const char *const *names = evc_loop_backends();
	bool known = strcmp(a->selector, "auto") == 0;
	for (size_t i = 0; names[i]; i++)
		known |= strcmp(names[i], a->selector) == 0;
	if (!known)
		usage_error("--selector wants epoll, poll or select, not '%s'", a->selector);
	unsigned room = FD_SETSIZE - 64; /* stdio, DNS, saved files */
	if (strcmp(a->selector, "select") == 0 && a->opts.concurrency > room)
		usage_error("--selector select watches at most FD_SETSIZE (%d) descriptors: "
			    "use -c %u or less, or epoll/poll",
			    FD_SETSIZE, room);
}

static void parse_args(struct app *a, struct parsed *p, int argc, char **argv)
{
	evc_crawl_opts_t *o = &a->opts;
	p->progress = -1;
	p->headers = calloc((size_t)argc + 1, sizeof *p->headers);
	p->cookie_files = calloc((size_t)argc + 1, sizeof *p->cookie_files);
	p->resolves = calloc((size_t)argc + 1, sizeof *p->resolves);
	int opt;
	check_long_names(argc, argv);
	opterr = 0; /* unknown short options are said below, with a hint */
	while ((opt = getopt_long(argc, argv, SHORT_OPTS, long_opts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			p->input = optarg;
			break;
		case 'c':
			if (optarg[0] && !strchr("0123456789+-", optarg[0]))
				usage_error(
				    "-c is --concurrency, a number, not '%s' (curl's -c FILE "
				    "is --cookie-jar FILE here)",
				    optarg);
			o->concurrency = parse_count("--concurrency", optarg, 1);
			break;
		case 'b':
			add_cookie(p, optarg);
			break;
		case OPT_COOKIE_JAR:
			if (!*optarg)
				usage_error("--cookie-jar wants a file name");
			p->cookie_jar = optarg;
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
		case OPT_CACERT:
		case OPT_CAPATH:
			if (access(optarg, R_OK) < 0)
				usage_error("%s %s: %s",
					    opt == OPT_CACERT ? "--cacert" : "--capath", optarg,
					    strerror(errno));
			*(opt == OPT_CACERT ? &o->cacert : &o->capath) = optarg;
			break;
		case 'k':
			o->insecure = true;
			break;
		case OPT_CERT_INFO:
			o->cert_info = true;
			break;
		case OPT_MAX_HANDSHAKES:
			o->max_handshakes = parse_count("--max-handshakes", optarg, 0);
			break;
		case OPT_POLITENESS_KEY:
			if (strcmp(optarg, "host") != 0 && strcmp(optarg, "domain") != 0 &&
			    strcmp(optarg, "ip") != 0)
				usage_error("--politeness-key wants host, domain or ip, not '%s'",
					    optarg);
			o->politeness_key = optarg[0] == 'h'   ? EVC_KEY_HOST
					    : optarg[0] == 'd' ? EVC_KEY_DOMAIN
							       : EVC_KEY_IP;
			p->polite = p->polite ? p->polite : "--politeness-key";
			break;
		case OPT_DELAY:
			o->delay_ms =
			    strcmp(optarg, "0") == 0 ? 0 : parse_seconds("--delay", optarg);
			p->polite = p->polite ? p->polite : "--delay";
			break;
		case OPT_RANDOM_DELAY:
			o->random_delay = true;
			p->polite = p->polite ? p->polite : "--random-delay";
			break;
		case OPT_RATE:
			o->rate = parse_rate(optarg);
			if (!(o->rate > 0))
				usage_error("--rate wants N, N/s, N/m or N/h with N > 0, not '%s'",
					    optarg);
			p->polite = p->polite ? p->polite : "--rate";
			break;
		case OPT_MAX_RETRY_AFTER:
			o->max_retry_after_ms = parse_seconds("--max-retry-after", optarg);
			p->polite = p->polite ? p->polite : "--max-retry-after";
			break;
		case 'r':
			o->recursive = true;
			p->polite = p->polite ? p->polite : "--recursive";
			break;
		case OPT_DEPTH:
			o->max_depth = parse_count("--depth", optarg, 0);
			break;
		case OPT_SCOPE:
			if (strcmp(optarg, "host") && strcmp(optarg, "domain") &&
			    strcmp(optarg, "prefix") && strcmp(optarg, "any"))
				usage_error("--scope wants host, domain, prefix or any, not '%s'",
					    optarg);
			o->scope = optarg[0] == 'h'   ? EVC_SCOPE_HOST
				   : optarg[0] == 'd' ? EVC_SCOPE_DOMAIN
				   : optarg[0] == 'p' ? EVC_SCOPE_PREFIX
						      : EVC_SCOPE_ANY;
			break;
		case OPT_INCLUDE:
			o->include = optarg;
			break;
		case OPT_EXCLUDE:
			o->exclude = optarg;
			break;
		case OPT_MAX_PAGES: {
			char *end;
			errno = 0;
			unsigned long long n = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || n < 1 || *optarg == '-')
				usage_error("--max-pages wants a whole number >= 1, not '%s'",
					    optarg);
			o->max_pages = n;
			break;
		}
		case OPT_MAX_URL_LENGTH:
			o->max_url_len = parse_count("--max-url-length", optarg, 16);
			break;
		case OPT_LINKS:
			o->links = true;
			p->polite = p->polite ? p->polite : "--links";
			break;
		case OPT_NO_ROBOTS:
			p->no_robots = true;
			break;
		case OPT_SITEMAP:
			o->sitemaps = true;
			break;
		case OPT_FRONTIER_MEM:
			o->frontier_mem = parse_bytes("--frontier-mem", optarg);
			break;
		case OPT_RESUME:
			p->resume = optarg;
			break;
		case OPT_FAIL:
			o->fail_http = true;
			break;
		case 'I':
			p->head = true;
			break;
		case 'X':
			o->method = optarg;
			break;
		case 'd':
		case OPT_DATA_BINARY:
		case OPT_DATA_RAW:
			add_data(p, opt, optarg);
			break;
		case OPT_SAVE_ERRORS:
			o->save_errors = true;
			break;
		case OPT_NO_CLOBBER:
			o->no_clobber = true;
			break;
		case 'v':
			o->trace = trace_head;
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "jsonl") != 0 && strcmp(optarg, "csv") != 0 &&
			    strcmp(optarg, "tsv") != 0)
				usage_error("--format wants jsonl, csv or tsv, not '%s'", optarg);
			a->format = optarg[0];
			break;
		case OPT_RECORD_HEADER:
			if (p->nwanted == (int)(sizeof p->wanted / sizeof p->wanted[0]) - 1)
				usage_error("--record-header: at most 32 headers");
			p->wanted[p->nwanted++] = optarg;
			o->record_headers = p->wanted;
			break;
		case OPT_MATCH_STATUS:
		case OPT_FILTER_STATUS:
			if (a->nranges && a->ranges_match != (opt == OPT_MATCH_STATUS))
				usage_error("give --match-status or --filter-status, not both");
			a->ranges_match = opt == OPT_MATCH_STATUS;
			parse_statuses(
			    a, opt == OPT_MATCH_STATUS ? "--match-status" : "--filter-status",
			    optarg);
			break;
		case 'x':
			o->proxy = optarg;
			break;
		case OPT_NOPROXY:
			o->noproxy = optarg;
			break;
		case OPT_DEFAULT_SCHEME:
			if (strcmp(optarg, "http") != 0 && strcmp(optarg, "https") != 0)
				usage_error("--default-scheme wants http or https, not '%s'",
					    optarg);
			o->default_scheme = optarg;
			break;
		case OPT_STATS_EVERY:
			a->stats_every_ms = parse_seconds("--stats-every", optarg);
			if (!a->stats_every_ms)
				usage_error("--stats-every wants a time above 0, not '%s'", optarg);
			break;
		case OPT_STATE:
			o->state_dir = optarg;
			p->polite = p->polite ? p->polite : "--state";
			break;
		case OPT_MAX_PATH_REPEATS:
			o->max_path_repeats = parse_count("--max-path-repeats", optarg, 0);
			break;
		case OPT_MAX_QUERY_VARIANTS:
			o->max_query_variants = parse_count("--max-query-variants", optarg, 0);
			break;
		case OPT_ROBOTS:
			o->robots = true;
			p->polite = p->polite ? p->polite : "--robots";
			break;
		case OPT_MAX_CRAWL_DELAY:
			o->max_crawl_delay_ms = parse_seconds("--max-crawl-delay", optarg);
			p->polite = p->polite ? p->polite : "--max-crawl-delay";
			break;
		case OPT_HOST_ERRORS:
			o->host_errors = parse_count("--host-errors", optarg, 0);
			if (o->host_errors)
				p->polite = p->polite ? p->polite : "--host-errors";
			break;
		case OPT_TLS_MIN:
			if (strcmp(optarg, "1.2") != 0 && strcmp(optarg, "1.3") != 0)
				usage_error("--tls-min wants 1.2 or 1.3, not '%s'", optarg);
			o->tls_min = optarg[2] == '2' ? 12 : 13;
			break;
		case 'o':
			o->output_dir = optarg;
			break;
		case OPT_SELECTOR:
			a->selector = optarg;
			break;
		case OPT_MODE:
			a->mode = parse_mode(optarg);
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
		default: {
			char letter[2] = {(char)optopt, 0};
			const char *hint = optopt ? habit_hint(letter, 1) : NULL;
			if (optopt && strchr(SHORT_OPTS, optopt))
				usage_error("option -%c needs a value", optopt);
			if (optopt)
				usage_error("unknown option '-%c'%s%s", optopt, hint ? ": " : "",
					    hint ? hint : "");
			usage_error("unknown option '%s'", argv[optind - 1]);
		}
		}
	}
	o->headers = p->headers;
	o->resolve = p->resolves;
	if (p->data_stdin && p->input && strcmp(p->input, "-") == 0)
		usage_error("-d @- and -i - both read stdin: give one of them a file");
	if (p->head && (p->data || (o->method && strcmp(o->method, "HEAD") != 0)))
		usage_error("-I/--head sends HEAD: not with -d/--data or another -X method");
	if (p->head)
		o->method = "HEAD";
	o->cookie = p->cookie;
	if (p->data) {
		o->data = p->data;
		o->data_len = p->data_len;
	}
	if (o->recursive) /* a crawler that follows links obeys robots.txt by default */
		o->robots = !p->no_robots;
	else if (p->no_robots)
		o->robots = false;
	const char *what;
	if (evc_crawl_opts_check(o, &what) < 0)
		usage_error("%s", what);
	if (p->input && optind < argc)
		usage_error("give URLs as arguments or with -i FILE, not both");
	if (!p->input && optind >= argc)
		usage_error("no URLs: give them as arguments or with -i FILE");
	check_selector(a);
	if (a->format && a->format != 'j' && (p->resume || a->mode == MODE_PROCESSES))
		usage_error("--format %s: %s", a->format == 'c' ? "csv" : "tsv",
			    p->resume ? "--resume reads and writes JSON lines"
				      : "--mode processes merges its workers' JSON lines; use "
					"another mode");
	if (p->resume && a->nranges)
		usage_error("--resume needs every record in its file; --match-status and "
			    "--filter-status leave some out");
	if (o->no_clobber && !o->output_dir)
		usage_error("--no-clobber is about -o DIR's files: give -o DIR");
	if (o->fail_http && o->save_errors)
		usage_error("--fail makes error pages failures, which are not saved; "
			    "--save-errors is for -o without --fail");
	if (p->resume && o->recursive)
		usage_error("--resume skips input lines that have records; a recursive crawl "
			    "goes on from its --state DIR instead");
	if (a->stats_every_ms && a->mode != MODE_ASYNC)
		usage_error("--stats-every is for --mode async: its numbers are the event loop's");
	if (p->polite && a->mode != MODE_ASYNC)
		usage_error("%s is for --mode async (its scheduler keeps time per host); "
			    "the classic modes fetch without it",
			    p->polite);
	if (p->cookie_jar && a->mode == MODE_PROCESSES)
		usage_error("--cookie-jar: --mode processes fetches in worker processes that each "
			    "keep their own cookies, so no one jar holds them all; use --mode "
			    "threads or async (-b FILE alone is fine)");
	open_jar(a, p);
	if (o->insecure && !a->quiet)
		fprintf(stderr, "%s: warning: -k: TLS certificates are not checked\n", prog);
	if (o->output_dir) {
		struct stat st;
		/* curl's -o names a file; ours a directory. A name that looks
		 * like a file and is not a directory yet is a curl habit. */
		static const char *const exts[] = {".html", ".htm", ".json", ".jsonl", ".txt",
						   ".csv",  ".xml", ".out",  ".log",   ".gz"};
		const char *dot = strrchr(o->output_dir, '.');
		bool filelike = false;
		for (size_t i = 0; dot && i < sizeof exts / sizeof exts[0]; i++)
			filelike |= strcasecmp(dot, exts[i]) == 0 && !strchr(dot, '/');
		if (filelike && stat(o->output_dir, &st) < 0)
			usage_error(
			    "-o %s looks like a file name, but -o is --output-dir: bodies are "
			    "saved as DIR/HOST/PATH and records go to stdout (use > %s); "
			    "make the directory first to use that name",
			    o->output_dir, o->output_dir);
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
	a->opts.proxy_env = true; /* http_proxy and the rest, as curl reads them */
	parse_args(a, &p, argc, argv);
	raise_fd_limit();
	pthread_mutex_init(&a->in.lock, NULL);
	pthread_mutex_init(&a->out_lock, NULL);
	static struct resume resume;
	if (p.resume) {
		int rc = resume_open(&resume, p.resume);
		if (rc < 0) {
			fprintf(stderr, "%s: --resume %s: %s\n", prog, p.resume, strerror(-rc));
			return 2;
		}
		a->in.skip = &resume;
		if (!a->quiet && (resume.records || resume.cancelled || resume.torn))
			fprintf(stderr,
				"%s: --resume: %llu %s in %s%s%s; new records are added to it\n",
				prog, (unsigned long long)resume.records,
				resume.records == 1 ? "URL has a record" : "URLs have records",
				p.resume,
				resume.cancelled ? " (cancelled ones are fetched again)" : "",
				resume.torn ? " (a torn last line was cut off)" : "");
	}
	if (p.input) {
		input_open(&a->in, p.input);
	} else {
		a->in.urls = argv + optind;
		a->in.nurls = argc - optind;
	}
	a->progress = !a->quiet && a->mode == MODE_ASYNC &&
		      (p.progress == 1 || (p.progress == -1 && isatty(2)));
	signal(SIGPIPE, SIG_IGN); /* a closed stdout is an error value, not death */
	a->start_ns = evc_hrtime();
	if (a->opts.output_dir) { /* one moment for every worker: files from
				     before it are an earlier run's */
		struct timespec now;
		clock_gettime(CLOCK_REALTIME_COARSE, &now);
		a->opts.output_since = (double)now.tv_sec + now.tv_nsec / 1e9;
	}

	int rc = a->mode == MODE_ASYNC ? run_async(a) : run_classic(a);
	output_flush(a);
	if (rc == 2)
		return 2;
	if (p.cookie_jar) { /* also after a signal: the cookies got so far */
		int jrc = evc_cookie_jar_save(a->opts.cookies, p.cookie_jar);
		if (jrc < 0) {
			fprintf(stderr, "%s: --cookie-jar %s: %s\n", prog, p.cookie_jar,
				evc_strerror(jrc));
			rc = 1;
		}
	}
	evc_cookie_jar_free(a->opts.cookies);
	a->opts.cookies = NULL;
	free(p.cookie);
	free(p.cookie_files);
	if (!a->quiet)
		print_summary(a);
	free(p.headers);
	free(p.resolves);
	if (a->caught_signal && !a->quiet)
		fprintf(stderr,
			"%s: interrupted: URLs not yet read from the input have no record; to go "
			"on, run the same command with --resume %s\n",
			prog, p.resume ? p.resume : "FILE (the file these records went to)");
	resume_free(&resume);
	if (a->caught_signal)
		return 128 + a->caught_signal;
	/* URLs refused by robots.txt or a crawl's guard were the crawl's own
	 * choice, not failures. */
	uint64_t chosen = a->tally.errors[EVC_ERR_ROBOTS] + a->tally.errors[EVC_ERR_SKIPPED];
	return rc != 0 || a->tally.done != a->tally.ok + chosen || a->out_broken || a->in.failed
		   ? 1
		   : 0;
}
