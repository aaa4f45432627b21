/*
 * The result of fetching one URL: the record evcrawl prints as one JSON
 * line, as a struct. Every URL given to a crawler yields exactly one.
 */
#ifndef EVCRAWL_FETCH_H
#define EVCRAWL_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "version.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Why a fetch failed: the record's error.kind. */
typedef enum evc_error_kind {
	EVC_OK = 0,
	EVC_ERR_BAD_URL,
	EVC_ERR_DNS,
	EVC_ERR_CONNECT,
	EVC_ERR_TLS,
	EVC_ERR_TIMEOUT,
	EVC_ERR_PROTOCOL,
	EVC_ERR_TOO_LARGE,
	EVC_ERR_REDIRECT,
	EVC_ERR_IO,
	EVC_ERR_CANCELLED,
	EVC_ERR__COUNT
} evc_error_kind_t;

/** "bad_url", "dns", ... (the JSON spelling); "ok" for EVC_OK. */
EVC_API const char *evc_error_kind_name(evc_error_kind_t kind);

/**
 * One finished URL. Strings are owned by the library and valid only during
 * the callback that hands the result over; copy what you keep. Times are in
 * milliseconds, negative when the phase did not happen (a reused
 * connection has no dns/connect/tls).
 */
typedef struct evc_result {
	const char *url;	  /* as given */
	const char *final_url;	  /* after redirects; NULL if never parsed */
	int status;		  /* last HTTP status, 0 if no head arrived */
	uint64_t bytes;		  /* body bytes delivered (after decoding) */
	const char *content_type; /* NULL when absent */
	int redirects;
	int attempts;
	double dns_ms, connect_ms, tls_ms, ttfb_ms, total_ms;
	evc_error_kind_t error;	   /* EVC_OK when a complete response arrived */
	const char *error_message; /* NULL when error == EVC_OK */
	const char *saved;	   /* file the body was saved to, or NULL */
	void *user;		   /* the pointer given with the URL */
} evc_result_t;

/**
 * What a fetch may do: the evcrawl command's options as a struct. Fill it
 * with evc_crawl_opts_init() and change what you need; strings are copied
 * by whoever takes the options.
 */
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
} evc_crawl_opts_t;

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
 * "max-queued", "retry-base-ms", "retry-max-wait-ms"),
 * copying strings; it returns 0 or -EINVAL for an unknown name or a bad
 * value. Only for options made by evc_crawl_opts_new(); free them with
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

/** r->user, for bindings that do not lay out evc_result_t. */
EVC_API void *evc_result_user(const evc_result_t *r);

/**
 * Write r as one JSON object (design.md's record) followed by '\n' into buf.
 * Returns the length written (NUL-terminated), or the length needed when it
 * is >= cap, like snprintf.
 */
EVC_API size_t evc_result_to_json(const evc_result_t *r, char *buf, size_t cap);

/**
 * A blocking fetcher: one URL at a time in the calling thread, with the same
 * policy as the crawler (retries, redirects, timeouts, limits, decoding,
 * saving) and one kept-alive connection reused while URLs stay on a host.
 * This is the classic model the event loop is compared with; evcrawl's
 * --mode blocking, busy-poll, threads and processes are built on it. Names
 * are looked up with getaddrinfo(), or with evcrawl's resolver when
 * dns_servers or resolve overrides are set. One fetcher per thread.
 */
typedef struct evc_fetcher evc_fetcher_t;

enum {
	/** Nonblocking sockets, polled in a loop without a selector (connect,
	 * send and recv retried until they succeed): burns CPU by design. */
	EVC_FETCH_BUSY_POLL = 1,
};

/**
 * Create a fetcher. opts may be NULL for defaults; it is copied. flags: 0
 * or EVC_FETCH_BUSY_POLL. Returns 0 and the fetcher in *out, -EINVAL for bad
 * options or a bad dns_servers list, EVC_EDNS when c-ares cannot start, or
 * -ENOMEM.
 */
EVC_API int evc_fetcher_new(evc_fetcher_t **out, const evc_crawl_opts_t *opts, unsigned flags);

/** Close the kept connection and free the fetcher. */
EVC_API void evc_fetcher_free(evc_fetcher_t *f);

/**
 * Fetch url (len bytes) and fill *result; blocks until done. Never fails:
 * every outcome is a result. The result's strings stay valid until the next
 * evc_fetcher_fetch() or evc_fetcher_free(). user is copied to result->user.
 */
EVC_API void evc_fetcher_fetch(evc_fetcher_t *f, const char *url, size_t len, void *user,
			       evc_result_t *result);

#ifdef __cplusplus
}
#endif
#endif
