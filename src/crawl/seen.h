/*
 * The seen-set of a recursive crawl: which normalised URLs were already
 * taken, kept as 64-bit fingerprints rather than strings (as IRLbot and
 * BUbiNG do), in one open-addressing table with linear probing.
 *
 * Memory: 8 bytes a slot, the table doubled when three quarters full, so
 * between 10.7 and 21.3 bytes per URL; at 10 million URLs the table has 2^24
 * slots: 128 MiB, 13.4 bytes per URL.
 *
 * Collisions: two different URLs share a fingerprint with probability
 * 2^-64; among n URLs some pair does with probability about n^2 / 2^65:
 * 2.7e-6 at 10 million, 2.7e-4 at 100 million. A collision means one URL is
 * taken for seen and not fetched.
 */
#ifndef EVC_SEEN_H
#define EVC_SEEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evc__seen {
	uint64_t *slots; /* 0: empty */
	size_t cap;	 /* a power of two */
	size_t n;
};

/** The fingerprint of a normalised URL (never 0). */
uint64_t evc__seen_fingerprint(const char *url, size_t len);

/** Add fp: 1 when it is new, 0 when it was there, -ENOMEM. */
int evc__seen_add(struct evc__seen *s, uint64_t fp);

bool evc__seen_has(const struct evc__seen *s, uint64_t fp);

/** Bytes the table holds. */
size_t evc__seen_bytes(const struct evc__seen *s);

void evc__seen_free(struct evc__seen *s);

/* Counters by 64-bit key, in the same kind of table: how many distinct
 * query strings a path has shown (a recursive crawl's trap guard). */
struct evc__counts {
	struct {
		uint64_t key; /* 0: empty */
		uint32_t n;
	} * slots;
	size_t cap, n;
};

/** Add one to key's count; the new count, or 0 when out of memory. */
uint32_t evc__counts_inc(struct evc__counts *c, uint64_t key);

void evc__counts_free(struct evc__counts *c);

#endif
