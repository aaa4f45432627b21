/*
 * What the streaming harnesses (response, links, sitemap) share: the input
 * chooses how its payload is cut into pieces, and each piece is handed over
 * in a private allocation of exactly its size, so that AddressSanitizer sees
 * any read past what was given.
 *
 * An input is laid out as
 *
 *   OPTS  N  S[0] ... S[N-1]  PAYLOAD...
 *
 * OPTS is the harness's option byte; N (taken mod 33) is how many piece
 * sizes follow; pieces are S[0]+1, S[1]+1, ... bytes, round and round, and
 * the last one is what is left. N = 0 hands the payload over whole.
 */
#ifndef EVC_FUZZ_SPLIT_H
#define EVC_FUZZ_SPLIT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fuzz_fail(#cond, __FILE__, __LINE__);                                      \
	} while (0)

#include <stdio.h>

static inline void fuzz_fail(const char *what, const char *file, int line)
{
	fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
	abort();
}

struct fuzz_split {
	const uint8_t *sizes;
	size_t nsizes, next;
};

/* Takes OPTS, N and the sizes off the front of the input; 0 when it is too
 * short to hold even OPTS. */
static inline int fuzz_split_take(const uint8_t **data, size_t *size, uint8_t *opts,
				  struct fuzz_split *sp)
{
	if (*size < 1)
		return 0;
	*opts = (*data)[0];
	(*data)++, (*size)--;
	sp->sizes = NULL;
	sp->nsizes = 0;
	sp->next = 0;
	if (*size < 1)
		return 1;
	size_t n = (*data)[0] % 33;
	(*data)++, (*size)--;
	if (n > *size)
		n = *size;
	sp->sizes = *data;
	sp->nsizes = n;
	*data += n, *size -= n;
	return 1;
}

/* The length of the next piece, with left bytes still to hand over. */
static inline size_t fuzz_split_next(struct fuzz_split *sp, size_t left)
{
	size_t n = left;
	if (sp->nsizes) {
		n = (size_t)sp->sizes[sp->next++ % sp->nsizes] + 1;
		if (n > left)
			n = left;
	}
	return n;
}

/* A private copy of exactly n bytes (n > 0). */
static inline char *fuzz_copy(const void *p, size_t n)
{
	char *c = malloc(n ? n : 1);
	if (!c)
		abort();
	memcpy(c, p, n);
	return c;
}

/* FNV-1a, to compare what two runs delivered. */
static inline uint64_t fuzz_hash(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

#define FUZZ_HASH_INIT 0xcbf29ce484222325ULL

#endif
