/*
 * Asynchronous name resolution on an evcrawl loop, with c-ares underneath.
 *
 * c-ares's sockets are watched by the loop (registered and unregistered
 * inside c-ares's socket-state callback) and its timeouts are driven by a
 * loop timer, so lookups cost no thread. Answers are cached for their TTL
 * (capped), failures for a short negative TTL, and many lookups of one name
 * while a query is in flight share that one query. Numeric addresses and
 * overrides (like curl's --resolve) never touch the network.
 */
#ifndef EVCRAWL_RESOLVER_H
#define EVCRAWL_RESOLVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "loop.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct evc_resolver evc_resolver_t;
typedef struct evc_resolve_req evc_resolve_req_t;

/** One address of an answer; the port is 0 (the caller sets it). */
typedef union evc_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
} evc_sockaddr_t;

/**
 * An answer: an immutable, reference-counted list of addresses in the order
 * to try them. Keep it past a callback with evc_addrs_ref(), drop it with
 * evc_addrs_unref().
 */
typedef struct evc_addrs {
	unsigned refs;
	unsigned count;
	evc_sockaddr_t addr[];
} evc_addrs_t;

EVC_API evc_addrs_t *evc_addrs_ref(evc_addrs_t *addrs);
EVC_API void evc_addrs_unref(evc_addrs_t *addrs);

typedef struct evc_resolver_opts {
	/** "IP[:PORT][,IP[:PORT]...]" (IPv6 as "[::1]:53"), or NULL for the
	 * system's resolv.conf. */
	const char *servers;
	/** Give up a lookup after about this long; 0 means 5000 ms. */
	unsigned timeout_ms;
	/** Cache positive answers no longer than this; 0 means 300 s. */
	unsigned max_ttl_s;
	/** Cache failures this long; 0 means 5 s. */
	unsigned negative_ttl_s;
} evc_resolver_opts_t;

/**
 * Called once per evc_resolve() that was not cancelled, never before
 * evc_resolve() returns. status is 0 with addrs (borrowed: ref it to keep
 * it), or EVC_EDNS with addrs NULL and errmsg saying why ("Domain name not
 * found", "Timeout while contacting DNS servers", ...; static storage), or
 * EVC_EFDSETSIZE when the loop's backend (select) could not watch the
 * socket c-ares opened: not an answer about the name (nothing is cached);
 * try again once fewer descriptors are open.
 */
typedef void (*evc_resolve_cb)(void *arg, int status, evc_addrs_t *addrs, const char *errmsg);

/**
 * Create a resolver on loop. opts may be NULL for defaults. Returns 0 and
 * stores it in *out, -EINVAL for a bad server list, EVC_EDNS when c-ares
 * cannot start, or -ENOMEM. Free it with evc_resolver_free().
 */
EVC_API int evc_resolver_new(evc_resolver_t **out, evc_loop_t *loop,
			     const evc_resolver_opts_t *opts);

/**
 * Cancel every pending lookup (their callbacks never run) and free the
 * resolver. Must not be called from inside one of its callbacks.
 */
EVC_API void evc_resolver_free(evc_resolver_t *r);

/**
 * Map host (for any port when port is 0, else only that port) to one
 * numeric address, like curl's --resolve. Returns 0, -EINVAL for an address
 * that is not a numeric IPv4/IPv6 address, or -ENOMEM.
 */
EVC_API int evc_resolver_add_override(evc_resolver_t *r, const char *host, uint16_t port,
				      const char *address);

/**
 * Answer from what is known without waiting. Returns 2 for a numeric
 * address or an override (no lookup at all), 1 for a cached answer that has
 * not expired, storing a new reference in *addrs in both cases (the caller
 * unrefs it); EVC_EDNS for a cached failure (with *errmsg set when errmsg
 * is not NULL); 0 when a lookup is needed.
 */
EVC_API int evc_resolver_cached(evc_resolver_t *r, const char *host, uint16_t port,
				evc_addrs_t **addrs, const char **errmsg);

/**
 * Look host up (answering from the cache when it can) and call cb(arg, ...)
 * later from the loop. Returns 0 and, when req is not NULL, a handle for
 * evc_resolve_cancel() valid until the callback runs; or -ENOMEM.
 */
EVC_API int evc_resolve(evc_resolver_t *r, const char *host, uint16_t port, evc_resolve_cb cb,
			void *arg, evc_resolve_req_t **req);

/** Cancel a pending lookup: its callback will not run. */
EVC_API void evc_resolve_cancel(evc_resolve_req_t *req);

/**
 * Whether the lookup still waits its turn: the resolver sends at most 64 at
 * once, and this one is not sent yet (a caller's timeout should not count
 * that wait). False once sent or answered.
 */
EVC_API bool evc_resolve_queued(const evc_resolve_req_t *req);

/** Counters for progress and tests. */
typedef struct evc_resolver_stats {
	uint64_t queries; /* sent to c-ares */
	uint64_t cache_hits;
	uint64_t coalesced; /* lookups that joined a query in flight */
} evc_resolver_stats_t;

EVC_API void evc_resolver_stats(const evc_resolver_t *r, evc_resolver_stats_t *out);

#ifdef __cplusplus
}
#endif
#endif
