/*
 * An intrusive hash table of named nodes (as list.h is an intrusive list):
 * the node lives inside the struct it names, so the table allocates only its
 * bucket array, doubled when it holds as many nodes as buckets.
 */
#ifndef EVC_TABLE_H
#define EVC_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evc__tnode {
	struct evc__tnode *next;
	char *name; /* the node's owner allocates and frees it */
	uint64_t hash;
};

struct evc__table {
	struct evc__tnode **b;
	size_t nb, n;
};

#define EVC_TABLE_ENTRY(ptr, type, field) ((type *)((char *)(ptr)-offsetof(type, field)))

/* Iterate every node (the body may remove the node it is on). */
#define EVC_TABLE_EACH(t, node, tmp)                                                               \
	for (size_t evc__i = 0; evc__i < (t)->nb; evc__i++)                                        \
		for ((node) = (t)->b[evc__i]; (node) && ((tmp) = (node)->next, 1); (node) = (tmp))

/** An empty table with nb buckets (a power of two). 0 or -ENOMEM. */
int evc__table_init(struct evc__table *t, size_t nb);

/** Free the bucket array (not the nodes). */
void evc__table_free(struct evc__table *t);

/** The node named name, or NULL. */
struct evc__tnode *evc__table_find(const struct evc__table *t, const char *name);

/** Add node (its name set, not in the table yet). 0 or -ENOMEM. */
int evc__table_add(struct evc__table *t, struct evc__tnode *node);

/**
 * The node named name, or a new zeroed struct of `size` bytes holding its
 * node at `offset`, its name copied and added (*created says which). The
 * struct, or NULL when out of memory.
 */
void *evc__table_get(struct evc__table *t, const char *name, size_t size, size_t offset,
		     bool *created);

/** Take node out of the table. */
void evc__table_remove(struct evc__table *t, struct evc__tnode *node);

#endif
