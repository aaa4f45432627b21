/*
 * The crawler: fetches many URLs at once on an evcrawl loop.
 *
 * URLs go into per-host queues; at most `concurrency` fetches are in flight
 * in total and `per_host` per (scheme, host, port), taken round-robin across
 * hosts so that one slow host never holds the others back. Connections are
 * kept alive and reused per host. Each URL ends in exactly one result
 * callback, whatever happens to it (see result.h).
 *
 * A crawler runs inside the loop's thread, alongside the caller's own fds
 * and timers; evc_loop_run() drives it. All functions must be called from
 * that thread, and are safe inside the crawler's own callbacks.
 */
#ifndef EVCRAWL_CRAWLER_H
#define EVCRAWL_CRAWLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "options.h"
#include "result.h"
#include "loop.h"
#include "resolver.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct evc_crawler evc_crawler_t;

/** Called once per URL with its result (see result.h for what is valid). */
typedef void (*evc_result_cb)(evc_crawler_t *c, const evc_result_t *result, void *arg);

/**
 * Called when the crawler has room for more URLs (queued below max_queued):
 * add some with evc_crawler_add() and return, or call evc_crawler_close_input()
 * when there are no more. Lets a caller stream a huge list in bounded memory.
 */
typedef void (*evc_feed_cb)(evc_crawler_t *c, void *arg);

/**
 * Create a crawler on loop. opts may be NULL for defaults; it is copied (its
 * strings too). on_result is required. Returns 0 and stores the crawler in
 * *out, or a negative code (-EINVAL for bad options or a bad dns_servers list,
 * -ENOMEM). Free it with evc_crawler_free().
 */
EVC_API int evc_crawler_new(evc_crawler_t **out, evc_loop_t *loop, const evc_crawl_opts_t *opts,
			    evc_result_cb on_result, void *arg);

/**
 * Free the crawler. URLs still pending get no result: call
 * evc_crawler_cancel() and run the loop first to have them reported. Must
 * not be called from inside the crawler's callbacks.
 */
EVC_API void evc_crawler_free(evc_crawler_t *c);

/**
 * Add a URL (copied). user comes back in its result. Never fails for a bad
 * URL (that becomes a bad_url result); returns 0, or -ENOMEM, or
 * EVC_ECANCELLED after evc_crawler_cancel(), or EVC_ECLOSED once the crawl
 * has finished (input closed and every URL reported) outside a result
 * callback: such a URL would never get a result. After
 * evc_crawler_close_input() URLs are still taken while the crawl runs (a
 * result callback adding the links it found, say). With state_dir, a URL
 * the state already has (a resumed crawl) is not taken: EVC_EKNOWN, and no
 * result will come for it (user is the caller's to free).
 */
EVC_API int evc_crawler_add(evc_crawler_t *c, const char *url, size_t len, void *user);

/** Ask for URLs through feed when there is room (NULL to stop asking). */
EVC_API void evc_crawler_set_feed(evc_crawler_t *c, evc_feed_cb feed, void *arg);

/**
 * Streams the body of each URL's final response (not of redirects followed
 * or responses retried), decoded, as it arrives: data is valid only during
 * the call. user is the pointer given with the URL. Return 0 to go on, or
 * non-zero to stop that fetch (its result then has error kind io). An empty
 * body makes no call. If an attempt fails midway and is retried, the body
 * starts again from its first byte. NULL turns it off.
 */
typedef int (*evc_body_cb)(evc_crawler_t *c, void *user, const char *data, size_t len, void *arg);
EVC_API void evc_crawler_set_body_cb(evc_crawler_t *c, evc_body_cb cb, void *arg);

/**
 * Called when the head of a URL's final response has arrived, before any of
 * its body: the URL after redirects, the status, the Content-Type (NULL when
 * absent), all valid only during the call; user is the pointer given with
 * the URL. So a body callback knows what it is about to read. Return 0 to
 * go on, non-zero to stop that fetch (kind io). A retried attempt calls it
 * again. NULL turns it off.
 */
typedef int (*evc_head_cb)(evc_crawler_t *c, void *user, const char *final_url, int status,
			   const char *content_type, void *arg);
EVC_API void evc_crawler_set_head_cb(evc_crawler_t *c, evc_head_cb cb, void *arg);

/**
 * Say no more URLs will come; once all are done, the crawler stops keeping
 * the loop alive (its idle connections are closed).
 */
EVC_API void evc_crawler_close_input(evc_crawler_t *c);

/**
 * Cancel everything: queued and in-flight URLs finish with error
 * "cancelled" (their results come from the loop, soon), and further adds
 * are refused.
 */
EVC_API void evc_crawler_cancel(evc_crawler_t *c);

/**
 * The crawler's resolver, e.g. to add overrides (evc_resolver_add_override)
 * before adding URLs. Owned by the crawler.
 */
EVC_API evc_resolver_t *evc_crawler_resolver(evc_crawler_t *c);

/** Live counters, for progress displays and the summary. */
typedef struct evc_crawl_stats {
	uint64_t added, done, ok;
	uint64_t errors[EVC_ERR__COUNT];     /* by kind */
	uint64_t bytes;			     /* body bytes delivered */
	unsigned in_flight, queued, waiting; /* waiting: backoff before retry */
	unsigned connections;		     /* open, idle ones included */
	uint64_t connections_opened, requests;
	/* Politeness keys (hosts, domains or addresses: options.h): known, held
	 * back by their delay or a back-off right now, backing off after a
	 * 429/503 or failures, and given up. */
	unsigned keys, keys_waiting, keys_backing_off, keys_given_up;
	/* Recursive crawls: discovered URLs waiting on disk now (past
	 * frontier_mem), and how many ever did. */
	uint64_t frontier_on_disk, frontier_spilled;
} evc_crawl_stats_t;

EVC_API void evc_crawler_stats(const evc_crawler_t *c, evc_crawl_stats_t *out);

/** Whether every added URL has its result and input is closed. */
EVC_API bool evc_crawler_finished(const evc_crawler_t *c);

#ifdef __cplusplus
}
#endif
#endif
