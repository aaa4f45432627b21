/*
 * What a fetch may do: the options every engine takes (the crawler, the
 * blocking fetcher), the evcrawl command's options as a struct.
 */
#ifndef EVCRAWL_OPTIONS_H
#define EVCRAWL_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "version.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * What a fetch may do: the evcrawl command's options as a struct. Fill it
 * with evc_crawl_opts_init() and change what you need; strings are copied
 * by whoever takes the options.
 */
/* What per_host, delay and back-off count against (politeness_key). */
enum {
	EVC_KEY_HOST,	/* the host name */
	EVC_KEY_DOMAIN, /* its registrable domain (public suffix list) */
	EVC_KEY_IP,	/* the address it resolves to */
};

/* Which discovered URLs a recursive crawl follows (scope). */
enum {
	EVC_SCOPE_HOST,	  /* the seed's host name */
	EVC_SCOPE_DOMAIN, /* the seed's registrable domain */
	EVC_SCOPE_PREFIX, /* under the seed's directory (wget --no-parent) */
	EVC_SCOPE_ANY,	  /* anywhere */
};

struct evc_cookie_jar; /* cookies.h */

typedef struct evc_crawl_opts {
	unsigned concurrency;	     /* fetches in flight in total (100) */
	unsigned per_host;	     /* ... per scheme+host+port (8) */
	unsigned timeout_ms;	     /* whole fetch incl. redirects and retries (60000) */
	unsigned connect_timeout_ms; /* TCP connect (10000) */
	unsigned idle_timeout_ms;    /* no byte received while waiting (30000) */
	unsigned dns_timeout_ms;     /* one lookup (10000) */
	unsigned retries;	     /* extra attempts after a retryable failure (2) */
	unsigned max_redirects;	     /* (10) */
	uint64_t max_body;	     /* decoded body bytes (64 MiB); 0: no limit */
	const char *dns_servers;     /* "IP[:PORT],..." or NULL for the system's */
	const char *const *resolve;  /* "HOST:PORT:ADDR" overrides like curl's
					--resolve (PORT may be "*"), NULL-terminated */
	const char *user_agent;	     /* NULL: "evcrawl/VERSION" */
	const char *const *headers;  /* extra "Name: value" lines, NULL-terminated */
	bool compressed;	     /* ask for gzip/deflate and decode */
	const char *output_dir;	     /* save bodies under DIR/HOST/...; NULL: discard */
	unsigned max_queued;	     /* URLs queued but not started before the
					feed callback stops being asked (0: auto) */
	unsigned retry_base_ms;	     /* first retry backoff (250), doubled each time */
	unsigned retry_max_wait_ms;  /* cap on Retry-After and backoff (10000) */
	/* https: certificates are verified against the system's CAs unless
	 * cacert/capath name others (like curl's --cacert/--capath). */
	const char *cacert;	 /* PEM file of trusted CAs, or NULL */
	const char *capath;	 /* hashed directory of CAs, or NULL */
	bool insecure;		 /* check no certificate (curl -k) */
	unsigned tls_min;	 /* lowest TLS version: 12 (1.2, the default) or 13 */
	bool cert_info;		 /* records show the server's certificate (result.h) */
	unsigned max_handshakes; /* https connections being set up (connect and
				    TLS handshake) at once (256); 0: no limit */
	/* Politeness (the event-loop engine; see README "Being polite"). A key
	 * is what per_host, delay and back-off count against. */
	unsigned politeness_key;     /* EVC_KEY_HOST (default), _DOMAIN or _IP */
	unsigned delay_ms;	     /* between request starts to one key (0) */
	bool random_delay;	     /* jitter delay_ms by ±50 % */
	double rate;		     /* requests per second, whole crawl; 0: no limit */
	unsigned max_retry_after_ms; /* cap on a 429/503's pause of a key (120000) */
	bool robots;		     /* obey robots.txt (fetched once per host) */
	unsigned max_crawl_delay_ms; /* cap on a robots.txt Crawl-delay (60000) */
	/* Recursive crawls (README "Crawling"): links found in HTML pages are
	 * crawled too, each URL once. */
	bool recursive;
	unsigned max_depth;	     /* links followed from a seed (5); seeds are depth 0 */
	unsigned scope;		     /* EVC_SCOPE_HOST (default), _DOMAIN, _PREFIX or _ANY */
	const char *include;	     /* POSIX extended regex a URL must match, or NULL */
	const char *exclude;	     /* ... must not match, or NULL */
	uint64_t max_pages;	     /* URLs fetched in all, seeds included; 0: no limit */
	unsigned max_url_len;	     /* longer discovered URLs are skipped (2048) */
	unsigned max_path_repeats;   /* a path segment seen more often: skipped (3) */
	unsigned max_query_variants; /* distinct query strings taken per path (100) */
	bool links;		     /* records list the links found on the page */
	bool sitemaps;		     /* sitemaps (robots.txt's, or given) add their URLs */
	const char *state_dir;	     /* keep the crawl's state here (SQLite), to resume
					after a crash; NULL: in memory only */
	uint64_t frontier_mem;	     /* discovered URLs held in memory, about (64 MiB);
					past it they wait on disk; 0: no limit */
	unsigned host_errors;	     /* connect failures/timeouts in a row before a
					key is given up (10); from the second a key
					pauses, doubling from 1 s; 0: neither */
	const char *default_scheme;  /* "http" or "https": put before input URLs
					without "://" ("example.com/x"); NULL:
					those are bad URLs */
	bool fail_http;		     /* a final status of 400 or more is an error,
					kind http, and its body is not saved (curl's
					-f) */
	bool save_errors;	     /* with output_dir, also save the bodies of
					final statuses of 400 or more */
	const char *method;	     /* request method (a token); NULL: GET, or
					POST when data is set. HEAD expects no body */
	const char *data;	     /* a request body sent with every URL (copied;
					may hold NUL bytes), NULL: none. At most
					EVC_DATA_MAX bytes. Content-Type is
					application/x-www-form-urlencoded unless a
					header sets one. 301/302/303 turn a POST
					into a GET without body, as browsers do */
	size_t data_len;
	bool no_clobber;		   /* with output_dir: a URL whose file exists is
					      not fetched (kind skipped) */
	const char *const *record_headers; /* response headers the record shows
					(NULL-terminated names; "headers":
					{name: value}); NULL: none */
	/* Cookies (README "Cookies"; RFC 6265). Without any of these three no
	 * cookie is kept or sent. */
	const char *cookie;		/* with a '=': a literal "name=value[; n2=v2]"
					   Cookie sent with every request; else a
					   Netscape cookie file to load into the
					   engine's jar (it must exist unless it is
					   cookie_jar too, or "" for none), which
					   turns the cookie engine on */
	const char *cookie_jar;		/* turn the cookie engine on and write every
					   cookie, session ones too, to this file
					   (atomically) when the engine is freed */
	struct evc_cookie_jar *cookies; /* a jar shared by every engine given it
					  (cookies.h; not owned, must outlive
					  them): Set-Cookie goes there, Cookie
					  comes from there. When set, the engine
					  neither loads a `cookie` file nor writes
					  `cookie_jar`: the jar's owner does */
	/* Called with each request head sent (dir '>') and each response head
	 * received, interim ones included (dir '<'), as raw bytes, for -v.
	 * From the thread that fetches (the loop's, or a blocking fetcher's).
	 * NULL: none. */
	void (*trace)(void *arg, const char *url, char dir, const char *head, size_t len);
	void *trace_arg;
	double output_since; /* with output_dir: files older than this (Unix
				time) are an earlier run's and are replaced;
				newer ones are this run's and a second URL
				mapping there gets another name. 0: when the
				crawler or fetcher was made */

	/* Proxies (URLs as curl takes them: http://, socks5://, socks5h://,
	 * credentials as USER:PASSWORD@, port 1080 when none is given). */
	const char *proxy;	 /* every URL goes through it (curl's -x); NULL: none */
	const char *http_proxy;	 /* http URLs, when proxy is NULL */
	const char *https_proxy; /* https URLs, when proxy is NULL */
	const char *noproxy;	 /* hosts reached directly: "a.example,.b.example,
				    10.0.0.0/8,::1", "*" for all (curl's --noproxy) */
	bool proxy_env;		 /* fill the unset ones above from http_proxy,
				    https_proxy, all_proxy and no_proxy as curl
				    reads them (the evcrawl command sets it) */
} evc_crawl_opts_t;

