/*
 * The blocking fetcher: one URL at a time in the calling thread.
 */
#ifndef EVCRAWL_FETCHER_H
#define EVCRAWL_FETCHER_H

#include "options.h"
#include "result.h"

#ifdef __cplusplus
extern "C" {
#endif

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
