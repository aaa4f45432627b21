/*
 * Timers: a binary min-heap of timer pointers ordered by (deadline, seq).
 *
 * Each timer remembers its index in the heap, so stop is O(log n) without a
 * search. Running expired timers happens in two steps, as in libuv: first
 * every timer due by the loop's time is popped onto the `due` list, then they
 * run one by one. A timer stopped or freed by an earlier callback is unlinked
 * from that list and so never runs, and a timer (re)started with timeout 0
 * inside a callback waits for the next iteration instead of looping forever.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "loop_internal.h"

static int before(const evc_timer_t *a, const evc_timer_t *b)
{
	if (a->deadline != b->deadline)
		return a->deadline < b->deadline;
	return a->seq < b->seq;
}

static void heap_set(evc_loop_t *loop, size_t i, evc_timer_t *t)
{
	loop->heap[i] = t;
	t->heap_index = i;
}

static void sift_up(evc_loop_t *loop, size_t i)
{
	evc_timer_t *t = loop->heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!before(t, loop->heap[parent]))
			break;
		heap_set(loop, i, loop->heap[parent]);
		i = parent;
	}
	heap_set(loop, i, t);
}

static void sift_down(evc_loop_t *loop, size_t i)
{
	evc_timer_t *t = loop->heap[i];
	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= loop->nheap)
			break;
		if (child + 1 < loop->nheap && before(loop->heap[child + 1], loop->heap[child]))
			child++;
		if (!before(loop->heap[child], t))
			break;
		heap_set(loop, i, loop->heap[child]);
		i = child;
	}
	heap_set(loop, i, t);
}

/* The heap always has room for every timer that exists (evc_timer_new
 * reserves it), so starting a timer cannot fail: no caller has to handle
 * ENOMEM at the moment it arms a deadline. */
static void heap_insert(evc_loop_t *loop, evc_timer_t *t)
{
	size_t i = loop->nheap++;
	heap_set(loop, i, t);
	sift_up(loop, i);
}

static int heap_reserve(evc_loop_t *loop, size_t n)
{
	if (n <= loop->heap_cap)
		return 0;
	size_t cap = loop->heap_cap ? loop->heap_cap : 64;
	while (cap < n)
		cap *= 2;
	evc_timer_t **h = realloc(loop->heap, cap * sizeof *h);
	if (!h)
		return -ENOMEM;
	loop->heap = h;
	loop->heap_cap = cap;
	return 0;
}

static void heap_remove(evc_loop_t *loop, evc_timer_t *t)
{
	size_t i = t->heap_index;
	evc_timer_t *last = loop->heap[--loop->nheap];
	t->heap_index = EVC__NOT_IN_HEAP;
	if (last == t)
		return;
	heap_set(loop, i, last);
	/* The moved element may belong above or below its new place. */
	if (i > 0 && before(last, loop->heap[(i - 1) / 2]))
		sift_up(loop, i);
	else
		sift_down(loop, i);
}

static void due_unlink(evc_timer_t *t)
{
	if (!t->due_pprev)
		return;
	*t->due_pprev = t->due_next;
	if (t->due_next)
		t->due_next->due_pprev = t->due_pprev;
	t->due_next = NULL;
	t->due_pprev = NULL;
}

evc_timer_t *evc_timer_new(evc_loop_t *loop, evc_timer_cb cb, void *arg)
{
	evc_timer_t *t = calloc(1, sizeof *t);
	if (!t || heap_reserve(loop, loop->ntimers + 1) < 0) {
		free(t);
		return NULL;
	}
	loop->ntimers++;
	t->loop = loop;
	t->cb = cb;
	t->arg = arg;
	t->heap_index = EVC__NOT_IN_HEAP;
	return t;
}

void evc_timer_stop(evc_timer_t *t)
{
	if (t->heap_index != EVC__NOT_IN_HEAP)
		heap_remove(t->loop, t);
	due_unlink(t);
}

int evc_timer_start(evc_timer_t *t, uint64_t timeout_ms, uint64_t repeat_ms)
{
	evc_loop_t *loop = t->loop;
	evc_timer_stop(t);
	uint64_t deadline = loop->now + timeout_ms;
	t->deadline = deadline < loop->now ? UINT64_MAX : deadline; /* saturate */
	t->repeat = repeat_ms;
	t->seq = loop->timer_seq++;
	heap_insert(loop, t);
	return 0;
}

void evc_timer_free(evc_timer_t *t)
{
	if (!t)
		return;
	evc_timer_stop(t);
	t->loop->ntimers--;
	free(t);
}

int evc_timer_active(const evc_timer_t *t)
{
	return t->heap_index != EVC__NOT_IN_HEAP;
}

uint64_t evc_timer_deadline(const evc_timer_t *t)
{
	return t->deadline;
}

void evc_timer_set_arg(evc_timer_t *t, void *arg)
{
	t->arg = arg;
}

int evc__timers_next_timeout(const evc_loop_t *loop)
{
	if (loop->nheap == 0)
		return -1;
	uint64_t deadline = loop->heap[0]->deadline;
	if (deadline <= loop->now)
		return 0;
	uint64_t wait = deadline - loop->now;
	return wait > INT_MAX ? INT_MAX : (int)wait;
}

int evc__timers_run(evc_loop_t *loop)
{
	int ran = 0;
	/* Collect: pop every expired timer, in heap order, onto the due list. */
	evc_timer_t **tail = &loop->due;
	while (loop->nheap > 0 && loop->heap[0]->deadline <= loop->now) {
		evc_timer_t *t = loop->heap[0];
		heap_remove(loop, t);
		t->due_pprev = tail;
		t->due_next = NULL;
		*tail = t;
		tail = &t->due_next;
	}
	/* Run: each callback may stop, free or restart any timer. */
	while (loop->due) {
		evc_timer_t *t = loop->due;
		due_unlink(t);
		if (t->repeat > 0)
			evc_timer_start(t, t->repeat, t->repeat);
		t->cb(t, t->arg); /* t may be freed here: do not touch it after */
		ran++;
	}
	return ran;
}
