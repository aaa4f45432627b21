/*
 * epoll backend (Linux). The kernel keeps the interest set, so a wait costs
 * O(ready fds), not O(watched fds): this is why epoll exists (see the
 * bench-loop table in the README). Level-triggered, like the other backends.
 */
#ifdef __linux__
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loop_internal.h"

/* Ready fds taken from the kernel per wait; more simply stay ready (level-
 * triggered) and come on the next iteration. */
#define MAX_EVENTS 1024

struct epoll_state {
	int epfd;
	struct epoll_event events[MAX_EVENTS];
};

static int epoll_init(evc_loop_t *loop)
{
	struct epoll_state *st = malloc(sizeof *st);
	if (!st)
		return -ENOMEM;
	st->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (st->epfd < 0) {
		int err = -errno;
		free(st);
		return err;
	}
	int rc = evc__loop_reserve_fired(loop, MAX_EVENTS);
	if (rc < 0) {
		close(st->epfd);
		free(st);
		return rc;
	}
	loop->backend_data = st;
	return 0;
}

static void epoll_free(evc_loop_t *loop)
{
	struct epoll_state *st = loop->backend_data;
	close(st->epfd);
	free(st);
}

/*
 * The kernel holds only fds with events: a quiet fd (events 0) is taken out
 * of the set, because epoll reports EPOLLHUP/EPOLLERR whatever was asked
 * for, and a quiet fd with a hung-up peer would wake every wait.
 */
static int epoll_update(evc_loop_t *loop, int fd, int old_events, int new_events)
{
	struct epoll_state *st = loop->backend_data;
	struct epoll_event ev = {.data.fd = fd};
	bool was_in = old_events > 0, is_in = new_events > 0;
	if (!is_in) {
		/* A closed fd has already left the set: that is fine. */
		if (was_in && epoll_ctl(st->epfd, EPOLL_CTL_DEL, fd, &ev) < 0 && errno != EBADF &&
		    errno != ENOENT)
			return -errno;
		if (new_events == 0 && old_events == -1 && fcntl(fd, F_GETFD) < 0)
			return -errno; /* still say EBADF for a bad fd */
		return 0;
	}
	ev.events =
	    ((new_events & EVC_READ) ? EPOLLIN : 0) | ((new_events & EVC_WRITE) ? EPOLLOUT : 0);
	int op = was_in ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(st->epfd, op, fd, &ev) == 0)
		return 0;
	/* The fd was closed and its number reused without evc_io_stop(), or
	 * registered behind our back: retry with the other operation. */
	if ((op == EPOLL_CTL_MOD && errno == ENOENT) || (op == EPOLL_CTL_ADD && errno == EEXIST)) {
		op = op == EPOLL_CTL_MOD ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
		if (epoll_ctl(st->epfd, op, fd, &ev) == 0)
			return 0;
	}
	return -errno;
}

static int epoll_poll(evc_loop_t *loop, int timeout_ms)
{
	struct epoll_state *st = loop->backend_data;
	int n = epoll_wait(st->epfd, st->events, MAX_EVENTS, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		uint32_t e = st->events[i].events;
		int ev = 0;
		if (e & (EPOLLIN | EPOLLHUP | EPOLLERR))
			ev |= EVC_READ;
		if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))
			ev |= EVC_WRITE;
		evc__loop_fire(loop, st->events[i].data.fd, ev);
	}
	return n;
}

const struct evc__backend evc__backend_epoll = {
    .name = "epoll",
    .init = epoll_init,
    .free = epoll_free,
    .update = epoll_update,
    .poll = epoll_poll,
};
#endif
