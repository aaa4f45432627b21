/*
 * The loop: backend selection, the fd table, and one iteration
 * (time → timers → wait for I/O → I/O callbacks).
 *
 * Safety of callbacks against each other. Ready fds are collected into
 * loop->fired before any callback runs; each entry records its slot's
 * generation, a counter bumped whenever the fd is stopped or newly started.
 * A callback that stops (or stops and closes) another fd bumps that slot, so
 * the stale entry is skipped, even if the fd number is reused by a new socket
 * in the same iteration. Events are also masked with the current interest, so
 * an fd whose write interest was just dropped gets no write callback.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loop_internal.h"

static const struct evc__backend *const backends[] = {
#ifdef __linux__
    &evc__backend_epoll,
#endif
    &evc__backend_poll,
    &evc__backend_select,
    NULL,
};

const char *const *evc_loop_backends(void)
{
	static const char *names[sizeof backends / sizeof backends[0]];
	for (size_t i = 0; backends[i]; i++)
		names[i] = backends[i]->name;
	return names;
}

uint64_t evc_hrtime(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void evc_update_time(evc_loop_t *loop)
{
	loop->now = evc_hrtime() / 1000000u;
}

uint64_t evc_now(const evc_loop_t *loop)
{
	return loop->now;
}

static int try_backend(evc_loop_t *loop, const struct evc__backend *b)
{
	loop->backend = b;
	int rc = b->init(loop);
	if (rc < 0)
		loop->backend = NULL;
	return rc;
}

int evc_loop_new(evc_loop_t **out, const char *name)
{
	*out = NULL;
	evc_loop_t *loop = calloc(1, sizeof *loop);
	if (!loop)
		return -ENOMEM;
	int rc = EVC_EBACKEND;
	int want_any = !name || !*name || strcmp(name, "auto") == 0;
	for (size_t i = 0; backends[i]; i++) {
		if (!want_any && strcmp(name, backends[i]->name) != 0)
			continue;
		rc = try_backend(loop, backends[i]);
		if (rc == 0 || !want_any)
			break;
	}
	if (!loop->backend) {
		free(loop);
		return rc;
	}
	evc_update_time(loop);
	*out = loop;
	return 0;
}

void evc_loop_free(evc_loop_t *loop)
{
	if (!loop)
		return;
	loop->backend->free(loop);
	free(loop->slots);
	free(loop->fired);
	free(loop->heap);
	free(loop);
}

const char *evc_loop_backend(const evc_loop_t *loop)
{
	return loop->backend->name;
}

void evc_loop_stop(evc_loop_t *loop)
{
	loop->stop = 1;
}

int evc__loop_reserve_fired(evc_loop_t *loop, int n)
{
	if (n <= loop->fired_cap)
		return 0;
	int cap = loop->fired_cap ? loop->fired_cap : 64;
	while (cap < n)
		cap *= 2;
	struct evc__fired *f = realloc(loop->fired, (size_t)cap * sizeof *f);
	if (!f)
		return -ENOMEM;
	loop->fired = f;
	loop->fired_cap = cap;
	return 0;
}

static int grow_slots(evc_loop_t *loop, int fd)
{
	int n = loop->nslots ? loop->nslots : 64;
	while (n <= fd)
		n *= 2;
	struct evc__io_slot *s = realloc(loop->slots, (size_t)n * sizeof *s);
	if (!s)
		return -ENOMEM;
	for (int i = loop->nslots; i < n; i++)
		s[i] = (struct evc__io_slot){.events = -1};
	loop->slots = s;
	loop->nslots = n;
	return 0;
}

int evc_io_start(evc_loop_t *loop, int fd, int events, evc_io_cb cb, void *arg)
{
	if (fd < 0)
		return -EBADF;
	if (events & ~(EVC_READ | EVC_WRITE))
		return -EINVAL;
	if (fd >= loop->nslots) {
		int rc = grow_slots(loop, fd);
		if (rc < 0)
			return rc;
	}
	struct evc__io_slot *s = &loop->slots[fd];
	if (s->events != events) {
		int rc = loop->backend->update(loop, fd, s->events, events);
		if (rc < 0)
			return rc;
	}
	if (s->events == -1) {
		loop->nwatched++;
		s->gen++;
	}
	s->events = events;
	s->cb = cb;
	s->arg = arg;
	return 0;
}

int evc_io_check(const evc_loop_t *loop, int fd)
{
	int limit = loop->backend->fd_limit;
	return limit && fd >= limit ? EVC_EFDSETSIZE : 0;
}

int evc_io_stop(evc_loop_t *loop, int fd)
{
	if (fd < 0 || fd >= loop->nslots || loop->slots[fd].events == -1)
		return 0;
	struct evc__io_slot *s = &loop->slots[fd];
	/* Forget the fd even if the backend complains (e.g. it was already
	 * closed): the caller is done with it either way. */
	int rc = loop->backend->update(loop, fd, s->events, -1);
	s->events = -1;
	s->gen++;
	s->cb = NULL;
	s->arg = NULL;
	loop->nwatched--;
	return rc;
}

int evc_io_events(const evc_loop_t *loop, int fd)
{
	if (fd < 0 || fd >= loop->nslots)
		return -1;
	return loop->slots[fd].events;
}

static int loop_alive(const evc_loop_t *loop)
{
	return loop->nwatched > 0 || loop->nheap > 0;
}

static void run_io(evc_loop_t *loop)
{
	int n = loop->nfired;
	for (int i = 0; i < n; i++)
		loop->fired[i].gen = loop->slots[loop->fired[i].fd].gen;
	for (int i = 0; i < n; i++) {
		struct evc__fired f = loop->fired[i];
		struct evc__io_slot *s = &loop->slots[f.fd];
		if (s->gen != f.gen || s->events <= 0)
			continue;
		int ev = f.events & s->events;
		if (ev)
			s->cb(loop, f.fd, ev, s->arg);
	}
	loop->nfired = 0;
}

static int run_once(evc_loop_t *loop, int may_wait)
{
	evc_update_time(loop);
	int ran = evc__timers_run(loop);
	/* Wait only if this iteration has done nothing yet: after a timer
	 * callback, a RUN_ONCE caller must get control back to look at what
	 * changed, not sleep until the next event. */
	int timeout = 0;
	if (may_wait && !loop->stop && ran == 0)
		timeout = evc__timers_next_timeout(loop);
	if (timeout != 0 && loop->nwatched == 0 && loop->nheap == 0)
		return 0; /* nothing could ever wake us */
	loop->nfired = 0;
	int rc = loop->backend->poll(loop, timeout);
	if (rc < 0)
		return rc;
	evc_update_time(loop);
	run_io(loop);
	/* Timers due by now run in this iteration too, like libuv's ONCE. */
	evc__timers_run(loop);
	return 0;
}

int evc_loop_run(evc_loop_t *loop, enum evc_run_mode mode)
{
	loop->stop = 0;
	if (mode != EVC_RUN_DEFAULT) {
		int rc = run_once(loop, mode == EVC_RUN_ONCE);
		return rc < 0 ? rc : loop_alive(loop);
	}
	while (loop_alive(loop) && !loop->stop) {
		int rc = run_once(loop, 1);
		if (rc < 0)
			return rc;
	}
	loop->stop = 0;
	return loop_alive(loop);
}
