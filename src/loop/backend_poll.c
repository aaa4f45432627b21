/*
 * poll(2) backend. The interest set is an array of struct pollfd handed to
 * the kernel whole on every wait, and scanned whole afterwards: O(watched
 * fds) per iteration. index_of[fd] finds an fd's entry for O(1) updates;
 * removal moves the last entry into the hole. A quiet fd (events 0) stays
 * in the array as ~fd: poll() skips negative fds, where it would otherwise
 * report POLLHUP/POLLERR whatever was asked for.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "loop_internal.h"

struct poll_state {
	struct pollfd *fds;
	int nfds, cap;
	int *index_of; /* fd -> index in fds, -1 when absent */
	int index_cap;
};

static int poll_init(evc_loop_t *loop)
{
	struct poll_state *st = calloc(1, sizeof *st);
	if (!st)
		return -ENOMEM;
	loop->backend_data = st;
	return 0;
}

static void poll_free(evc_loop_t *loop)
{
	struct poll_state *st = loop->backend_data;
	free(st->fds);
	free(st->index_of);
	free(st);
}

static short poll_bits(int events)
{
	return (short)(((events & EVC_READ) ? POLLIN : 0) | ((events & EVC_WRITE) ? POLLOUT : 0));
}

/* The fd of an entry, quiet (negative) or not. */
static int real_fd(int stored)
{
	return stored < 0 ? ~stored : stored;
}

static int grow(struct poll_state *st, int fd)
{
	if (fd >= st->index_cap) {
		int n = st->index_cap ? st->index_cap : 64;
		while (n <= fd)
			n *= 2;
		int *idx = realloc(st->index_of, (size_t)n * sizeof *idx);
		if (!idx)
			return -ENOMEM;
		for (int i = st->index_cap; i < n; i++)
			idx[i] = -1;
		st->index_of = idx;
		st->index_cap = n;
	}
	if (st->nfds == st->cap) {
		int n = st->cap ? st->cap * 2 : 64;
		struct pollfd *p = realloc(st->fds, (size_t)n * sizeof *p);
		if (!p)
			return -ENOMEM;
		st->fds = p;
		st->cap = n;
	}
	return 0;
}

static int poll_update(evc_loop_t *loop, int fd, int old_events, int new_events)
{
	struct poll_state *st = loop->backend_data;
	(void)old_events;
	int i = fd < st->index_cap ? st->index_of[fd] : -1;
	if (new_events == -1) {
		if (i < 0)
			return 0;
		st->fds[i] = st->fds[--st->nfds];
		st->index_of[real_fd(st->fds[i].fd)] = i;
		st->index_of[fd] = -1;
		return 0;
	}
	if (i < 0) {
		int rc = grow(st, fd);
		if (rc < 0)
			return rc;
		rc = evc__loop_reserve_fired(loop, st->nfds + 1);
		if (rc < 0)
			return rc;
		i = st->nfds++;
		st->index_of[fd] = i;
	}
	st->fds[i].fd = new_events > 0 ? fd : ~fd;
	st->fds[i].events = poll_bits(new_events);
	st->fds[i].revents = 0;
	return 0;
}

static int poll_poll(evc_loop_t *loop, int timeout_ms)
{
	struct poll_state *st = loop->backend_data;
	int n = poll(st->fds, (nfds_t)st->nfds, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	int found = 0;
	for (int i = 0; i < st->nfds && found < n; i++) {
		short r = st->fds[i].revents;
		if (!r)
			continue;
		found++;
		int ev = 0;
		/* POLLNVAL: the fd was closed while watched; report it so the
		 * owner's read/write sees EBADF rather than spinning silently. */
		if (r & (POLLIN | POLLHUP | POLLERR | POLLNVAL))
			ev |= EVC_READ;
		if (r & (POLLOUT | POLLHUP | POLLERR | POLLNVAL))
			ev |= EVC_WRITE;
		evc__loop_fire(loop, st->fds[i].fd, ev);
	}
	return found;
}

const struct evc__backend evc__backend_poll = {
    .name = "poll",
    .init = poll_init,
    .free = poll_free,
    .update = poll_update,
    .poll = poll_poll,
};
