/*
 * select(2) backend: the portable baseline. fd_set is a fixed bitmap of
 * FD_SETSIZE (1024 on glibc) bits; FD_SET on a larger fd writes past it, so
 * such fds are refused with EVC_EFDSETSIZE. Each wait copies the sets and
 * scans every fd up to the highest: O(highest fd) per iteration.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>

#include "loop_internal.h"

struct select_state {
	fd_set rset, wset;     /* the interest sets */
	fd_set all;	       /* every registered fd, quiet ones too */
	fd_set rready, wready; /* copies handed to select() */
	int maxfd;	       /* highest fd in either set, -1 if none */
	int nfds;	       /* registered fds, for sizing loop->fired */
};

static int select_init(evc_loop_t *loop)
{
	struct select_state *st = malloc(sizeof *st);
	if (!st)
		return -ENOMEM;
	FD_ZERO(&st->rset);
	FD_ZERO(&st->wset);
	FD_ZERO(&st->all);
	st->maxfd = -1;
	st->nfds = 0;
	loop->backend_data = st;
	return 0;
}

static void select_free(evc_loop_t *loop)
{
	free(loop->backend_data);
}

static int select_update(evc_loop_t *loop, int fd, int old_events, int new_events)
{
	struct select_state *st = loop->backend_data;
	if (fd >= FD_SETSIZE)
		return EVC_EFDSETSIZE;
	if (old_events == -1 && new_events != -1) {
		int rc = evc__loop_reserve_fired(loop, st->nfds + 1);
		if (rc < 0)
			return rc;
		st->nfds++;
	} else if (old_events != -1 && new_events == -1) {
		st->nfds--;
	}
	FD_CLR(fd, &st->rset);
	FD_CLR(fd, &st->wset);
	if (new_events > 0 && (new_events & EVC_READ))
		FD_SET(fd, &st->rset);
	if (new_events > 0 && (new_events & EVC_WRITE))
		FD_SET(fd, &st->wset);
	if (new_events == -1) {
		FD_CLR(fd, &st->all);
		while (st->maxfd >= 0 && !FD_ISSET(st->maxfd, &st->all))
			st->maxfd--;
	} else {
		FD_SET(fd, &st->all);
		if (fd > st->maxfd)
			st->maxfd = fd;
	}
	return 0;
}

static int select_poll(evc_loop_t *loop, int timeout_ms)
{
	struct select_state *st = loop->backend_data;
	memcpy(&st->rready, &st->rset, sizeof st->rset);
	memcpy(&st->wready, &st->wset, sizeof st->wset);
	struct timeval tv, *tvp = NULL;
	if (timeout_ms >= 0) {
		tv.tv_sec = timeout_ms / 1000;
		tv.tv_usec = (timeout_ms % 1000) * 1000;
		tvp = &tv;
	}
	int n = select(st->maxfd + 1, &st->rready, &st->wready, NULL, tvp);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	int found = 0;
	for (int fd = 0; fd <= st->maxfd && n > 0; fd++) {
		int ev = (FD_ISSET(fd, &st->rready) ? EVC_READ : 0) |
			 (FD_ISSET(fd, &st->wready) ? EVC_WRITE : 0);
		if (!ev)
			continue;
		n -= !!(ev & EVC_READ) + !!(ev & EVC_WRITE);
		evc__loop_fire(loop, fd, ev);
		found++;
	}
	return found;
}

const struct evc__backend evc__backend_select = {
    .name = "select",
    .fd_limit = FD_SETSIZE,
    .init = select_init,
    .free = select_free,
    .update = select_update,
    .poll = select_poll,
};
