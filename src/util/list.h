/*
 * An intrusive, circular, doubly-linked list (as in libuv's queue.h and the
 * Linux kernel's list.h): the links live inside the listed struct, so adding
 * and removing never allocate, and removal needs no search.
 */
#ifndef EVC_LIST_H
#define EVC_LIST_H

#include <stddef.h>

struct evc__list {
	struct evc__list *prev, *next;
};

#define EVC_LIST_ENTRY(ptr, type, field) ((type *)((char *)(ptr)-offsetof(type, field)))

static inline void evc__list_init(struct evc__list *l)
{
	l->prev = l->next = l;
}

static inline int evc__list_empty(const struct evc__list *l)
{
	return l->next == l;
}

/* A node that was removed (or init'ed) points at itself. */
static inline int evc__list_linked(const struct evc__list *n)
{
	return n->next != n && n->next != NULL;
}

static inline void evc__list_push_back(struct evc__list *l, struct evc__list *n)
{
	n->prev = l->prev;
	n->next = l;
	l->prev->next = n;
	l->prev = n;
}

static inline void evc__list_push_front(struct evc__list *l, struct evc__list *n)
{
	n->next = l->next;
	n->prev = l;
	l->next->prev = n;
	l->next = n;
}

static inline void evc__list_remove(struct evc__list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

static inline struct evc__list *evc__list_pop_front(struct evc__list *l)
{
	struct evc__list *n = l->next;
	if (n == l)
		return NULL;
	evc__list_remove(n);
	return n;
}

/* Move every node of `from` to the end of `to`; `from` becomes empty. */
static inline void evc__list_splice(struct evc__list *to, struct evc__list *from)
{
	if (evc__list_empty(from))
		return;
	from->next->prev = to->prev;
	to->prev->next = from->next;
	from->prev->next = to;
	to->prev = from->prev;
	evc__list_init(from);
}

#endif
