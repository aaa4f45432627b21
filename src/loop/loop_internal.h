/*
 * The loop's private state, shared by loop.c, timer.c and the backends.
 *
 * Each backend (backend_epoll.c, backend_poll.c, backend_select.c) fills in
 * one `struct evc__backend`: a name and four functions. Its own state hangs
 * off loop->backend_data; nothing outside its file looks inside.
 */
#ifndef EVC_LOOP_INTERNAL_H
#define EVC_LOOP_INTERNAL_H

#include <stddef.h>

#include "evcrawl/loop.h"

/* One ready fd, as reported by a backend's poll. */
struct evc__fired {
	int fd;
	int events;   /* EVC_READ | EVC_WRITE */
	unsigned gen; /* the slot's generation when found ready (see loop.c) */
};

struct evc__backend {
	const char *name;
	int fd_limit; /* fds from this number up cannot be watched; 0: none */
	/* Set up loop->backend_data. Returns 0 or a negative code. */
	int (*init)(evc_loop_t *loop);
	void (*free)(evc_loop_t *loop);
	/* Change fd's interest from old_events to new_events. -1 for old means
	 * "not registered", -1 for new means "unregister". 0 means registered
	 * and quiet. Returns 0 or a negative code. */
	int (*update)(evc_loop_t *loop, int fd, int old_events, int new_events);
	/* Wait up to timeout_ms (-1: forever), append ready fds to
	 * loop->fired, return how many or a negative code (never -EINTR: an
	 * interrupted wait returns 0). */
	int (*poll)(evc_loop_t *loop, int timeout_ms);
};

extern const struct evc__backend evc__backend_epoll;
extern const struct evc__backend evc__backend_poll;
extern const struct evc__backend evc__backend_select;

/* What the loop knows about one fd; the slots array is indexed by fd. */
struct evc__io_slot {
	int events; /* -1: not watched */
	unsigned gen;
	evc_io_cb cb;
	void *arg;
};

struct evc_timer {
	evc_loop_t *loop;
	evc_timer_cb cb;
	void *arg;
	uint64_t deadline; /* loop time in ms */
	uint64_t repeat;
	uint64_t seq;	       /* start order: breaks ties between equal deadlines */
	size_t heap_index;     /* position in loop->heap, or EVC__NOT_IN_HEAP */
	evc_timer_t *due_next; /* on the due list while expired and not yet run */
	evc_timer_t **due_pprev;
};

#define EVC__NOT_IN_HEAP ((size_t)-1)

struct evc_loop {
	const struct evc__backend *backend;
	void *backend_data;

	struct evc__io_slot *slots;
	int nslots;   /* capacity of slots[] */
	int nwatched; /* fds with events != -1 */

	struct evc__fired *fired; /* filled by backend->poll */
	int nfired;
	int fired_cap;

	evc_timer_t **heap; /* binary min-heap on (deadline, seq) */
	size_t nheap;
	size_t heap_cap; /* >= ntimers: starting a timer never allocates */
	size_t ntimers;	 /* allocated by evc_timer_new, not yet freed */
	uint64_t timer_seq;
	evc_timer_t *due; /* expired timers collected before any runs */

	uint64_t now; /* ms, monotonic */
	int stop;
};

/* Make room for at least n fired entries. Returns 0 or -ENOMEM. */
int evc__loop_reserve_fired(evc_loop_t *loop, int n);

/* Append one ready fd; the backend reserved room beforehand. */
static inline void evc__loop_fire(evc_loop_t *loop, int fd, int events)
{
	struct evc__fired *f = &loop->fired[loop->nfired++];
	f->fd = fd;
	f->events = events;
	f->gen = 0;
}

/* Timers (timer.c), used by the loop's run function. */
int evc__timers_next_timeout(const evc_loop_t *loop); /* ms, -1: none */
int evc__timers_run(evc_loop_t *loop);		      /* returns how many ran */

#endif
