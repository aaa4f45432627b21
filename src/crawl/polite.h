/*
 * Politeness policy, with no I/O in it: which key a URL's host counts
 * against, when a key may start its next request, what a failure or a
 * 429/503 does to the key, and the crawl-wide rate. The event-loop
 * scheduler (schedule.c) keeps one struct evc__polite per key and asks
 * these functions; times are loop milliseconds handed in by the caller, so
 * the unit tests script them.
 *
 *   key          the host name (default), its registrable domain (libpsl),
 *                or the address it resolved to: many names on one server
 *                share its limits
 *   delay        at least delay_ms (jittered ±50 % with random_delay)
 *                between the starts of consecutive requests to one key; a
 *                start counts from when the request went out
 *   back-off     a 429 or 503 pauses the key for its Retry-After (capped at
 *                max_retry_after_ms) or, without one, a doubling pause;
 *                from the second connect failure or timeout in a row the
 *                key pauses too, doubling from 1 s up to 60 s; after
 *                host_errors of them it is given up and its queued URLs end
 *                at once (host_errors 0: failures neither pause nor give
 *                up a key)
 *   rate         a token bucket over the whole crawl: rate per second,
 *                holding at most max(1, rate / 10) tokens (100 ms worth),
 *                and starting with one
 */
#ifndef EVC_POLITE_H
#define EVC_POLITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evcrawl/options.h"
#include "evcrawl/result.h"

#define EVC__BACKOFF_BASE_MS 1000u

/* One key's politeness state. */
struct evc__polite {
	uint64_t next_ms;	 /* no start before this (delay, back-off) */
	unsigned errors;	 /* connect failures and timeouts in a row */
	unsigned level;		 /* back-off steps taken (0: none) */
	uint64_t epoch;		 /* bumped by each back-off (see evc__polite_outcome) */
	bool backing_off;	 /* paused by a failure or a 429/503, until a success */
	bool given_up;		 /* after host_errors failures in a row */
	evc_error_kind_t why;	 /* given up: the last failure's kind */
	uint64_t crawl_delay_ms; /* from robots.txt; 0: none */
};

/* What the last attempt on a key came to. */
enum evc__outcome {
	EVC__OUT_NONE,	   /* nothing the key answers for (a bad URL, DNS, TLS, ...) */
	EVC__OUT_RESPONSE, /* a response head arrived (not 429/503) */
	EVC__OUT_THROTTLE, /* a 429 or 503 */
	EVC__OUT_FAILURE,  /* connect failed or timed out, or the response timed out */
};

/**
 * The key name for host under opts->politeness_key into buf (cap bytes):
 * "host" → the host, lower-cased as URLs hold it; "domain" → the
 * registrable domain (the host itself for IP literals, single labels and
 * public suffixes); "ip" → addr (the resolved address as text; NULL: the
 * host, which is the caller's way of saying it resolved to nothing).
 */
void evc__polite_key(const evc_crawl_opts_t *o, const char *host, const char *addr, char *buf,
		     size_t cap);

/** host's registrable domain by the public suffix list (a pointer into
 * host): the host itself for IP literals, single labels and suffixes. */
const char *evc__registrable_domain(const char *host);

/**
 * Whether name (lower-case) is a public suffix ("com", "co.uk", and, by the
 * list's "*" rule, any unknown top-level name such as "test"), by the same
 * list as evc__registrable_domain. IP literals are not. The cookie store
 * refuses a Domain attribute that is one.
 */
bool evc__is_public_suffix(const char *name);

/** The gap after a start: delay_ms, or crawl_delay_ms when larger; with
 * random_delay jittered to 50-150 %. rnd is uniform in [0, 1). */
uint64_t evc__polite_gap_ms(const evc_crawl_opts_t *o, const struct evc__polite *p, double rnd);

/**
 * The key's attempt ended with outcome (retry_after_s: the 429/503's
 * Retry-After, -1 when absent; started_epoch: p->epoch when the attempt
 * started). Updates p: a response clears the back-off; a 429/503 pauses the
 * key (next_ms); a failure counts, pauses the key doubling (only when the
 * attempt started after the last pause: fetches already in flight when a
 * key backs off do not stack pauses), and gives the key up at host_errors.
 * Returns true when this call gave the key up.
 */
bool evc__polite_outcome(struct evc__polite *p, const evc_crawl_opts_t *o, enum evc__outcome out,
			 evc_error_kind_t kind, int retry_after_s, uint64_t started_epoch,
			 uint64_t now_ms);

/** While backing off a key runs one fetch at a time (a probe). */
unsigned evc__polite_slots(const struct evc__polite *p, const evc_crawl_opts_t *o);

/* The crawl-wide token bucket. */
struct evc__bucket {
	double tokens, cap, per_ms;
	uint64_t last_ms;
};

/** Set up for rate per second (0: no limit), full at one token. */
void evc__bucket_init(struct evc__bucket *b, double rate, uint64_t now_ms);

/** Take a token: 0 when one was there, else the ms until one will be. */
uint64_t evc__bucket_take(struct evc__bucket *b, uint64_t now_ms);

/**
 * Parse a --rate value: "N", "N/s", "N/m" (per minute) or "N/h"; N may have
 * a fraction. Returns requests per second, or -1 when it is not a rate.
 */
double evc__parse_rate(const char *s);

#endif
