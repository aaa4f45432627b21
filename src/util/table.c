/* An intrusive hash table of named nodes (see table.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/table.h"
#include "util/url.h"

int evc__table_init(struct evc__table *t, size_t nb)
{
	t->b = calloc(nb, sizeof *t->b);
	t->nb = t->b ? nb : 0;
	t->n = 0;
	return t->b ? 0 : -ENOMEM;
}

void evc__table_free(struct evc__table *t)
{
	free(t->b);
	t->b = NULL;
	t->nb = t->n = 0;
}

struct evc__tnode *evc__table_find(const struct evc__table *t, const char *name)
{
	if (!t->nb)
		return NULL;
	uint64_t h = evc__hash64(name, strlen(name));
	for (struct evc__tnode *x = t->b[h & (t->nb - 1)]; x; x = x->next)
		if (x->hash == h && strcmp(x->name, name) == 0)
			return x;
	return NULL;
}

static int grow(struct evc__table *t)
{
	size_t n = t->nb * 2;
	struct evc__tnode **b = calloc(n, sizeof *b);
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < t->nb; i++) {
		for (struct evc__tnode *x = t->b[i], *next; x; x = next) {
			next = x->next;
			x->next = b[x->hash & (n - 1)];
			b[x->hash & (n - 1)] = x;
		}
	}
	free(t->b);
	t->b = b;
	t->nb = n;
	return 0;
}

int evc__table_add(struct evc__table *t, struct evc__tnode *node)
{
	if (t->n >= t->nb && grow(t) < 0)
		return -ENOMEM;
	node->hash = evc__hash64(node->name, strlen(node->name));
	struct evc__tnode **slot = &t->b[node->hash & (t->nb - 1)];
	node->next = *slot;
	*slot = node;
	t->n++;
	return 0;
}

void *evc__table_get(struct evc__table *t, const char *name, size_t size, size_t offset,
		     bool *created)
{
	struct evc__tnode *n = evc__table_find(t, name);
	*created = !n;
	if (n)
		return (char *)n - offset;
	char *obj = calloc(1, size);
	if (!obj)
		return NULL;
	n = (struct evc__tnode *)(obj + offset);
	if (!(n->name = strdup(name)) || evc__table_add(t, n) < 0) {
		free(n->name);
		free(obj);
		return NULL;
	}
	return obj;
}

void evc__table_remove(struct evc__table *t, struct evc__tnode *node)
{
	struct evc__tnode **pp = &t->b[node->hash & (t->nb - 1)];
	while (*pp && *pp != node)
		pp = &(*pp)->next;
	if (*pp) {
		*pp = node->next;
		t->n--;
	}
}
