/*
 * The crawler's scheduling: which queued task starts next.
 *
 * A task holds a global slot (at most `limit`, which is `concurrency` except
 * under fd pressure) and a slot of its host (at most `per_host`) from the
 * moment it starts until it completes, redirects, or waits for a retry.
 * Hosts with queued tasks and a free slot sit on the `ready` list; pump()
 * takes one task from the first host and moves that host to the back, so
 * hosts are served round-robin and one slow host never holds the others
 * back. When there is room, pump() asks the feed callback for more URLs.
 *
 * Hosts live in a hash table keyed by "scheme://host:port" and are swept
 * once they hold nothing, so a crawl over millions of hosts keeps a bounded
 * table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawl/crawler_internal.h"

static uint64_t hash_str(const char *s)
{
	return evc__hash64(s, strlen(s));
}

static int grow_table(evc_crawler_t *c)
{
	size_t n = c->nbuckets * 2;
	struct host **b = calloc(n, sizeof *b);
	if (!b)
		return -1;
	for (size_t i = 0; i < c->nbuckets; i++) {
		for (struct host *x = c->hosts[i], *next; x; x = next) {
			next = x->hnext;
			struct host **slot = &b[hash_str(x->key) & (n - 1)];
			x->hnext = *slot;
			*slot = x;
		}
	}
	free(c->hosts);
	c->hosts = b;
	c->nbuckets = n;
	return 0;
}

/* The host of u, made when new; NULL when out of memory. */
struct host *evc__host_get(evc_crawler_t *c, const struct evc__url *u)
{
	char key[320];
	snprintf(key, sizeof key, "%s://%s:%u", u->scheme, u->host, u->port);
	uint64_t h = hash_str(key);
	for (struct host *x = c->hosts[h & (c->nbuckets - 1)]; x; x = x->hnext)
		if (strcmp(x->key, key) == 0)
			return x;
	if (c->nhosts >= c->nbuckets && grow_table(c) < 0)
		return NULL;
	struct host *x = calloc(1, sizeof *x);
	if (!x || !(x->key = strdup(key))) {
		free(x);
		return NULL;
	}
	evc__list_init(&x->queue);
	evc__list_init(&x->idle);
	evc__list_init(&x->ready_link);
	struct host **slot = &c->hosts[h & (c->nbuckets - 1)];
	x->hnext = *slot;
	*slot = x;
	c->nhosts++;
	return x;
}

static void free_host(evc_crawler_t *c, struct host *x)
{
	struct host **pp = &c->hosts[hash_str(x->key) & (c->nbuckets - 1)];
	while (*pp != x)
		pp = &(*pp)->hnext;
	*pp = x->hnext;
	c->nhosts--;
	evc__list_remove(&x->ready_link);
	free(x->key);
	free(x);
}

static void free_task_list(struct evc__list *l)
{
	struct evc__list *n;
	while ((n = evc__list_pop_front(l)) != NULL) {
		struct task *t = EVC_LIST_ENTRY(n, struct task, link);
		evc__task_detach(t);
		evc__task_free(t);
	}
}

/* Free every task (without results) and every host, for evc_crawler_free.
 * Tasks first: closing their connections touches their hosts. */
void evc__host_free_all(evc_crawler_t *c)
{
	free_task_list(&c->bad);
	free_task_list(&c->waiting);
	free_task_list(&c->running);
	for (size_t i = 0; c->hosts && i < c->nbuckets; i++) {
		for (struct host *x = c->hosts[i], *next; x; x = next) {
			next = x->hnext;
			free_task_list(&x->queue);
			while (!evc__list_empty(&x->idle))
				evc__conn_close(
				    EVC_LIST_ENTRY(x->idle.next, struct conn, idle_link));
			free(x->key);
			free(x);
		}
	}
}

void evc__host_sweep(evc_crawler_t *c)
{
	for (size_t i = 0; i < c->nbuckets; i++) {
		for (struct host *x = c->hosts[i], *next; x; x = next) {
			next = x->hnext;
			if (!x->active && !x->nqueued && !x->nconns && !x->nwaiting)
				free_host(c, x);
		}
	}
}

