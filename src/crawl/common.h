/*
 * What every I/O mode shares beyond URLs, requests and responses: option
 * handling and the crawl policy (which statuses redirect or retry, how long
 * to back off). The event-loop crawler and the blocking fetcher both use
 * these, so every mode makes the same decisions.
 */
#ifndef EVC_CRAWL_COMMON_H
#define EVC_CRAWL_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include "evcrawl/fetch.h"
#include "evcrawl/resolver.h"
#include "util/url.h"

/**
 * Copy src into *dst, with every string and string list in one malloc'd
 * block returned in *block (free it when done with dst). Returns 0 or
 * -ENOMEM.
 */
int evc__opts_copy(evc_crawl_opts_t *dst, const evc_crawl_opts_t *src, char **block);

/** Parse "HOST:PORT:ADDR" (PORT may be "*" = 0; ADDR may be bracketed). */
int evc__parse_resolve(const char *spec, char host[256], uint16_t *port, char addr[64]);

/** Add every opts->resolve entry to r. Returns 0 or -EINVAL. */
int evc__apply_resolve(evc_resolver_t *r, const evc_crawl_opts_t *opts);

bool evc__is_redirect(int status);
bool evc__is_retry_status(int status);

/**
 * How long to wait before attempt number `attempt` + 1: retry_base_ms
 * doubled per attempt with 50-100 % jitter, or Retry-After when given
 * (retry_after_s >= 0), capped at retry_max_wait_ms.
 */
uint64_t evc__backoff_ms(const evc_crawl_opts_t *o, unsigned attempt, int retry_after_s);

/**
 * Whether a response is a redirect that will be followed (one more is
 * allowed and it says where). Such a response, or one that will be retried,
 * does not end the fetch: its body is neither saved nor streamed.
 */
bool evc__will_follow(const evc_crawl_opts_t *o, int status, bool has_location, unsigned redirects);

/**
 * Decide a redirect from cur to location. visited holds the hashes of the
 * URLs already redirected from (room for max_redirects + 1; *redirects of
 * them are used). Returns 0 with *next filled (and the current URL added to
 * visited), or an error kind with msg (cap bytes) saying why:
 * EVC_ERR_REDIRECT for too many, a loop, a bad or non-http(s) target.
 */
evc_error_kind_t evc__redirect(const evc_crawl_opts_t *o, const struct evc__url *cur,
			       const char *location, uint64_t *visited, unsigned *redirects,
			       struct evc__url *next, char *msg, size_t cap);

#endif