#define EVC_DATA_MAX (1u << 20) /* 1 MiB */

/** Fill opts with the defaults above. */
EVC_API void evc_crawl_opts_init(evc_crawl_opts_t *opts);

/**
 * Options on the heap, for bindings that cannot lay out the struct (Python's
 * ctypes): evc_crawl_opts_new() returns defaults (NULL when out of memory),
 * evc_crawl_opts_set() sets one by the evcrawl command's long option name
 * with '-' or '_' ("concurrency", "per-host", "timeout" (seconds, may be
 * fractional), "connect-timeout", "idle-timeout", "dns-timeout", "retries",
 * "max-redirects", "max-body" (bytes), "dns-server", "resolve" and "header"
 * (each call adds one), "user-agent", "compressed" ("0"/"1"), "output-dir",
 * "max-queued", "retry-base-ms", "retry-max-wait-ms", "cacert", "capath",
 * "insecure" and "cert-info" ("0"/"1"), "tls-min" ("1.2"/"1.3"),
 * "max-handshakes", "politeness-key" ("host"/"domain"/"ip"), "delay" and
 * "max-retry-after" (seconds), "random-delay" ("0"/"1"), "rate" ("N",
 * "N/s", "N/m", "N/h"), "host-errors", "robots" ("0"/"1"),
 * "max-crawl-delay" (seconds), "recursive" and "links" ("0"/"1"), "depth",
 * "scope" ("host"/"domain"/"prefix"/"any"), "include", "exclude", "sitemaps",
 * "state" (a directory), "frontier-mem" (bytes),
 * "max-pages", "max-url-length", "max-path-repeats", "max-query-variants",
 * "default-scheme" ("http"/"https"), "fail" and "save-errors" ("0"/"1"),
 * "method" (a token: "HEAD", "POST", ...), "data" (the body, as text),
 * "no-clobber" ("0"/"1"), "record-header" (each call adds one name),
 * "cookie" ("name=value" or a cookie file), "cookie-jar" (a file),
 * copying strings; it returns 0, -ENOENT for an unknown name, or -EINVAL
 * for a bad value. Only for options made by evc_crawl_opts_new(); free them with
 * evc_crawl_opts_free().
 */
EVC_API evc_crawl_opts_t *evc_crawl_opts_new(void);
EVC_API int evc_crawl_opts_set(evc_crawl_opts_t *opts, const char *name, const char *value);
EVC_API void evc_crawl_opts_free(evc_crawl_opts_t *opts);

/**
 * Check opts as evc_crawler_new()/evc_fetcher_new() would: 0, or -EINVAL with
 * *what naming the bad field ("headers: 'X'", "resolve: 'Y'", ...; static or
 * pointing into opts).
 */
EVC_API int evc_crawl_opts_check(const evc_crawl_opts_t *opts, const char **what);

#ifdef __cplusplus
}
#endif
#endif
