/* The seen-set: 64-bit URL fingerprints in an open-addressing table (seen.h). */
#include <errno.h>
#include <stdlib.h>

#include <xxhash.h>

#include "crawl/seen.h"

uint64_t evc__seen_fingerprint(const char *url, size_t len)
{
	uint64_t h = XXH3_64bits(url, len);
	return h ? h : 1; /* 0 marks an empty slot */
}

/* Where fp is, or the empty slot where it would go. fp's own bits are
 * uniform: they pick the first slot. */
static size_t probe(const uint64_t *slots, size_t cap, uint64_t fp)
{
	size_t i = (size_t)fp & (cap - 1);
	while (slots[i] && slots[i] != fp)
		i = (i + 1) & (cap - 1);
	return i;
}

static int grow(struct evc__seen *s)
{
	size_t cap = s->cap ? s->cap * 2 : 1024;
	uint64_t *slots = calloc(cap, sizeof *slots);
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < s->cap; i++)
		if (s->slots[i])
			slots[probe(slots, cap, s->slots[i])] = s->slots[i];
	free(s->slots);
	s->slots = slots;
	s->cap = cap;
	return 0;
}

int evc__seen_add(struct evc__seen *s, uint64_t fp)
{
	if (!fp)
		fp = 1;
	if ((s->n + 1) * 4 > s->cap * 3 && grow(s) < 0) /* at most 3/4 full */
		return -ENOMEM;
	size_t i = probe(s->slots, s->cap, fp);
	if (s->slots[i])
		return 0;
	s->slots[i] = fp;
	s->n++;
	return 1;
}

bool evc__seen_has(const struct evc__seen *s, uint64_t fp)
{
	if (!fp)
		fp = 1;
	return s->cap && s->slots[probe(s->slots, s->cap, fp)] == fp;
}

size_t evc__seen_bytes(const struct evc__seen *s)
{
	return s->cap * sizeof *s->slots;
}

void evc__seen_free(struct evc__seen *s)
{
	free(s->slots);
	s->slots = NULL;
	s->cap = s->n = 0;
}

uint32_t evc__counts_inc(struct evc__counts *c, uint64_t key)
{
	if (!key)
		key = 1;
	if ((c->n + 1) * 4 > c->cap * 3) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		__typeof__(c->slots) slots = calloc(cap, sizeof *slots);
		if (!slots)
			return 0;
		for (size_t i = 0; i < c->cap; i++) {
			if (!c->slots[i].key)
				continue;
			size_t j = (size_t)c->slots[i].key & (cap - 1);
			while (slots[j].key)
				j = (j + 1) & (cap - 1);
			slots[j] = c->slots[i];
		}
		free(c->slots);
		c->slots = slots;
		c->cap = cap;
	}
	size_t i = (size_t)key & (c->cap - 1);
	while (c->slots[i].key && c->slots[i].key != key)
		i = (i + 1) & (c->cap - 1);
	if (!c->slots[i].key) {
		c->slots[i].key = key;
		c->n++;
	}
	return ++c->slots[i].n;
}

void evc__counts_free(struct evc__counts *c)
{
	free(c->slots);
	c->slots = NULL;
	c->cap = c->n = 0;
}