/* Put the host on the ready list if it has work and room. */
void evc__host_update_ready(evc_crawler_t *c, struct host *x)
{
	bool want = x->nqueued > 0 && x->active < c->opts.o.per_host;
	bool is = evc__list_linked(&x->ready_link);
	if (want && !is)
		evc__list_push_back(&c->ready, &x->ready_link);
	else if (!want && is)
		evc__list_remove(&x->ready_link);
}

/* Put a task back at the front of host x's queue (it goes next there):
 * after a redirect, a retry's backoff, a stale connection, fd pressure. */
void evc__requeue_front(evc_crawler_t *c, struct task *t, struct host *x)
{
	t->host = x;
	t->state = T_QUEUED;
	evc__list_push_front(&x->queue, &t->link);
	x->nqueued++;
	c->queued++;
	evc__host_update_ready(c, x);
}

/* Give back the global and host slots. */
void evc__release_slot(struct task *t)
{
	evc_crawler_t *c = t->c;
	if (!t->holds_slot)
		return;
	t->holds_slot = false;
	evc__list_remove(&t->link);
	c->in_flight--;
	t->host->active--;
	evc__host_update_ready(c, t->host);
}

/* Run pump (and whatever else is pending) from the loop, soon. */
void evc__kick(evc_crawler_t *c)
{
	if (!evc_timer_active(c->kick))
		evc_timer_start(c->kick, 0, 0);
}

static void feed_more(evc_crawler_t *c)
{
	if (!c->feed || c->feeding || c->input_closed || c->cancelled)
		return;
	c->feeding = true;
	while (c->feed && !c->input_closed && c->queued < c->opts.o.max_queued) {
		unsigned before = c->queued;
		uint64_t added = c->stats.added;
		c->feed(c, c->feed_arg);
		if (c->queued == before && c->stats.added == added)
			break; /* the feeder has nothing right now */
	}
	c->feeding = false;
}

/* Start queued tasks while there are free slots, round-robin over hosts. */
void evc__pump(evc_crawler_t *c)
{
	if (c->pumping)
		return;
	c->pumping = true;
	for (;;) {
		/* paused_until: a start just hit fd pressure (EMFILE). */
		while (evc_now(c->loop) >= c->paused_until && c->in_flight < c->limit &&
		       !evc__list_empty(&c->ready)) {
			struct host *x = EVC_LIST_ENTRY(c->ready.next, struct host, ready_link);
			struct task *t =
			    EVC_LIST_ENTRY(evc__list_pop_front(&x->queue), struct task, link);
			x->nqueued--;
			c->queued--;
			x->active++;
			c->in_flight++;
			t->holds_slot = true;
			evc__list_push_back(&c->running, &t->link);
			evc__list_remove(&x->ready_link);
			evc__host_update_ready(c, x); /* to the back, if still ready */
			evc__task_start(c, t);
		}
		unsigned before = c->queued;
		feed_more(c);
		if (c->queued == before || c->in_flight >= c->limit || evc__list_empty(&c->ready))
			break;
	}
	c->pumping = false;
	if (evc_crawler_finished(c)) {
		evc__conn_close_idle(c, true);
		evc_timer_stop(c->housekeeping);
	} else if (!evc_timer_active(c->housekeeping)) {
		evc_timer_start(c->housekeeping, HOUSEKEEPING_MS, HOUSEKEEPING_MS);
	}
}

/* Too many open files, or no local port left: give the slot back, shrink
 * the effective concurrency, and try again shortly. Never fail the URL. */
void evc__task_fd_pressure(struct task *t)
{
	evc_crawler_t *c = t->c;
	evc__task_detach(t);
	evc__release_slot(t);
	evc__fetch_unattempt(&t->f);
	evc__requeue_front(c, t, t->host);
	/* Run at most what is running now (never less than one), and raise
	 * that only after a quiet second. Closing idle connections frees fds
	 * to go on at once; otherwise start nothing for a moment, or pump
	 * would only hit the same wall again, at full speed. */
	c->limit = c->in_flight > 1 ? c->in_flight : 1;
	uint64_t now = evc_now(c->loop);
	c->pressure_until = now + FD_PRESSURE_QUIET_MS;
	if (evc__conn_close_idle(c, true) == 0) {
		c->paused_until = now + FD_PRESSURE_PAUSE_MS;
		evc_timer_start(c->kick, FD_PRESSURE_PAUSE_MS, 0);
	} else {
		evc__kick(c);
	}
}
